"""Idempotent batch creation: a client that retries a create with the same ``Idempotency-Key``
gets the batch of its first attempt, never a second batch (and so never a second charge).

The key is claimed inside the create transaction, before the rows are stored: a concurrent
request with the same key waits on that row (PostgreSQL) or on the writer lock (SQLite), then
reads the committed answer and replays it. Keys are scoped per account and expire; a key reused
with a different request is refused, since replaying the first batch would hide the mistake.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, delete, select, update

from creator_enrich.db.dialect import insert_ignoring_conflicts
from creator_enrich.db.engine import write_transaction
from creator_enrich.db.schema import IdempotencyKey
from creator_enrich.db.types import utcnow
from creator_enrich.errors import IdempotencyMismatch, ValidationFailed

HEADER = "Idempotency-Key"
MAX_LENGTH = 255
KEYS: Table = IdempotencyKey.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    key: str
    fingerprint: str
    lifetime: timedelta


def parse_key(value: str | None) -> str | None:
    """The header's key, or None when absent; 400 for an empty, long or non-ASCII key."""
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_LENGTH or not all("!" <= ch <= "~" for ch in value):
        raise ValidationFailed.on(
            HEADER, f"must be 1 to {MAX_LENGTH} visible ASCII characters (a UUID is a good key)"
        )
    return value


def fingerprint(upload: bytes, fields: dict[str, list[str]]) -> str:
    """What "the same request" means: the same file bytes and the same form fields."""
    digest = hashlib.sha256(upload)
    digest.update(b"\0")
    digest.update(orjson.dumps({k: v for k, v in fields.items() if v}, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def claim(conn: Connection, account_id: int, request: IdempotentRequest) -> dict[str, Any] | None:
    """Take the key for this request, or return the answer already given for it.

    Raises IdempotencyMismatch when the key was used for a different request.
    """
    now = utcnow()
    conn.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.account_id == account_id,
            IdempotencyKey.key == request.key,
            IdempotencyKey.expires_at <= now,
        )
    )
    row = {
        "account_id": account_id,
        "key": request.key,
        "request_hash": request.fingerprint,
        "batch_id": "",
        "response_json": "",
        "created_at": now,
        "expires_at": now + request.lifetime,
    }
    if insert_ignoring_conflicts(conn, KEYS, [row], returning="key"):
        return None
    stored = conn.execute(
        select(IdempotencyKey.request_hash, IdempotencyKey.response_json).where(
            IdempotencyKey.account_id == account_id, IdempotencyKey.key == request.key
        )
    ).one()
    if stored.request_hash != request.fingerprint:
        raise IdempotencyMismatch(
            f"This {HEADER} was already used with a different request (another file or other "
            "fields). Use a new key for a new batch.",
            extra={"error": "idempotency_key_reused"},
        )
    return orjson.loads(stored.response_json)  # type: ignore[no-any-return]


def remember(
    conn: Connection, account_id: int, key: str, batch_id: str, response: dict[str, Any]
) -> None:
    conn.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.account_id == account_id, IdempotencyKey.key == key)
        .values(batch_id=batch_id, response_json=orjson.dumps(response).decode())
    )


def forget_batch(conn: Connection, batch_id: str) -> None:
    """A deleted batch cannot be replayed: a retry with its key creates a new one."""
    conn.execute(delete(IdempotencyKey).where(IdempotencyKey.batch_id == batch_id))


def purge_expired(engine: Engine, now: datetime | None = None) -> int:
    with write_transaction(engine) as conn:
        result = conn.execute(
            delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or utcnow()))
        )
    return int(result.rowcount or 0)
