"""Status polling, old code against new, alternating in one run (A, B, A, B ...).

    CE_BENCH_CACHE=/work/bench-x .venv/bin/python bench/status_compare.py \\
        --tree old=/tmp/base/src --tree new=src [--rounds 2] [--rates 200,300,500,700]
        [--seconds 5] [--busy-rate 500] [--busy-seconds 10] [--quiet-batch]

Each tree is a PYTHONPATH (``name=dir[:dir...]``; put a directory holding a ``sitecustomize.py``
after it to try interpreter settings). For every round and tree: a `creator-enrich serve` on
the embedded default over the bench store (rate limit off, as in end_to_end.py), then

- idle: `status_load` at each of ``--rates`` against the status route of a finished batch;
- busy: a 10 MB raw batch is created and, while it runs, the status route is loaded at
  ``--busy-rate`` for ``--busy-seconds``; then the batch is waited for, so its rows/s (from the
  create's answer to `finished`) shows what the polling cost the batch;
- ``--quiet-batch``: the same 10 MB batch again without load, for the batch's own throughput.

The machine is shared: compare trees within one run, never figures across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import end_to_end as e2e
import httpx
import status_load


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(server: e2e.Server, url: str, rate: float, seconds: float, key: str) -> Any:
    """One fixed-rate run; its figures, with the server's CPU time per answered request."""
    before = cpu_s(server.proc.pid)
    (figures,) = status_load.load_url(
        url, [rate], seconds, headers=[f"Authorization: Bearer {key}"]
    )
    figures.server_cpu_us_per_request = (
        (cpu_s(server.proc.pid) - before) / max(1, figures.answered) * 1e6
    )
    return figures


def line(figures: Any) -> str:
    return f"{figures.line()}; server CPU {figures.server_cpu_us_per_request:,.0f} us/request"


def batch_run(
    server: e2e.Server, key: str, path: Path, load: dict[str, Any] | None
) -> dict[str, Any]:
    """Create a 10 MB raw batch, optionally load the status route meanwhile; figures."""
    with httpx.Client(timeout=600) as client:
        started = time.perf_counter()
        created = e2e.create(client, server.url, key, "raw", path)
        answered = time.perf_counter()
        url = f"{server.url}{e2e.API}{created['batch_id']}/status/"
        figures: dict[str, Any] = {"create_s": answered - started}
        if load is not None:
            figures["load"] = measured(server, url, load["rate"], load["seconds"], key)
            figures["processed_share"] = e2e.processed_share(
                client, server.url, key, created["batch_id"]
            )
        done = e2e.wait_finished(client, server.url, key, created["batch_id"])
        figures["finish_s"] = time.perf_counter() - answered
        figures["rows_per_s"] = done["total_rows"] / figures["finish_s"]
        e2e.delete_batch(client, server.url, key, created["batch_id"])
    return figures


def one(
    name: str, pythonpath: str, args: argparse.Namespace, big: Path, small: Path
) -> dict[str, Any]:
    env = {**e2e.store_env(args.creators, args.raw_only_store), "PYTHONPATH": pythonpath}
    log = Path(tempfile.gettempdir()) / f"status-compare-{name}.log"
    server = e2e.Server(env, log)
    result: dict[str, Any] = {"tree": name, "load_avg": e2e.load()}
    try:
        key = e2e.bench_key(env)
        with httpx.Client(timeout=60) as client:
            probe = e2e.create(client, server.url, key, "raw", small)
            e2e.wait_finished(client, server.url, key, probe["batch_id"])
        url = f"{server.url}{e2e.API}{probe['batch_id']}/status/"
        result["idle"] = []
        for rate in args.rates:
            result["idle"].append(measured(server, url, rate, args.seconds, key))
            print(f"  {name:>8} idle  {line(result['idle'][-1])}", flush=True)
        busy = batch_run(server, key, big, {"rate": args.busy_rate, "seconds": args.busy_seconds})
        result["busy"] = busy
        print(
            f"  {name:>8} busy  {line(busy['load'])}\n{'':16}batch {busy['processed_share']:.0%} "
            f"done when the load ended; create {busy['create_s']:.2f} s, finish "
            f"{busy['finish_s']:.2f} s = {busy['rows_per_s']:,.0f} rows/s  (load {e2e.load()})",
            flush=True,
        )
        if args.quiet_batch:
            quiet = batch_run(server, key, big, None)
            result["quiet"] = quiet
            print(
                f"  {name:>8} quiet batch: create {quiet['create_s']:.2f} s, finish "
                f"{quiet['finish_s']:.2f} s = {quiet['rows_per_s']:,.0f} rows/s  "
                f"(load {e2e.load()})",
                flush=True,
            )
    finally:
        server.stop()
    return result


def main() -> None:
    parser = e2e.tree_parser(__doc__)
    parser.add_argument("--rates", default="200,300,500,700")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--busy-rate", type=float, default=500)
    parser.add_argument("--busy-seconds", type=float, default=10)
    parser.add_argument("--quiet-batch", action="store_true")
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",") if r]
    trees = e2e.trees(args)
    env, _ = e2e.ensure_store(args.creators, index=False, raw_only=args.raw_only_store)
    work = Path(tempfile.mkdtemp(prefix="status-compare-"))
    big, known = e2e.ten_mb_file(env, work)
    small = work / "small.csv"
    e2e.write_csv(small, known, False, 100)
    print(f"{e2e.machine()}; load {e2e.load()}", flush=True)
    results: list[dict[str, Any]] = []
    for round_no in range(args.rounds):
        print(f"round {round_no + 1}", flush=True)
        for name, pythonpath in trees:
            results.append(one(name, pythonpath, args, big, small))
    print("\nmedians over rounds (p99 ms / achieved req/s; busy = during the 10 MB batch)")
    for name, _ in trees:
        mine = [r for r in results if r["tree"] == name]
        cells = []
        for i, rate in enumerate(args.rates):
            p99 = statistics.median(r["idle"][i].p99_ms for r in mine)
            rps = statistics.median(r["idle"][i].achieved_rps for r in mine)
            cells.append(f"idle@{rate:.0f}: {p99:.1f} ms / {rps:.0f}")
        busy_p99 = statistics.median(r["busy"]["load"].p99_ms for r in mine)
        busy_p50 = statistics.median(r["busy"]["load"].p50_ms for r in mine)
        busy_rps = statistics.median(r["busy"]["load"].achieved_rps for r in mine)
        rows = statistics.median(r["busy"]["rows_per_s"] for r in mine)
        cpu = statistics.median(r["idle"][0].server_cpu_us_per_request for r in mine)
        text = f"  {name:>8}: server CPU idle@{args.rates[0]:.0f} {cpu:,.0f} us/request; "
        text += f"{'; '.join(cells)}; busy@{args.busy_rate:.0f}: p50 {busy_p50:.1f}"
        text += f" p99 {busy_p99:.1f} ms / {busy_rps:.0f}; batch under load {rows:,.0f} rows/s"
        if args.quiet_batch:
            quiet = statistics.median(r["quiet"]["rows_per_s"] for r in mine)
            text += f"; quiet batch {quiet:,.0f} rows/s"
        print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=vars))


if __name__ == "__main__":
    main()
