"""Rate limits as the reference API sets them: 300 requests a minute per account, all endpoints.

In process (memory on the embedded default, Redis on the scale-out stack) and across two real API
processes sharing one Redis: a burst of 400 lets exactly 300 through.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.helpers import csv_of, handles
from tests.processes import CLI, cli, free_port, server_env, wait_healthy

LIMIT = 300


def limited_app(settings: Any, per_minute: int = LIMIT) -> TestClient:
    """The real app with the production limit; no lifespan, so no second embedded worker."""
    from creator_enrich.app import create_app

    return TestClient(create_app(settings.model_copy(update={"rate_limit_per_minute": per_minute})))


def test_a_burst_of_400_lets_exactly_300_through(settings: Any, make_account: Any) -> None:
    client = limited_app(settings)
    account, bystander = make_account(), make_account()
    paths = [
        "/public/v1/accounts/credits/",
        "/public/v1/enrichment/batch/bch_unknown/status/",  # a 404 is a request too
        "/public/v1/account/credits",
    ]
    answers = [
        client.get(paths[i % len(paths)], headers=account.headers) for i in range(LIMIT + 100)
    ]
    codes = Counter(a.status_code for a in answers)
    assert codes[429] == 100
    assert codes[200] + codes[404] == LIMIT

    ok, refused = answers[0], answers[-1]
    assert ok.headers["RateLimit-Policy"] == f'"default";q={LIMIT};w=60'
    assert re.fullmatch(r'"default";r=299;t=\d+', ok.headers["RateLimit"])
    assert answers[LIMIT - 1].headers["RateLimit"].startswith('"default";r=0;')
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Policy"] == f'"default";q={LIMIT};w=60'
    body = refused.json()
    assert "300 requests a minute" in body["detail"] and body["message"] == body["detail"]

    # Per account: another account's budget is untouched.
    assert client.get(paths[0], headers=bystander.headers).status_code == 200


def test_streamed_results_carry_the_headers_and_count(settings: Any, make_account: Any) -> None:
    client = limited_app(settings, per_minute=3)
    account = make_account()
    created = account.create(
        csv_of("handle", handles(account.engine, "instagram", 2)),
        enrichment_mode="raw",
        platform="instagram",
    ).json()
    account.wait(created["batch_id"])
    url = f"/public/v1/enrichment/batch/{created['batch_id']}/"
    first = client.get(url, headers=account.headers)
    assert first.status_code == 200 and first.headers["RateLimit"].startswith('"default";r=2;')
    client.get(url, headers=account.headers)
    client.get(url, headers=account.headers)
    assert client.get(url, headers=account.headers).status_code == 429


def test_unauthenticated_requests_are_refused_before_counting(
    settings: Any, make_account: Any
) -> None:
    client = limited_app(settings, per_minute=2)
    account = make_account()
    for _ in range(5):
        assert client.get("/public/v1/accounts/credits/").status_code == 401
    ok = client.get("/public/v1/accounts/credits/", headers=account.headers)
    assert ok.status_code == 200


def _redis_server(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed (Debian package redis-server; .ci/run installs it)"
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    import redis

    while time.monotonic() < deadline:
        try:
            redis.Redis.from_url(url).ping()
            return proc, url
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("redis-server did not start")


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, f"http://127.0.0.1:{port}"


def test_two_api_processes_share_one_count_in_redis(tmp_path: Path) -> None:
    """The limit is per account, not per process: with Redis configured it holds across them."""
    redis_proc, redis_url = _redis_server(tmp_path)
    env = {
        **server_env(tmp_path / "data", "ratelimit", redis_db=5),
        "CREATOR_ENRICH_RATE_LIMIT_PER_MINUTE": str(LIMIT),
        "CREATOR_ENRICH_RATE_LIMIT_STORAGE_URL": redis_url,
        "CREATOR_ENRICH_EMBEDDED_WORKER": "false",
    }
    cli(env, "db", "upgrade")
    cli(env, "accounts", "create", "limited")
    key = cli(env, "keys", "create", "limited").stdout.strip()
    servers = [_serve(env), _serve(env)]
    try:
        for _, url in servers:
            wait_healthy(url)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(timeout=10) as http:
            codes = Counter(
                http.get(
                    f"{servers[i % 2][1]}/public/v1/accounts/credits/", headers=headers
                ).status_code
                for i in range(LIMIT + 100)
            )
        assert codes == {200: LIMIT, 429: 100}
    finally:
        for proc, _ in servers:
            proc.terminate()
        for proc, _ in servers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis_proc.kill()
        redis_proc.wait()


def test_a_limit_of_zero_turns_it_off(settings: Any, make_account: Any) -> None:
    client = limited_app(settings, per_minute=0)
    account = make_account()
    answers = [
        client.get("/public/v1/accounts/credits/", headers=account.headers) for _ in range(350)
    ]
    assert {a.status_code for a in answers} == {200}
    assert "RateLimit" not in answers[0].headers


def test_an_unreachable_limit_store_lets_requests_through(
    settings: Any, make_account: Any, caplog: Any
) -> None:
    """A Redis outage must not become an API outage: requests pass, and the log says why."""
    from creator_enrich.app import create_app

    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    client = TestClient(
        create_app(
            settings.model_copy(
                update={"rate_limit_per_minute": 2, "rate_limit_storage_url": nowhere}
            )
        )
    )
    account = make_account()
    answers = [
        client.get("/public/v1/accounts/credits/", headers=account.headers) for _ in range(4)
    ]
    assert {a.status_code for a in answers} == {200}
    assert "rate limit store unavailable" in caplog.text
