"""A worker process that ``serve`` starts (see ``worker/process.py``): run with
``python -m creator_enrich.worker.child [--no-sweeper]``, it enqueues each message line read from
stdin on its own in-memory broker and runs the embedded worker on it, until stdin ends or it is
signalled. Only the first of ``serve``'s children sweeps.
"""

from __future__ import annotations

import logging
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
    from creator_enrich.batches.tasks import process_chunk_task
    from creator_enrich.config import get_settings
    from creator_enrich.worker.embedded import EmbeddedWorker

    done = threading.Event()
    # Ctrl-C reaches the whole process group: stop as on end-of-file, finishing in-flight chunks.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    worker = EmbeddedWorker(get_settings(), sweeper="--no-sweeper" not in sys.argv[1:]).start()
    threading.Thread(
        target=feed, args=(sys.stdin.buffer, process_chunk_task.broker, done), daemon=True
    ).start()
    while not done.wait(0.5):
        pass
    worker.stop()
    log.info("worker process stopped")


if __name__ == "__main__":
    main()
