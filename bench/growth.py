"""Benchmark: how a chunk's read grows with the creator store, stores alternating in one run.

    .venv/bin/python bench/growth.py [--creators 100000,1000000] [--modes raw,full]
        [--rounds 8] [--chunk 1000] [--raw-only-stores] [--warm | --cold]

End-to-end figures (bench/end_to_end.py) time whole batches, once per store, on a machine whose
page cache holds one big store at a time; the growth they show moves by ×0.7–×2 between runs.
This times only what grows with the store: a worker's read of one chunk (`records.enrich`, as a
batch calls it: results refer to their profile), for chunks of ``--chunk`` random Instagram
handles of each store (a fresh sample per round, the same seed for every run), the stores taking
turns within each round. ``--warm`` first reads each store's database file once, so that both
are in the page cache (if they fit in memory): then the figures show how the lookups themselves
grow, not how much of a store the disk must still serve. ``--cold`` instead drops every store's
database pages from the page cache before each mode of each round (``posix_fadvise``), so that
each chunk is read from disk on every store alike: what a store bigger than the memory costs.
It prints the median ms per chunk per store after the first round (the first is printed apart:
the store coming into the cache), the ratio to the smallest store, and log10 of the size ratio,
which the issue's target "grows no faster than log(store size)" allows.
Stores are the end-to-end bench's (generated and indexed on first use).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import end_to_end as e2e
from sqlalchemy import select

from creator_enrich.db.engine import create_db_engine, read_connection
from creator_enrich.db.schema import Profile
from creator_enrich.enrichment import records
from creator_enrich.enrichment.options import EnrichOptions

PLATFORM = "instagram"


class Store:
    def __init__(self, creators: int, raw_only: bool) -> None:
        env, _ = e2e.ensure_store(creators, index=True, raw_only=raw_only)
        self.creators = creators
        self.data_dir = Path(env["CREATOR_ENRICH_DATA_DIR"])
        self.engine = create_db_engine(f"sqlite:///{e2e.db_path(env)}")
        with read_connection(self.engine) as conn:
            self.handles = list(
                conn.execute(
                    select(Profile.handle_key).where(Profile.platform == PLATFORM)
                ).scalars()
            )

    def warm(self) -> int:
        """Read the database file once (into the page cache); its size."""
        path, size = self.data_dir / "creator-enrich.db", 0
        with path.open("rb", buffering=0) as db:
            while block := db.read(8 << 20):
                size += len(block)
        return size

    def forget(self) -> None:
        """Drop the database file's pages from the page cache (``--cold``)."""
        fd = os.open(self.data_dir / "creator-enrich.db", os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    def chunk(self, options: EnrichOptions, keys: list[str]) -> tuple[float, float]:
        """(ms, KB read from the disk rather than the page cache) of one chunk's read."""
        read_before = disk_read_bytes()
        started = time.perf_counter()
        with read_connection(self.engine) as conn:
            context = records.EnrichContext(conn, self.engine, self.data_dir, refer=True)
            outcomes = records.enrich(context, options, keys)
        took = (time.perf_counter() - started) * 1000
        disk_kb = (disk_read_bytes() - read_before) / 1024
        missing = [k for k in keys if outcomes[k].status != "success"]
        if missing:
            raise SystemExit(f"{len(missing)} of the store's own handles not found: {missing[:3]}")
        return took, disk_kb


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--creators", default="100000,1000000", help="store sizes, comma-separated")
    parser.add_argument("--modes", default="raw,full")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--raw-only-stores", action="store_true")
    parser.add_argument("--warm", action="store_true", help="read each store file once first")
    parser.add_argument(
        "--cold", action="store_true", help="drop the stores' pages from the page cache each round"
    )
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds: at least 2 (the first is the store coming into the cache)")
    if args.warm and args.cold:
        parser.error("--warm and --cold: one or the other")
    sizes = [int(s) for s in args.creators.split(",") if s]
    modes = [m for m in args.modes.split(",") if m]
    print(f"command   {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine   {e2e.machine()}; load {e2e.load()}", flush=True)
    stores = [Store(size, args.raw_only_stores) for size in sizes]
    if args.warm:
        for store in stores:
            started = time.perf_counter()
            size = store.warm()
            print(f"warmed    {size / 1e9:.1f} GB in {time.perf_counter() - started:.0f} s")
    rng = random.Random(42)
    timings: dict[tuple[str, int], list[float]] = {(m, s): [] for m in modes for s in sizes}
    disk_kb: dict[tuple[str, int], list[float]] = {(m, s): [] for m in modes for s in sizes}
    for round_no in range(args.rounds):
        for mode in modes:
            if args.cold:
                for store in stores:
                    store.forget()
            options = _options(mode)
            order = stores if round_no % 2 == 0 else stores[::-1]
            for store in order:
                keys = sorted(rng.sample(store.handles, args.chunk))
                took, read = store.chunk(options, keys)
                timings[mode, store.creators].append(took)
                disk_kb[mode, store.creators].append(read)
        print(
            f"round {round_no + 1}: "
            + ", ".join(f"{m} {s:,} {t[-1]:.0f} ms" for (m, s), t in timings.items()),
            flush=True,
        )
    print(f"\nms per chunk of {args.chunk:,} (median of rounds 2-{args.rounds}; round 1 apart)")
    smallest = sizes[0]
    for mode in modes:
        base = statistics.median(timings[mode, smallest][1:])
        for size in sizes:
            first, *rest = timings[mode, size]
            warm = statistics.median(rest)
            read = statistics.median(disk_kb[mode, size][1:])
            print(
                f"  {mode:<5} {size:>10,} creators: {warm:7.1f} ms (first {first:7.1f})"
                f"  ×{warm / base:.2f} of {smallest:,}; log ratio {_log_ratio(size, smallest):.2f};"
                f" {read:,.0f} KB from the disk"
            )
    for store in stores:
        store.engine.dispose()


def disk_read_bytes() -> int:
    """Bytes this process has had read from the disk (page-cache hits do not count)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("read_bytes:"):
            return int(line.split()[1])
    return 0


def _options(mode: str) -> Any:
    if mode == "full":
        return EnrichOptions(mode, PLATFORM, include_lookalikes=True, include_audience_data=True)
    return EnrichOptions(mode, PLATFORM)


def _log_ratio(size: int, smallest: int) -> float:
    return math.log10(size) / math.log10(smallest)


if __name__ == "__main__":
    main()
