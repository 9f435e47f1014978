"""bench/status_load.py against a tiny local server: every due request answered once, answers
delimited by Content-Length or chunked, non-2xx counted (no timing asserted)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import free_port

TOOL = Path(__file__).resolve().parents[1] / "bench" / "status_load.py"


def load_tool() -> Any:
    spec = importlib.util.spec_from_file_location("status_load", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["status_load"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class _Answer(asyncio.Protocol):
    """Answers every request: 200 with Content-Length, chunked for /chunked, 503 for /busy."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport, self.buffer = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            path = head.split(b" ")[1]
            if path == b"/chunked":
                answer = (
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                )
            elif path == b"/busy":
                answer = b"HTTP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\nno"
            else:
                answer = b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"ok":true}'
            self.transport.write(answer)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    servers: list[asyncio.Server] = []

    async def serve() -> None:
        servers.append(await loop.create_server(_Answer, "127.0.0.1", port))
        ready.set()

    async def close() -> None:
        servers[0].close()
        await servers[0].wait_closed()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop)
    assert ready.wait(10)
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.mark.parametrize("path", ["/", "/chunked"])
def test_every_due_request_is_answered_once(server: str, path: str) -> None:
    tool = load_tool()
    (figures,) = tool.load_url(server + path, [200], 0.5, connections=4, headers=["X-A: b"])
    assert figures.due == 100
    assert figures.answered == 100 and figures.statuses == {200: 100}
    assert figures.errors == 0
    assert 0 < figures.p50_ms <= figures.p99_ms <= figures.max_ms


def test_non_2xx_answers_are_errors(server: str) -> None:
    tool = load_tool()
    (figures,) = tool.load_url(server + "/busy", [100], 0.3, connections=2)
    assert figures.answered == figures.due == 30
    assert figures.non_2xx == 30 and figures.statuses == {503: 30}


def test_percentiles_are_nearest_rank() -> None:
    tool = load_tool()
    values = [float(v) for v in range(1, 101)]
    assert tool.percentile(values, 0.5) == 50.0
    assert tool.percentile(values, 0.99) == 99.0
    assert tool.percentile([], 0.99) == 0.0
