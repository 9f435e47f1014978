"""The balance and the append-only ledger, always changed together in one transaction.

Invariant: for every account, ``balance == SUM(credit_ledger.amount)`` and
``credits_used == -SUM(amount of charges)``. ``balance`` has a CHECK (>= 0) as a backstop.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, Engine, insert, select, update

from creator_enrich.db.engine import read_connection, write_transaction
from creator_enrich.db.schema import Account, LedgerEntry
from creator_enrich.db.types import utcnow
from creator_enrich.errors import NotFound, ValidationFailed


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


def charge(
    conn: Connection,
    account_id: int,
    rate: Decimal,
    records: int,
    *,
    batch_id: str | None = None,
    first_row: int | None = None,
    note: str | None = None,
) -> Decimal:
    """Debit the account for ``records`` already-stored records at ``rate`` each, with one
    ledger entry for all of them (a batch chunk's commit, or a single call). Returns the total.

    The caller decided they are affordable (``locked_balance``); the conditional UPDATE and the
    CHECK constraint still refuse an overdraft, and the unique (batch_id, row_no) key, row_no
    being the first row charged, refuses a second charge of the same rows: either way the whole
    transaction fails.
    """
    total = rate * records
    if total <= 0:
        return Decimal(0)
    done = conn.execute(
        update(Account)
        .where(Account.id == account_id, Account.balance >= total)
        .values(balance=Account.balance - total, credits_used=Account.credits_used + total)
    ).rowcount
    if done != 1:
        raise RuntimeError(f"account {account_id} cannot cover {total}; charge refused")
    conn.execute(
        insert(LedgerEntry).values(
            account_id=account_id,
            amount=-total,
            kind="charge",
            batch_id=batch_id,
            row_no=first_row,
            row_count=records,
            note=note,
            created_at=utcnow(),
        )
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
