"""The embedded worker as a child process of ``serve`` (the default with the in-memory broker).

Chunk work in the API process held the interpreter lock that status polls wait for: at 500
polls/s during a 10 MB batch, p99 was 81-450 ms in-process and 21-48 ms with the worker in a
process of its own, which also kept processing at speed (bench/RESULTS.md). No Redis is needed:
the API writes each message as a line to the child's stdin; the child keeps the in-memory queue.

- The child dies: it is started again; its start-up sweep re-sends every queued chunk and takes
  back the chunks the dead one held (fencing stops a late commit), so nothing is lost or charged
  twice.
- The API stops or dies: the child reads end-of-file on its stdin, lets in-flight chunks finish
  (``worker_shutdown_seconds``) and exits; no orphan keeps running.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading

from creator_enrich.batches.tasks import process_chunk_task
from creator_enrich.config import Settings
from creator_enrich.worker.broker import PipeBroker

log = logging.getLogger(__name__)
RESTART_DELAY_SECONDS = 1.0


def child_env(settings: Settings) -> dict[str, str]:
    """The API's settings as the child's environment (they may not come from the environment),
    with the child itself running the worker in-process on its own in-memory broker."""
    env = dict(os.environ)
    for name, value in settings.model_dump(mode="json").items():
        key = f"CREATOR_ENRICH_{name.upper()}"
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value if isinstance(value, str) else json.dumps(value)
    env["CREATOR_ENRICH_EMBEDDED_WORKER"] = "true"
    env["CREATOR_ENRICH_WORKER_PROCESS"] = "false"
    return env


class WorkerProcess:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        broker = process_chunk_task.broker
        if not isinstance(broker, PipeBroker):
            raise RuntimeError("the worker process needs the API's broker to be a PipeBroker")
        self.broker = broker
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._watcher = threading.Thread(
            target=self._watch, name="creator-enrich-worker-process", daemon=True
        )

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> WorkerProcess:
        with self._lock:
            self._spawn()
        self.broker.connect(self.send)
        self._watcher.start()
        return self

    def _spawn(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "creator_enrich.worker.child"],
            stdin=subprocess.PIPE,
            env=child_env(self.settings),
            bufsize=0,  # one write per message line: lines under PIPE_BUF arrive whole
        )
        log.info("worker process %d started", self._proc.pid)

    def send(self, line: bytes) -> None:
        with self._lock:
            if self._proc is None or self._proc.stdin is None:
                raise BrokenPipeError("the worker process is not running")
            self._proc.stdin.write(line)

    def _watch(self) -> None:
        """Start the child again whenever it exits while the API runs."""
        while True:
            proc = self._proc
            assert proc is not None
            code = proc.wait()
            if self._stopping.is_set():
                return
            log.error("worker process %d exited with code %s; starting another", proc.pid, code)
            if self._stopping.wait(RESTART_DELAY_SECONDS):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                if proc.stdin is not None:
                    proc.stdin.close()
                self._spawn()

    def stop(self) -> None:
        """Close the child's stdin (its signal to stop) and wait for it to finish its chunks."""
        self._stopping.set()
        self.broker.connect(None)
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(timeout=self.settings.worker_shutdown_seconds + 5)
        except subprocess.TimeoutExpired:
            log.error("worker process %d did not stop in time; killing it", proc.pid)
            proc.kill()
            proc.wait()
        if self._watcher.is_alive():
            self._watcher.join(timeout=5)
