"""Benchmark: a batch's chunks processed without the server, by 1..P processes, and the parts
of a chunk commit.

    .venv/bin/python bench/chunk_processing.py [--creators 1000000] [--processes 1,2]
        [--rounds 2] [--parts 300]

The 10 MB raw file of the end-to-end bench (its store's known Instagram handles first, then
unknown ones) is created as a batch through the service, with no worker; then forked processes
run `processing.process_chunk` on its chunks (chunk n to process n % P), as worker processes
do, but with no API, broker, threads or lease renewals. It prints the wall time, rows/s and the
CPU seconds of each process, for each process count in turn in every round: the gap between P
processes' CPU and P x wall is time spent waiting, mostly for SQLite's one write lock, which
every chunk commit holds.

``--parts N`` also processes the batch's first N chunks in this process (all-hit chunks: the
known handles come first) and prints the median of each part of a chunk (claim, read, commit)
and, from cProfile, the cumulative time of each step of the commit per chunk.

The batches are deleted afterwards; the store's ledger keeps their charges (as a server's does).
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import end_to_end as e2e
from sqlalchemy import select

from creator_enrich.accounts.service import Caller, create_account
from creator_enrich.batches import processing
from creator_enrich.batches.create_form import parse_create_form
from creator_enrich.batches.service import create_batch, delete_batch
from creator_enrich.config import Settings
from creator_enrich.db.engine import create_db_engine, read_connection
from creator_enrich.db.schema import Batch

# The commit's steps as cProfile names them (function name, label).
COMMIT_STEPS = (
    ("_holds_lease", "fence"),
    ("_affordable", "balance and affordable rows"),
    ("_stored_row_nos", "rows already stored"),
    ("insert_many", "insert results"),
    ("charge", "charge + ledger entry"),
    ("_finish_chunk", "close chunk, count"),
    ("commit_chunk", "whole commit"),
)


class Bench:
    def __init__(self, creators: int, raw_only: bool) -> None:
        self.env, _ = e2e.ensure_store(creators, index=False, raw_only=raw_only)
        self.data = Path(self.env["CREATOR_ENRICH_DATA_DIR"])
        self.url = f"sqlite:///{e2e.db_path(self.env)}"
        self.file, _ = e2e.ten_mb_file(self.env, Path(tempfile.mkdtemp(prefix="chunks-")))
        self.settings = Settings(data_dir=self.data)
        engine = create_db_engine(self.url)
        account = create_account(engine, f"chunks-{uuid.uuid4().hex[:8]}", Decimal(10**8))
        engine.dispose()
        self.caller = Caller(account_id=account, key_id="bench", read_only=False)

    def new_batch(self) -> tuple[str, int, int]:
        """(batch id, chunks, rows) of a fresh batch of the 10 MB file, nothing processed."""
        engine = create_db_engine(self.url)
        request = parse_create_form(
            {"enrichment_mode": ["raw"], "platform": ["instagram"]}, self.settings
        )
        created, _ = create_batch(
            engine, self.settings, self.caller, request, self.file.read_bytes()
        )
        batch_id = created["batch_id"]
        with read_connection(engine) as conn:
            chunks, rows = conn.execute(
                select(Batch.chunks_total, Batch.og_input_number).where(Batch.id == batch_id)
            ).one()
        engine.dispose()
        return batch_id, chunks, rows

    def delete(self, batch_id: str) -> None:
        engine = create_db_engine(self.url)
        delete_batch(engine, self.caller, batch_id)
        engine.dispose()

    def run(self, processes: int) -> dict[str, Any]:
        batch_id, chunks, rows = self.new_batch()
        started = time.perf_counter()
        children = [self._fork(batch_id, chunks, p, processes) for p in range(processes)]
        cpu = []
        for pid in children:
            _, status, usage = os.wait4(pid, 0)
            if status != 0:
                raise SystemExit(f"process {pid} failed ({status})")
            cpu.append(usage.ru_utime + usage.ru_stime)
        wall = time.perf_counter() - started
        self.delete(batch_id)
        return {"processes": processes, "chunks": chunks, "rows": rows, "s": wall, "cpu": cpu}

    def _fork(self, batch_id: str, chunks: int, part: int, processes: int) -> int:
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:
            engine = create_db_engine(self.url)
            for chunk_no in range(part, chunks, processes):
                processing.process_chunk(engine, batch_id, chunk_no, 600, self.data)
            code = 0
        finally:
            os._exit(code)

    def parts(self, count: int) -> None:
        batch_id, chunks, _ = self.new_batch()
        engine = create_db_engine(self.url)
        times: dict[str, list[float]] = {"claim": [], "read": [], "commit": []}
        profile = cProfile.Profile()
        count = min(count, chunks)
        for chunk_no in range(count):
            started = time.perf_counter()
            claim = processing.claim_chunk(engine, batch_id, chunk_no, 600)
            assert claim is not None
            claimed = time.perf_counter()
            read = processing.read_chunk(engine, claim, self.data)
            was_read = time.perf_counter()
            profile.runcall(processing.commit_chunk, engine, claim, read)
            times["claim"].append(claimed - started)
            times["read"].append(was_read - claimed)
            times["commit"].append(time.perf_counter() - was_read)
        engine.dispose()
        self.delete(batch_id)
        print(f"\nthe first {count} chunks in this process, median ms per chunk:")
        print("  " + "; ".join(f"{k} {statistics.median(v) * 1e3:.2f}" for k, v in times.items()))
        stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        cumulative: dict[str, float] = {}
        for (_file, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.items():
            cumulative[name] = cumulative.get(name, 0.0) + ct
        print("the commit's steps under cProfile, mean ms per chunk (cumulative):")
        for name, label in COMMIT_STEPS:
            print(f"  {label:30} {cumulative.get(name, 0.0) / count * 1e3:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--creators", type=int, default=1_000_000)
    parser.add_argument("--processes", default="1,2", help="process counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--parts", type=int, default=0, help="chunks to time part by part")
    parser.add_argument(
        "--raw-only-store", action="store_true", help="the store of raw blocks only (as run L's)"
    )
    args = parser.parse_args()
    # No worker runs here: the create's send of each chunk fails, by design, and says so.
    logging.getLogger("creator_enrich.batches.tasks").setLevel(logging.CRITICAL)
    print(f"command   python {' '.join(sys.argv)}")
    print(f"machine   {e2e.machine()}; load {e2e.load()}")
    bench = Bench(args.creators, args.raw_only_store)
    counts = [int(p) for p in args.processes.split(",") if p]
    for round_no in range(args.rounds):
        for processes in counts:
            r = bench.run(processes)
            cpu = " + ".join(f"{c:.2f}" for c in r["cpu"])
            print(
                f"round {round_no + 1}, {processes} process(es): {r['chunks']} chunks, "
                f"{r['rows']:,} rows in {r['s']:.2f} s = {r['rows'] / r['s']:,.0f} rows/s; "
                f"CPU s {cpu} = {sum(r['cpu']) / r['s']:.2f} cores busy  (load {e2e.load()})",
                flush=True,
            )
    if args.parts:
        bench.parts(args.parts)


if __name__ == "__main__":
    main()
