"""Benchmark: batch throughput on PostgreSQL + Redis with 1 and then 2 worker processes.

    .venv/bin/python bench/worker_throughput.py [--rows 50000 | --ten-mb] [--known 2000]
        [--threads 4] [--creators 20000] [--modes raw,full]

Starts its own PostgreSQL and Redis (scripts/services.sh), a generated store, the API and
`creator-enrich worker`; submits the same batch in each mode for each worker count and prints
rows/s from the upload's answer to `finished`, side by side, with the command that produced them,
and the peak RSS of the API process and of each worker process during the batch (VmRSS every
0.1 s). The file holds `--known` of the store's Instagram handles (the biggest first), then
unknown handles; `--ten-mb` fills it to the 10 MB upload limit. The lookalike index is built
before a `full` run, so that its build is not counted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--creators", type=int, default=20_000)
    parser.add_argument("--ten-mb", action="store_true", help="a 10 MB file instead of --rows")
    parser.add_argument("--known", type=int, default=2000, help="known handles in the file")
    parser.add_argument("--modes", default="raw", help="enrichment modes, comma-separated")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]

    work = Path(tempfile.mkdtemp(prefix="ce-bench-workers-"))
    os.chmod(work, 0o755)  # noqa: S103 - the postgres user must reach its data directory
    started = subprocess.run(
        ["bash", "scripts/services.sh", "start", str(work / "services")],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in started.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        os.environ[name] = value
    # Read by tests.processes when imported: the stack is PostgreSQL + Redis.
    from tests.processes import Server, admin_flow, cli, ghost_csv

    env = dict(os.environ)
    env.update(
        CREATOR_ENRICH_DATA_DIR=str(work / "data"),
        CREATOR_ENRICH_DATABASE_URL=env["CREATOR_ENRICH_TEST_DATABASE_URL"],
        CREATOR_ENRICH_BROKER_URL=env["CREATOR_ENRICH_TEST_BROKER_URL"],
        # Polled every 50 ms, a minute-long batch would be answered 429 past the default limit.
        CREATOR_ENRICH_RATE_LIMIT_PER_MINUTE="0",
    )
    try:
        key = admin_flow(env, creators=args.creators)
        cli(env, "credits", "grant", "ops", "100000000")
        if "full" in modes:
            cli(env, "data", "index")
        known = _biggest_instagram_handles(env["CREATOR_ENRICH_DATABASE_URL"], args.known)
        path = work / "batch.csv"
        if args.ten_mb:
            args.rows = _ten_mb_csv(path, known)
        else:
            ghost_csv(path, known, args.rows - len(known))
        figures: dict[tuple[str, int], tuple[float, float]] = {}
        memory, cpu = {}, {}
        for mode in modes:
            for processes in (1, 2):
                srv = Server(env)
                srv.start()  # the API and the default workers: replaced by the count wanted
                try:
                    srv.kill_processing()
                    srv.start_workers(processes, args.threads)
                    time.sleep(3)
                    with _PeakRss(srv, args.threads) as peaks:
                        figures[mode, processes] = _run(srv, key, path, mode)
                    memory[mode, processes] = peaks.report()
                    cpu[mode, processes] = peaks.cpu_report()
                finally:  # a failed run must not leave its server and workers behind
                    srv.stop()
    finally:
        subprocess.run(["bash", "scripts/services.sh", "stop", str(work / "services")], cwd=ROOT)
    print(f"command   {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"batch     {args.rows:,} rows ({len(known):,} known), store {args.creators:,} creators, "
        f"{args.threads} threads per worker process"
    )
    for (mode, processes), (seconds, rate) in figures.items():
        print(f"{mode:<8} workers {processes}: {seconds:6.1f} s  {rate:8,.0f} rows/s")
        print(f"           peak RSS: {memory[mode, processes]}")
        print(f"           {cpu[mode, processes]}")
    for mode in modes:
        ratio = figures[mode, 2][1] / figures[mode, 1][1]
        print(f"ratio     {mode}: {ratio:.2f}x with 2 processes")


def _ten_mb_csv(path: Path, sample: list[str]) -> int:
    """Known handles, then unknown ones as long as typical handles, up to the 10 MB limit."""
    lines, size = ["handle", *sample], len("handle\n") + sum(len(h) + 1 for h in sample)
    while size + 24 < 10 * 1024 * 1024 - 1024:
        lines.append(f"ghost_creator_{len(lines):09d}")
        size += 24
    path.write_text("\n".join(lines) + "\n")
    return len(lines) - 1


class _PeakRss:
    """Samples VmRSS of the API and of every process in the workers' process group, and counts
    the CPU time each side used during the batch (the API, the worker processes, PostgreSQL's
    processes, Redis, anything else on the machine), to show whether a second worker process
    had a core to run on."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, srv: Any, threads: int) -> None:
        self._srv, self._srv_threads, self._stop = srv, threads, threading.Event()
        self.peaks: dict[str, int] = {}
        self._threads: dict[str, int] = {}
        self._first: dict[int, int] = {}  # pid -> CPU ticks when first seen
        self._last: dict[int, tuple[str, int]] = {}  # pid -> (side, CPU ticks when last seen)
        self._machine: list[tuple[int, int]] = []  # (busy, all) ticks of /proc/stat
        self._wall = 0.0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _PeakRss:
        self._wall = time.perf_counter()
        self._machine.append(_machine_ticks())
        self._count_cpu()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._count_cpu()
        self._machine.append(_machine_ticks())
        self._wall = time.perf_counter() - self._wall

    def _pids(self) -> dict[int, str]:
        pids = {self._srv.proc.pid: "api"}
        group = self._srv.workers.pid
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group:  # the process group id
                pid = int(stat.parent.name)
                pids.setdefault(pid, "supervisor" if pid == group else str(pid))
        return pids

    def _count_cpu(self) -> None:
        """At the start and the end only (a scan of /proc costs CPU); a process first seen at
        the end started during the batch, so all of its time counts."""
        api, group = self._srv.proc.pid, self._srv.workers.pid
        ending = bool(self._first)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            comm, rest = text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1]
            fields = rest.split()
            ticks = int(fields[11]) + int(fields[12])  # utime + stime
            pid = int(stat.parent.name)
            if pid == os.getpid():
                side = "bench"  # this script: polling, and these /proc scans
            elif pid == api:
                side = "api"
            elif int(fields[2]) == group:  # the workers' process group
                side = "workers"
            else:
                side = "postgres" if comm.startswith("postgres") else comm.split(":")[0]
            self._first.setdefault(pid, 0 if ending else ticks)
            self._last[pid] = (side, ticks)

    def _sample(self) -> None:
        pids: dict[int, str] = {}
        ticks = 0
        while not self._stop.wait(0.1):
            if ticks % 10 == 0:  # the workers' processes change rarely; a scan costs CPU
                pids = self._pids()
            ticks += 1
            for pid, name in pids.items():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                kb = int(fields["VmRSS"].split()[0])
                self.peaks[name] = max(self.peaks.get(name, 0), kb)
                threads = int(fields["Threads"])
                self._threads[name] = max(self._threads.get(name, 0), threads)

    def _label(self, name: str) -> str:
        if not name.isdigit():
            return name
        # A forked child: a Dramatiq worker process runs its threads, the sweeper only one.
        return f"{'worker' if self._threads[name] >= self._srv_threads else 'sweeper'} {name}"

    def report(self) -> str:
        return ", ".join(
            f"{self._label(name)} {kb / 1024:.0f} MB" for name, kb in sorted(self.peaks.items())
        )

    def cpu_report(self) -> str:
        """CPU seconds per side during the batch, and how busy the machine's cores were."""
        used: dict[str, float] = {}
        for pid, (side, ticks) in self._last.items():
            used[side] = used.get(side, 0.0) + (ticks - self._first[pid]) / self.TICK
        (busy0, all0), (busy1, all1) = self._machine[0], self._machine[-1]
        cores = os.cpu_count() or 1
        shown = ["api", "workers", "postgres", "redis-server", "bench"]
        other = sum(v for k, v in used.items() if k not in shown)
        parts = [f"{k} {used.get(k, 0.0):.1f} s" for k in shown] + [f"other {other:.1f} s"]
        return (
            f"{(busy1 - busy0) / max(all1 - all0, 1):.0%} of {cores} cores busy over "
            f"{self._wall:.1f} s; CPU: {', '.join(parts)}"
        )


def _machine_ticks() -> tuple[int, int]:
    """(busy, all) ticks summed over every core, from the first line of /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _biggest_instagram_handles(database_url: str, count: int) -> list[str]:
    """The store's most-followed Instagram handles, as `end_to_end.py` picks them."""
    from sqlalchemy import select

    from creator_enrich.db.engine import create_db_engine, read_connection
    from creator_enrich.db.schema import Profile

    engine = create_db_engine(database_url)
    with read_connection(engine) as conn:
        handles = conn.execute(
            select(Profile.username)
            .where(Profile.platform == "instagram")
            .order_by(Profile.followers.desc(), Profile.id)
            .limit(count)
        ).scalars()
        known = list(handles)
    engine.dispose()
    return known


def _run(srv: Any, key: str, path: Path, mode: str) -> tuple[float, float]:
    import httpx

    headers = {"Authorization": f"Bearer {key}"}
    created = srv.submit(key, path, "instagram", mode)
    started = time.perf_counter()
    url = f"{srv.url}/public/v1/enrichment/batch/{created['batch_id']}/status/"
    poll = httpx.Client(headers=headers)  # one connection: a client per poll cost the bench CPU
    while True:
        answer = poll.get(url)
        if answer.status_code != 200:
            raise SystemExit(f"status answered {answer.status_code}: {answer.text}")
        if answer.json()["status"] == "finished":
            break
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    poll.close()
    return seconds, created["og_input_number"] / seconds


if __name__ == "__main__":
    main()
