"""API writes while a batch runs, tree against tree, alternating in one run (A, B, A, B ...).

    .venv/bin/python bench/write_latency.py --tree old=/tmp/base/src --tree new=src \\
        [--rounds 2] [--calls 60] [--creators 100000]

With the worker in a process of its own, the API and the worker write to the same SQLite file
from two processes. Each tree (a PYTHONPATH, ``name=dir``) gets a `creator-enrich serve` on the
embedded default over the bench store (as in end_to_end.py), then:

- idle: ``--calls`` single raw enrichments (each one charges 0.03 in a write transaction), one
  after another, at most 10 a second; latency of each;
- busy: a 10 MB raw batch is created and the same calls are made while it runs; then the batch
  is waited for (its rows/s shows what the calls cost it) and deleted.

Prints p50, p99 and the worst latency of the calls; compare trees within one run only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import end_to_end as e2e
import httpx

SINGLE = "/public/v1/creators/enrich/handle/raw/"


def calls(client: httpx.Client, url: str, key: str, handles: list[str]) -> list[float]:
    """Seconds per single enrichment, paced at most 10 a second."""
    headers = {"Authorization": f"Bearer {key}"}
    seconds = []
    for handle in handles:
        started = time.perf_counter()
        answer = client.post(
            url + SINGLE, json={"handle": handle, "platform": "instagram"}, headers=headers
        )
        took = time.perf_counter() - started
        if answer.status_code != 200:
            raise SystemExit(f"single enrichment answered {answer.status_code}: {answer.text}")
        seconds.append(took)
        time.sleep(max(0.0, 0.1 - took))
    return seconds


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def text(figures: dict[str, float]) -> str:
    p50, p99, worst = figures["p50_ms"], figures["p99_ms"], figures["max_ms"]
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, worst {worst:.1f} ms"


def one(
    name: str, pythonpath: str, args: argparse.Namespace, big: Path, handles: list[str]
) -> dict[str, Any]:
    env = {**e2e.store_env(args.creators, args.raw_only_store), "PYTHONPATH": pythonpath}
    server = e2e.Server(env, Path(tempfile.gettempdir()) / f"write-latency-{name}.log")
    result: dict[str, Any] = {"tree": name, "load_avg": e2e.load()}
    try:
        key = e2e.bench_key(env)
        with httpx.Client(timeout=600) as client:
            result["idle"] = summary(calls(client, server.url, key, handles))
            created = e2e.create(client, server.url, key, "raw", big)
            answered = time.perf_counter()
            result["busy"] = summary(calls(client, server.url, key, handles))
            result["processed_share"] = e2e.processed_share(
                client, server.url, key, created["batch_id"]
            )
            done = e2e.wait_finished(client, server.url, key, created["batch_id"])
            result["rows_per_s"] = done["total_rows"] / (time.perf_counter() - answered)
            e2e.delete_batch(client, server.url, key, created["batch_id"])
    finally:
        server.stop()
    print(
        f"  {name:>8} idle {text(result['idle'])}\n  {name:>8} busy {text(result['busy'])}; "
        f"batch {result['processed_share']:.0%} done after the calls, "
        f"{result['rows_per_s']:,.0f} rows/s  (load {e2e.load()})",
        flush=True,
    )
    return result


def main() -> None:
    parser = e2e.tree_parser(__doc__)
    parser.add_argument("--calls", type=int, default=60)
    args = parser.parse_args()
    trees = e2e.trees(args)
    env, _ = e2e.ensure_store(args.creators, index=False, raw_only=args.raw_only_store)
    big, known = e2e.ten_mb_file(env, Path(tempfile.mkdtemp(prefix="write-latency-")))
    handles = known[: args.calls]
    print(f"{e2e.machine()}; load {e2e.load()}", flush=True)
    results = []
    for round_no in range(args.rounds):
        print(f"round {round_no + 1}", flush=True)
        for name, pythonpath in trees:
            results.append(one(name, pythonpath, args, big, handles))
    print("\nmedians over rounds")
    for name, _ in trees:
        mine = [r for r in results if r["tree"] == name]
        busy = {k: statistics.median(r["busy"][k] for r in mine) for k in mine[0]["busy"]}
        rows = statistics.median(r["rows_per_s"] for r in mine)
        print(f"  {name:>8}: busy {text(busy)}; batch {rows:,.0f} rows/s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
