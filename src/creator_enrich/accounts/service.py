"""Accounts and API keys.

A key looks like ``ce_<key id>_<secret>``. Only the SHA-256 of the whole key is stored; the key id
(the visible prefix, safe to log and to show in listings) finds the row and the hashes are compared
in constant time. A random 256-bit secret needs no slow password hash: nothing short of the key
itself can be tried against it. Rotation issues a new key and lets the old one work until the end
of an overlap period, so that clients can be switched over without downtime.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Select, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from creator_enrich.credits.ledger import grant_credits
from creator_enrich.db.engine import read_connection, write_transaction
from creator_enrich.db.schema import Account, ApiKey
from creator_enrich.db.types import UTCDateTime, utcnow
from creator_enrich.errors import Conflict, NotFound, ValidationFailed

KEY_PREFIX = "ce_"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: resolved from the Bearer key on every request."""

    account_id: int
    key_id: str
    read_only: bool


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_account(engine: Engine, name: str, credits: Decimal = Decimal(0)) -> int:
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed.on("name", "must be 1 to 100 characters")
    if credits < 0:
        raise ValidationFailed.on("credits", "must not be negative")
    try:
        with write_transaction(engine) as conn:
            account_id = conn.execute(
                insert(Account)
                .values(name=name, balance=Decimal(0), credits_used=Decimal(0), created_at=utcnow())
                .returning(Account.id)
            ).scalar_one()
            if credits:
                grant_credits(conn, account_id, credits, note="initial credits")
    except IntegrityError as exc:
        raise Conflict(f"an account named {name!r} already exists") from exc
    return int(account_id)


def account_id_by_name(engine: Engine, name: str) -> int:
    with read_connection(engine) as conn:
        account_id = conn.execute(select(Account.id).where(Account.name == name)).scalar()
    if account_id is None:
        raise NotFound(f"no account named {name!r}")
    return int(account_id)


def _insert_key(conn: Connection, account_id: int, label: str | None, read_only: bool) -> str:
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    conn.execute(
        insert(ApiKey).values(
            account_id=account_id,
            key_id=key_id,
            key_hash=_hash(key),
            name=label,
            read_only=read_only,
            created_at=utcnow(),
        )
    )
    return key


def create_api_key(
    engine: Engine, account_name: str, *, label: str | None = None, read_only: bool = False
) -> str:
    """Create a key and return it; this is the only time the key is ever visible."""
    account_id = account_id_by_name(engine, account_name)
    with write_transaction(engine) as conn:
        return _insert_key(conn, account_id, label, read_only)


def _active(key_id: Any, now: Any) -> Any:
    return (
        (ApiKey.key_id == key_id)
        & ApiKey.revoked_at.is_(None)
        & (ApiKey.expires_at.is_(None) | (ApiKey.expires_at > now))
    )


def revoke_api_key(engine: Engine, key_id: str) -> None:
    """Stop a key now (also a rotated key still in its overlap period)."""
    now = utcnow()
    with write_transaction(engine) as conn:
        done = conn.execute(update(ApiKey).where(_active(key_id, now)).values(revoked_at=now))
    if not done.rowcount:
        raise NotFound(f"no active key with id {key_id!r}")


def rotate_api_key(engine: Engine, key_id: str, overlap: timedelta) -> tuple[str, datetime]:
    """A new key with the same account, label and rights; the old one expires after ``overlap``.

    Returns the new key (shown once) and when the old one stops working.
    """
    if overlap < timedelta(0):
        raise ValidationFailed.on("overlap", "must not be negative")
    now = utcnow()
    with write_transaction(engine) as conn:
        old = conn.execute(
            select(ApiKey.account_id, ApiKey.name, ApiKey.read_only, ApiKey.expires_at).where(
                _active(key_id, now)
            )
        ).first()
        if old is None:
            raise NotFound(f"no active key with id {key_id!r}")
        key = _insert_key(conn, old.account_id, old.name, old.read_only)
        ends = now + overlap
        if old.expires_at is not None and old.expires_at < ends:
            ends = old.expires_at  # rotating again never lengthens an old key's life
        conn.execute(update(ApiKey).where(ApiKey.key_id == key_id).values(expires_at=ends))
    return key, ends


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key: never its secret or hash."""

    key_id: str
    label: str | None
    read_only: bool
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def prefix(self) -> str:
        return f"{KEY_PREFIX}{self.key_id}_"


def list_api_keys(engine: Engine, account_name: str) -> list[KeyInfo]:
    account_id = account_id_by_name(engine, account_name)
    with read_connection(engine) as conn:
        rows = conn.execute(
            select(
                ApiKey.key_id,
                ApiKey.name,
                ApiKey.read_only,
                ApiKey.created_at,
                ApiKey.expires_at,
                ApiKey.revoked_at,
            )
            .where(ApiKey.account_id == account_id)
            .order_by(ApiKey.id)
        ).all()
    return [KeyInfo(*row) for row in rows]


def key_id_of(key: str) -> str | None:
    """The key id of a well-formed key (``ce_<key id>_<secret>``); None means never look it up."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    key_id, sep, _secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or not key_id:
        return None
    return key_id


def active_key_query(key_id: Any = None) -> Select[int, str, bool]:
    """The columns that authenticate a key, for its row only while it is neither revoked nor
    expired; other queries may join to it (the status route reads its batch in the same query).
    Without ``key_id`` the statement takes ``key_id`` and ``now`` as bound parameters, so that it
    can be built once.
    """
    now: Any = utcnow()
    if key_id is None:
        key_id, now = bindparam("key_id"), bindparam("now", type_=UTCDateTime())
    return select(
        ApiKey.account_id.label("key_account_id"), ApiKey.key_hash, ApiKey.read_only
    ).where(_active(key_id, now))


def caller_of(key: str, key_id: str, row: Any) -> Caller | None:
    """The caller, if ``row`` (from ``active_key_query``) holds the hash of exactly this key."""
    if row is None or not hmac.compare_digest(row.key_hash, _hash(key)):
        return None
    return Caller(account_id=row.key_account_id, key_id=key_id, read_only=row.read_only)


def authenticate(engine: Engine, key: str) -> Caller | None:
    """The caller a presented key belongs to; None if unknown, malformed, revoked or expired."""
    key_id = key_id_of(key)
    if key_id is None:
        return None
    with read_connection(engine) as conn:
        row = conn.execute(active_key_query(key_id)).first()
    return caller_of(key, key_id, row)
