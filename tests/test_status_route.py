"""The status route authenticates and reads the batch in one query (it is the polled route):
every refusal the general authentication gives must hold there too, at once."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from creator_enrich.accounts.service import create_api_key, revoke_api_key, rotate_api_key
from tests.helpers import csv_of, handles
from tests.test_rate_limits import limited_app

URL = "/public/v1/enrichment/batch/{}/status/"


def finished_batch(account: Any) -> str:
    batch_id: str = account.create(
        csv_of("handle", handles(account.engine, "instagram", 2)),
        enrichment_mode="raw",
        platform="instagram",
    ).json()["batch_id"]
    account.wait(batch_id)
    return batch_id


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_status_refuses_missing_malformed_and_unknown_keys(account: Any) -> None:
    url = URL.format(finished_batch(account))
    for headers in (
        {},
        {"Authorization": "Basic x"},
        bearer("ce_nope_nope"),
        bearer("ce_nope"),
        bearer("not-a-key"),
        bearer(account.key + "x"),  # the right key id with a wrong secret
    ):
        response = account.client.get(url, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["detail"]
    assert account.client.get(url, headers=account.headers).status_code == 200


def test_status_refuses_a_revoked_or_rotated_out_key_at_once(account: Any, engine: Any) -> None:
    url = URL.format(finished_batch(account))
    spare = create_api_key(engine, account.name)
    assert account.client.get(url, headers=bearer(spare)).json()["status"] == "finished"
    revoke_api_key(engine, spare.split("_")[1])
    refused = account.client.get(url, headers=bearer(spare))
    assert refused.status_code == 401
    assert refused.json()["detail"] == "Invalid API key."

    other = create_api_key(engine, account.name)
    assert account.client.get(url, headers=bearer(other)).status_code == 200
    newest, _ = rotate_api_key(engine, other.split("_")[1], timedelta(0))
    assert account.client.get(url, headers=bearer(other)).status_code == 401
    assert account.client.get(url, headers=bearer(newest)).status_code == 200


def test_status_body_matches_the_general_batch_read(account: Any, engine: Any) -> None:
    """The joined read yields the same body as the batch alone, with no key columns in it."""
    from creator_enrich.batches.service import batch_status, caller_and_batch

    batch_id = finished_batch(account)
    caller, row = caller_and_batch(engine, account.key, batch_id)
    assert caller is not None and row is not None
    body = account.client.get(URL.format(batch_id), headers=account.headers).json()
    assert body == batch_status(engine, caller, batch_id) | {
        "estimated_completion": body["estimated_completion"]
    }
    assert body["batch_id"] == batch_id and "key_hash" not in body
    assert caller_and_batch(engine, account.key, "bch_" + "0" * 32) == (caller, None)
    assert caller_and_batch(engine, "ce_x_y", batch_id) == (None, None)


def test_status_counts_against_the_limit_and_carries_its_headers(
    settings: Any, make_account: Any
) -> None:
    client = limited_app(settings, per_minute=3)
    account = make_account()
    url = URL.format(finished_batch(account))
    first = client.get(url, headers=account.headers)
    assert first.status_code == 200
    assert re.fullmatch(r'"default";r=2;t=\d+', first.headers["RateLimit"])
    assert first.headers["content-type"] == "application/json"
    assert client.get(URL.format("bch_unknown"), headers=account.headers).status_code == 404
    assert client.get(url, headers=account.headers).status_code == 200
    refused = client.get(url, headers=account.headers)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
