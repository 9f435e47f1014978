"""Dramatiq actors for batches. A message only says "look at this chunk"; the database decides."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import dramatiq
from dramatiq.middleware import CurrentMessage
from sqlalchemy.exc import OperationalError

from creator_enrich.worker.broker import ensure_broker

ensure_broker()

# Imports below need the broker installed first (actors bind to it when declared).
from creator_enrich.batches.processing import fail_chunk, process_chunk  # noqa: E402
from creator_enrich.config import get_settings  # noqa: E402
from creator_enrich.db.engine import get_engine  # noqa: E402

log = logging.getLogger(__name__)
QUEUE = "chunks"


@dramatiq.actor(queue_name=QUEUE)
def process_chunk_task(batch_id: str, chunk_no: int) -> None:
    settings = get_settings()
    engine = get_engine(settings.resolved_database_url)
    try:
        process_chunk(engine, batch_id, chunk_no, settings.lease_seconds, settings.data_dir)
    except OperationalError:
        # The database is unreachable: not this chunk's fault, so it never ends as `failed`.
        # Dramatiq retries; if the outage outlasts the retries, the chunk's lease expires and
        # the sweeper sends it again once the database is back.
        raise
    except Exception as exc:
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message else 0
        if retries >= settings.max_chunk_retries:
            fail_chunk(
                engine,
                batch_id,
                chunk_no,
                f"processing failed after {retries + 1} attempts: {type(exc).__name__}",
            )
            return
        raise


def enqueue_chunks(batch_id: str, chunk_nos: Iterable[int]) -> None:
    """Send one message per chunk. Called only after the transaction that created them commits.

    A broker that is down does not fail the request: the chunks are stored as queued, and the
    sweeper sends them again once the broker is back.
    """
    try:
        for chunk_no in chunk_nos:
            process_chunk_task.send(batch_id, chunk_no)
    except Exception:
        log.exception("could not send chunks of %s; the sweeper will send them", batch_id)
