"""Benchmark: lookalike quality and speed on a generated store, where the true niche is known.

    .venv/bin/python bench/lookalike_precision.py [--creators 20000] [--database-url URL]

precision@10 = share of the 10 lookalikes returned that have the query's niche AND its size band
(the same power of ten of followers). Also printed: niche alone, band alone, a random baseline,
the index build time and the query time per 1,000 profiles.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from creator_enrich.creators.generate import generate_store
from creator_enrich.db.engine import create_db_engine, read_connection
from creator_enrich.db.migrate import upgrade
from creator_enrich.db.schema import Profile
from creator_enrich.enrichment.lookalike_index import build_index, lookalikes_for

PLATFORM = "instagram"
SAMPLE = 1000


def band(followers: int) -> int:
    return int(math.log10(max(followers, 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--creators", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", default=None, help="use this store instead")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="ce-bench-lookalikes-"))
    url = args.database_url or f"sqlite:///{data_dir}/store.db"
    if not args.database_url:
        upgrade(url)
        generate_store(create_db_engine(url), creators=args.creators, seed=args.seed)
    engine = create_db_engine(url)

    started = time.perf_counter()
    vectors = build_index(engine, data_dir, PLATFORM)
    build_seconds = time.perf_counter() - started

    with read_connection(engine) as conn:
        rows = conn.execute(
            select(Profile.id, Profile.username, Profile.niche, Profile.followers).where(
                Profile.platform == PLATFORM
            )
        ).all()
    truth = {r.username: (r.niche, band(r.followers)) for r in rows}
    sample = random.Random(args.seed).sample(rows, min(SAMPLE, len(rows)))

    started = time.perf_counter()
    found = lookalikes_for(engine, data_dir, PLATFORM, [r.id for r in sample], k=10)
    query_seconds = time.perf_counter() - started

    both = niche = size = returned = 0
    for row in sample:
        for item in found[row.id]:
            other_niche, other_band = truth[item["username"]]
            niche += other_niche == row.niche
            size += other_band == band(row.followers)
            both += other_niche == row.niche and other_band == band(row.followers)
            returned += 1
    rng = random.Random(1)
    baseline = (
        sum(
            (a.niche, band(a.followers)) == (b.niche, band(b.followers))
            for a, b in ((rng.choice(rows), rng.choice(rows)) for _ in range(20_000))
        )
        / 20_000
    )

    print(f"command        {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"store          {len(rows):,} {PLATFORM} profiles ({url.split('://')[0]})")
    print(f"index build    {build_seconds:.2f} s for {vectors:,} vectors")
    print(
        f"query          {query_seconds * 1000 / len(sample) * 1000:.1f} ms per 1,000 profiles "
        f"(k=10, details included)"
    )
    print(f"precision@10   niche and size band {both / returned:.3f}")
    print(f"               niche {niche / returned:.3f}, size band {size / returned:.3f}")
    print(f"random pairs   niche and size band {baseline:.3f}")


if __name__ == "__main__":
    main()
