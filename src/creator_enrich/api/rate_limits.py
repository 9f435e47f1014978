"""Per-account rate limits, as the reference API sets them (300 requests a minute, all endpoints).

A moving window from the maintained ``limits`` library: exact (400 requests in a burst let exactly
300 through), in process memory on the embedded default and in Redis whenever the broker is Redis,
so that every API process counts against the same window. If the limit store is unreachable the
request goes through (logged): an outage of the counter must not become an outage of the API.

Headers follow the IETF draft (``RateLimit-Policy: "default";q=300;w=60`` and
``RateLimit: "default";r=<remaining>;t=<seconds to reset>``) on every authenticated answer, and a
429 adds ``Retry-After``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creator_enrich.config import Settings
from creator_enrich.errors import TooManyRequests

log = logging.getLogger(__name__)
STATE_KEY = "rate_limit_headers"


@dataclass(frozen=True, slots=True)
class RateLimiter:
    """Counts requests per account in a one-minute moving window."""

    per_minute: int
    strategy: MovingWindowRateLimiter | None

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        if settings.rate_limit_per_minute <= 0:
            return cls(0, None)
        url = settings.resolved_rate_limit_storage_url
        options: dict[str, str | bool] = {"wrap_exceptions": True}
        if not url.startswith("memory://"):
            options["key_prefix"] = settings.rate_limit_key_prefix
        storage = storage_from_string(url, **options)
        return cls(settings.rate_limit_per_minute, MovingWindowRateLimiter(storage))

    def check(self, account_id: int) -> dict[str, str]:
        """Count one request; the headers to send, or TooManyRequests past the limit."""
        if self.strategy is None:
            return {}
        item = RateLimitItemPerMinute(self.per_minute)
        name = str(account_id)
        try:
            allowed = self.strategy.hit(item, "account", name)
            stats = self.strategy.get_window_stats(item, "account", name)
        except StorageError as exc:
            log.warning("rate limit store unavailable (%s); request let through", exc)
            return {}
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        headers = {
            "RateLimit-Policy": f'"default";q={self.per_minute};w=60',
            "RateLimit": f'"default";r={stats.remaining};t={reset}',
        }
        if not allowed:
            raise TooManyRequests(
                f"Request was throttled: more than {self.per_minute} requests a minute. "
                f"Expected available in {reset} seconds.",
                headers={**headers, "Retry-After": str(reset)},
            )
        return headers


class RateLimitHeaders:
    """Adds the headers the auth dependency left in the request state to the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra: dict[str, str] = scope.get("state", {}).get(STATE_KEY) or {}
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [
                    (name.lower().encode(), value.encode())
                    for name, value in extra.items()
                    if name.lower().encode() not in present
                ]
                if added:
                    message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
