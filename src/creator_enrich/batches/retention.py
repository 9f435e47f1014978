"""Results retention and batch deletion: customers' lists are not kept longer than promised.

After ``results_retention_days`` a finished batch loses its input rows, chunks and results; the
batch row stays, so its status (counts, credits used) is still readable and its results answer
410 Gone. Ledger entries are never deleted: money history outlives the data it paid for. The
profile history kept for stored results (``creators/history``) goes once no batch can need it.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, Engine, delete, func, select, update

from creator_enrich.batches import idempotency, states
from creator_enrich.creators import revisions
from creator_enrich.db.engine import write_transaction
from creator_enrich.db.schema import Batch, BatchChunk, BatchResult, BatchRow, ProfileHistory
from creator_enrich.db.types import utcnow
from creator_enrich.enrichment.records import REFERRING_MODES
from creator_enrich.errors import Gone

PURGE_PER_PASS = 20


def drop_contents(conn: Connection, batch_id: str) -> None:
    """Delete what a batch holds of the customer's data: rows, chunks and results."""
    for table in (BatchResult, BatchRow, BatchChunk):
        conn.execute(delete(table).where(table.batch_id == batch_id))


def ensure_results_kept(batch: object, retention_days: float) -> None:
    """410 Gone once the retention period has passed (deleted yet or about to be)."""
    deleted_at = getattr(batch, "results_deleted_at", None)
    finished_at = getattr(batch, "finished_at", None)
    expired = (
        retention_days > 0
        and finished_at is not None
        and finished_at <= utcnow() - timedelta(days=retention_days)
    )
    if deleted_at is not None or expired:
        raise Gone(
            f"The results of batch {getattr(batch, 'id', '')} were deleted after the "
            f"{retention_days:g}-day retention period; its status is still available.",
            extra={"error": "results_expired"},
        )


def purge_expired_results(
    engine: Engine, retention_days: float, limit: int = PURGE_PER_PASS
) -> int:
    """Delete the contents of batches finished more than ``retention_days`` ago (a few a pass)."""
    if retention_days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=retention_days)
    purged = 0
    with write_transaction(engine) as conn:
        batch_ids = (
            conn.execute(
                select(Batch.id)
                .where(
                    Batch.status.in_(states.DONE),
                    Batch.finished_at <= cutoff,
                    Batch.results_deleted_at.is_(None),
                )
                .limit(limit)
            )
            .scalars()
            .all()
        )
    for batch_id in batch_ids:
        with write_transaction(engine) as conn:
            drop_contents(conn, batch_id)
            idempotency.forget_batch(conn, batch_id)
            conn.execute(
                update(Batch).where(Batch.id == batch_id).values(results_deleted_at=utcnow())
            )
        purged += 1
    return purged


def forget_profile_history(engine: Engine) -> int:
    """Delete the history rows no stored result can refer to.

    A batch's results are stored at its creation revision (``Batch.profile_revision``) or
    later, and a result needs only history rows replaced after its revision; so a platform's rows
    replaced at or before the lowest creation revision of its batches that still hold results
    are never read again (with no such batch: all of them). Returns how many were deleted.
    """
    deleted = 0
    with write_transaction(engine) as conn:
        platforms = conn.execute(select(ProfileHistory.platform).distinct()).scalars().all()
        if not platforms:
            return 0
        oldest_needed = dict(
            conn.execute(
                # No revision (none should lack one since 0006): it keeps all history.
                select(Batch.platform, func.min(func.coalesce(Batch.profile_revision, 0)))
                .where(Batch.mode.in_(REFERRING_MODES), Batch.results_deleted_at.is_(None))
                .group_by(Batch.platform)
            ).all()
        )
        for platform in platforms:
            bound = oldest_needed.get(platform)
            if bound is None:
                bound = revisions.current(conn, platform)
            done = conn.execute(
                delete(ProfileHistory).where(
                    ProfileHistory.platform == platform, ProfileHistory.replaced_at <= bound
                )
            )
            deleted += done.rowcount or 0
    return deleted
