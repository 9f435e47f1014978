"""API keys: hashed with a visible prefix, revocable, rotatable with an overlap, optionally
read-only, and never written to logs or error bodies."""

from __future__ import annotations

import logging
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from creator_enrich.accounts.service import (
    create_api_key,
    list_api_keys,
    revoke_api_key,
    rotate_api_key,
)
from creator_enrich.db.engine import read_connection
from creator_enrich.db.schema import ApiKey
from creator_enrich.errors import NotFound
from tests.helpers import csv_of, handles
from tests.processes import CLI, cli, free_port, server_env, wait_healthy

URL = "/public/v1/enrichment/batch/"
CREDITS = "/public/v1/accounts/credits/"


def key_id(key: str) -> str:
    return key.split("_")[1]


def as_key(account: Any, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_only_a_hash_is_stored_and_the_prefix_identifies_the_key(account: Any, engine: Any) -> None:
    with read_connection(engine) as conn:
        stored = conn.execute(select(ApiKey).where(ApiKey.key_id == key_id(account.key))).one()
    secret = account.key.split("_", 2)[2]
    assert len(secret) >= 43  # 256 random bits
    assert secret not in str(tuple(stored)) and account.key not in str(tuple(stored))
    listed = list_api_keys(engine, account.name)
    assert [k.prefix for k in listed] == [f"ce_{key_id(account.key)}_"]
    assert account.key.startswith(listed[0].prefix)


def test_a_read_only_key_reads_but_cannot_create_resume_or_delete(
    account: Any, engine: Any
) -> None:
    created = account.create(
        csv_of("handle", handles(engine, "instagram", 2)),
        enrichment_mode="raw",
        platform="instagram",
    ).json()["batch_id"]
    account.wait(created)
    reader = as_key(account, create_api_key(engine, account.name, read_only=True))
    client = account.client
    assert client.get(CREDITS, headers=reader).status_code == 200
    assert client.get(f"{URL}{created}/status/", headers=reader).status_code == 200
    assert client.get(f"{URL}{created}/", headers=reader).status_code == 200
    assert client.get(f"{URL}{created}/download/", headers=reader).status_code == 200
    refused = [
        client.post(
            URL,
            headers=reader,
            data={"enrichment_mode": "raw", "platform": "instagram"},
            files={"file": ("a.csv", b"handle\nsomeone\n", "text/csv")},
        ),
        client.post(f"{URL}{created}/resume/", headers=reader),
        client.delete(f"{URL}{created}/", headers=reader),
    ]
    for response in refused:
        assert response.status_code == 403
        assert "read-only" in response.json()["detail"]
    assert account.status(created)["status"] == "finished"  # the delete did nothing


def test_a_read_only_key_cannot_spend_credits_on_single_enrichments(
    account: Any, engine: Any
) -> None:
    reader = as_key(account, create_api_key(engine, account.name, read_only=True))
    before = account.credits()
    handle = handles(engine, "instagram", 1)[0]
    for path, body in (
        ("handle/raw/", {"handle": handle, "platform": "instagram"}),
        ("email/", {"email": "someone@example.com"}),
    ):
        response = account.client.post(
            f"/public/v1/creators/enrich/{path}", headers=reader, json=body
        )
        assert response.status_code == 403, path
        assert "read-only" in response.json()["detail"]
    assert account.credits() == before


def test_a_revoked_key_is_refused_at_once(account: Any, engine: Any) -> None:
    spare = create_api_key(engine, account.name)
    assert account.client.get(CREDITS, headers=as_key(account, spare)).status_code == 200
    revoke_api_key(engine, key_id(spare))
    refused = account.client.get(CREDITS, headers=as_key(account, spare))
    assert refused.status_code == 401
    assert refused.json()["detail"] == "Invalid API key."
    with pytest.raises(NotFound):
        revoke_api_key(engine, key_id(spare))
    assert account.client.get(CREDITS, headers=account.headers).status_code == 200


def test_rotation_keeps_the_old_key_working_for_the_overlap(account: Any, engine: Any) -> None:
    new, ends = rotate_api_key(engine, key_id(account.key), timedelta(hours=1))
    assert new != account.key
    for key in (account.key, new):
        assert account.client.get(CREDITS, headers=as_key(account, key)).status_code == 200
    old = next(k for k in list_api_keys(engine, account.name) if k.key_id == key_id(account.key))
    assert old.expires_at == ends

    # Rotating the new key with no overlap ends it at once; the newest key works.
    newest, _ = rotate_api_key(engine, key_id(new), timedelta(0))
    assert account.client.get(CREDITS, headers=as_key(account, new)).status_code == 401
    assert account.client.get(CREDITS, headers=as_key(account, newest)).status_code == 200
    # A rotated key inherits read-only, and an expired key cannot be rotated again.
    with pytest.raises(NotFound):
        rotate_api_key(engine, key_id(new), timedelta(hours=1))


def test_rotation_keeps_read_only(account: Any, engine: Any) -> None:
    reader = create_api_key(engine, account.name, read_only=True)
    rotated, _ = rotate_api_key(engine, key_id(reader), timedelta(0))
    response = account.client.post(f"{URL}bch_x/resume/", headers=as_key(account, rotated))
    assert response.status_code == 403


def test_no_key_material_in_logs_or_error_bodies(
    account: Any, engine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    revoked = create_api_key(engine, account.name)
    revoke_api_key(engine, key_id(revoked))
    wrong = account.key[:-4] + "AAAA"  # the right prefix with a wrong secret
    secrets = [k.split("_", 2)[2] for k in (account.key, revoked, wrong)]
    bodies: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for key in (account.key, revoked, wrong, "ce_" + "x" * 300, "not-a-key"):
            headers = {"Authorization": f"Bearer {key}"}
            for method, path in (
                ("GET", CREDITS),
                ("GET", f"{URL}bch_missing/status/"),
                ("POST", URL),
                ("DELETE", f"{URL}bch_missing/"),
            ):
                response = account.client.request(method, path, headers=headers)
                bodies.append(response.text)
    logged = caplog.text + "".join(bodies)
    for secret in secrets:
        assert secret not in logged


class LoggedServer:
    """A real `serve` process whose log output (uvicorn's access log included) is kept."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*CLI, "serve", "--port", self.url.rsplit(":", 1)[1], "--log-level", "debug"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_healthy(self.url)
        except AssertionError:
            self.stop()
            raise

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_server_logs_hold_no_keys_and_no_link_signatures(tmp_path: Path) -> None:
    env = {**server_env(tmp_path / "data", "keylogs", redis_db=6)}
    env["CREATOR_ENRICH_EMBEDDED_WORKER"] = "true"  # one process does it all
    cli(env, "db", "upgrade")
    cli(env, "data", "generate", "--creators", "300", "--seed", "3")
    cli(env, "accounts", "create", "logs", "--credits", "5")
    key = cli(env, "keys", "create", "logs").stdout.strip()
    handle = cli(env, "data", "sample", "--platform", "instagram", "--count", "1").stdout.split()[0]
    server = LoggedServer(env, tmp_path / "serve.log")
    try:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            http.get(CREDITS, headers={"Authorization": f"Bearer {key[:-3]}xyz"})
            created = http.post(
                URL,
                headers=headers,
                data={"enrichment_mode": "raw", "platform": "instagram"},
                files={"file": ("in.csv", f"handle\n{handle}\n".encode(), "text/csv")},
            ).json()["batch_id"]
            deadline = time.monotonic() + 60
            while http.get(f"{URL}{created}/status/", headers=headers).json()["status"] not in (
                "finished",
                "failed",
            ):
                assert time.monotonic() < deadline
                time.sleep(0.1)
            link = http.get(f"{URL}{created}/download/", headers=headers).json()["download_url"]
            assert http.get(link).status_code == 200
    finally:
        server.stop()
    log = server.log.read_text()
    assert "/download/" in log and "/file/" in log  # the access log was on
    assert key.split("_", 2)[2] not in log
    signature = httpx.URL(link).params["signature"]
    assert signature not in log
    assert "signature=[redacted]" in log
