"""The real server process and the CLI: the admin flow, a kill -9 mid-batch and a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from creator_enrich.db.engine import create_db_engine, read_connection
from creator_enrich.db.schema import BatchResult, BatchRow, LedgerEntry
from tests.databases import BROKER_URL, fresh_database_url
from tests.helpers import assert_money_invariants

CLI = [sys.executable, "-m", "creator_enrich"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("server")
    return {
        **os.environ,
        "CREATOR_ENRICH_DATA_DIR": str(data),
        "CREATOR_ENRICH_DATABASE_URL": fresh_database_url("server"),
        # Its own Redis database, so that the in-test worker never sees these messages.
        "CREATOR_ENRICH_BROKER_URL": BROKER_URL.replace("/0", "/2"),
        "CREATOR_ENRICH_CHUNK_SIZE": "25",
        "CREATOR_ENRICH_WORKER_THREADS": "2",
        "CREATOR_ENRICH_LEASE_SECONDS": "3",
        "CREATOR_ENRICH_SWEEP_INTERVAL_SECONDS": "1",
    }


EMBEDDED = BROKER_URL.startswith("memory://")


def _cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, input=stdin, timeout=300
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


class Server:
    """The API process, plus `creator-enrich worker` processes when the broker is Redis."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.workers: subprocess.Popen[bytes] | None = None

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*CLI, *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: kill -9 reaches every child
        )

    def start(self) -> None:
        self.proc = self._spawn("serve", "--port", str(self.port), "--log-level", "warning")
        if not EMBEDDED:
            self.start_workers()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("server did not start")

    def start_workers(self) -> None:
        self.workers = self._spawn("worker", "--processes", "2", "--threads", "2")

    def kill_processing(self) -> None:
        """kill -9 whatever runs the chunks: the API process (embedded) or the workers."""
        target = self.proc if EMBEDDED else self.workers
        assert target is not None
        os.killpg(target.pid, signal.SIGKILL)
        target.wait(timeout=10)

    def restart_processing(self) -> None:
        if EMBEDDED:
            self.start()
        else:
            self.start_workers()

    def stop(self) -> None:
        for proc in (self.workers, self.proc):
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)


@pytest.fixture(scope="module")
def admin(env: dict[str, str]) -> dict[str, str]:
    """The CLI flow an operator follows: schema, data, account, key, credits."""
    _cli(env, "db", "upgrade")
    _cli(env, "data", "generate", "--creators", "1500", "--seed", "5")
    _cli(env, "accounts", "create", "ops", "--credits", "10")
    key = _cli(env, "keys", "create", "ops").stdout
    assert key.count("\n") == 1 and key.startswith("ce_")  # only the key on stdout
    granted = _cli(env, "credits", "grant", "ops", "40.5")
    assert "balance 50.5" in granted.stderr
    return {"key": key.strip()}


@pytest.fixture
def server(env: dict[str, str], admin: dict[str, str]) -> Iterator[Server]:
    srv = Server(env)
    srv.start()
    yield srv
    srv.stop()


def test_cli_submit_waits_and_saves_results(
    env: dict[str, str], admin: dict[str, str], server: Server, tmp_path: Path
) -> None:
    sample = _cli(env, "data", "sample", "--platform", "tiktok", "--count", "30").stdout.split()
    assert len(sample) == 30
    emails = _cli(env, "data", "sample", "--emails", "--count", "5").stdout.split()
    assert all("@" in e for e in emails)
    csv_path = tmp_path / "in.csv"
    csv_path.write_text("handle\n" + "\n".join([*sample, "nobody_here_1"]) + "\n")
    out = tmp_path / "out"
    result = _cli(
        env,
        "batch",
        "submit",
        str(csv_path),
        "--mode",
        "raw",
        "--platform",
        "tiktok",
        "--wait",
        "--out",
        str(out),
        "--url",
        server.url,
        "--api-key",
        admin["key"],
    )
    assert "enriched" in result.stdout and "30" in result.stdout
    assert "credits charged" in result.stdout and "0.90" in result.stdout
    saved = sorted(p.suffix for p in out.iterdir())
    assert saved == [".csv", ".json"]


def _ghost_csv(path: Path, sample: list[str], ghosts: int) -> None:
    path.write_text("handle\n" + "\n".join(sample + [f"ghost_{i}" for i in range(ghosts)]) + "\n")


def test_kill_9_mid_batch_then_restart_finishes_once(
    env: dict[str, str], admin: dict[str, str], tmp_path: Path
) -> None:
    engine = create_db_engine(env["CREATOR_ENRICH_DATABASE_URL"])
    headers = {"Authorization": f"Bearer {admin['key']}"}
    sample = _cli(env, "data", "sample", "--platform", "instagram", "--count", "300").stdout.split()
    csv_path = tmp_path / "big.csv"
    _ghost_csv(csv_path, sample, 30_000)  # ~1,200 chunks of 25: long enough to interrupt

    srv = Server(env)
    srv.start()
    with csv_path.open("rb") as handle:
        created = httpx.post(
            f"{srv.url}/public/v1/enrichment/batch/",
            headers=headers,
            data={"enrichment_mode": "raw", "platform": "instagram"},
            files={"file": ("big.csv", handle, "text/csv")},
            timeout=60,
        )
    assert created.status_code == 200, created.text
    batch_id = created.json()["batch_id"]
    status_url = f"{srv.url}/public/v1/enrichment/batch/{batch_id}/status/"
    while True:
        status = httpx.get(status_url, headers=headers).json()
        if status["processed_rows"] > 0:
            break
        time.sleep(0.01)
    srv.kill_processing()
    assert status["status"] == "processing", "batch must be interrupted mid-way"
    assert status["processed_rows"] < status["total_rows"]

    # Embedded: the start-up sweep re-sends what the dead process had queued or leased.
    # Redis: the queued messages wait in Redis; the dead workers' leases expire and are swept.
    srv.restart_processing()
    try:
        deadline = time.monotonic() + 120
        while True:
            status = httpx.get(status_url, headers=headers).json()
            if status["status"] in ("finished", "failed"):
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
    finally:
        srv.stop()
    assert status["status"] == "finished"
    assert status["processed_rows"] == status["total_rows"] == 30_300
    assert status["success_count"] == 300
    assert status["credits_used"] == "9.00"

    with read_connection(engine) as conn:
        rows = conn.execute(
            select(func.count()).select_from(BatchRow).where(BatchRow.batch_id == batch_id)
        ).scalar_one()
        results = conn.execute(
            select(func.count()).select_from(BatchResult).where(BatchResult.batch_id == batch_id)
        ).scalar_one()
        charges = conn.execute(
            select(func.count(), func.count(func.distinct(LedgerEntry.row_no))).where(
                LedgerEntry.batch_id == batch_id
            )
        ).one()
    assert rows == results == 30_300  # every input row has exactly one result
    assert tuple(charges) == (300, 300)  # one ledger entry per charged row
    assert_money_invariants(engine, _account_id(engine), Decimal("50.5"))
    engine.dispose()


def _account_id(engine: Any) -> int:
    from creator_enrich.db.schema import Account

    with read_connection(engine) as conn:
        return int(conn.execute(select(Account.id).where(Account.name == "ops")).scalar_one())


def test_two_api_processes_behind_one_database_agree(
    env: dict[str, str], admin: dict[str, str], tmp_path: Path
) -> None:
    """A second API process (no worker of its own) sees the same batches, progress and files."""
    headers = {"Authorization": f"Bearer {admin['key']}"}
    sample = _cli(env, "data", "sample", "--platform", "twitch", "--count", "100").stdout.split()
    csv_path = tmp_path / "shared.csv"
    _ghost_csv(csv_path, sample, 8000)
    first, second = Server(env), Server({**env, "CREATOR_ENRICH_EMBEDDED_WORKER": "false"})
    first.start()
    second.start()
    try:
        with csv_path.open("rb") as handle:
            created = httpx.post(
                f"{first.url}/public/v1/enrichment/batch/",
                headers=headers,
                data={"enrichment_mode": "raw", "platform": "twitch"},
                files={"file": ("shared.csv", handle, "text/csv")},
                timeout=60,
            ).json()
        path = f"/public/v1/enrichment/batch/{created['batch_id']}/status/"
        while True:  # read A, B, A: B's progress always lies between A's two readings
            before = httpx.get(first.url + path, headers=headers).json()
            middle = httpx.get(second.url + path, headers=headers).json()
            after = httpx.get(first.url + path, headers=headers).json()
            assert before["processed_rows"] <= middle["processed_rows"] <= after["processed_rows"]
            if after["status"] == "finished":
                break
            time.sleep(0.05)
        final_a = httpx.get(first.url + path, headers=headers).json()
        final_b = httpx.get(second.url + path, headers=headers).json()
        assert final_a == final_b
        assert final_b["success_count"] == 100
        results = f"/public/v1/enrichment/batch/{created['batch_id']}/?format=json"
        body_a = httpx.get(first.url + results, headers=headers, timeout=60).content
        body_b = httpx.get(second.url + results, headers=headers, timeout=60).content
        assert body_a == body_b
        link = httpx.get(
            f"{first.url}/public/v1/enrichment/batch/{created['batch_id']}/download/",
            headers=headers,
        ).json()["download_url"]
        on_b = httpx.get(link.replace(first.url, second.url), timeout=60)
        assert on_b.status_code == 200  # a link signed by one process works on the other
    finally:
        second.stop()
        first.stop()
