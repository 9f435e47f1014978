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
    """balance change == ledger charges == sum of per-row charges, batch by batch.

    Each batch charge covers ``row_count`` rows at the batch's rate, starting with a row that
    was charged; its rows are as many as the batch's charged results. ``deleted`` batches have
    no results left to compare with (their ledger entries stay).
    """
    with read_connection(engine) as conn:
        balance, used = conn.execute(
            select(Account.balance, Account.credits_used).where(Account.id == account_id)
        ).one()
        ledger_total = conn.execute(
            select(func.sum(LedgerEntry.amount)).where(LedgerEntry.account_id == account_id)
        ).scalar_one()
        charges = conn.execute(
            select(
                LedgerEntry.batch_id, LedgerEntry.row_no, LedgerEntry.row_count, LedgerEntry.amount
            ).where(LedgerEntry.account_id == account_id, LedgerEntry.kind == "charge")
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
    assert all(c.row_count and c.row_count > 0 for c in charges)
    batch_charges = [c for c in charges if c.batch_id is not None]  # the rest: single calls
    assert len({(c.batch_id, c.row_no) for c in batch_charges}) == len(batch_charges)
    by_row = {(r.batch_id, r.row_no): r.credits for r in row_charges}
    for batch_id in batch_ids - deleted:
        entries = [c for c in batch_charges if c.batch_id == batch_id]
        rows = {row: credits for (b, row), credits in by_row.items() if b == batch_id}
        assert sum(c.row_count for c in entries) == len(rows)
        assert -sum((c.amount for c in entries), Decimal(0)) == sum(rows.values(), Decimal(0))
        for c in entries:  # every entry starts at a charged row and charges its rows' rate
            assert c.row_no in rows
            assert -c.amount == c.row_count * rows[c.row_no]
    assert not {r.batch_id for r in row_charges} & deleted
    return used


def row_count(engine: Any, batch_id: str) -> int:
    with read_connection(engine) as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(BatchRow).where(BatchRow.batch_id == batch_id)
            ).scalar_one()
        )


def ledger_rows(conn: Any, batch_id: str) -> int:
    """How many rows the batch's ledger entries charged (each entry covers ``row_count``)."""
    return int(
        conn.execute(
            select(func.coalesce(func.sum(LedgerEntry.row_count), 0)).where(
                LedgerEntry.batch_id == batch_id
            )
        ).scalar_one()
    )


def results_and_charges(engine: Any, batch_id: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """(rows, distinct row numbers) of the batch's results, and (rows its ledger entries
    charged, results that carry a charge): equal pairs mean nothing was stored or charged
    twice."""
    with read_connection(engine) as conn:
        results = conn.execute(
            select(func.count(), func.count(func.distinct(BatchResult.row_no))).where(
                BatchResult.batch_id == batch_id
            )
        ).one()
        charged_by_ledger = ledger_rows(conn, batch_id)
        charged = conn.execute(
            select(func.count()).where(BatchResult.batch_id == batch_id, BatchResult.credits > 0)
        ).scalar_one()
    return (results[0], results[1]), (charged_by_ledger, int(charged))
