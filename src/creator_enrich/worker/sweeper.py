"""Run the stale-chunk sweep at start-up and then periodically, in a daemon thread."""

from __future__ import annotations

import logging
import threading

from creator_enrich.batches import idempotency
from creator_enrich.batches.recovery import find_stale_chunks
from creator_enrich.batches.retention import forget_profile_history, purge_expired_results
from creator_enrich.batches.tasks import enqueue_chunks
from creator_enrich.config import Settings
from creator_enrich.db.engine import get_engine

log = logging.getLogger(__name__)


def sweep_once(settings: Settings, *, everything: bool = False, all_queued: bool = False) -> int:
    engine = get_engine(settings.resolved_database_url)
    result = find_stale_chunks(
        engine,
        requeue_after_seconds=settings.requeue_after_seconds,
        max_attempts=settings.max_chunk_retries + 1,
        everything=everything,
        all_queued=all_queued,
    )
    for batch_id, chunk_no in result.resend:
        enqueue_chunks(batch_id, [chunk_no])
    purge_expired_results(engine, settings.results_retention_days)
    forget_profile_history(engine)
    idempotency.purge_expired(engine)
    if result.resend or result.failed:
        log.info("sweeper: re-sent %d chunks, failed %d", len(result.resend), len(result.failed))
    return len(result.resend)


class Sweeper:
    """Periodic sweep; the first pass runs at start (``everything`` for an in-memory broker),
    unless the owner ran its own (``first_pass=False``: ``serve``'s worker processes)."""

    def __init__(self, settings: Settings, *, first_pass: bool = True) -> None:
        self.settings = settings
        self.first_pass = first_pass
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="creator-enrich-sweeper", daemon=True
        )

    def start(self) -> None:
        if self.first_pass:
            try:
                sweep_once(self.settings, everything=self.settings.is_memory_broker)
            except Exception:  # the database may be down at start; the periodic pass will retry
                log.exception("start-up sweep failed; will retry")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.sweep_interval_seconds):
            try:
                sweep_once(self.settings)
            except Exception:
                log.exception("sweeper pass failed; will retry")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def run_forever() -> None:
    """The sweeper as a process of its own, beside ``dramatiq`` workers (``--fork-function``)."""
    import signal

    from creator_enrich.config import get_settings

    logging.basicConfig(level=logging.INFO)
    settings = get_settings()
    sweeper = Sweeper(settings)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    sweeper.start()
    stopped.wait()
    sweeper.stop()
