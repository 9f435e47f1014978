"""The embedded worker: Dramatiq worker threads and the sweeper, on the process-wide broker.

It runs in the API process (``CREATOR_ENRICH_WORKER_PROCESS=false``, or ``EMBEDDED_WORKER=true``
beside a Redis broker) or, without the sweeper, in the child processes that ``serve`` starts
(``worker/child.py``).
"""

from __future__ import annotations

import logging

import dramatiq

from creator_enrich.batches.tasks import process_chunk_task
from creator_enrich.config import Settings
from creator_enrich.worker.broker import PipeBroker
from creator_enrich.worker.sweeper import Sweeper

log = logging.getLogger(__name__)


class EmbeddedWorker:
    def __init__(self, settings: Settings, *, sweeper: bool = True) -> None:
        if isinstance(process_chunk_task.broker, PipeBroker):  # it would never receive a message
            raise RuntimeError(
                "the broker sends to worker processes (CREATOR_ENRICH_WORKER_PROCESS=true in the "
                "environment); an in-process worker needs it false"
            )
        # A short worker_timeout: the consumer thread only hands back acks (freeing prefetch
        # slots) between polls, so the default 1 s poll caps throughput at a few chunks a second.
        self.worker = dramatiq.Worker(
            process_chunk_task.broker, worker_threads=settings.worker_threads, worker_timeout=20
        )
        self.sweeper = Sweeper(settings) if sweeper else None
        self.settings = settings

    def start(self) -> EmbeddedWorker:
        self.worker.start()
        if self.sweeper is not None:
            self.sweeper.start()
        log.info("embedded worker started with %d threads", self.settings.worker_threads)
        return self

    def stop(self) -> None:
        """In-flight chunks get ``worker_shutdown_seconds``; what is cut off is retried later."""
        if self.sweeper is not None:
            self.sweeper.stop()
        self.worker.stop(timeout=self.settings.worker_shutdown_seconds * 1000)
