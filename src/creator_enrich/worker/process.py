"""The embedded worker as child processes of ``serve`` (the default with the in-memory broker).

Chunk work in the API process held the interpreter lock that status polls wait for: at 500
polls/s during a 10 MB batch, p99 was 110-233 ms in-process and 26-65 ms with the worker in a
process of its own, which also kept processing at speed; two processes read and build records in
parallel (bench/RESULTS.md). No Redis is needed: the API writes each message as a line to one
child's stdin, in turn; each child keeps its own in-memory queue.

- Only the first child sweeps (the start-up pass takes back every running chunk, which is only
  right when no other worker runs).
- A child dies: every child is stopped and all are started again, so that the first one's
  start-up sweep re-sends every queued chunk (the dead one's queue is gone) and takes back the
  dead one's chunks (fencing stops a late commit): nothing is lost or charged twice.
- The API stops or dies: each child reads end-of-file on its stdin, lets its in-flight chunks
  finish (``worker_shutdown_seconds``) and exits; no orphan keeps running.
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
WATCH_SECONDS = 0.2


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


class WorkerProcesses:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        broker = process_chunk_task.broker
        if not isinstance(broker, PipeBroker):
            raise RuntimeError("worker processes need the API's broker to be a PipeBroker")
        self.broker = broker
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._children: list[subprocess.Popen[bytes]] = []
        self._turn = 0
        self._watcher = threading.Thread(
            target=self._watch, name="creator-enrich-worker-processes", daemon=True
        )

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self._children]

    def start(self) -> WorkerProcesses:
        with self._lock:
            self._spawn_all()
        self.broker.connect(self.send)
        self._watcher.start()
        return self

    def _spawn_all(self) -> None:
        env = child_env(self.settings)
        self._children = [
            subprocess.Popen(
                [sys.executable, "-m", "creator_enrich.worker.child"]
                + ([] if number == 0 else ["--no-sweeper"]),
                stdin=subprocess.PIPE,
                env=env,
                bufsize=0,  # one write per message line: lines under PIPE_BUF arrive whole
            )
            for number in range(self.settings.worker_processes)
        ]
        log.info("worker processes %s started", self.pids)

    def send(self, line: bytes) -> None:
        """Hand one message line to the next child in turn."""
        with self._lock:
            if not self._children:
                raise BrokenPipeError("no worker process is running")
            self._turn = (self._turn + 1) % len(self._children)
            stdin = self._children[self._turn].stdin
            assert stdin is not None
            stdin.write(line)

    def _watch(self) -> None:
        """When a child exits while the API runs, restart them all (see the module's notes)."""
        while not self._stopping.wait(WATCH_SECONDS):
            dead = [child for child in self._children if child.poll() is not None]
            if not dead:
                continue
            log.error(
                "worker process %s exited with code %s; restarting every worker process",
                dead[0].pid,
                dead[0].returncode,
            )
            self._wait_out(self._detach())
            if self._stopping.wait(RESTART_DELAY_SECONDS):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._spawn_all()

    def _detach(self) -> list[subprocess.Popen[bytes]]:
        """Take the children out of service and close their stdin (their signal to stop); sends
        meanwhile fail at once instead of waiting."""
        with self._lock:
            children, self._children = self._children, []
        for child in children:
            if child.stdin is not None:
                child.stdin.close()
        return children

    def _wait_out(self, children: list[subprocess.Popen[bytes]]) -> None:
        for child in children:
            try:
                child.wait(timeout=self.settings.worker_shutdown_seconds + 5)
            except subprocess.TimeoutExpired:
                log.error("worker process %d did not stop in time; killing it", child.pid)
                child.kill()
                child.wait()

    def stop(self) -> None:
        self._stopping.set()
        self.broker.connect(None)
        if self._watcher.is_alive():
            self._watcher.join(timeout=self.settings.worker_shutdown_seconds + 10)
        self._wait_out(self._detach())
