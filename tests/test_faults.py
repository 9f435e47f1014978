"""Faults on the scale-out stack: PostgreSQL and Redis restarted mid-batch, workers killed at
several points. Collected when the run controls its services (CREATOR_ENRICH_TEST_SERVICES_DIR,
set by .ci/run for the PostgreSQL + Redis pass)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update

from creator_enrich.accounts.service import Caller, create_account
from creator_enrich.batches import processing
from creator_enrich.batches.create_form import parse_create_form
from creator_enrich.batches.service import create_batch, delete_batch
from creator_enrich.config import Settings
from creator_enrich.db.engine import create_db_engine, read_connection
from creator_enrich.db.schema import Account, Batch, BatchChunk, LedgerEntry
from creator_enrich.db.types import utcnow
from tests.helpers import assert_money_invariants, ledger_rows, results_and_charges, row_count
from tests.processes import (
    Server,
    admin_flow,
    cli,
    ghost_csv,
    is_done,
    server_env,
    wait_for_batch,
)

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


def _assert_exactly_once(env: dict[str, str], batch_id: str) -> None:
    engine = create_db_engine(env["CREATOR_ENRICH_DATABASE_URL"])
    with read_connection(engine) as conn:
        account = conn.execute(select(Account.id).where(Account.name == "ops")).scalar_one()
        granted = conn.execute(
            select(func.sum(LedgerEntry.amount)).where(
                LedgerEntry.account_id == account, LedgerEntry.kind == "grant"
            )
        ).scalar_one()
    rows = row_count(engine, batch_id)
    results, charges = results_and_charges(engine, batch_id)
    assert rows == HITS + GHOSTS
    assert results == (rows, rows)  # every input row has exactly one result
    assert charges == (HITS, HITS)  # each hit charged once
    assert_money_invariants(engine, account, Decimal(granted))
    engine.dispose()


def test_postgres_restart_mid_batch(env: dict[str, str], key: str, big_csv: Path) -> None:
    srv = Server(env)
    srv.start()
    try:
        batch_id = _submit(srv, key, big_csv)
        wait_for_batch(srv.url, key, batch_id, lambda s: s["processed_rows"] > 0)
        services("stop-pg")
        try:
            codes = {_status(srv, key, batch_id).status_code for _ in range(5)}
        finally:
            services("start-pg")
        assert codes == {503}  # unavailable, never a 500
        final = wait_for_batch(srv.url, key, batch_id, is_done)
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
        wait_for_batch(srv.url, key, batch_id, lambda s: s["processed_rows"] > 0)
        services("stop-redis")
        try:
            assert _status(srv, key, batch_id).status_code == 200  # the API needs no broker
            time.sleep(1)
        finally:
            services("start-redis")
        final = wait_for_batch(srv.url, key, batch_id, is_done)
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
            wait_for_batch(
                srv.url, key, batch_id, lambda s, share=share: s["processed_rows"] >= share * total
            )
            srv.kill_processing()
            srv.restart_processing()
        final = wait_for_batch(srv.url, key, batch_id, is_done)
        assert final["status"] == "finished"
        assert final["success_count"] == HITS
    finally:
        srv.stop()
    _assert_exactly_once(env, batch_id)


@dataclass
class _ClaimedChunk:
    """A 10-row batch of known handles whose only chunk a worker has claimed and enriched:
    what remains is the commit, which a test runs against something else at the same time."""

    engine: Any
    account_id: int
    caller: Caller
    batch_id: str
    hits: list[str]
    claim: processing.Claim
    read: processing.ChunkRead

    def commit(self) -> str:
        return processing.commit_chunk(self.engine, self.claim, self.read)


def _claimed_chunk(env: dict[str, str], account: str) -> _ClaimedChunk:
    engine = create_db_engine(env["CREATOR_ENRICH_DATABASE_URL"])
    settings = Settings(chunk_size=10)
    account_id = create_account(engine, account, Decimal(10))
    caller = Caller(account_id=account_id, key_id="test", read_only=False)
    hits = cli(env, "data", "sample", "--platform", "youtube", "--count", "10").stdout.split()
    request = parse_create_form({"enrichment_mode": ["raw"], "platform": ["youtube"]}, settings)
    created, _ = create_batch(
        engine, settings, caller, request, ("handle\n" + "\n".join(hits)).encode()
    )
    batch_id = created["batch_id"]
    claim = processing.claim_chunk(engine, batch_id, 0, lease_seconds=60)
    assert claim is not None
    read = processing.read_chunk(engine, claim, Path(env["CREATOR_ENRICH_DATA_DIR"]))
    return _ClaimedChunk(engine, account_id, caller, batch_id, hits, claim, read)


@contextmanager
def _account_locked(engine: Any, account_id: int) -> Iterator[None]:
    """Hold the account row, so that a chunk commit passes its fence and then waits here."""
    with engine.connect() as blocker:
        transaction = blocker.begin()
        blocker.execute(select(Account.id).where(Account.id == account_id).with_for_update())
        try:
            yield
        finally:
            transaction.rollback()


def test_a_late_commit_and_a_new_claim_of_one_chunk_never_both_count(
    env: dict[str, str], key: str
) -> None:
    """PostgreSQL runs them at once: worker A passes the fence with a lease that has just run out
    and waits for the account lock; worker B takes the chunk over meanwhile. The fence locks the
    chunk row, so B waits for A's COMMIT and finds the chunk done, instead of counting it twice."""
    late = _claimed_chunk(env, "race-fence")
    engine, batch_id = late.engine, late.batch_id
    with engine.begin() as conn:  # A's lease runs out
        conn.execute(
            update(BatchChunk)
            .where(BatchChunk.batch_id == batch_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    done: dict[str, str] = {}
    with _account_locked(engine, late.account_id):
        worker_a = threading.Thread(target=lambda: done.update(a=late.commit()))
        worker_a.start()
        _wait_for_lock_waits(engine, 1)  # A passed the fence and waits for the account
        worker_b = threading.Thread(
            target=lambda: done.update(
                b=processing.process_chunk(
                    engine, batch_id, 0, 60, Path(env["CREATOR_ENRICH_DATA_DIR"])
                )
            )
        )
        worker_b.start()
        _wait_for_lock_waits(engine, 2)  # B waits too (for the chunk row, or for the account)
    worker_a.join(timeout=60)
    worker_b.join(timeout=60)
    assert done == {"a": "done", "b": "skipped"}
    with read_connection(engine) as conn:
        chunks_done, chunks_total, status = conn.execute(
            select(Batch.chunks_done, Batch.chunks_total, Batch.status).where(Batch.id == batch_id)
        ).one()
    assert (chunks_done, chunks_total, status) == (1, 1, "finished")
    assert_money_invariants(engine, late.account_id, Decimal(10))
    engine.dispose()


def test_a_delete_racing_a_chunk_commit_waits_for_it(env: dict[str, str], key: str) -> None:
    """A worker is inside its chunk commit (fence passed, chunk row locked, waiting for the
    account) when the owner deletes the batch. The delete takes its locks in the commit's order,
    so it waits for the commit instead of deadlocking with it: both succeed, the charges stay."""
    chunk = _claimed_chunk(env, "race-delete")
    engine, batch_id = chunk.engine, chunk.batch_id
    # the delete waits for the chunk row
    done = _during_commit(chunk, lambda: delete_batch(engine, chunk.caller, batch_id))
    assert done["commit"] == "done"
    assert done["other"]["deleted"] is True
    with read_connection(engine) as conn:
        assert conn.execute(select(Batch.id).where(Batch.id == batch_id)).first() is None
        charged = ledger_rows(conn, batch_id)
    assert charged == len(chunk.hits)  # the commit's charges were kept: money history stays
    assert_money_invariants(engine, chunk.account_id, Decimal(10), deleted=frozenset({batch_id}))
    engine.dispose()


def _during_commit(chunk: _ClaimedChunk, other: Callable[[], Any]) -> dict[str, Any]:
    """Run ``other`` while the chunk's commit is inside its transaction (fence passed, waiting
    for the account), once it too waits for a lock; then let both finish. Returns what each
    returned, as ``commit`` and ``other``."""
    done: dict[str, Any] = {}
    with _account_locked(chunk.engine, chunk.account_id):
        worker = threading.Thread(target=lambda: done.update(commit=chunk.commit()))
        worker.start()
        _wait_for_lock_waits(chunk.engine, 1)
        racer = threading.Thread(target=lambda: done.update(other=other()))
        racer.start()
        _wait_for_lock_waits(chunk.engine, 2)
    worker.join(timeout=60)
    racer.join(timeout=60)
    return done


def _wait_for_lock_waits(engine: Any, count: int) -> None:
    """Until ``count`` sessions of this database wait for a lock (bounded, to avoid a hang)."""
    deadline = time.monotonic() + 60
    while True:
        with read_connection(engine) as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        if waiting >= count:
            return
        assert time.monotonic() < deadline, f"{waiting} sessions wait for a lock, not {count}"
        time.sleep(0.05)
