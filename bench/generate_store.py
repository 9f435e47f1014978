"""Benchmark: how long the synthetic generator takes to build a creator store.

    .venv/bin/python bench/generate_store.py --creators 1000000 [--workers N] [--keep PATH]

Prints creators/s, profiles, emails, the database size, and the command that produced them.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from creator_enrich.creators.generate import generate_store
from creator_enrich.db.engine import create_db_engine
from creator_enrich.db.migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--creators", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep the SQLite file here")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="ce-bench-gen-"))
    path = args.keep or folder / "store.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = create_db_engine(url)
    started = time.perf_counter()
    last = [started]

    def progress(done: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 30:
            print(f"  {done:>9,} creators after {now - started:6.0f} s", flush=True)
            last[0] = now

    stats = generate_store(
        engine, creators=args.creators, seed=args.seed, on_progress=progress, workers=args.workers
    )
    engine.dispose()
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    python = platform.python_version()
    print(f"machine   {platform.machine()}, {os.cpu_count()} cores, Python {python}")
    print(f"command   {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"creators  {stats.creators:,} ({stats.profiles:,} profiles, {stats.emails:,} emails)")
    print(f"time      {stats.seconds:,.1f} s = {stats.creators / stats.seconds:,.0f} creators/s")
    print(f"database  {size / 1e9:.2f} GB ({size / max(stats.profiles, 1) / 1e3:.1f} KB a profile)")
    if args.keep is None:
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
