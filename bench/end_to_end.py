"""Benchmark: upload to `finished` through the real HTTP API of a real `creator-enrich serve`.

    .venv/bin/python bench/end_to_end.py [--creators 100000,1000000] [--rows 10000]
        [--modes raw,basic,advanced,full] [--big-modes raw] [--no-floor] [--no-upload] [--no-load]
        [--worker-mode process|thread]

On the embedded default (SQLite, in-memory broker, the worker in child processes of `serve`;
`--worker-mode thread` runs it as threads in the API process instead), for each generated store
(kept under ~/.cache/ce-bench, made on first use with `creator-enrich data generate --seed 42`):

- per mode, a `--rows` file and a 10 MB file (`--big-modes`): seconds of the create call, seconds
  from its answer to `finished` (status polled every 20 ms), rows/s over that time and over
  upload + processing, peak RSS of the API process and of each of its worker processes during
  the batch (VmRSS sampled every 20 ms);
- the floor: the same CSV parsed and the same creators fetched by a bare script with one bulk
  SQL query per chunk of 1,000 distinct keys (the server's chunk size), on the same SQLite file;
  printed as ours / floor;
- upload: POST of the 10 MB file to a bare Starlette endpoint that only reads the body, vs our
  create call with the same file;
- status polling under load: a fixed rate (`--load-rate`, 500/s) from `bench/status_load.py` on
  loopback against the status route while a 10 MB raw batch runs (and idle, for comparison):
  achieved requests/s, p50, p99, latency counted from each request's due time; `--load-tool wrk`
  runs wrk at its maximum instead (closed loop: it slows down with the server);
- lookalike query time per profile at each store size (the index built ahead by `data index`).

Files: `full` uses handles with audience data and lookalikes (the batch defaults); `raw` handles;
`basic`/`advanced` emails. Known values are the store's (biggest first); when the store has fewer
than the file needs, the rest are unknown values (`ghost_…`), and the hit rate is printed.
The rate limit is turned off for the bench server (`RATE_LIMIT_PER_MINUTE=0`): polling and wrk
would otherwise be answered 429.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import platform as platform_mod
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import status_load

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "creator_enrich"]
CACHE = Path(os.environ.get("CE_BENCH_CACHE", Path.home() / ".cache" / "ce-bench"))
MAX_UPLOAD = 10 * 1024 * 1024
CHUNK = 1000
PLATFORM = "instagram"
API = "/public/v1/enrichment/batch/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    cpu = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        mem_kb = int(info.readline().split()[1])
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024**2:.1f} GB RAM, "
        f"Python {platform_mod.python_version()}"
    )


# --- stores ---------------------------------------------------------------------------------


def store_env(creators: int, raw_only: bool = False) -> dict[str, str]:
    data = CACHE / (f"bench-s{creators}" + ("-raw" if raw_only else ""))
    return {
        **os.environ,
        "CREATOR_ENRICH_DATA_DIR": str(data),
        "CREATOR_ENRICH_RATE_LIMIT_PER_MINUTE": "0",
        "CREATOR_ENRICH_BROKER_URL": "memory://",
    }


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


def ensure_store(
    creators: int, index: bool, raw_only: bool = False
) -> tuple[dict[str, str], float | None]:
    """The store's env; generated (seed 42) and indexed on first use. Returns (env, index s)."""
    env = store_env(creators, raw_only)
    data = Path(env["CREATOR_ENRICH_DATA_DIR"])
    if not (data / "READY").exists():
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        cli(env, "db", "upgrade")
        print(f"  generating {creators:,} creators in {data} ...", flush=True)
        lean = ["--raw-only"] if raw_only else []
        started = time.perf_counter()
        cli(env, "data", "generate", "--creators", str(creators), "--seed", "42", *lean)
        (data / "READY").write_text(f"{time.perf_counter() - started:.1f}\n")
    index_seconds = None
    if index and not (data / "INDEXED").exists():
        started = time.perf_counter()
        cli(env, "data", "index")
        index_seconds = time.perf_counter() - started
        (data / "INDEXED").write_text(f"{index_seconds:.1f}\n")
    cli(env, "db", "upgrade")
    return env, index_seconds


def db_path(env: dict[str, str]) -> Path:
    return Path(env["CREATOR_ENRICH_DATA_DIR"]) / "creator-enrich.db"


def store_gb(env: dict[str, str]) -> float:
    return sum(f.stat().st_size for f in db_path(env).parent.glob("creator-enrich.db*")) / 1e9


def bench_key(env: dict[str, str]) -> str:
    """A fresh key on the `bench` account, with credits for anything the bench submits."""
    accounts = sqlite3.connect(db_path(env))
    exists = accounts.execute("select 1 from accounts where name = 'bench'").fetchone()
    accounts.close()
    if not exists:
        cli(env, "accounts", "create", "bench", "--credits", "0")
    cli(env, "credits", "grant", "bench", "100000000")
    return cli(env, "keys", "create", "bench").strip()


# --- input files ----------------------------------------------------------------------------


def known_values(env: dict[str, str], emails: bool, count: int) -> list[str]:
    conn = sqlite3.connect(db_path(env))
    if emails:
        sql = "select email from creators where email is not null order by id limit ?"
        values = [r[0] for r in conn.execute(sql, (count,))]
    else:
        sql = "select username from profiles where platform = ? order by followers desc, id limit ?"
        values = [r[0] for r in conn.execute(sql, (PLATFORM, count))]
    conn.close()
    return values


def write_csv(path: Path, known: list[str], emails: bool, rows: int | None) -> tuple[int, int]:
    """`rows` lines (or as many as fit in 10 MB): known values first, then unknown ones."""
    header = "email\n" if emails else "handle\n"
    out = io.StringIO()
    out.write(header)
    size = len(header)
    written = hits = 0
    limit = rows if rows is not None else 10**9
    while written < limit:
        if written < len(known):
            value = known[written]
            hits += 1
        else:
            # As long as a typical value, so that 10 MB holds about 400,000 rows.
            value = f"ghost_{written:07d}@example.org" if emails else f"ghost_creator_{written:09d}"
        line = value + "\n"
        if rows is None and size + len(line.encode()) > MAX_UPLOAD - 1024:
            break
        out.write(line)
        size += len(line.encode())
        written += 1
    path.write_text(out.getvalue())
    return written, hits


# --- the server -----------------------------------------------------------------------------


class Server:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [*CLI, "serve", "--port", str(self.port), "--log-level", "warning"],
            env=env,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit(f"server did not start; see {log}")

    def rss_kb(self, field_name: str = "VmRSS", pid: int | None = None) -> int:
        try:
            with open(f"/proc/{pid or self.proc.pid}/status") as status:
                for line in status:
                    if line.startswith(field_name + ":"):
                        return int(line.split()[1])
        except OSError:  # the process is gone
            pass
        return 0

    def worker_pids(self) -> list[int]:
        """The worker process(es) `serve` started: children of the API process."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rpartition(")")[2].split()[1]) == self.proc.pid:
                    pids.append(int(stat.parent.name))
            except (OSError, IndexError, ValueError):
                continue
        return pids

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.log.close()


class RssSampler:
    """Peak VmRSS of the API process, and of each of its worker processes, while a batch runs."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peak = server.rss_kb()
        self.worker_peaks = dict.fromkeys(server.worker_pids(), 0)
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.server.rss_kb())
            for pid, peak in self.worker_peaks.items():
                self.worker_peaks[pid] = max(peak, self.server.rss_kb(pid=pid))
            time.sleep(0.02)

    def stop(self) -> tuple[int, list[int]]:
        self.running = False
        self.thread.join()
        return self.peak, sorted(self.worker_peaks.values(), reverse=True)


@dataclass
class BatchFigures:
    mode: str
    rows: int
    hits: int
    file_mb: float
    create_s: float
    finish_s: float
    peak_rss_mb: float
    worker_rss_mb: list[float]
    download_s: float
    download_mb: float
    download_rss_mb: float
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.finish_s

    @property
    def e2e_rows_per_s(self) -> float:
        return self.rows / (self.create_s + self.finish_s)


def create(client: httpx.Client, url: str, key: str, mode: str, path: Path) -> dict[str, Any]:
    data = {"enrichment_mode": mode}
    if mode in ("raw", "full"):
        data["platform"] = PLATFORM
    if mode == "full":
        data.update(include_audience_data="true", include_lookalikes="true")
    with path.open("rb") as handle:
        response = client.post(
            f"{url}{API}",
            headers={"Authorization": f"Bearer {key}"},
            data=data,
            files={"file": (path.name, handle, "text/csv")},
            timeout=600,
        )
    if response.status_code != 200:
        raise SystemExit(f"create answered {response.status_code}: {response.text[:500]}")
    return response.json()  # type: ignore[no-any-return]


def wait_finished(client: httpx.Client, url: str, key: str, batch_id: str) -> dict[str, Any]:
    status_url = f"{url}{API}{batch_id}/status/"
    while True:
        body = client.get(status_url, headers={"Authorization": f"Bearer {key}"}).json()
        if body["status"] in ("finished", "failed", "paused_insufficient_credits"):
            return body  # type: ignore[no-any-return]
        time.sleep(0.02)


def processed_share(client: httpx.Client, url: str, key: str, batch_id: str) -> float:
    """How much of a batch is processed now, 0..1."""
    answer = client.get(f"{url}{API}{batch_id}/status/", headers={"Authorization": f"Bearer {key}"})
    state = answer.json()
    return float(state["processed_rows"] / state["total_rows"])


def download(client: httpx.Client, url: str, key: str, batch_id: str) -> tuple[float, int]:
    """Stream the JSON results to nowhere: (seconds, bytes)."""
    started = time.perf_counter()
    size = 0
    with client.stream(
        "GET",
        f"{url}{API}{batch_id}/",
        params={"format": "json"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=600,
    ) as answer:
        if answer.status_code != 200:
            raise SystemExit(f"download answered {answer.status_code}")
        for piece in answer.iter_raw():
            size += len(piece)
    return time.perf_counter() - started, size


def delete_batch(client: httpx.Client, url: str, key: str, batch_id: str) -> None:
    answer = client.delete(f"{url}{API}{batch_id}/", headers={"Authorization": f"Bearer {key}"})
    if answer.status_code != 200:
        raise SystemExit(f"could not delete {batch_id}: {answer.status_code} {answer.text}")


def run_batch(server: Server, key: str, mode: str, path: Path, hits: int) -> BatchFigures:
    sampler = RssSampler(server)
    with httpx.Client(timeout=60) as client:
        started = time.perf_counter()
        created = create(client, server.url, key, mode, path)
        returned = time.perf_counter()
        status = wait_finished(client, server.url, key, created["batch_id"])
        finished = time.perf_counter()
        peak, worker_peak = sampler.stop()
        sampler = RssSampler(server)  # the download apart: it is not "during the batch"
        download_s, download_bytes = download(client, server.url, key, created["batch_id"])
        # Measured: delete it, or every run would leave ~450k more stored rows that make the
        # next run's inserts slower (see bench/RESULTS.md, run I).
        delete_batch(client, server.url, key, created["batch_id"])
    download_peak, _ = sampler.stop()
    if status["status"] != "finished":
        raise SystemExit(f"batch ended {status['status']}: {status}")
    return BatchFigures(
        mode=mode,
        rows=created["og_input_number"],
        hits=hits,
        file_mb=path.stat().st_size / 1e6,
        create_s=returned - started,
        finish_s=finished - returned,
        peak_rss_mb=peak / 1024,
        worker_rss_mb=[kb / 1024 for kb in worker_peak],
        download_s=download_s,
        download_mb=download_bytes / 1e6,
        download_rss_mb=download_peak / 1024,
        status=status,
    )


# --- the floor ------------------------------------------------------------------------------

FLOOR_SQL = {
    "raw": "select handle_key, raw_json from profiles where platform = ? and handle_key in ({})",
    "full": (
        "select p.handle_key, p.full_json, p.audience_json, c.email, c.data from profiles p "
        "join creators c on c.id = p.creator_id where p.platform = ? and p.handle_key in ({})"
    ),
    "basic": (
        "select c.email, p.platform, p.username, p.full_name, p.followers, p.picture "
        "from creators c join profiles p on p.creator_id = c.id where c.email in ({})"
    ),
    "advanced": (
        "select c.email, c.data, p.full_json from creators c "
        "join profiles p on p.creator_id = c.id where c.email in ({})"
    ),
}


def floor(env: dict[str, str], mode: str, path: Path) -> tuple[float, int]:
    """Parse the CSV, normalise, dedupe, one bulk query per 1,000 distinct keys. (s, found)."""
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        keys = [row[0].strip().lstrip("@").lower() for row in reader if row]
    distinct = list(dict.fromkeys(keys))
    conn = sqlite3.connect(db_path(env))
    found: dict[str, list[Any]] = {}
    for start in range(0, len(distinct), CHUNK):
        part = distinct[start : start + CHUNK]
        sql = FLOOR_SQL[mode].format(",".join("?" * len(part)))
        params = part if mode in ("basic", "advanced") else [PLATFORM, *part]
        for row in conn.execute(sql, params):
            found.setdefault(row[0], []).append(row[1:])
    results = [(k, found.get(k)) for k in keys]
    conn.close()
    return time.perf_counter() - started, sum(1 for _, v in results if v)


# --- upload floor ---------------------------------------------------------------------------

BARE_APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def upload(request):
    body = await request.body()
    return JSONResponse({"bytes": len(body)})

app = Starlette(routes=[Route("/", upload, methods=["POST"])])
"""


def bare_upload(path: Path, repeats: int) -> float:
    """Median seconds for POSTing the file (multipart) to an endpoint that only reads the body."""
    folder = Path(tempfile.mkdtemp(prefix="ce-bench-bare-"))
    (folder / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=folder,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(url, content=b"x", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        times = []
        with httpx.Client() as client:
            for _ in range(repeats):
                with path.open("rb") as handle:
                    started = time.perf_counter()
                    response = client.post(
                        url,
                        data={"enrichment_mode": "raw", "platform": PLATFORM},
                        files={"file": (path.name, handle, "text/csv")},
                        timeout=120,
                    )
                    times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
        return statistics.median(times)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


# --- status polling under load --------------------------------------------------------------

_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$")


def wrk(url: str, key: str, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {key}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures: dict[str, float] = {}
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            figures["rps"] = float(line.split()[1])
        match = _LATENCY.match(line)
        if match:
            figures[f"p{match.group(1)}"] = float(match.group(2)) * scale[match.group(3)]
        if "Non-2xx" in line:
            figures["non2xx"] = float(line.split()[-1])
    return figures


def poll_load(args: argparse.Namespace, url: str, key: str, seconds: int) -> dict[str, float]:
    """The status route under load: at a fixed rate (status_load.py), or wrk at its maximum."""
    if args.load_tool == "wrk":
        return wrk(url, key, seconds, args.load_connections)
    (figures,) = status_load.load_url(
        url, [args.load_rate], seconds, headers=[f"Authorization: Bearer {key}"]
    )
    return {
        "rate": args.load_rate,
        "rps": figures.achieved_rps,
        "p50": figures.p50_ms,
        "p90": figures.p90_ms,
        "p99": figures.p99_ms,
        "max": figures.max_ms,
        "non2xx": float(figures.non_2xx),
        "errors": float(figures.errors),
    }


# --- lookalike query time -------------------------------------------------------------------


def lookalike_query(
    env: dict[str, str], sample: int = 10_000, rounds: int = 4
) -> tuple[int, list[float]]:
    """Seconds per profile for lookalikes (k=10) of `sample` random Instagram profiles, index
    built, in `rounds` rounds of fresh samples: the first one cold (the index's mapped pages
    are read in, which on a store bigger than the page cache means the disk), then warm.
    Returns (profiles per round, seconds per profile of each round)."""
    import random

    from creator_enrich.db.engine import create_db_engine
    from creator_enrich.enrichment.lookalike_index import lookalikes_for

    conn = sqlite3.connect(db_path(env))
    ids = [r[0] for r in conn.execute("select id from profiles where platform = ?", (PLATFORM,))]
    conn.close()
    pick = random.Random(1)
    engine = create_db_engine(f"sqlite:///{db_path(env)}")
    data = Path(env["CREATOR_ENRICH_DATA_DIR"])
    lookalikes_for(engine, data, PLATFORM, pick.sample(ids, 10), k=10)  # loads the index
    sample = min(sample, len(ids))
    per_profile = []
    for _ in range(rounds):
        chosen = pick.sample(ids, sample)
        started = time.perf_counter()
        lookalikes_for(engine, data, PLATFORM, chosen, k=10)
        per_profile.append((time.perf_counter() - started) / len(chosen))
    engine.dispose()
    return sample, per_profile


# --- tree against tree (write_latency.py, status_compare.py) -------------------------------


def tree_parser(doc: str | None) -> argparse.ArgumentParser:
    """The arguments every tree-against-tree comparison takes; the caller adds its own."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tree", action="append", required=True, help="name=PYTHONPATH")
    parser.add_argument("--creators", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--raw-only-store", action="store_true", help="the store of raw blocks only (raw mode)"
    )
    return parser


def trees(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(name, PYTHONPATH) of each ``--tree name=dir``."""
    return [(name, path) for name, _, path in (t.partition("=") for t in args.tree)]


def ten_mb_file(env: dict[str, str], folder: Path) -> tuple[Path, list[str]]:
    """The 10 MB raw file of the store (its known handles first) and those handles."""
    known = known_values(env, False, 500_000)
    path = folder / "10mb.csv"
    write_csv(path, known, False, None)
    return path, known


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--creators", default="100000,1000000", help="store sizes, comma-separated")
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the small file")
    parser.add_argument("--modes", default="raw,basic,advanced,full")
    parser.add_argument("--big-modes", default="raw", help="modes also run with a 10 MB file")
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--no-upload", action="store_true")
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--load-seconds", type=int, default=10)
    parser.add_argument("--load-connections", type=int, default=8, help="wrk only")
    parser.add_argument("--load-tool", choices=("fixed", "wrk"), default="fixed")
    parser.add_argument("--load-rate", type=float, default=500, help="requests/s (fixed)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--worker-mode",
        choices=("process", "thread"),
        default="process",
        help="the embedded worker in child processes of serve (the default) or in the API",
    )
    parser.add_argument(
        "--raw-only-stores",
        action="store_true",
        help="stores holding only the raw block of each profile (bench-s<N>-raw): ~40%% of "
        "the disk, for growth to 5M creators; only raw mode sends what a full store would",
    )
    parser.add_argument(
        "--index", action="store_true", help="build the lookalike index even without full mode"
    )
    args = parser.parse_args()
    # Every server and CLI command below inherits it (store_env copies the environment).
    os.environ["CREATOR_ENRICH_WORKER_PROCESS"] = str(args.worker_mode == "process").lower()

    sizes = [int(s) for s in args.creators.split(",") if s]
    modes = [m for m in args.modes.split(",") if m]
    big_modes = [m for m in args.big_modes.split(",") if m]
    work = Path(tempfile.mkdtemp(prefix="ce-bench-e2e-"))
    command = " ".join([Path(sys.executable).name, *sys.argv])
    print(f"command   {command}")
    print(f"machine   {machine()}")
    print(f"date      {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    report: dict[str, Any] = {"command": command, "machine": machine(), "stores": {}}

    for creators in sizes:
        env, index_s = ensure_store(
            creators, index="full" in modes or args.index, raw_only=args.raw_only_stores
        )
        figures: dict[str, Any] = {"batches": [], "load": {}}
        report["stores"][creators] = figures
        size_gb = store_gb(env)
        figures["store_gb"] = round(size_gb, 2)
        generated = (db_path(env).parent / "READY").read_text().strip() or "?"
        print(
            f"\nstore {creators:,} creators{' (raw blocks only)' if args.raw_only_stores else ''}"
            f", {size_gb:.1f} GB, generated in {generated} s  (load {load()})"
        )
        if index_s is not None:
            print(f"  lookalike index built in {index_s:.1f} s")
        key = bench_key(env)
        server = Server(env, work / f"server-{creators}.log")
        try:
            files: dict[tuple[str, str], tuple[Path, int, int]] = {}
            for mode in modes:
                for size in ("small", "10MB") if mode in big_modes else ("small",):
                    emails = mode in ("basic", "advanced")
                    kind = "emails" if emails else "handles"
                    if (kind, size) not in files:
                        rows = args.rows if size == "small" else None
                        known = known_values(env, emails, rows or 500_000)
                        path = work / f"{kind}-{size}-{creators}.csv"
                        written, hits = write_csv(path, known, emails, rows)
                        files[(kind, size)] = (path, written, hits)
                    path, written, hits = files[(kind, size)]
                    batch = run_batch(server, key, mode, path, hits)
                    line = (
                        f"  {mode:<8} {size:<5} {batch.rows:>7,} rows "
                        f"({batch.hits / batch.rows:4.0%} known, {batch.file_mb:4.1f} MB): "
                        f"create {batch.create_s:6.2f} s, "
                        f"finished {batch.finish_s:7.2f} s after, {batch.rows_per_s:>8,.0f} rows/s "
                        f"({batch.e2e_rows_per_s:>7,.0f} incl. upload), peak RSS API "
                        f"{batch.peak_rss_mb:4.0f} MB, workers "
                        f"{' + '.join(f'{mb:.0f}' for mb in batch.worker_rss_mb) or 'none'} MB"
                        f"  (load {load()})\n{'':17}download JSON {batch.download_s:6.2f} s "
                        f"({batch.download_mb:,.0f} MB), peak RSS API "
                        f"{batch.download_rss_mb:4.0f} MB"
                    )
                    entry: dict[str, Any] = {
                        "mode": mode,
                        "size": size,
                        "rows": batch.rows,
                        "known": batch.hits,
                        "file_mb": round(batch.file_mb, 2),
                        "create_s": round(batch.create_s, 3),
                        "finish_s": round(batch.finish_s, 3),
                        "rows_per_s": round(batch.rows_per_s),
                        "e2e_rows_per_s": round(batch.e2e_rows_per_s),
                        "peak_rss_mb": round(batch.peak_rss_mb),
                        "worker_rss_mb": [round(mb) for mb in batch.worker_rss_mb],
                        "download_s": round(batch.download_s, 3),
                        "download_mb": round(batch.download_mb, 1),
                        "download_rss_mb": round(batch.download_rss_mb),
                        "load": load(),
                    }
                    if not args.no_floor:
                        floor_s, found = floor(env, mode, path)
                        entry["floor_s"] = round(floor_s, 3)
                        entry["ours_over_floor"] = round(
                            (batch.create_s + batch.finish_s) / floor_s, 1
                        )
                        # The floor fetches the records; a result that refers to its profile
                        # fetches its block at download, so report that sum too.
                        entry["ours_with_download_over_floor"] = round(
                            (batch.create_s + batch.finish_s + batch.download_s) / floor_s, 1
                        )
                        line += (
                            f"\n{'':17}floor {floor_s:6.2f} s ({found:,} found): "
                            f"ours (create + finish) / floor = {entry['ours_over_floor']:.1f}, "
                            f"with the download {entry['ours_with_download_over_floor']:.1f}"
                        )
                    print(line, flush=True)
                    figures["batches"].append(entry)

            big = files.get(("handles", "10MB"))
            if big and not args.no_upload:
                bare = bare_upload(big[0], repeats=3)
                ours = [b for b in figures["batches"] if b["size"] == "10MB"]
                figures["upload"] = {"bare_s": round(bare, 3), "ours_s": ours[0]["create_s"]}
                print(
                    f"  upload 10 MB: bare endpoint {bare:.2f} s (median of 3), our create "
                    f"{ours[0]['create_s']:.2f} s = {ours[0]['create_s'] / bare:.1f}x  "
                    f"(load {load()})",
                    flush=True,
                )

            if big and not args.no_load:
                probe = create(
                    httpx.Client(timeout=60), server.url, key, "raw", files[("handles", "small")][0]
                )
                wait_finished(httpx.Client(timeout=60), server.url, key, probe["batch_id"])
                url = f"{server.url}{API}{probe['batch_id']}/status/"
                idle = poll_load(args, url, key, max(3, args.load_seconds // 2))
                with httpx.Client(timeout=60) as client:
                    delete_batch(client, server.url, key, probe["batch_id"])
                figures["load"]["idle"] = idle
                print(f"  status, idle:       {_fmt_wrk(idle)}  (load {load()})", flush=True)
                running = create(httpx.Client(timeout=60), server.url, key, "raw", big[0])
                url = f"{server.url}{API}{running['batch_id']}/status/"
                busy = poll_load(args, url, key, args.load_seconds)
                with httpx.Client(timeout=60) as client:
                    busy["processed_share"] = processed_share(
                        client, server.url, key, running["batch_id"]
                    )
                    # Measured: stop it rather than wait (DELETE stops a running batch).
                    delete_batch(client, server.url, key, running["batch_id"])
                figures["load"]["busy"] = busy
                print(
                    f"  status, 10 MB raw batch running: {_fmt_wrk(busy)}; batch "
                    f"{busy['processed_share']:.0%} processed when the load ended  (load {load()})",
                    flush=True,
                )
            figures["api_vmhwm_mb"] = round(server.rss_kb("VmHWM") / 1024)
        finally:
            server.stop()
        if (Path(env["CREATOR_ENRICH_DATA_DIR"]) / "INDEXED").exists():
            sample, (cold, *warm) = lookalike_query(env)
            look = statistics.median(warm)
            figures["lookalike_ms_per_profile"] = round(look * 1000, 3)
            figures["lookalike_cold_ms_per_profile"] = round(cold * 1000, 3)
            print(
                f"  lookalikes (k=10): {look * 1000:.3f} ms per profile (median of "
                f"{len(warm)} warm rounds of {sample:,}; the first, cold: {cold * 1000:.3f} ms)  "
                f"(load {load()})"
            )

    _growth(report, sizes)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    shutil.rmtree(work, ignore_errors=True)


def _fmt_wrk(figures: dict[str, float]) -> str:
    text = f"{figures.get('rps', 0):,.0f} req/s"
    if "rate" in figures:
        text += f" of {figures['rate']:,.0f} asked"
    text += f", p50 {figures.get('p50', 0):.1f} ms, p99 {figures.get('p99', 0):.1f} ms"
    if figures.get("non2xx"):
        text += f", {figures['non2xx']:.0f} non-2xx"
    if figures.get("errors"):
        text += f", {figures['errors']:.0f} errors"
    return text


def _growth(report: dict[str, Any], sizes: list[int]) -> None:
    if len(sizes) < 2:
        return
    print("\ngrowth (time per row, smallest store = 1.00; log10(size) ratio for comparison)")
    first = report["stores"][sizes[0]]
    for creators in sizes[1:]:
        other = report["stores"][creators]
        log_ratio = math.log10(creators) / math.log10(sizes[0])
        for a in first["batches"]:
            for b in other["batches"]:
                if (a["mode"], a["size"]) == (b["mode"], b["size"]):
                    ratio = (b["finish_s"] / b["rows"]) / (a["finish_s"] / a["rows"])
                    print(
                        f"  {a['mode']:<8} {a['size']:<5} {creators:>9,}: x{ratio:.2f} per row "
                        f"(log ratio {log_ratio:.2f})"
                    )
        if "lookalike_ms_per_profile" in first and "lookalike_ms_per_profile" in other:
            look = other["lookalike_ms_per_profile"] / first["lookalike_ms_per_profile"]
            print(f"  lookalike {creators:>9,}: x{look:.2f} per profile")


if __name__ == "__main__":
    main()
