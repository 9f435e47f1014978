"""Real server and worker processes for tests: started, killed and restarted like in production."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.databases import BROKER_URL, fresh_database_url

CLI = [sys.executable, "-m", "creator_enrich"]


def wait_healthy(url: str, seconds: float = 30) -> None:
    """Until the server at ``url`` answers /healthz; one that never does fails the test."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not start")


def wait_for_batch(
    url: str,
    key: str,
    batch_id: str,
    until: Callable[[dict[str, Any]], bool],
    seconds: float = 180,
) -> dict[str, Any]:
    """Poll the batch's status through the API until ``until`` holds, and return that status.
    Answers other than 200 (a 503 while a database is down) are polled through, not returned."""
    deadline = time.monotonic() + seconds
    while True:
        response = httpx.get(
            f"{url}/public/v1/enrichment/batch/{batch_id}/status/",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        if response.status_code == 200 and until(response.json()):
            return response.json()  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, response.text
        time.sleep(0.05)


def is_done(status: dict[str, Any]) -> bool:
    return status["status"] in ("finished", "failed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(data: Path, name: str, redis_db: int) -> dict[str, str]:
    """Settings for server and worker processes on their own database and Redis database."""
    return {
        **os.environ,
        "CREATOR_ENRICH_DATA_DIR": str(data),
        "CREATOR_ENRICH_DATABASE_URL": fresh_database_url(name),
        # Its own Redis database, so that the in-test worker never sees these messages.
        "CREATOR_ENRICH_BROKER_URL": BROKER_URL.replace("/0", f"/{redis_db}"),
        "CREATOR_ENRICH_CHUNK_SIZE": "25",
        "CREATOR_ENRICH_WORKER_THREADS": "2",
        "CREATOR_ENRICH_LEASE_SECONDS": "3",
        "CREATOR_ENRICH_SWEEP_INTERVAL_SECONDS": "1",
        "CREATOR_ENRICH_WORKER_PROCESS": "true",  # serve's default (conftest turns it off)
    }


EMBEDDED = BROKER_URL.startswith("memory://")


def cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, input=stdin, timeout=300
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


class Server:
    """The API process, plus `creator-enrich worker` processes when the broker is Redis."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.workers: subprocess.Popen[bytes] | None = None

    def _spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*CLI, *args],
            env=env or self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: kill -9 reaches every child
        )

    def start(self, workers: bool = True) -> None:
        self.proc = self._spawn("serve", "--port", str(self.port), "--log-level", "warning")
        if workers and not EMBEDDED:
            self.start_workers()
        wait_healthy(self.url)

    def submit(self, key: str, path: Path, platform: str, mode: str = "raw") -> dict[str, object]:
        """Upload a CSV for enrichment through the real HTTP API; the create answer."""
        with path.open("rb") as handle:
            response = httpx.post(
                f"{self.url}/public/v1/enrichment/batch/",
                headers={"Authorization": f"Bearer {key}"},
                data={"enrichment_mode": mode, "platform": platform},
                files={"file": (path.name, handle, "text/csv")},
                timeout=120,
            )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def start_workers(self, processes: int = 2, threads: int = 2) -> None:
        self.workers = self._spawn(
            "worker", "--processes", str(processes), "--threads", str(threads)
        )

    def run_crashing(self, crash_at: str) -> int:
        """Run the chunk processing of this server with a crash point (one process, one thread,
        so that "the Nth commit" is well defined) until it kills itself; its exit code.

        Embedded: a second `serve` process on the same database, whose start-up sweep sends the
        queued chunks (start this server with CREATOR_ENRICH_EMBEDDED_WORKER=false). Redis: a
        `creator-enrich worker` (start this server with ``workers=False``).
        """
        env = {
            **self.env,
            "CREATOR_ENRICH_CRASH_AT": crash_at,
            "CREATOR_ENRICH_WORKER_THREADS": "1",
        }
        if EMBEDDED:
            env["CREATOR_ENRICH_EMBEDDED_WORKER"] = "true"
            env["CREATOR_ENRICH_WORKER_PROCESS"] = "false"  # the crash must end this process
            args = ["serve", "--port", str(free_port()), "--log-level", "warning"]
        else:
            args = ["worker", "--processes", "1", "--threads", "1"]
        proc = self._spawn(*args, env=env)
        try:
            return proc.wait(timeout=180)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def kill_processing(self) -> None:
        """kill -9 whatever runs the chunks: the API process (embedded) or the workers."""
        target = self.proc if EMBEDDED else self.workers
        assert target is not None
        os.killpg(target.pid, signal.SIGKILL)
        target.wait(timeout=10)

    def restart_processing(self) -> None:
        if EMBEDDED:
            self.start()
        else:
            self.start_workers()

    def stop(self) -> None:
        """SIGTERM, as an operator would; SIGKILL what has not exited 20 s later."""
        for proc in (self.workers, self.proc):
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def admin_flow(env: dict[str, str], creators: int = 1500) -> str:
    """What an operator does first: schema, data, account, key, credits. Returns the key."""
    cli(env, "db", "upgrade")
    cli(env, "data", "generate", "--creators", str(creators), "--seed", "5")
    cli(env, "accounts", "create", "ops", "--credits", "10")
    key = cli(env, "keys", "create", "ops").stdout
    assert key.count("\n") == 1
    assert key.startswith("ce_")  # only the key on stdout
    granted = cli(env, "credits", "grant", "ops", "40.5")
    assert "balance 50.5" in granted.stderr
    return key.strip()


def ghost_csv(path: Path, sample: list[str], ghosts: int) -> None:
    """Known handles followed by many unknown ones: work that takes long enough to interrupt."""
    path.write_text(
        "handle\n" + "\n".join([*sample, *(f"ghost_{i}" for i in range(ghosts))]) + "\n"
    )
