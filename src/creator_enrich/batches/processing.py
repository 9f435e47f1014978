"""Process one chunk of a batch: claim it, look up, then store + charge + count in one transaction.

Exactly-once charging does not depend on the queue: a chunk may be delivered twice, late, or
after its lease expired. The claim is a conditional UPDATE; the commit re-checks the lease token
(fencing); only rows without a result are stored, and only they are charged: one ledger entry
per commit, for the rows it stored (a result row stored twice breaks its primary key and rolls
the commit back, charge included).

A found raw or full result refers to its profile instead of copying the block, with the
platform's profile revision its read saw (one snapshot with the lookups): an import committed
after the read keeps the blocks that read saw in ``profile_history`` (see ``creators/history``).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

import orjson
from sqlalchemy import Connection, Engine, Table, bindparam, or_, select, update

from creator_enrich.batches import failpoints, states
from creator_enrich.batches.leases import LeaseKeeper
from creator_enrich.creators import revisions
from creator_enrich.credits.ledger import charge, locked_balance
from creator_enrich.db.dialect import insert_ignoring_conflicts, insert_many
from creator_enrich.db.engine import read_connection, write_transaction
from creator_enrich.db.schema import Batch, BatchChunk, BatchResult, BatchRow
from creator_enrich.db.types import Credits, to_micros, utcnow
from creator_enrich.enrichment.options import EnrichOptions
from creator_enrich.enrichment.records import EnrichContext, Outcome, enrich

log = logging.getLogger(__name__)
SUCCESS = states.ROW_SUCCESS
RESULTS: Table = BatchResult.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Claim:
    batch_id: str
    chunk_no: int
    token: str
    attempts: int
    account_id: int
    rate: Decimal
    options: EnrichOptions


# The statements every chunk runs, built once: building them per call was about a tenth of a
# chunk of unknown handles (bench/RESULTS.md). Parameters: b_batch, b_chunk, and the lease's.
_THIS_CHUNK = (
    BatchChunk.batch_id == bindparam("b_batch"),
    BatchChunk.chunk_no == bindparam("b_chunk"),
)
_CLAIM_BATCH = select(Batch.status, Batch.account_id, Batch.rate, Batch.options).where(
    Batch.id == bindparam("b_batch")
)
_PARK = (
    update(BatchChunk)
    .where(*_THIS_CHUNK, BatchChunk.status == states.CHUNK_QUEUED)
    .values(status=states.CHUNK_AWAITING_CREDITS)
)
_CLAIM = (
    update(BatchChunk)
    .where(
        *_THIS_CHUNK,
        or_(
            BatchChunk.status == states.CHUNK_QUEUED,
            (BatchChunk.status == states.CHUNK_RUNNING)
            & (BatchChunk.lease_expires_at < bindparam("b_now")),
        ),
    )
    .values(
        status=states.CHUNK_RUNNING,
        lease_token=bindparam("b_token"),
        lease_expires_at=bindparam("b_until"),
        attempts=BatchChunk.attempts + 1,
    )
    .returning(BatchChunk.attempts)
)
_START = (
    update(Batch)
    .where(Batch.id == bindparam("b_batch"), Batch.status == states.QUEUED)
    .values(status=states.PROCESSING, processing_started_at=bindparam("b_now"))
)
_CHUNK_ROWS = (
    select(BatchRow.row_no, BatchRow.lookup_key, BatchRow.weight)
    .where(BatchRow.batch_id == bindparam("b_batch"), BatchRow.chunk_no == bindparam("b_chunk"))
    .order_by(BatchRow.row_no)
)
_STORED = select(BatchResult.row_no).where(
    BatchResult.batch_id == bindparam("b_batch"),
    BatchResult.row_no.between(bindparam("b_first"), bindparam("b_last")),
)
_FENCE = (
    select(BatchChunk.lease_token)
    .where(*_THIS_CHUNK, BatchChunk.status == states.CHUNK_RUNNING)
    .with_for_update()
)
_CLOSE = (
    update(BatchChunk)
    .where(*_THIS_CHUNK)
    .values(status=bindparam("b_status"), lease_token=None, lease_expires_at=None)
)
_COUNT_CHUNK = (
    update(Batch)
    .where(Batch.id == bindparam("b_batch"))
    .values(chunks_done=Batch.chunks_done + 1)
    .returning(Batch.chunks_done, Batch.chunks_total)
)
_COUNT_ROWS = (
    update(Batch)
    .where(Batch.id == bindparam("b_batch"))
    .values(
        processed_rows=Batch.processed_rows + bindparam("b_processed"),
        success_count=Batch.success_count + bindparam("b_success"),
        not_found_count=Batch.not_found_count + bindparam("b_not_found"),
        credits_used=Batch.credits_used + bindparam("b_credits", type_=Credits),
    )
)


def claim_chunk(engine: Engine, batch_id: str, chunk_no: int, lease_seconds: int) -> Claim | None:
    """Take the chunk under a lease, or return None when this delivery has nothing to do."""
    now = utcnow()
    token = uuid.uuid4().hex
    ids = {"b_batch": batch_id, "b_chunk": chunk_no}
    with write_transaction(engine) as conn:
        batch = conn.execute(_CLAIM_BATCH, ids).first()
        if batch is None or batch.status not in (*states.ACTIVE, states.PAUSED):
            return None
        # Parsed before claiming: a batch whose options cannot be read fails its chunks through
        # the retries instead of leaving them leased.
        options = EnrichOptions.from_dict(orjson.loads(batch.options))
        if batch.status == states.PAUSED:
            # The batch waits for credits: park the chunk until resume re-queues it.
            conn.execute(_PARK, ids)
            return None
        lease = {"b_now": now, "b_until": now + timedelta(seconds=lease_seconds), "b_token": token}
        claimed = conn.execute(_CLAIM, ids | lease).first()
        if claimed is None:
            return None
        if batch.status == states.QUEUED:
            conn.execute(_START, ids | lease)
    return Claim(
        batch_id=batch_id,
        chunk_no=chunk_no,
        token=token,
        attempts=claimed.attempts,
        account_id=batch.account_id,
        rate=batch.rate,
        options=options,
    )


@dataclass(frozen=True, slots=True)
class ChunkRow:
    row_no: int
    key: str
    weight: int


@dataclass(frozen=True, slots=True)
class ChunkRead:
    """What a worker read for its chunk: the pending rows, each distinct key's outcome, and the
    profile revision of the batch's platform that the outcomes were read at (None: no platform)."""

    rows: list[ChunkRow]
    outcomes: dict[str, Outcome]
    revision: int | None


def _pending_rows(conn: Connection, claim: Claim) -> list[ChunkRow]:
    """The chunk's rows that have no stored result yet (all of them, unless resumed)."""
    ids = {"b_batch": claim.batch_id, "b_chunk": claim.chunk_no}
    rows = [
        ChunkRow(row_no, cast(str, key), weight)  # a row without a key is given no chunk
        for row_no, key, weight in conn.execute(_CHUNK_ROWS, ids).all()
    ]
    stored = _stored_row_nos(conn, claim.batch_id, rows)
    return [r for r in rows if r.row_no not in stored] if stored else rows


def _stored_row_nos(conn: Connection, batch_id: str, rows: list[ChunkRow]) -> set[int]:
    """Which of ``rows`` already have a result (one range scan of the results' primary key)."""
    if not rows:
        return set()
    span = {"b_batch": batch_id, "b_first": rows[0].row_no, "b_last": rows[-1].row_no}
    return {r.row_no for r in rows}.intersection(conn.execute(_STORED, span).scalars())


def _holds_lease(conn: Connection, claim: Claim) -> bool:
    """The fence. On PostgreSQL it locks the chunk row until this transaction ends, so that no
    claim, commit or failure of the same chunk can slip in between this check and the COMMIT
    (SQLite's BEGIN IMMEDIATE already keeps every other writer out)."""
    token = conn.execute(_FENCE, {"b_batch": claim.batch_id, "b_chunk": claim.chunk_no}).scalar()
    return token == claim.token


def _finish_chunk(conn: Connection, claim: Claim, chunk_status: str) -> None:
    """Close the chunk and, if it was the last one, the batch (fan-in by counter)."""
    ids = {"b_batch": claim.batch_id, "b_chunk": claim.chunk_no}
    conn.execute(_CLOSE, ids | {"b_status": chunk_status})
    done, total = conn.execute(_COUNT_CHUNK, ids).one()
    if done < total:
        return
    failed_chunks = conn.execute(
        select(BatchChunk.chunk_no).where(
            BatchChunk.batch_id == claim.batch_id, BatchChunk.status == states.CHUNK_FAILED
        )
    ).all()
    all_failed = len(failed_chunks) == total
    conn.execute(
        update(Batch)
        .where(Batch.id == claim.batch_id)
        .values(
            status=states.FAILED if all_failed else states.FINISHED,
            status_message=(
                "Every chunk failed after its retries; see each row's reason."
                if all_failed
                else None
            ),
            finished_at=utcnow(),
        )
    )


RESULT_COLUMNS = (
    "batch_id",
    "row_no",
    "status",
    "data",
    "reason",
    "credits",
    "profile_id",
    "profile_revision",
)


def _affordable(conn: Connection, claim: Claim, chunk: list[tuple[ChunkRow, Outcome]]) -> int:
    """How many of the chunk's rows, in order, the balance pays for: all, or a prefix."""
    balance = locked_balance(conn, claim.account_id)
    hits = sum(1 for _, outcome in chunk if outcome.status == SUCCESS)
    if hits * claim.rate <= balance:
        return len(chunk)
    for paid, (_, outcome) in enumerate(chunk):
        if outcome.status == SUCCESS:
            if claim.rate > balance:
                return paid
            balance -= claim.rate
    return len(chunk)


def commit_chunk(engine: Engine, claim: Claim, read: ChunkRead) -> str:
    """Store, charge and count in one transaction. Returns what happened, for logs and tests."""
    with write_transaction(engine) as conn:
        outcome = _store_and_charge(conn, claim, read)
        failpoints.reach("before_commit")
    failpoints.reach("after_commit")
    return outcome


def _store_and_charge(conn: Connection, claim: Claim, read: ChunkRead) -> str:
    """The statements of a chunk commit: fence, results, charges, counters, chunk state."""
    if not _holds_lease(conn, claim):
        return "fenced"
    rows, outcomes, revision = read.rows, read.outcomes, read.revision
    chunk = [(row, outcomes[row.key]) for row in rows]
    paid = _affordable(conn, claim, chunk)
    paused = paid < len(chunk)
    # Under the fence no other transaction can store this chunk's rows, so what is not stored
    # now is inserted plainly: a row stored twice would break the primary key and roll the
    # whole commit back, charges included, rather than be charged twice.
    stored = _stored_row_nos(conn, claim.batch_id, rows[:paid])
    new = [(row, outcome) for row, outcome in chunk[:paid] if row.row_no not in stored]
    cost = {SUCCESS: to_micros(claim.rate)}  # stored millionths; every other status is free
    insert_many(
        conn,
        RESULTS,
        RESULT_COLUMNS,
        [
            (
                claim.batch_id,
                row.row_no,
                o.status,
                o.data,
                o.reason,
                cost.get(o.status, 0),
                o.profile_id,
                revision if o.profile_id is not None else None,
            )
            for row, o in new
        ],
    )
    charged = [row.row_no for row, o in new if o.status == SUCCESS]
    total = charge(
        conn,
        claim.account_id,
        claim.rate,
        len(charged),
        batch_id=claim.batch_id,
        first_row=charged[0] if charged else None,
        note=f"chunk {claim.chunk_no}",
    )
    weights: Counter[str] = Counter()
    for row, outcome in new:
        weights[outcome.status] += row.weight
    conn.execute(
        _COUNT_ROWS,
        {
            "b_batch": claim.batch_id,
            "b_processed": weights.total(),
            "b_success": weights[SUCCESS],
            "b_not_found": weights[states.ROW_NOT_FOUND],
            "b_credits": total,
        },
    )
    if paused:
        ids = {"b_batch": claim.batch_id, "b_chunk": claim.chunk_no}
        conn.execute(_CLOSE, ids | {"b_status": states.CHUNK_AWAITING_CREDITS})
        conn.execute(
            update(Batch)
            .where(Batch.id == claim.batch_id, Batch.status.in_(states.ACTIVE))
            .values(
                status=states.PAUSED,
                status_message=states.PAUSED_MESSAGE.format(batch_id=claim.batch_id),
            )
        )
        return "paused"
    _finish_chunk(conn, claim, states.CHUNK_DONE)
    return "done"


def read_chunk(engine: Engine, claim: Claim, data_dir: Path) -> ChunkRead:
    """The claimed chunk's pending rows and the outcome of each distinct key (no writes)."""
    platform = claim.options.platform
    with read_connection(engine) as conn:
        # In the lookups' snapshot: the revision the stored references are read back at.
        revision = revisions.current(conn, platform) if platform is not None else None
        rows = _pending_rows(conn, claim)
        ctx = EnrichContext(conn, engine, data_dir, refer=True)
        return ChunkRead(rows, enrich(ctx, claim.options, sorted({r.key for r in rows})), revision)


def process_chunk(
    engine: Engine, batch_id: str, chunk_no: int, lease_seconds: int, data_dir: Path
) -> str:
    claim = claim_chunk(engine, batch_id, chunk_no, lease_seconds)
    if claim is None:
        return "skipped"
    try:
        with LeaseKeeper(engine, claim, lease_seconds):
            return commit_chunk(engine, claim, read_chunk(engine, claim, data_dir))
    except Exception:
        release_chunk(engine, claim)
        raise


def release_chunk(engine: Engine, claim: Claim) -> None:
    """Give a chunk back after an error so that a retry can claim it at once."""
    with write_transaction(engine) as conn:
        conn.execute(
            update(BatchChunk)
            .where(
                BatchChunk.batch_id == claim.batch_id,
                BatchChunk.chunk_no == claim.chunk_no,
                BatchChunk.lease_token == claim.token,
            )
            .values(status=states.CHUNK_QUEUED, lease_token=None, lease_expires_at=None)
        )


def fail_chunk(engine: Engine, batch_id: str, chunk_no: int, reason: str) -> bool:
    """Retries are spent: every unfinished row of the chunk becomes ``failed`` (free of charge)."""
    with write_transaction(engine) as conn:
        chunk = conn.execute(  # locked: a worker committing this chunk now goes first
            select(BatchChunk.status)
            .where(BatchChunk.batch_id == batch_id, BatchChunk.chunk_no == chunk_no)
            .with_for_update()
        ).scalar()
        if chunk not in (states.CHUNK_QUEUED, states.CHUNK_RUNNING):
            return False
        claim = Claim(batch_id, chunk_no, "", 0, 0, Decimal(0), EnrichOptions(mode="raw"))
        rows = _pending_rows(conn, claim)
        failed = [
            {
                "batch_id": batch_id,
                "row_no": r.row_no,
                "status": states.ROW_FAILED,
                "data": None,
                "reason": reason,
                "credits": Decimal(0),
            }
            for r in rows
        ]
        inserted = insert_ignoring_conflicts(conn, RESULTS, failed, "row_no")
        count = sum(r.weight for r in rows if r.row_no in inserted)
        conn.execute(
            update(Batch)
            .where(Batch.id == batch_id)
            .values(
                processed_rows=Batch.processed_rows + count,
                error_count=Batch.error_count + count,
            )
        )
        conn.execute(
            update(BatchChunk)
            .where(BatchChunk.batch_id == batch_id, BatchChunk.chunk_no == chunk_no)
            .values(last_error=reason[:2000])
        )
        _finish_chunk(conn, claim, states.CHUNK_FAILED)
    log.warning("chunk %s/%s failed: %s", batch_id, chunk_no, reason)
    return True
