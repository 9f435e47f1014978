"""Retention and deletion: customers' lists are kept only as long as promised; money history
is kept for ever."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update

from creator_enrich.batches.retention import purge_expired_results
from creator_enrich.db.engine import read_connection, write_transaction
from creator_enrich.db.schema import Batch, BatchChunk, BatchResult, BatchRow
from creator_enrich.db.types import utcnow
from tests.helpers import assert_money_invariants, csv_of, handles, ledger_rows

URL = "/public/v1/enrichment/batch/"


def stored(engine: Any, batch_id: str) -> dict[str, int]:
    """How many rows of each kind the database holds for a batch."""
    with read_connection(engine) as conn:
        return {
            table.__tablename__: int(
                conn.execute(
                    select(func.count()).select_from(table).where(table.batch_id == batch_id)
                ).scalar_one()
            )
            for table in (BatchRow, BatchChunk, BatchResult)
        } | {
            "rows charged in the ledger": ledger_rows(conn, batch_id),
            "batches": int(
                conn.execute(
                    select(func.count()).select_from(Batch).where(Batch.id == batch_id)
                ).scalar_one()
            ),
        }


def finished_batch(account: Any, engine: Any, count: int = 6) -> str:
    values = [*handles(engine, "instagram", count), "ghost_nobody_1"]
    batch_id: str = account.create(
        csv_of("handle", values), enrichment_mode="raw", platform="instagram"
    ).json()["batch_id"]
    account.wait(batch_id)
    return batch_id


def age(engine: Any, batch_id: str, days: float) -> None:
    """Make a batch look as if it finished ``days`` ago."""
    with write_transaction(engine) as conn:
        conn.execute(
            update(Batch)
            .where(Batch.id == batch_id)
            .values(finished_at=utcnow() - timedelta(days=days))
        )


def test_results_are_deleted_after_the_retention_period(
    make_account: Any, engine: Any, settings: Any
) -> None:
    account = make_account(Decimal(10))
    old, recent = finished_batch(account, engine), finished_batch(account, engine)
    age(engine, old, settings.results_retention_days + 0.01)
    age(engine, recent, settings.results_retention_days - 1)
    before = account.status(old)

    # Gone at once, whether or not the periodic purge has run yet.
    for path in (f"{URL}{old}/", f"{URL}{old}/download/"):
        gone = account.client.get(path, headers=account.headers)
        assert gone.status_code == 410
        assert "retention" in gone.json()["detail"] and gone.json()["error"] == "results_expired"

    deadline = time.monotonic() + 30  # the sweeper purges (every 0.5 s in tests)
    while stored(engine, old)["batch_rows"]:
        assert time.monotonic() < deadline, "the sweeper never purged the expired batch"
        time.sleep(0.1)
    left = stored(engine, old)
    assert left == {
        "batch_rows": 0,
        "batch_chunks": 0,
        "batch_results": 0,
        "rows charged in the ledger": 6,  # money history stays
        "batches": 1,
    }
    after = account.status(old)
    assert after["results_deleted_at"] is not None
    assert {k: v for k, v in after.items() if k != "results_deleted_at"} == {
        k: v for k, v in before.items() if k != "results_deleted_at"
    }
    assert account.client.get(f"{URL}{old}/", headers=account.headers).status_code == 410

    # The recent one is untouched.
    assert len(account.results(recent)) == 7
    assert stored(engine, recent)["batch_rows"] == 7
    assert_money_invariants(engine, account.id, Decimal(10), deleted=frozenset({old}))


def test_a_signed_link_to_expired_results_is_410(account: Any, engine: Any, settings: Any) -> None:
    batch_id = finished_batch(account, engine, 2)
    link = account.client.get(f"{URL}{batch_id}/download/", headers=account.headers).json()
    age(engine, batch_id, settings.results_retention_days + 1)
    response = account.client.get(link["download_url"])
    assert response.status_code == 410
    assert "retention" in response.json()["detail"]


def test_a_retention_of_zero_keeps_results(account: Any, engine: Any) -> None:
    batch_id = finished_batch(account, engine, 2)
    age(engine, batch_id, 10_000)
    assert purge_expired_results(engine, 0) == 0
    assert stored(engine, batch_id)["batch_rows"] == 3


def test_delete_removes_the_batch_and_keeps_the_ledger(make_account: Any, engine: Any) -> None:
    account = make_account(Decimal(10))
    batch_id = finished_batch(account, engine)
    credits_before = account.credits()
    response = account.client.delete(f"{URL}{batch_id}/", headers=account.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["deleted"] is True and body["previous_status"] == "finished"
    assert stored(engine, batch_id) == {
        "batch_rows": 0,
        "batch_chunks": 0,
        "batch_results": 0,
        "rows charged in the ledger": 6,
        "batches": 0,
    }
    for method, suffix in (("GET", "status/"), ("GET", ""), ("DELETE", "")):
        after = account.client.request(method, f"{URL}{batch_id}/{suffix}", headers=account.headers)
        assert after.status_code == 404
    assert account.credits() == credits_before
    assert_money_invariants(engine, account.id, Decimal(10), deleted=frozenset({batch_id}))


def test_delete_of_a_queued_batch_leaves_its_queued_chunks_nothing_to_do(
    make_account: Any, engine: Any, paused_worker: Any
) -> None:
    # The worker is held still, so the delete meets the batch with every chunk message queued
    # (the case of a chunk caught mid-commit is driven by hand in test_processing.py).
    granted = Decimal(100)
    account = make_account(granted)
    values = [*handles(engine, "instagram", 200), *(f"ghost_{i}" for i in range(3000))]
    batch_id = account.create(
        csv_of("handle", values), enrichment_mode="raw", platform="instagram"
    ).json()["batch_id"]
    assert stored(engine, batch_id)["batch_chunks"] > 1
    response = account.client.delete(f"{URL}{batch_id}/", headers=account.headers)
    assert response.status_code == 200
    assert response.json()["previous_status"] == "queued"
    paused_worker()  # let the worker take the chunk messages and wait until it has
    assert stored(engine, batch_id) == {
        "batch_rows": 0,
        "batch_chunks": 0,
        "batch_results": 0,
        "rows charged in the ledger": 0,
        "batches": 0,
    }
    assert account.credits() == {"credits_available": 100, "credits_used": 0}
    assert_money_invariants(engine, account.id, granted, deleted=frozenset({batch_id}))


def test_delete_of_a_paused_batch(make_account: Any, engine: Any) -> None:
    account = make_account(Decimal("0.06"))
    batch_id = account.create(
        csv_of("handle", handles(engine, "instagram", 10)),
        enrichment_mode="raw",
        platform="instagram",
    ).json()["batch_id"]
    account.wait(batch_id, until=("paused_insufficient_credits",))
    assert account.client.delete(f"{URL}{batch_id}/", headers=account.headers).status_code == 200
    assert stored(engine, batch_id)["batches"] == 0
    assert_money_invariants(engine, account.id, Decimal("0.06"), deleted=frozenset({batch_id}))
