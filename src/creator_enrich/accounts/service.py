"""Accounts and API keys.

A key looks like ``ce_<key id>_<secret>``. Only the SHA-256 of the whole key is stored; the key id
finds the row and the hashes are compared in constant time. A random 256-bit secret needs no slow
password hash: nothing short of the key itself can be tried against it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from creator_enrich.credits.ledger import grant_credits
from creator_enrich.db.engine import read_connection, write_transaction
from creator_enrich.db.schema import Account, ApiKey
from creator_enrich.db.types import utcnow
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


def create_api_key(
    engine: Engine, account_name: str, *, label: str | None = None, read_only: bool = False
) -> str:
    """Create a key and return it; this is the only time the key is ever visible."""
    account_id = account_id_by_name(engine, account_name)
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    with write_transaction(engine) as conn:
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


def revoke_api_key(engine: Engine, key_id: str) -> None:
    with write_transaction(engine) as conn:
        done = conn.execute(
            update(ApiKey)
            .where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        ).rowcount
    if not done:
        raise NotFound(f"no active key with id {key_id!r}")


def authenticate(engine: Engine, key: str) -> Caller | None:
    """Resolve a presented key to its caller, or None for any unknown, malformed or revoked key."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    key_id, sep, _secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or not key_id:
        return None
    with read_connection(engine) as conn:
        row = conn.execute(
            select(ApiKey.account_id, ApiKey.key_hash, ApiKey.read_only, ApiKey.revoked_at).where(
                ApiKey.key_id == key_id
            )
        ).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(key)):
        return None
    return Caller(account_id=row.account_id, key_id=key_id, read_only=row.read_only)
