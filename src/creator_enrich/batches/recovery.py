"""Find chunks whose message was lost or whose worker died, so that they are sent again.

The queue only dispatches; this reconciles it with the database, which is the truth. It covers a
message lost with an in-memory broker on restart, a crash between commit and enqueue, and a
worker killed mid-chunk (its lease expires).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, and_, or_, select, update

from creator_enrich.batches import states
from creator_enrich.batches.processing import fail_chunk
from creator_enrich.db.engine import write_transaction
from creator_enrich.db.schema import Batch, BatchChunk
from creator_enrich.db.types import utcnow


@dataclass
class SweepResult:
    resend: list[tuple[str, int]] = field(default_factory=list)
    failed: list[tuple[str, int]] = field(default_factory=list)


def take_back_running_chunks(engine: Engine) -> None:
    """Every running chunk becomes queued again: only when no worker is alive (the start of an
    embedded server, or of its worker processes); fencing stops a worker that was not dead."""
    with write_transaction(engine) as conn:
        conn.execute(
            update(BatchChunk)
            .where(BatchChunk.status == states.CHUNK_RUNNING)
            .values(status=states.CHUNK_QUEUED, lease_token=None, lease_expires_at=None)
        )


def find_stale_chunks(
    engine: Engine,
    *,
    requeue_after_seconds: float,
    max_attempts: int,
    everything: bool = False,
    all_queued: bool = False,
) -> SweepResult:
    """Mark chunks for re-sending and return them; fail those that used up their attempts.

    ``everything`` is the start-up pass of an embedded server (in-memory broker, one process):
    every queued chunk is re-sent however recently it was sent, and every running chunk is taken
    back, since the process that held its lease is gone (fencing stops it if it is not).
    ``all_queued`` re-sends every queued chunk without taking any back: new worker processes,
    started after ``take_back_running_chunks``, may already hold leases.
    """
    if everything:
        take_back_running_chunks(engine)
        all_queued = True
    now = utcnow()
    stale_before = now - timedelta(seconds=requeue_after_seconds)
    result = SweepResult()
    with write_transaction(engine) as conn:
        queued_cond = BatchChunk.status == states.CHUNK_QUEUED
        if not all_queued:
            queued_cond = and_(
                queued_cond,
                or_(BatchChunk.enqueued_at.is_(None), BatchChunk.enqueued_at < stale_before),
            )
        expired_cond = and_(
            BatchChunk.status == states.CHUNK_RUNNING, BatchChunk.lease_expires_at < now
        )
        rows = conn.execute(
            select(BatchChunk.batch_id, BatchChunk.chunk_no, BatchChunk.attempts)
            .join(Batch, Batch.id == BatchChunk.batch_id)
            .where(Batch.status.in_(states.ACTIVE), or_(queued_cond, expired_cond))
            .order_by(Batch.created_at, BatchChunk.chunk_no)
        ).all()
        for batch_id, chunk_no, attempts in rows:
            if attempts >= max_attempts:
                result.failed.append((batch_id, chunk_no))
                continue
            conn.execute(
                update(BatchChunk)
                .where(BatchChunk.batch_id == batch_id, BatchChunk.chunk_no == chunk_no)
                .values(enqueued_at=now)
            )
            result.resend.append((batch_id, chunk_no))
    for batch_id, chunk_no in result.failed:
        fail_chunk(engine, batch_id, chunk_no, f"processing failed after {max_attempts} attempts")
    return result
