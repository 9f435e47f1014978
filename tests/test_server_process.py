"""The real server process and the CLI: the admin flow, a kill -9 mid-batch and a restart."""

from __future__ import annotations

import signal
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from creator_enrich.db.engine import create_db_engine, read_connection
from creator_enrich.db.schema import Batch, BatchChunk, BatchResult, BatchRow, LedgerEntry
from tests.helpers import assert_money_invariants, ledger_rows, results_and_charges, row_count
from tests.processes import (
    EMBEDDED,
    Server,
    cli,
    ghost_csv,
    is_done,
    server_env,
    wait_for_batch,
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return server_env(tmp_path_factory.mktemp("server"), "server", redis_db=2)


def test_cli_submit_waits_and_saves_results(
    env: dict[str, str], admin: dict[str, str], server: Server, tmp_path: Path
) -> None:
    sample = cli(env, "data", "sample", "--platform", "tiktok", "--count", "30").stdout.split()
    assert len(sample) == 30
    emails = cli(env, "data", "sample", "--emails", "--count", "5").stdout.split()
    assert all("@" in e for e in emails)
    csv_path = tmp_path / "in.csv"
    csv_path.write_text("handle\n" + "\n".join([*sample, "nobody_here_1"]) + "\n")
    out = tmp_path / "out"
    result = cli(
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


def test_kill_9_mid_batch_then_restart_finishes_once(
    env: dict[str, str], admin: dict[str, str], tmp_path: Path
) -> None:
    engine = create_db_engine(env["CREATOR_ENRICH_DATABASE_URL"])
    headers = {"Authorization": f"Bearer {admin['key']}"}
    sample = cli(env, "data", "sample", "--platform", "instagram", "--count", "300").stdout.split()
    csv_path = tmp_path / "big.csv"
    ghost_csv(csv_path, sample, 30_000)  # ~1,200 chunks of 25: long enough to interrupt

    srv = Server(env)
    srv.start()
    batch_id = srv.submit(admin["key"], csv_path, "instagram")["batch_id"]
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
        status = wait_for_batch(srv.url, admin["key"], str(batch_id), is_done, seconds=120)
    finally:
        srv.stop()
    assert status["status"] == "finished"
    assert status["processed_rows"] == status["total_rows"] == 30_300
    assert status["success_count"] == 300
    assert status["credits_used"] == "9.00"

    results, charges = results_and_charges(engine, batch_id)
    assert row_count(engine, batch_id) == results[0] == 30_300  # one result per input row
    assert charges == (300, 300)  # the ledger charged each charged row once
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
    sample = cli(env, "data", "sample", "--platform", "twitch", "--count", "100").stdout.split()
    csv_path = tmp_path / "shared.csv"
    ghost_csv(csv_path, sample, 8000)
    first, second = Server(env), Server({**env, "CREATOR_ENRICH_EMBEDDED_WORKER": "false"})
    first.start()
    second.start()
    try:
        created = first.submit(admin["key"], csv_path, "twitch")
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


@pytest.mark.parametrize("crash_at", ["before_commit:3", "after_commit:3"])
def test_process_killed_at_a_chunk_commit_then_restarted_finishes_once(
    env: dict[str, str], admin: dict[str, str], tmp_path: Path, crash_at: str
) -> None:
    """kill -9 at a defined point: inside the 3rd chunk commit with its transaction open (every
    statement ran, no COMMIT yet), or right after it (stored, message not yet acknowledged)."""
    engine = create_db_engine(env["CREATOR_ENRICH_DATABASE_URL"])
    hits = cli(env, "data", "sample", "--platform", "youtube", "--count", "120").stdout.split()
    # A hit every sixth row: every chunk of 25 charges, so the killed commit holds charges too.
    lines = [hits[i // 6] if i % 6 == 0 else f"ghost_{crash_at[0]}_{i}" for i in range(720)]
    csv_path = tmp_path / "crash.csv"
    csv_path.write_text("handle\n" + "\n".join(lines) + "\n")
    batch_before = _ledger_total(engine)

    # The batch is stored with every chunk queued before any processing starts.
    srv = Server({**env, "CREATOR_ENRICH_EMBEDDED_WORKER": "false"})
    srv.start(workers=False)
    recovery: Server | None = None
    try:
        batch_id = str(srv.submit(admin["key"], csv_path, "youtube")["batch_id"])
        code = srv.run_crashing(crash_at)
        assert code == (-signal.SIGKILL if EMBEDDED else 1)  # dramatiq: 1 when a worker is killed
        committed = 2 if crash_at.startswith("before") else 3
        _assert_nothing_half_stored(engine, batch_id, committed)

        if EMBEDDED:  # a new server whose start-up sweep takes back what the dead one held
            recovery = Server(env)
            recovery.start()
        else:  # new workers; the dead one's lease expires and the sweeper re-sends its chunk
            srv.start_workers()
        status = wait_for_batch(srv.url, admin["key"], str(batch_id), is_done, seconds=120)
    finally:
        if recovery is not None:
            recovery.stop()
        srv.stop()
    assert status["status"] == "finished"
    assert status["processed_rows"] == status["total_rows"] == 720
    assert status["success_count"] == 120
    assert status["credits_used"] == "3.60"
    results, charges = results_and_charges(engine, batch_id)
    assert results == (720, 720)  # every input row has exactly one result
    assert charges == (120, 120)  # the ledger charged each charged row once
    assert batch_before - _ledger_total(engine) == Decimal("3.60")
    assert_money_invariants(engine, _account_id(engine), Decimal("50.5"))
    engine.dispose()


def _ledger_total(engine: Any) -> Decimal:
    with read_connection(engine) as conn:
        return Decimal(conn.execute(select(func.sum(LedgerEntry.amount))).scalar_one())


def _assert_nothing_half_stored(engine: Any, batch_id: str, committed: int) -> None:
    """Exactly the chunks committed before the kill are stored: results, charges and counters
    of the killed commit are all there (after_commit) or all gone (before_commit)."""
    with read_connection(engine) as conn:
        done = (
            conn.execute(
                select(BatchChunk.chunk_no).where(
                    BatchChunk.batch_id == batch_id, BatchChunk.status == "done"
                )
            )
            .scalars()
            .all()
        )
        rows_done = conn.execute(
            select(func.count())
            .select_from(BatchRow)
            .where(BatchRow.batch_id == batch_id, BatchRow.chunk_no.in_(done))
        ).scalar_one()
        results, charged = conn.execute(
            select(func.count(), func.count().filter(BatchResult.credits > 0)).where(
                BatchResult.batch_id == batch_id
            )
        ).one()
        entries, chunks_done, processed = (
            ledger_rows(conn, batch_id),
            *conn.execute(
                select(Batch.chunks_done, Batch.processed_rows).where(Batch.id == batch_id)
            ).one(),
        )
    assert len(done) == chunks_done == committed
    assert results == rows_done == processed > 0
    assert entries == charged > 0
