"""Chunk processing on a private database, driven by hand: every state transition, fencing,
redelivery, leases and the sweeper. No worker touches this database, so each step is observed.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from creator_enrich.accounts.service import Caller, create_account
from creator_enrich.batches import leases, processing, states
from creator_enrich.batches.create_form import parse_create_form
from creator_enrich.batches.recovery import find_stale_chunks
from creator_enrich.batches.service import (
    batch_status,
    create_batch,
    delete_batch,
    resume_batch,
)
from creator_enrich.config import Settings
from creator_enrich.creators.generate import generate_store
from creator_enrich.credits.ledger import balance, charge, grant
from creator_enrich.db.engine import create_db_engine, read_connection, write_transaction
from creator_enrich.db.migrate import upgrade
from creator_enrich.db.schema import BatchChunk, BatchResult, LedgerEntry
from creator_enrich.db.types import utcnow
from tests.databases import DATA_DIR, fresh_database_url
from tests.helpers import assert_money_invariants, csv_of, handles, ledger_rows


@pytest.fixture(scope="module")
def private() -> Any:
    url = fresh_database_url("processing")
    upgrade(url)
    engine = create_db_engine(url)
    generate_store(engine, creators=400, seed=11)
    yield engine
    engine.dispose()


def _settings() -> Settings:
    return Settings(chunk_size=10)


def _new_batch(engine: Any, credits: Decimal, values: list[str]) -> tuple[Caller, str]:
    import uuid

    account_id = create_account(engine, f"p-{uuid.uuid4().hex[:8]}", credits)
    caller = Caller(account_id=account_id, key_id="test", read_only=False)
    request = parse_create_form(
        {"enrichment_mode": ["raw"], "platform": ["instagram"]}, _settings()
    )
    created, _ = create_batch(
        engine, _settings(), caller, request, csv_of("handle", values).encode()
    )
    return caller, created["batch_id"]


def _run_all(engine: Any, batch_id: str, chunks: range) -> list[str]:
    return [processing.process_chunk(engine, batch_id, n, 60, DATA_DIR) for n in chunks]


def test_lifecycle_queued_processing_finished(private: Any) -> None:
    values = handles(private, "instagram", 25)
    caller, batch_id = _new_batch(private, Decimal(10), values)
    assert batch_status(private, caller, batch_id)["status"] == "queued"
    assert processing.process_chunk(private, batch_id, 0, 60, DATA_DIR) == "done"
    status = batch_status(private, caller, batch_id)
    assert status["status"] == "processing"
    assert status["processed_rows"] == 10
    assert status["estimated_completion"] is not None
    assert _run_all(private, batch_id, range(1, 3)) == ["done", "done"]
    final = batch_status(private, caller, batch_id)
    assert final["status"] == "finished" and final["processed_rows"] == 25
    assert final["credits_used"] == "0.75"


def test_redelivered_chunk_charges_nothing(private: Any) -> None:
    caller, batch_id = _new_batch(private, Decimal(10), handles(private, "instagram", 15))
    assert processing.process_chunk(private, batch_id, 0, 60, DATA_DIR) == "done"
    assert processing.process_chunk(private, batch_id, 0, 60, DATA_DIR) == "skipped"
    assert processing.process_chunk(private, batch_id, 1, 60, DATA_DIR) == "done"
    assert processing.process_chunk(private, batch_id, 1, 60, DATA_DIR) == "skipped"
    assert batch_status(private, caller, batch_id)["credits_used"] == "0.45"
    assert_money_invariants(private, caller.account_id, Decimal(10))


def test_late_worker_is_fenced_after_its_lease_expired(private: Any) -> None:
    caller, batch_id = _new_batch(private, Decimal(10), handles(private, "instagram", 10))
    stale = processing.claim_chunk(private, batch_id, 0, lease_seconds=60)
    assert stale is not None
    with write_transaction(private) as conn:  # the lease runs out while the worker hangs
        conn.execute(
            update(BatchChunk)
            .where(BatchChunk.batch_id == batch_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert processing.process_chunk(private, batch_id, 0, 60, DATA_DIR) == "done"  # another worker
    read = processing.read_chunk(private, stale, DATA_DIR)
    assert processing.commit_chunk(private, stale, read) == "fenced"
    assert batch_status(private, caller, batch_id)["credits_used"] == "0.30"
    assert_money_invariants(private, caller.account_id, Decimal(10))


def test_a_row_stored_after_the_read_is_neither_stored_again_nor_charged(private: Any) -> None:
    """The commit re-reads which rows are stored inside its own locked transaction: a result
    that appeared after the worker read its rows (here written by hand) is kept as it is."""
    caller, batch_id = _new_batch(private, Decimal(10), handles(private, "instagram", 10))
    claim = processing.claim_chunk(private, batch_id, 0, lease_seconds=60)
    assert claim is not None
    read = processing.read_chunk(private, claim, DATA_DIR)
    rows = read.rows
    with write_transaction(private) as conn:
        conn.execute(
            insert(BatchResult).values(
                batch_id=batch_id, row_no=rows[3].row_no, status="failed", reason="by hand"
            )
        )
    assert processing.commit_chunk(private, claim, read) == "done"
    with read_connection(private) as conn:
        kept = conn.execute(
            select(BatchResult.status, BatchResult.reason).where(
                BatchResult.batch_id == batch_id, BatchResult.row_no == rows[3].row_no
            )
        ).one()
        entries = conn.execute(
            select(func.count()).where(LedgerEntry.batch_id == batch_id)
        ).scalar_one()
        charged = ledger_rows(conn, batch_id)
    assert tuple(kept) == ("failed", "by hand")
    assert (entries, charged) == (1, 9)  # one charge, of the nine rows this commit stored
    assert batch_status(private, caller, batch_id)["credits_used"] == "0.27"
    assert_money_invariants(private, caller.account_id, Decimal(10))


def test_a_chunk_in_flight_when_its_batch_is_deleted_stores_and_charges_nothing(
    private: Any,
) -> None:
    """Delete while a worker holds a chunk: its commit is fenced off (the chunk row is gone),
    later deliveries are skipped, and what was committed before stays charged, once."""
    caller, batch_id = _new_batch(private, Decimal(10), handles(private, "instagram", 25))
    assert processing.process_chunk(private, batch_id, 0, 60, DATA_DIR) == "done"
    claim = processing.claim_chunk(private, batch_id, 1, lease_seconds=60)
    assert claim is not None
    read = processing.read_chunk(private, claim, DATA_DIR)
    assert delete_batch(private, caller, batch_id)["previous_status"] == "processing"
    assert processing.commit_chunk(private, claim, read) == "fenced"
    assert processing.process_chunk(private, batch_id, 2, 60, DATA_DIR) == "skipped"
    with read_connection(private) as conn:
        charged = ledger_rows(conn, batch_id)
        left = conn.execute(
            select(func.count()).where(BatchResult.batch_id == batch_id)
        ).scalar_one()
    assert (charged, left) == (10, 0)  # chunk 0's charge of ten rows, no results kept
    assert_money_invariants(private, caller.account_id, Decimal(10), deleted=frozenset({batch_id}))


def test_pause_charges_the_affordable_prefix_then_resume_finishes(private: Any) -> None:
    values = handles(private, "instagram", 20)
    caller, batch_id = _new_batch(private, Decimal("0.15"), values)  # 5 hits affordable
    assert processing.process_chunk(private, batch_id, 0, 60, DATA_DIR) == "paused"
    status = batch_status(private, caller, batch_id)
    assert status["status"] == states.PAUSED
    assert status["credits_used"] == "0.15" and status["processed_rows"] == 5
    assert processing.process_chunk(private, batch_id, 1, 60, DATA_DIR) == "skipped"  # parked
    grant(private, caller.account_id, Decimal(5))
    resumed = resume_batch(private, caller, batch_id)
    assert resumed["status"] == "processing"
    assert _run_all(private, batch_id, range(2)) == ["done", "done"]
    final = batch_status(private, caller, batch_id)
    assert final["status"] == "finished"
    assert final["credits_used"] == "0.60"
    with read_connection(private) as conn:
        entries = conn.execute(
            select(LedgerEntry.note, LedgerEntry.row_no, LedgerEntry.row_count)
            .where(LedgerEntry.batch_id == batch_id)
            .order_by(LedgerEntry.id)
        ).all()
    # chunk 0 was charged twice, for disjoint rows: its affordable prefix, then the rest
    assert [tuple(e) for e in entries] == [
        ("chunk 0", 1, 5),
        ("chunk 0", 6, 5),
        ("chunk 1", 11, 10),
    ]
    assert_money_invariants(private, caller.account_id, Decimal("5.15"))


def test_a_second_charge_from_the_same_row_is_refused_whole(private: Any) -> None:
    """The ledger's backstop: a charge of a batch's rows from a row already charged breaks the
    unique key, and the transaction, balance update included, is rolled back."""
    caller, batch_id = _new_batch(private, Decimal(10), handles(private, "instagram", 10))
    assert processing.process_chunk(private, batch_id, 0, 60, DATA_DIR) == "done"
    with pytest.raises(IntegrityError), write_transaction(private) as conn:
        charge(conn, caller.account_id, Decimal("0.03"), 2, batch_id=batch_id, first_row=1)
    assert balance(private, caller.account_id).available == Decimal("9.70")  # 10 hits charged once
    assert_money_invariants(private, caller.account_id, Decimal(10))


def test_chunk_that_keeps_failing_ends_failed_and_batch_fails(private: Any) -> None:
    caller, batch_id = _new_batch(private, Decimal(10), handles(private, "instagram", 5))
    assert processing.fail_chunk(private, batch_id, 0, "boom after 6 attempts")
    status = batch_status(private, caller, batch_id)
    assert status["status"] == "failed"
    assert status["error_count"] == 5 and status["credits_used"] == "0.00"
    assert "failed" in status["status_message"]


def test_sweeper_resends_lost_and_expired_chunks(private: Any) -> None:
    caller, batch_id = _new_batch(private, Decimal(10), handles(private, "instagram", 30))
    # Fresh chunks were just sent: a periodic sweep leaves them alone...
    result = find_stale_chunks(private, requeue_after_seconds=300, max_attempts=3)
    assert (batch_id, 0) not in result.resend
    # ...a start-up sweep (in-memory broker just started empty) re-sends all of them.
    result = find_stale_chunks(private, requeue_after_seconds=300, max_attempts=3, everything=True)
    assert {(batch_id, n) for n in range(3)} <= set(result.resend)
    # A claimed chunk whose lease expired is re-sent; one out of attempts is failed.
    assert processing.claim_chunk(private, batch_id, 0, lease_seconds=60) is not None
    with write_transaction(private) as conn:
        conn.execute(
            update(BatchChunk)
            .where(BatchChunk.batch_id == batch_id, BatchChunk.chunk_no == 0)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        conn.execute(
            update(BatchChunk)
            .where(BatchChunk.batch_id == batch_id, BatchChunk.chunk_no == 1)
            .values(attempts=3, enqueued_at=utcnow() - timedelta(hours=1))
        )
    result = find_stale_chunks(private, requeue_after_seconds=300, max_attempts=3)
    assert (batch_id, 0) in result.resend
    assert (batch_id, 1) in result.failed
    with write_transaction(private) as conn:
        chunk_status = conn.execute(
            select(BatchChunk.status).where(
                BatchChunk.batch_id == batch_id, BatchChunk.chunk_no == 1
            )
        ).scalar_one()
    assert chunk_status == states.CHUNK_FAILED
    assert _run_all(private, batch_id, (0, 2)) == ["done", "done"]
    final = batch_status(private, caller, batch_id)
    assert final["status"] == "finished"
    assert final["error_count"] == 10 and final["success_count"] == 20


def test_startup_sweep_takes_back_chunks_of_a_dead_process(private: Any) -> None:
    caller, batch_id = _new_batch(private, Decimal(10), handles(private, "instagram", 10))
    dead = processing.claim_chunk(private, batch_id, 0, lease_seconds=3600)
    assert dead is not None
    # A periodic sweep respects a lease that has not expired...
    assert (batch_id, 0) not in find_stale_chunks(
        private, requeue_after_seconds=0, max_attempts=5
    ).resend
    # ...the start-up sweep of an embedded server knows its holder died with the old process.
    assert (batch_id, 0) in find_stale_chunks(
        private, requeue_after_seconds=300, max_attempts=5, everything=True
    ).resend
    assert processing.process_chunk(private, batch_id, 0, 60, DATA_DIR) == "done"
    nothing = processing.ChunkRead([], {}, None)  # a chunk with no rows
    assert processing.commit_chunk(private, dead, nothing) == "fenced"
    assert batch_status(private, caller, batch_id)["credits_used"] == "0.30"


def test_crash_point_setting_is_checked() -> None:
    from pydantic import ValidationError

    from creator_enrich.batches.failpoints import CrashAt, parse

    assert parse("before_commit:3") == CrashAt("before_commit", 3)
    assert parse("after_commit:1") == CrashAt("after_commit", 1)
    assert Settings(crash_at="").crash_at is None
    for wrong in ("before_commit", "before_commit:0", "mid_commit:2", "after_commit:x"):
        with pytest.raises(ValidationError, match="crash point"):
            Settings(crash_at=wrong)


def _lease_expires_at(engine: Any, batch_id: str) -> Any:
    with write_transaction(engine) as conn:
        return conn.execute(
            select(BatchChunk.lease_expires_at).where(
                BatchChunk.batch_id == batch_id, BatchChunk.chunk_no == 0
            )
        ).scalar_one()


def _expire_lease(engine: Any, batch_id: str) -> None:
    with write_transaction(engine) as conn:
        conn.execute(
            update(BatchChunk)
            .where(BatchChunk.batch_id == batch_id, BatchChunk.chunk_no == 0)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


def test_a_live_worker_keeps_its_lease_while_work_outlasts_it(private: Any) -> None:
    import time

    caller, batch_id = _new_batch(private, Decimal(10), handles(private, "instagram", 10))
    claim = processing.claim_chunk(private, batch_id, 0, lease_seconds=60)
    assert claim is not None
    with leases.LeaseKeeper(private, claim, lease_seconds=60, every=0.05):
        _expire_lease(private, batch_id)  # the work has now run longer than one lease...
        deadline = time.monotonic() + 30  # a bound against a hang, not a timing assertion
        while _lease_expires_at(private, batch_id) < utcnow():
            assert time.monotonic() < deadline, "the lease was never renewed"
            time.sleep(0.02)
        # ...and the keeper renewed it: the sweeper leaves the chunk to its worker.
        swept = find_stale_chunks(private, requeue_after_seconds=300, max_attempts=5)
        assert (batch_id, 0) not in swept.resend
        assert processing.claim_chunk(private, batch_id, 0, lease_seconds=60) is None
        read = processing.read_chunk(private, claim, DATA_DIR)
        assert processing.commit_chunk(private, claim, read) == "done"
    assert _lease_expires_at(private, batch_id) is None  # renewal stops with the chunk done
    assert batch_status(private, caller, batch_id)["status"] == "finished"


def test_lease_renewal_is_fenced_by_the_token(private: Any) -> None:
    _, batch_id = _new_batch(private, Decimal(10), handles(private, "instagram", 10))
    stale = processing.claim_chunk(private, batch_id, 0, lease_seconds=60)
    assert stale is not None
    _expire_lease(private, batch_id)  # its worker hung past the lease, and another took over
    current = processing.claim_chunk(private, batch_id, 0, lease_seconds=60)
    assert current is not None
    taken_over_until = _lease_expires_at(private, batch_id)
    assert not leases.renew_lease(private, stale, 3600)
    assert _lease_expires_at(private, batch_id) == taken_over_until
    assert leases.renew_lease(private, current, 3600)
    assert _lease_expires_at(private, batch_id) > taken_over_until


def test_one_renewal_thread_keeps_every_chunk_in_flight(private: Any) -> None:
    import threading
    import time

    _, first = _new_batch(private, Decimal(10), handles(private, "instagram", 10))
    _, second = _new_batch(private, Decimal(10), handles(private, "instagram", 10))
    a = processing.claim_chunk(private, first, 0, lease_seconds=60)
    b = processing.claim_chunk(private, second, 0, lease_seconds=60)
    assert a is not None and b is not None
    with (
        leases.LeaseKeeper(private, a, lease_seconds=60, every=0.05),
        leases.LeaseKeeper(private, b, lease_seconds=60, every=0.05),
    ):
        for batch_id in (first, second):
            _expire_lease(private, batch_id)
        deadline = time.monotonic() + 30  # a bound against a hang, not a timing assertion
        while any(_lease_expires_at(private, b) < utcnow() for b in (first, second)):
            assert time.monotonic() < deadline, "a lease was never renewed"
            time.sleep(0.02)
        renewers = [t for t in threading.enumerate() if t.name == "lease-renewals"]
        assert len(renewers) == 1
    _expire_lease(private, first)  # once the keepers are gone, nothing renews the lease
    time.sleep(0.2)
    assert _lease_expires_at(private, first) < utcnow()


def test_charges_are_stamped_with_the_commit_time_in_utc(private: Any) -> None:
    """A chunk's charge is stamped with its commit time, and reads back as UTC."""
    _, batch_id = _new_batch(private, Decimal(10), handles(private, "instagram", 10))
    before = utcnow().replace(microsecond=0)
    assert processing.process_chunk(private, batch_id, 0, 60, DATA_DIR) == "done"
    after = utcnow()
    with read_connection(private) as conn:
        stamps = (
            conn.execute(select(LedgerEntry.created_at).where(LedgerEntry.batch_id == batch_id))
            .scalars()
            .all()
        )
    assert len(stamps) == 1  # one charge for the chunk's ten rows
    assert all(before <= s <= after and s.utcoffset() == timedelta(0) for s in stamps)
