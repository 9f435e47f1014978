"""Idempotent batch creation: the same Idempotency-Key and request give the same batch, once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update

from creator_enrich.db.engine import read_connection, write_transaction
from creator_enrich.db.schema import Batch, IdempotencyKey
from tests.helpers import assert_money_invariants, csv_of, handles, ledger_rows

URL = "/public/v1/enrichment/batch/"


def post(account: Any, content: str, key: str | None, **fields: str) -> Any:
    headers = dict(account.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return account.client.post(
        URL,
        headers=headers,
        data={"enrichment_mode": "raw", "platform": "instagram", **fields},
        files={"file": ("input.csv", content.encode(), "text/csv")},
    )


def batches_of(engine: Any, account_id: int) -> int:
    with read_connection(engine) as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(Batch).where(Batch.account_id == account_id)
            ).scalar_one()
        )


def test_a_retry_with_the_same_key_gets_the_same_batch(account: Any, engine: Any) -> None:
    content = csv_of("handle", handles(engine, "instagram", 5))
    first = post(account, content, "order-42")
    again = post(account, content, "order-42")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert batches_of(engine, account.id) == 1
    account.wait(first.json()["batch_id"])
    # After it finished, a retry still answers with the same batch (no second run, no charge).
    assert post(account, content, "order-42").json()["batch_id"] == first.json()["batch_id"]
    assert batches_of(engine, account.id) == 1


def test_twenty_concurrent_identical_requests_make_one_batch_and_one_charge(
    make_account: Any, engine: Any
) -> None:
    granted = Decimal(100)
    account = make_account(granted)
    values = handles(engine, "instagram", 40)
    content = csv_of("handle", values)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: post(account, content, "same-upload"), range(20)))
    assert {a.status_code for a in answers} == {200}
    batch_ids = {a.json()["batch_id"] for a in answers}
    assert len(batch_ids) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 19
    assert batches_of(engine, account.id) == 1

    status = account.wait(batch_ids.pop())
    assert status["success_count"] == 40
    spent = assert_money_invariants(engine, account.id, granted)
    assert spent == Decimal("0.03") * 40  # one batch's worth, charged once


def test_the_same_key_with_another_request_is_422(account: Any, engine: Any) -> None:
    names = handles(engine, "instagram", 4)
    assert post(account, csv_of("handle", names[:2]), "k-1").status_code == 200
    for content, fields in (
        (csv_of("handle", names[2:]), {}),  # another file
        (csv_of("handle", names[:2]), {"enrichment_mode": "full"}),  # another field
    ):
        refused = post(account, content, "k-1", **fields)
        assert refused.status_code == 422
        body = refused.json()
        assert body["error"] == "idempotency_key_reused"
        assert "Idempotency-Key" in body["detail"] and "different request" in body["detail"]
    assert batches_of(engine, account.id) == 1


def test_keys_are_scoped_per_account(make_account: Any, engine: Any) -> None:
    content = csv_of("handle", handles(engine, "instagram", 3))
    one, two = make_account(), make_account()
    first = post(one, content, "shared-key").json()["batch_id"]
    second = post(two, content, "shared-key").json()["batch_id"]
    assert first != second
    # Neither can see the other's batch through the key.
    assert two.client.get(f"{URL}{first}/status/", headers=two.headers).status_code == 404


def test_an_expired_key_makes_a_new_batch(account: Any, engine: Any) -> None:
    content = csv_of("handle", handles(engine, "instagram", 3))
    first = post(account, content, "old-key").json()["batch_id"]
    with write_transaction(engine) as conn:
        conn.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.account_id == account.id)
            .values(expires_at=IdempotencyKey.created_at)
        )
    second = post(account, content, "old-key")
    assert second.status_code == 200
    assert second.json()["batch_id"] != first
    assert "Idempotent-Replayed" not in second.headers


def test_a_refused_request_does_not_use_up_its_key(account: Any, engine: Any) -> None:
    bad = post(account, "handle\n\n", "retry-me")
    assert bad.status_code == 400
    assert batches_of(engine, account.id) == 0
    good = post(account, csv_of("handle", handles(engine, "instagram", 2)), "retry-me")
    assert good.status_code == 200
    assert "Idempotent-Replayed" not in good.headers


def test_a_malformed_key_is_400_naming_the_header(account: Any, engine: Any) -> None:
    content = csv_of("handle", handles(engine, "instagram", 2))
    for key in (b"", b"x" * 256, b"with space", "naïve".encode()):
        response = account.client.post(
            URL,
            headers={**account.headers, "Idempotency-Key": key},
            data={"enrichment_mode": "raw", "platform": "instagram"},
            files={"file": ("input.csv", content.encode("utf-8"), "text/csv")},
        )
        assert response.status_code == 400, key
        assert "Idempotency-Key" in response.json()["errors"]
        assert response.json()["detail"].startswith("Idempotency-Key: must be 1 to 255")
    assert batches_of(engine, account.id) == 0


def test_a_deleted_batch_is_not_replayed(account: Any, engine: Any) -> None:
    content = csv_of("handle", handles(engine, "instagram", 2))
    first = post(account, content, "delete-me").json()["batch_id"]
    account.wait(first)
    assert account.client.delete(f"{URL}{first}/", headers=account.headers).status_code == 200
    again = post(account, content, "delete-me")
    assert again.status_code == 200 and again.json()["batch_id"] != first
    with read_connection(engine) as conn:
        charged = ledger_rows(conn, first)
    assert charged == 2  # the deleted batch's money history stays
