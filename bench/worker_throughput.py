"""Benchmark: batch throughput on PostgreSQL + Redis with 1 and then 2 worker processes.

    .venv/bin/python bench/worker_throughput.py [--rows 50000] [--threads 4] [--creators 20000]

Starts its own PostgreSQL and Redis (scripts/services.sh), a generated store, the API and
`creator-enrich worker`; submits the same raw batch for each worker count and prints rows/s from
the upload's answer to `finished`, side by side, with the command that produced them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
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
    args = parser.parse_args()

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
    )
    try:
        key = admin_flow(env, creators=args.creators)
        cli(env, "credits", "grant", "ops", "100000")
        sample = cli(env, "data", "sample", "--platform", "instagram", "--count", "2000")
        path = work / "batch.csv"
        ghost_csv(path, sample.stdout.split(), args.rows - 2000)
        figures = {}
        for processes in (1, 2):
            srv = Server(env)
            srv.start()  # the API, plus the default workers: replace them with the count wanted
            srv.kill_processing()
            srv.start_workers(processes, args.threads)
            time.sleep(3)
            figures[processes] = _run(srv, key, path)
            srv.stop()
    finally:
        subprocess.run(["bash", "scripts/services.sh", "stop", str(work / "services")], cwd=ROOT)
    print(f"command   {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"batch     {args.rows:,} raw rows, {args.threads} threads per worker process")
    for processes, (seconds, rate) in figures.items():
        print(f"workers {processes}: {seconds:6.1f} s  {rate:8,.0f} rows/s")
    print(f"ratio     {figures[2][1] / figures[1][1]:.2f}x with 2 processes")


def _run(srv: Any, key: str, path: Path) -> tuple[float, float]:
    import httpx

    headers = {"Authorization": f"Bearer {key}"}
    created = srv.submit(key, path, "instagram")
    started = time.perf_counter()
    url = f"{srv.url}/public/v1/enrichment/batch/{created['batch_id']}/status/"
    while httpx.get(url, headers=headers).json()["status"] != "finished":
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    return seconds, created["og_input_number"] / seconds


if __name__ == "__main__":
    main()
