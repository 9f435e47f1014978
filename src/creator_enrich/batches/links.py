"""Signed, time-limited download links: the batch id and expiry are covered by an HMAC.

A link works without the Bearer header until it expires; changing the batch id, the expiry or
the format breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from creator_enrich.errors import Forbidden, Gone


def _signature(key: bytes, batch_id: str, expires: int, fmt: str) -> str:
    mac = hmac.new(key, f"{batch_id}\n{expires}\n{fmt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def sign(key: bytes, batch_id: str, ttl_seconds: int, fmt: str = "csv") -> tuple[int, str]:
    expires = int(time.time()) + ttl_seconds
    return expires, _signature(key, batch_id, expires, fmt)


def verify(key: bytes, batch_id: str, expires: str, signature: str, fmt: str) -> None:
    """Raise Forbidden for a link that was not issued by us, Gone for one that has expired."""
    if not expires.isdigit() or len(expires) > 12:
        raise Forbidden("This download link is not valid.")
    expected = _signature(key, batch_id, int(expires), fmt)
    if not hmac.compare_digest(expected.encode(), signature.encode()[:128]):
        raise Forbidden("This download link is not valid.")
    if int(expires) < time.time():
        raise Gone("This download link has expired; request a new one from the download endpoint.")
