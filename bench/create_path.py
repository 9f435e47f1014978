"""The create path in-process: parse + store of an upload, old code vs new, alternating.

    .venv/bin/python bench/create_path.py [--old-src DIR] [--file CSV] [--rounds 5] [--profile]

Each measurement runs in a fresh child process (``PYTHONPATH=<src>``) against a fresh, migrated
SQLite database in a temporary directory, so that the two code versions (e.g. ``--old-src`` made
with ``git archive <commit> src | tar -x -C DIR``) never share a module, a schema or a page cache
they warmed for each other. A child times ``parse_upload`` alone (every row read and
normalised, nothing stored), then parse + ``_store_rows`` + commit, and reports its peak RSS and
the traced Python peak of a third, separate parse + store. Runs alternate A, B, A, B ... and
the ratios are of the medians.

Without ``--file`` the 10 MB file is made as ``bench/end_to_end.py`` makes it: the 100k store's
biggest Instagram handles first (``--store``; skipped if missing), then ``ghost_creator_NNNNNNNNN``
up to 10 MB (450,206 rows with the 100k store).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
DEFAULT_STORE = Path("/work/bench-fast-create/bench-s100000/creator-enrich.db")


def make_file(path: Path, store: Path | None) -> None:
    sys.path.insert(0, str(HERE))
    import sqlite3

    from end_to_end import PLATFORM, write_csv

    known: list[str] = []
    if store is not None and store.exists():
        conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        sql = "select username from profiles where platform = ? order by followers desc, id limit ?"
        known = [r[0] for r in conn.execute(sql, (PLATFORM, 500_000))]
        conn.close()
    written, hits = write_csv(path, known, emails=False, rows=None)
    print(f"made {path}: {written:,} rows, {hits:,} known, {path.stat().st_size:,} bytes")


def child(file: Path, platform: str, profile: bool, tmp: Path) -> dict[str, Any]:
    """Time parse, then parse + store, in this process (whose creator_enrich is on PYTHONPATH)."""
    import resource
    import tracemalloc
    from datetime import UTC, datetime
    from decimal import Decimal

    from sqlalchemy import insert

    import creator_enrich
    from creator_enrich.batches import service
    from creator_enrich.batches.intake import parse_upload
    from creator_enrich.db.engine import create_db_engine, write_transaction
    from creator_enrich.db.migrate import upgrade
    from creator_enrich.db.schema import Account, Batch

    data = file.read_bytes()
    url = f"sqlite:///{tmp}/bench.db"
    upgrade(url)
    engine = create_db_engine(url)
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        conn.execute(insert(Account).values(id=1, name="bench", created_at=now))

    def store(n: int) -> dict[str, int]:
        parsed = parse_upload(data, expected_kind="handle", platform=platform)
        batch_id = f"bch_{n:032d}"
        with write_transaction(engine) as conn:
            conn.execute(
                insert(Batch).values(
                    id=batch_id,
                    account_id=1,
                    status="validating",
                    mode="raw",
                    platform=platform,
                    type_report="ENRICH_BY_HANDLE",
                    options="{}",
                    rate=Decimal(1),
                    og_input_number=0,
                    created_at=now,
                )
            )
            return service._store_rows(conn, batch_id, parsed.rows, 1000)

    t0 = time.perf_counter()
    rows = sum(1 for _ in parse_upload(data, expected_kind="handle", platform=platform).rows)
    parse_s = time.perf_counter() - t0

    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        store(0)
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        return {}

    t0, c0 = time.perf_counter(), time.process_time()
    counts = store(1)
    create_s, create_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    store(2)
    traced_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    db_mb = sum(p.stat().st_size for p in tmp.iterdir()) / 2**20
    return {
        "src": str(Path(creator_enrich.__file__).parent.parent),
        "rows": rows,
        "counts": counts,
        "parse_s": parse_s,
        "create_s": create_s,
        "create_cpu_s": create_cpu_s,
        "peak_rss_mb": rss_mb,
        "traced_peak_mb": traced_mb,
        "db_mb_3_batches": db_mb,
    }


def run_child(src: Path, file: Path, platform: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--file", str(file), "--platform", platform],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"child failed ({src}):\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old-src", type=Path, help="the old code's src dir (A); B is this tree")
    parser.add_argument("--new-src", type=Path, default=SRC)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--platform", default="instagram")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one parse + store")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        tmp = tempfile.mkdtemp(prefix="ce-create-path-")
        try:
            print(json.dumps(child(args.file, args.platform, args.profile, Path(tmp))))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    file = args.file
    if file is None:
        file = Path(tempfile.gettempdir()) / "ce-create-path-10MB.csv"
        if not file.exists():
            make_file(file, args.store)
    if args.profile:
        env = {**os.environ, "PYTHONPATH": str(args.new_src)}
        cmd = [sys.executable, __file__, "--child", "--profile", "--file", str(file)]
        subprocess.run([*cmd, "--platform", args.platform], env=env, check=True)
        return

    versions = {"new": args.new_src}
    if args.old_src is not None:
        versions = {"old": args.old_src, **versions}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in versions}
    print(f"load {os.getloadavg()}")
    for n in range(args.rounds):
        for name, src in versions.items():
            r = run_child(src, file, args.platform)
            results[name].append(r)
            print(
                f"round {n + 1} {name}: {r['rows']:,} rows, parse {r['parse_s']:.2f} s, "
                f"parse+store {r['create_s']:.2f} s ({r['create_cpu_s']:.2f} s CPU), "
                f"peak RSS {r['peak_rss_mb']:.0f} MB, "
                f"traced peak {r['traced_peak_mb']:.1f} MB, db {r['db_mb_3_batches']:.0f} MB "
                f"(load {os.getloadavg()[0]:.2f})",
                flush=True,
            )
    medians = {
        name: {
            k: statistics.median(r[k] for r in runs)
            for k in ("parse_s", "create_s", "create_cpu_s", "peak_rss_mb", "traced_peak_mb")
        }
        for name, runs in results.items()
    }
    for name, m in medians.items():
        print(f"median {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in m.items()))
    if "old" in medians:
        old, new = medians["old"], medians["new"]
        print(
            f"new/old: parse {new['parse_s'] / old['parse_s']:.2f}, "
            f"parse+store {new['create_s'] / old['create_s']:.2f} "
            f"(CPU {new['create_cpu_s'] / old['create_cpu_s']:.2f}), "
            f"rows/s of parse+store {results['new'][0]['rows'] / old['create_s']:,.0f} -> "
            f"{results['new'][0]['rows'] / new['create_s']:,.0f}"
        )
        counts = {name: runs[0]["counts"] for name, runs in results.items()}
        assert counts["old"] == counts["new"], counts
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
