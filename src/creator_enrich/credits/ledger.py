"""The balance and the append-only ledger, always changed together in one transaction.

Invariant: for every account, ``balance == SUM(credit_ledger.amount)`` and
``credits_used == -SUM(amount of charges)``. ``balance`` has a CHECK (>= 0) as a backstop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, Engine, Table, insert, select, update

from creator_enrich.db.dialect import insert_many, stored_value
from creator_enrich.db.engine import read_connection, write_transaction
from creator_enrich.db.schema import Account, LedgerEntry
from creator_enrich.db.types import to_micros, utcnow
from creator_enrich.errors import NotFound, ValidationFailed

LEDGER: Table = LedgerEntry.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Balance:
    available: Decimal
    used: Decimal


def grant_credits(conn: Connection, account_id: int, amount: Decimal, note: str | None) -> None:
    if amount <= 0:
        raise ValidationFailed.on("amount", "must be positive")
    done = conn.execute(
        update(Account).where(Account.id == account_id).values(balance=Account.balance + amount)
    ).rowcount
    if not done:
        raise NotFound(f"no account with id {account_id}")
    conn.execute(
        insert(LedgerEntry).values(
            account_id=account_id, amount=amount, kind="grant", note=note, created_at=utcnow()
        )
    )


def grant(engine: Engine, account_id: int, amount: Decimal, note: str | None = None) -> Balance:
    with write_transaction(engine) as conn:
        grant_credits(conn, account_id, amount, note)
        return _balance(conn, account_id)


def locked_balance(conn: Connection, account_id: int) -> Decimal:
    """Read the balance for a charge decision; locks the row on PostgreSQL.

    On SQLite the surrounding ``BEGIN IMMEDIATE`` already holds the database write lock.
    """
    stmt = select(Account.balance).where(Account.id == account_id).with_for_update()
    return Decimal(conn.execute(stmt).scalar_one())


def charge_rows(
    conn: Connection,
    account_id: int,
    batch_id: str | None,
    charges: Sequence[tuple[int | None, Decimal]],
    note: str | None = None,
) -> Decimal:
    """Debit the account for already-stored rows and append one ledger entry per row.

    The caller decided the rows are affordable (``locked_balance``); the conditional UPDATE and
    the CHECK constraint still refuse an overdraft, and the unique (batch_id, row_no) key refuses
    a second charge for the same row: either way the whole transaction fails.
    """
    total = sum((amount for _, amount in charges), Decimal(0))
    if total <= 0:
        return Decimal(0)
    done = conn.execute(
        update(Account)
        .where(Account.id == account_id, Account.balance >= total)
        .values(balance=Account.balance - total, credits_used=Account.credits_used + total)
    ).rowcount
    if done != 1:
        raise RuntimeError(f"account {account_id} cannot cover {total}; charge refused")
    created_at = stored_value(conn.dialect, LEDGER.c.created_at, utcnow())
    insert_many(
        conn,
        LEDGER,
        ("account_id", "amount", "kind", "batch_id", "row_no", "note", "created_at"),
        [
            (account_id, -to_micros(amount), "charge", batch_id, row_no, note, created_at)
            for row_no, amount in charges
            if amount > 0
        ],
    )
    return total


def _balance(conn: Connection, account_id: int) -> Balance:
    row = conn.execute(
        select(Account.balance, Account.credits_used).where(Account.id == account_id)
    ).first()
    if row is None:
        raise NotFound(f"no account with id {account_id}")
    return Balance(available=row.balance, used=row.credits_used)


def balance(engine: Engine, account_id: int) -> Balance:
    with read_connection(engine) as conn:
        return _balance(conn, account_id)
