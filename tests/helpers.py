"""Small helpers shared by tests: store samples and the money invariants."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from creator_enrich.creators.store import sample_emails, sample_handles
from creator_enrich.db.engine import read_connection
from creator_enrich.db.schema import Account, BatchResult, BatchRow, LedgerEntry


def handles(engine: Any, platform: str, count: int) -> list[str]:
    with read_connection(engine) as conn:
        found = sample_handles(conn, platform, count)
    assert len(found) == count, f"store has only {len(found)} {platform} handles"
    return found


def emails(engine: Any, count: int) -> list[str]:
    with read_connection(engine) as conn:
        found = sample_emails(conn, count)
    assert len(found) == count
    return found


def csv_of(header: str | None, values: list[str]) -> str:
    lines = ([header] if header else []) + values
    return "\n".join(lines) + "\n"


def assert_money_invariants(
    engine: Any, account_id: int, granted: Decimal, deleted: frozenset[str] = frozenset()
) -> Decimal:
    """balance change == ledger charges == sum of per-row charges; one ledger row per charge.

    ``deleted`` batches have no results left to compare with (their ledger entries stay).
    """
    with read_connection(engine) as conn:
        balance, used = conn.execute(
            select(Account.balance, Account.credits_used).where(Account.id == account_id)
        ).one()
        ledger_total = conn.execute(
            select(func.sum(LedgerEntry.amount)).where(LedgerEntry.account_id == account_id)
        ).scalar_one()
        charges = conn.execute(
            select(LedgerEntry.batch_id, LedgerEntry.row_no, LedgerEntry.amount).where(
                LedgerEntry.account_id == account_id, LedgerEntry.kind == "charge"
            )
        ).all()
        batch_ids = {c.batch_id for c in charges if c.batch_id is not None}
        row_charges = (
            conn.execute(
                select(BatchResult.batch_id, BatchResult.row_no, BatchResult.credits).where(
                    BatchResult.batch_id.in_(batch_ids), BatchResult.credits > 0
                )
            ).all()
            if batch_ids
            else []
        )
    assert Decimal(ledger_total) == balance
    assert granted - balance == used
    charged = -sum((c.amount for c in charges), Decimal(0))
    assert charged == used
    batch_charges = [c for c in charges if c.batch_id is not None]  # the rest: single calls
    assert len({(c.batch_id, c.row_no) for c in batch_charges}) == len(batch_charges)
    assert {
        (c.batch_id, c.row_no): -c.amount for c in batch_charges if c.batch_id not in deleted
    } == {(r.batch_id, r.row_no): r.credits for r in row_charges}
    assert not {r.batch_id for r in row_charges} & deleted
    return used


def row_count(engine: Any, batch_id: str) -> int:
    with read_connection(engine) as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(BatchRow).where(BatchRow.batch_id == batch_id)
            ).scalar_one()
        )


def results_and_charges(engine: Any, batch_id: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """(rows, distinct row numbers) of the batch's results and of its ledger entries: equal
    pairs mean nothing was stored or charged twice."""
    with read_connection(engine) as conn:
        return tuple(  # type: ignore[return-value]
            tuple(
                conn.execute(
                    select(func.count(), func.count(func.distinct(table.row_no))).where(
                        table.batch_id == batch_id
                    )
                ).one()
            )
            for table in (BatchResult, LedgerEntry)
        )
