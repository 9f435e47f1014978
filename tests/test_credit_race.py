"""Batches of one account racing for credits that cover only part of them (both stacks)."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from creator_enrich.credits.ledger import grant
from tests.helpers import assert_money_invariants, csv_of, handles

BATCHES = 5
HITS = 120  # per batch, at 0.03: 3.60 a batch, 18.00 in all


def test_five_batches_racing_for_credits(make_account: Any, engine: Any) -> None:
    known = handles(engine, "instagram", HITS * BATCHES)
    files = [csv_of("handle", known[i * HITS : (i + 1) * HITS]) for i in range(BATCHES)]
    account = make_account(Decimal("9.00"))  # pays for 300 of the 600 hits
    created: list[str] = []
    lock = threading.Lock()

    def submit(content: str) -> None:
        response = account.create(content, enrichment_mode="raw", platform="instagram")
        assert response.status_code == 200, response.text
        with lock:
            created.append(response.json()["batch_id"])

    threads = [threading.Thread(target=submit, args=(f,)) for f in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == BATCHES

    for batch_id in created:
        account.wait(batch_id, until=("finished", "failed", "paused_insufficient_credits"))
    # 600 hits, 300 affordable: some batch paused, and a pause means the balance could not pay
    # for one more hit (0.03), so it is exactly 0 and nothing more can be charged.
    charged = sum(Decimal(s["credits_used"]) for s in (account.status(b) for b in created))
    assert charged == Decimal("9.00")  # exactly the affordable rows, to the cent
    assert account.credits()["credits_available"] == 0  # never below zero (CHECK + guard)
    assert any(account.status(b)["status"] == "paused_insufficient_credits" for b in created)
    assert_money_invariants(engine, account.id, Decimal("9.00"))

    grant(engine, account.id, Decimal("9.00"))
    for batch_id in created:
        if account.status(batch_id)["status"] == "paused_insufficient_credits":
            response = account.client.post(
                f"/public/v1/enrichment/batch/{batch_id}/resume/", headers=account.headers
            )
            assert response.status_code == 200, response.text
    finals = [account.wait(b) for b in created]
    assert [f["status"] for f in finals] == ["finished"] * BATCHES
    # The totals of a run that had enough credits from the start:
    assert [f["credits_used"] for f in finals] == ["3.60"] * BATCHES
    assert [f["success_count"] for f in finals] == [HITS] * BATCHES
    assert account.credits() == {"credits_available": 0, "credits_used": 18}
    assert_money_invariants(engine, account.id, Decimal("18.00"))
