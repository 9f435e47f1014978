"""The embedded worker as child processes of ``serve`` (the default with the in-memory broker).

Chunk work in the API process held the interpreter lock that status polls wait for: at 500
polls/s during a 10 MB batch, p99 was 110-233 ms in-process and 26-65 ms with the worker in a
process of its own, which also kept processing at speed; two processes read and build records in
parallel (bench/RESULTS.md). No Redis is needed: the API writes each message as a line to one
child's stdin, in turn; each child keeps its own in-memory queue.

- The API process sweeps, so that re-sent chunks are shared out like new ones. Before children
  start, no worker is alive: every running chunk is taken back; once they run, every queued
  chunk is sent again (their queues start empty).
- A child dies: every child is stopped and all are started again that way (the dead one's queue
  is gone; fencing stops a late commit of a chunk taken back): nothing is lost or charged twice.
- The API stops or dies: each child reads end-of-file on its stdin, lets its in-flight chunks
  finish (``worker_shutdown_seconds``) and exits; no orphan keeps running. Children ignore
  SIGINT and SIGTERM (Ctrl-C and service managers signal the whole group), so that they are not
  restarted while the API shuts down.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from typing import IO

from creator_enrich.batches.recovery import take_back_running_chunks
from creator_enrich.batches.tasks import process_chunk_task
from creator_enrich.config import Settings
from creator_enrich.db.engine import get_engine
from creator_enrich.worker.broker import PipeBroker
from creator_enrich.worker.sweeper import Sweeper, sweep_once

log = logging.getLogger(__name__)
WATCH_SECONDS = 0.2
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)  # a child that keeps dying at once backs off
HEALTHY_SECONDS = 30.0  # children that lived this long reset the back-off


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


def write_line(stdin: IO[bytes] | None, line: bytes) -> None:
    """Write all of ``line`` to an unbuffered pipe (a raw write may take part of it)."""
    if stdin is None:
        raise BrokenPipeError("the worker process has no stdin")
    view = memoryview(line)
    while view:
        view = view[stdin.write(view) or 0 :]


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
        self._started_at = 0.0
        self._turn = 0
        self._sweeper = Sweeper(settings, first_pass=False)
        self._watcher = threading.Thread(
            target=self._watch, name="creator-enrich-worker-processes", daemon=True
        )

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self._children]

    def start(self) -> WorkerProcesses:
        self.broker.connect(self.send)
        self._launch()
        self._sweeper.start()
        self._watcher.start()
        return self

    def _launch(self) -> None:
        """Take back what dead workers held, start the children, send every queued chunk."""
        try:
            take_back_running_chunks(get_engine(self.settings.resolved_database_url))
        except Exception:  # the database may be down; the sweeper's lease expiry covers it
            log.exception("could not take back running chunks; their leases will expire")
        env = child_env(self.settings)
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "creator_enrich.worker.child"],
                stdin=subprocess.PIPE,
                env=env,
                bufsize=0,
            )
            for _ in range(self.settings.worker_processes)
        ]
        with self._lock:
            self._children = children
            self._started_at = time.monotonic()
        log.info("worker processes %s started", self.pids)
        try:
            sweep_once(self.settings, all_queued=True)
        except Exception:
            log.exception("could not send the queued chunks; the periodic sweep will")

    def send(self, line: bytes) -> None:
        """Hand one message line to the next child in turn."""
        with self._lock:
            if not self._children:
                raise BrokenPipeError("no worker process is running")
            self._turn = (self._turn + 1) % len(self._children)
            write_line(self._children[self._turn].stdin, line)

    def _watch(self) -> None:
        """When a child exits while the API runs, restart them all (see the module's notes)."""
        failures = 0
        while not self._stopping.wait(WATCH_SECONDS):
            children = self._children
            dead = [child for child in children if child.poll() is not None]
            if children and not dead:
                continue
            if dead:
                lived = time.monotonic() - self._started_at
                failures = 0 if lived > HEALTHY_SECONDS else failures + 1
                log.error(
                    "worker process %s exited with code %s; restarting every worker process",
                    dead[0].pid,
                    dead[0].returncode,
                )
                self._wait_out(self._detach())
            else:  # the last start failed
                failures += 1
            if self._stopping.wait(RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]):
                return
            try:
                self._launch()
            except Exception:  # e.g. out of processes: tried again after the next delay
                log.exception("could not start the worker processes")

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
        self._sweeper.stop()
        if self._watcher.is_alive():
            self._watcher.join(timeout=self.settings.worker_shutdown_seconds + 10)
        self._wait_out(self._detach())
