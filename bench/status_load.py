"""Open-loop, fixed-rate HTTP load on one URL: latency counted from each request's scheduled time.

    .venv/bin/python bench/status_load.py URL [--rate 500[,700,...]] [--seconds 10]
        [--connections 16] [-H "Authorization: Bearer ..."] [--json OUT]

wrk keeps a fixed number of requests in flight (closed loop): when the server slows down, wrk
slows down with it and the slow period is under-sampled (coordinated omission); wrk2, which holds
a fixed rate, is not in Debian. Here request i is due at ``start + i / rate`` whatever happened to
the requests before it; it is sent on the first idle keep-alive connection, and its latency is
measured from when it was *due*, so queueing behind a slow answer counts. Requests are pre-built
raw HTTP/1.1 bytes and answers are parsed just enough to find their end (Content-Length), so the
tool costs little CPU on the cores it shares with the server: it prints its own CPU time per
request, to be compared with the server's.

Prints, per rate: requests due, answered, achieved rate, p50/p90/p99/max in ms and errors
(non-2xx answers, broken connections, requests not answered within the drain time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import resource
import sys
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class Figures:
    rate: float
    seconds: float
    due: int = 0
    answered: int = 0
    achieved_rps: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    non_2xx: int = 0
    broken: int = 0
    unanswered: int = 0
    client_cpu_us_per_request: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx + self.broken + self.unanswered

    def line(self) -> str:
        return (
            f"{self.rate:7.0f} req/s asked, {self.achieved_rps:7.1f} achieved "
            f"({self.answered}/{self.due} answered in {self.seconds:g} s): "
            f"p50 {self.p50_ms:6.1f} ms, p90 {self.p90_ms:6.1f}, p99 {self.p99_ms:6.1f}, "
            f"max {self.max_ms:6.1f}; errors {self.errors} "
            f"(non-2xx {self.non_2xx}, broken {self.broken}, unanswered {self.unanswered}); "
            f"client CPU {self.client_cpu_us_per_request:.0f} us/request"
        )


def build_request(url: str, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise SystemExit("only http:// URLs")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: keep-alive"]
    lines += headers
    return parts.hostname, parts.port or 80, ("\r\n".join(lines) + "\r\n\r\n").encode()


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not ordered:
        return 0.0
    rank = math.ceil(share * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def _answer_size(buffer: bytes, body_at: int) -> int | None:
    """Bytes of the answer at the start of ``buffer`` once complete (its head ends at
    ``body_at``), or a larger number while incomplete; None if it has no length we understand.
    Chunked bodies are taken to end at the first zero-size chunk (answers here are small).
    """
    for line in buffer[:body_at].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            return body_at + int(value)
        if name == b"transfer-encoding" and value.strip().lower() == b"chunked":
            end = buffer.find(b"\r\n0\r\n\r\n", body_at - 2)
            return len(buffer) + 1 if end < 0 else end + 7
    return None


class _Connection(asyncio.Protocol):
    """One keep-alive connection: sends a request when handed its due time, parses the answer."""

    def __init__(self, load: _Load) -> None:
        self.load = load
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.due: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.load.ready(self)

    def send(self, due: float) -> None:
        assert self.transport is not None
        self.due = due
        self.transport.write(self.load.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.due is None:
            return
        try:
            size = _answer_size(self.buffer, end + 4)
            status = int(self.buffer[9:12])
        except ValueError:
            size, status = None, 0
        if size is None:  # not an HTTP/1.1 answer we can delimit: a broken connection
            assert self.transport is not None
            self.transport.close()
            return
        if len(self.buffer) < size:
            return
        self.buffer = self.buffer[size:]
        due, self.due = self.due, None
        self.load.answered(self, due, status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.load.lost(self)


class _Load:
    """Hands each due request to an idle connection, or queues it until one is free."""

    def __init__(self, host: str, port: int, request: bytes, figures: Figures) -> None:
        self.host, self.port, self.request, self.figures = host, port, request, figures
        self.loop = asyncio.get_running_loop()
        self.idle: list[_Connection] = []
        self.backlog: deque[float] = deque()
        self.latencies: list[float] = []
        self.last_answer = 0.0
        self.settled = 0  # answered or broken
        self.done = asyncio.Event()

    async def connect(self) -> None:
        await self.loop.create_connection(lambda: _Connection(self), self.host, self.port)

    def dispatch(self, due: float) -> None:
        if self.idle:
            self.idle.pop().send(due)
        else:
            self.backlog.append(due)

    def ready(self, conn: _Connection) -> None:
        if self.backlog:
            conn.send(self.backlog.popleft())
        else:
            self.idle.append(conn)

    def answered(self, conn: _Connection, due: float, status: int) -> None:
        self.last_answer = self.loop.time()
        self.latencies.append(self.last_answer - due)
        self.figures.statuses[status] = self.figures.statuses.get(status, 0) + 1
        if not 200 <= status < 300:
            self.figures.non_2xx += 1
        self._settle()
        self.ready(conn)

    def lost(self, conn: _Connection) -> None:
        if conn in self.idle:
            self.idle.remove(conn)
        if conn.due is not None:
            self.figures.broken += 1
            self._settle()
        if not self.done.is_set():
            self.loop.create_task(self.connect())

    def _settle(self) -> None:
        self.settled += 1
        if self.settled >= self.figures.due:
            self.done.set()


async def run(
    host: str, port: int, request: bytes, rate: float, seconds: float, connections: int
) -> Figures:
    figures = Figures(rate=rate, seconds=seconds, due=int(rate * seconds))
    load = _Load(host, port, request, figures)
    for _ in range(connections):
        await load.connect()
    loop = load.loop
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = loop.time() + 0.05
    sent = 0
    while sent < figures.due:
        now = loop.time()
        # Everything due by now is handed out; then sleep until the next one is due.
        while sent < figures.due and start + sent / rate <= now:
            load.dispatch(start + sent / rate)
            sent += 1
        if sent < figures.due:
            await asyncio.sleep(max(0.0, start + sent / rate - loop.time()))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(load.done.wait(), timeout=max(5.0, seconds))
    load.done.set()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    for conn in [*load.idle]:
        if conn.transport is not None:
            conn.transport.close()
    ordered = sorted(load.latencies)
    figures.answered = len(ordered)
    figures.unanswered = max(0, figures.due - figures.answered - figures.broken)
    # Answers per second from the first request's due time to the last answer.
    figures.achieved_rps = figures.answered / max(load.last_answer - start, 1e-9)
    figures.p50_ms = percentile(ordered, 0.50) * 1000
    figures.p90_ms = percentile(ordered, 0.90) * 1000
    figures.p99_ms = percentile(ordered, 0.99) * 1000
    figures.max_ms = (ordered[-1] if ordered else 0.0) * 1000
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    figures.client_cpu_us_per_request = cpu / max(1, figures.answered) * 1e6
    return figures


def load_url(
    url: str,
    rates: list[float],
    seconds: float,
    connections: int = 16,
    headers: list[str] | None = None,
) -> list[Figures]:
    """Each rate in turn against ``url``; the figures of each run."""
    host, port, request = build_request(url, headers or [])
    return [asyncio.run(run(host, port, request, rate, seconds, connections)) for rate in rates]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("url")
    parser.add_argument("--rate", default="500", help="requests/s; several, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections")
    parser.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    rates = [float(r) for r in args.rate.split(",") if r]
    results = []
    for figures in load_url(args.url, rates, args.seconds, args.connections, args.header):
        print(figures.line(), flush=True)
        results.append(asdict(figures))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
