"""Benchmark: the `full` record builder (audience + lookalikes) in process, chunk by chunk.

    CREATOR_ENRICH_DATA_DIR=<store dir> .venv/bin/python bench/full_mode.py [--rows 10000]
        [--chunk 1000] [--profile out.prof] [--check out.jsonl]

Times `records.enrich` over the store's biggest Instagram handles (what bench/end_to_end.py puts
in its full-mode file), in chunks as the worker does, without the batch bookkeeping around it.
The index is loaded before the clock starts. For an A/B against other code, run it alternately
with PYTHONPATH pointing at the other checkout's src. ``--check`` writes every record, to compare
two runs' output.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import time
from pathlib import Path

from sqlalchemy import select

from creator_enrich.db.engine import create_db_engine, read_connection
from creator_enrich.db.schema import Profile
from creator_enrich.enrichment import records
from creator_enrich.enrichment.options import EnrichOptions

PLATFORM = "instagram"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats here")
    parser.add_argument("--check", type=Path, default=None, help="write the records here")
    args = parser.parse_args()

    data_dir = Path(os.environ["CREATOR_ENRICH_DATA_DIR"])
    engine = create_db_engine(f"sqlite:///{data_dir / 'creator-enrich.db'}")
    with read_connection(engine) as conn:
        keys = list(
            conn.execute(
                select(Profile.handle_key)
                .where(Profile.platform == PLATFORM)
                .order_by(Profile.followers.desc(), Profile.id)
                .limit(args.rows)
            ).scalars()
        )
    options = EnrichOptions("full", PLATFORM, include_lookalikes=True, include_audience_data=True)
    with read_connection(engine) as conn:  # load the index (and warm the cache) untimed
        records.enrich(records.EnrichContext(conn, engine, data_dir), options, keys[:10])

    profiler = cProfile.Profile() if args.profile else None
    size = 0
    out = args.check.open("w") if args.check else None
    started = time.perf_counter()
    cpu = time.process_time()
    if profiler:
        profiler.enable()
    for start in range(0, len(keys), args.chunk):
        part = sorted(keys[start : start + args.chunk])
        with read_connection(engine) as conn:
            outcomes = records.enrich(records.EnrichContext(conn, engine, data_dir), options, part)
        size += sum(len(o.data or "") for o in outcomes.values())
        if out:
            out.writelines(f"{k}\t{outcomes[k].data}\n" for k in part)
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(args.profile))
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    if out:
        out.close()
    print(
        f"rows {len(keys)}  wall {seconds:.2f} s  cpu {cpu_seconds:.2f} s  "
        f"{len(keys) / seconds:,.0f} rows/s  avg record {size / max(len(keys), 1):,.0f} B  "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    engine.dispose()


if __name__ == "__main__":
    main()
