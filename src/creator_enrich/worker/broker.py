"""Build the Dramatiq broker from settings: in-memory (embedded default) or Redis (scale-out).

The actors and the services never know which one runs; only ``CREATOR_ENRICH_BROKER_URL`` differs.
With the in-memory broker and a worker process (the default of ``serve``), the API process holds
a ``PipeBroker`` that writes each message to that process, which keeps the in-memory queue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from creator_enrich.config import Settings, get_settings

_lock = threading.Lock()
_configured = False


def _middleware(settings: Settings) -> list[dramatiq.Middleware]:
    return [
        AgeLimit(),
        TimeLimit(time_limit=settings.chunk_time_limit_seconds * 1000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=settings.max_chunk_retries, min_backoff=200, max_backoff=30_000),
        CurrentMessage(),
    ]


class PipeBroker(StubBroker):
    """The API side of the embedded worker process: ``enqueue`` hands the encoded message to
    ``send`` (a write to the child's stdin) instead of queueing it here. Unconnected, or with
    the child gone, the send fails; the caller logs it and the next worker process's start-up
    sweep sends every queued chunk again."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(middleware=_middleware(settings), fail_fast_default=False)
        self._send: Callable[[bytes], None] | None = None

    def connect(self, send: Callable[[bytes], None] | None) -> None:
        self._send = send

    def enqueue(
        self, message: dramatiq.Message[Any], *, delay: int | None = None
    ) -> dramatiq.Message[Any]:
        if delay is not None:  # retries wait in the child's broker; the API never delays a send
            raise ValueError("a delayed message cannot cross the worker-process pipe")
        send = self._send
        if send is None:
            raise BrokenPipeError("no worker process is connected")
        send(message.encode() + b"\n")
        return message


def build_broker(settings: Settings) -> dramatiq.Broker:
    if settings.runs_worker_process:
        return PipeBroker(settings)
    if settings.is_memory_broker:
        return StubBroker(middleware=_middleware(settings), fail_fast_default=False)
    if settings.broker_url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(  # type: ignore[no-untyped-call]
            url=settings.broker_url,
            middleware=_middleware(settings),
            # Redeliver a dead worker's messages in seconds, not minutes (see README).
            heartbeat_timeout=10_000,
            maintenance_chance=50_000,
        )
    raise ValueError(f"unsupported broker URL {settings.broker_url!r}: use memory:// or redis://")


def ensure_broker() -> dramatiq.Broker:
    """Install the process-wide broker once, before any actor is declared."""
    global _configured
    with _lock:
        if not _configured:
            dramatiq.set_broker(build_broker(get_settings()))
            _configured = True
        return dramatiq.get_broker()
