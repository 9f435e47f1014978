"""Faults on the scale-out stack: PostgreSQL and Redis restarted mid-batch, workers killed at
several points. Collected when the run controls its services (CREATOR_ENRICH_TEST_SERVICES_DIR,
set by .ci/run for the PostgreSQL + Redis pass)."""

from __future__ import annotations

import os
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from creator_enrich.db.engine import create_db_engine, read_connection
from creator_enrich.db.schema import Account, BatchResult, BatchRow, LedgerEntry
from tests.helpers import assert_money_invariants
from tests.processes import Server, admin_flow, cli, ghost_csv, server_env

SERVICES = os.environ.get("CREATOR_ENRICH_TEST_SERVICES_DIR", "")
ROOT = Path(__file__).resolve().parents[1]
HITS, GHOSTS = 200, 12_000


def services(action: str) -> None:
    subprocess.run(
        ["bash", "scripts/services.sh", action, SERVICES], cwd=ROOT, check=True, timeout=60
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return server_env(tmp_path_factory.mktemp("faults"), "faults", redis_db=3)


@pytest.fixture(scope="module")
def key(env: dict[str, str]) -> str:
    return admin_flow(env)


@pytest.fixture(scope="module")
def big_csv(env: dict[str, str], key: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    sample = cli(env, "data", "sample", "--platform", "youtube", "--count", str(HITS))
    path = tmp_path_factory.mktemp("faults-csv") / "big.csv"
    ghost_csv(path, sample.stdout.split(), GHOSTS)
    return path


def _submit(srv: Server, key: str, path: Path) -> str:
    return str(srv.submit(key, path, "youtube")["batch_id"])


def _status(srv: Server, key: str, batch_id: str) -> httpx.Response:
    return httpx.get(
        f"{srv.url}/public/v1/enrichment/batch/{batch_id}/status/",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def _wait(srv: Server, key: str, batch_id: str, until: Any, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = _status(srv, key, batch_id)
        if response.status_code == 200 and until(response.json()):
            return response.json()  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, response.text
        time.sleep(0.05)


def _assert_exactly_once(env: dict[str, str], batch_id: str) -> None:
    engine = create_db_engine(env["CREATOR_ENRICH_DATABASE_URL"])
    with read_connection(engine) as conn:
        rows = conn.execute(
            select(func.count()).select_from(BatchRow).where(BatchRow.batch_id == batch_id)
        ).scalar_one()
        results = conn.execute(
            select(func.count(), func.count(BatchResult.row_no.distinct())).where(
                BatchResult.batch_id == batch_id
            )
        ).one()
        charges = conn.execute(
            select(func.count(), func.count(LedgerEntry.row_no.distinct())).where(
                LedgerEntry.batch_id == batch_id
            )
        ).one()
        account = conn.execute(select(Account.id).where(Account.name == "ops")).scalar_one()
        granted = conn.execute(
            select(func.sum(LedgerEntry.amount)).where(
                LedgerEntry.account_id == account, LedgerEntry.kind == "grant"
            )
        ).scalar_one()
    assert rows == HITS + GHOSTS
    assert tuple(results) == (rows, rows)  # every input row has exactly one result
    assert tuple(charges) == (HITS, HITS)  # each charged row has exactly one ledger entry
    assert_money_invariants(engine, account, Decimal(granted))
    engine.dispose()


def test_postgres_restart_mid_batch(env: dict[str, str], key: str, big_csv: Path) -> None:
    srv = Server(env)
    srv.start()
    try:
        batch_id = _submit(srv, key, big_csv)
        _wait(srv, key, batch_id, lambda s: s["processed_rows"] > 0)
        services("stop-pg")
        try:
            codes = {_status(srv, key, batch_id).status_code for _ in range(5)}
        finally:
            services("start-pg")
        assert codes == {503}  # unavailable, never a 500
        final = _wait(srv, key, batch_id, lambda s: s["status"] in ("finished", "failed"))
        assert final["status"] == "finished"
        assert final["success_count"] == HITS
        assert final["error_count"] == 0  # an outage fails no row
    finally:
        srv.stop()
    _assert_exactly_once(env, batch_id)


def test_redis_restart_mid_batch(env: dict[str, str], key: str, big_csv: Path) -> None:
    srv = Server(env)
    srv.start()
    try:
        batch_id = _submit(srv, key, big_csv)
        _wait(srv, key, batch_id, lambda s: s["processed_rows"] > 0)
        services("stop-redis")
        try:
            assert _status(srv, key, batch_id).status_code == 200  # the API needs no broker
            time.sleep(1)
        finally:
            services("start-redis")
        final = _wait(srv, key, batch_id, lambda s: s["status"] in ("finished", "failed"))
        assert final["status"] == "finished"
        assert final["success_count"] == HITS
    finally:
        srv.stop()
    _assert_exactly_once(env, batch_id)


def test_workers_killed_at_several_points(env: dict[str, str], key: str, big_csv: Path) -> None:
    srv = Server(env)
    srv.start()
    try:
        batch_id = _submit(srv, key, big_csv)
        total = HITS + GHOSTS
        for share in (0.05, 0.35, 0.65):
            _wait(srv, key, batch_id, lambda s, share=share: s["processed_rows"] >= share * total)
            srv.kill_processing()
            srv.restart_processing()
        final = _wait(srv, key, batch_id, lambda s: s["status"] in ("finished", "failed"))
        assert final["status"] == "finished"
        assert final["success_count"] == HITS
    finally:
        srv.stop()
    _assert_exactly_once(env, batch_id)
