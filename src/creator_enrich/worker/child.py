"""A worker process that ``serve`` starts (see ``worker/process.py``): run with
``python -m creator_enrich.worker.child``, it enqueues each message line read from stdin on its
own in-memory broker and runs Dramatiq worker threads on it until stdin ends (``serve`` stopped
or died). The API process sweeps; a child does not.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import BinaryIO

import dramatiq

log = logging.getLogger("creator_enrich.worker.child")


def feed(source: BinaryIO, broker: dramatiq.Broker, done: threading.Event) -> None:
    """Enqueue every message line of ``source``; set ``done`` at end-of-file (the API closed
    the pipe, or died)."""
    try:
        for line in source:
            try:
                broker.enqueue(dramatiq.Message.decode(line))
            except Exception:  # one bad line must not stop the feed; the sweeper resends
                log.exception("unreadable message from the API process; dropped")
    finally:
        done.set()


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s worker-process %(levelname)s %(name)s: %(message)s"
    )
    from creator_enrich.config import get_settings

    settings = get_settings()
    os.nice(settings.worker_nice)  # the API's requests come first (see Settings.worker_nice)
    from creator_enrich.batches.tasks import process_chunk_task
    from creator_enrich.worker.embedded import EmbeddedWorker

    # Ctrl-C and service managers signal the whole process group: the API then stops and closes
    # our stdin, which is the one way we stop (finishing in-flight chunks).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    done = threading.Event()
    # Read from the start, so that the API's writes never wait on a full pipe.
    threading.Thread(
        target=feed, args=(sys.stdin.buffer, process_chunk_task.broker, done), daemon=True
    ).start()
    worker = EmbeddedWorker(settings, sweeper=False).start()
    while not done.wait(0.5):
        pass
    worker.stop()
    log.info("worker process stopped")


if __name__ == "__main__":
    main()
