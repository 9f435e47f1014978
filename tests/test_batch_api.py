"""The batch API end to end: real app, real SQLite file, real in-process Dramatiq worker."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from creator_enrich.db.engine import read_connection
from creator_enrich.db.schema import Batch
from tests.helpers import assert_money_invariants, csv_of, emails, handles

CREATE_FIELDS = {
    "batch_id",
    "status",
    "created_at",
    "platform",
    "metadata",
    "og_input_number",
    "type_report",
    "enrichment_mode",
    "message",
}
STATUS_FIELDS = {
    "batch_id",
    "status",
    "total_rows",
    "processed_rows",
    "success_count",
    "failed_count",
    "started_at",
    "metadata",
    "credits_used",
    "estimated_completion",
    "status_message",
}


def test_raw_batch_end_to_end(account: Any, engine: Any) -> None:
    known = handles(engine, "instagram", 60)
    values = [
        *known[:50],
        "@" + known[50],
        f"https://www.instagram.com/{known[51]}/?hl=en",
        known[52].upper(),
        known[0],  # duplicate of row 1
        "no_such_creator_xyz",
        "has space",
    ]
    response = account.create(
        csv_of("handle", values),
        enrichment_mode="raw",
        platform="instagram",
        metadata='{"campaign": "Q4 Outreach"}',
    )
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == CREATE_FIELDS
    assert re.fullmatch(r"bch_[0-9a-f]{32}", created["batch_id"])
    assert created["og_input_number"] == len(values)
    assert created["type_report"] == "ENRICH_BY_HANDLE"
    assert created["enrichment_mode"] == "raw"
    assert created["platform"] == "instagram"
    assert created["metadata"] == {"campaign": "Q4 Outreach"}
    assert created["status"] in ("queued", "processing", "finished")
    assert "1 duplicates" in created["message"] and "1 invalid" in created["message"]

    status = account.wait(created["batch_id"])
    assert set(status) >= STATUS_FIELDS
    assert status["status"] == "finished"
    assert status["total_rows"] == len(values) == status["processed_rows"]
    # 53 distinct known creators + the duplicate row (same result, charged once)
    assert status["success_count"] == 54
    assert status["not_found_count"] == 1
    assert status["invalid_count"] == 1
    assert status["duplicate_count"] == 1
    assert status["failed_count"] == 2
    assert status["credits_used"] == "1.59"  # 53 distinct hits x 0.03
    assert status["metadata"] == {"campaign": "Q4 Outreach"}
    assert status["estimated_completion"] is not None

    rows = account.results(created["batch_id"])
    assert [r["input_value"] for r in rows] == [v.strip() for v in values]
    assert [r["status"] for r in rows] == ["success"] * 54 + ["not_found", "invalid"]
    first = rows[0]["enrichment_data"]
    assert list(first) == ["instagram"]
    assert first["instagram"]["username"].lower() == known[0].lower()
    assert rows[53]["enrichment_data"] == first
    assert "duplicate of row 1" in rows[53]["reason"]
    assert rows[55]["enrichment_data"] is None and "space" in rows[55]["reason"]
    assert account.credits() == {"credits_available": 998.41, "credits_used": 1.59}
    assert_money_invariants(engine, account.id, Decimal(1000))


def test_basic_email_batch(account: Any, engine: Any) -> None:
    known = emails(engine, 30)
    values = [*known, "NOBODY@example.org", "not-an-email", known[0].upper()]
    response = account.create(csv_of("email", values), enrichment_mode="basic")
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["type_report"] == "ENRICH_BY_EMAIL"
    assert created["platform"] is None
    status = account.wait(created["batch_id"])
    assert status["success_count"] == 31
    assert status["not_found_count"] == 1
    assert status["invalid_count"] == 1
    assert status["credits_used"] == "1.50"  # 30 distinct x 0.05
    rows = account.results(created["batch_id"])
    record = rows[0]["enrichment_data"]
    assert list(record) == [
        "platform",
        "userId",
        "url",
        "username",
        "fullname",
        "picture",
        "followers",
    ]
    assert isinstance(record["followers"], int)
    assert rows[30]["status"] == "not_found" and rows[30]["enrichment_data"] is None
    assert rows[31]["status"] == "invalid"
    assert rows[32]["enrichment_data"] == record


def test_basic_filters_pick_biggest_allowed_platform(account: Any, engine: Any) -> None:
    known = emails(engine, 40)
    plain = account.create(csv_of("email", known), enrichment_mode="basic").json()
    filtered = account.create(
        csv_of("email", known),
        enrichment_mode="basic",
        exclude_platforms="instagram",
        min_followers="1000",
    ).json()
    plain_rows = account.results(account.wait(plain["batch_id"])["batch_id"])
    filtered_rows = account.results(account.wait(filtered["batch_id"])["batch_id"])
    for before, after in zip(plain_rows, filtered_rows, strict=True):
        if after["status"] == "success":
            assert after["enrichment_data"]["platform"] != "instagram"
            assert after["enrichment_data"]["followers"] >= 1000
            if before["enrichment_data"]["platform"] != "instagram":
                assert after["enrichment_data"] == before["enrichment_data"]
        else:
            assert after["status"] == "not_found"
    assert any(r["status"] == "not_found" for r in filtered_rows)


def test_csv_results_flatten_and_neutralise_formulas(account: Any, engine: Any) -> None:
    known = handles(engine, "twitter", 3)
    # Values starting with =, + or - are refused at upload (tests/test_upload_corpus.py); a
    # leading @ is a valid handle prefix, so @-values reach the export and must be neutralised.
    values = [*known, "@nobody_at_all_x", "@has space", "@"]
    response = account.create(csv_of("handle", values), enrichment_mode="raw", platform="twitter")
    batch_id = response.json()["batch_id"]
    account.wait(batch_id)
    text = account.results(batch_id, fmt="csv")
    table = list(csv.reader(io.StringIO(text)))
    header = table[0]
    assert header[:2] == ["input_value", "status"] and header[-1] == "reason"
    assert "twitter.username" in header
    assert "twitter.tweets_type.ordinary" in header  # nested objects flatten with dots
    body = table[1:]
    assert len(body) == len(values)
    assert [r[1] for r in body[:3]] == ["success"] * 3
    for row, value in zip(body[3:], values[3:], strict=True):
        assert row[0] == "'" + value
    assert [r[1] for r in body[3:]] == ["not_found", "invalid", "invalid"]
    by_name = dict(zip(header, body[0], strict=True))
    assert by_name["twitter.username"].lower() == known[0].lower()
    assert by_name["twitter.post_data"].startswith("[")  # lists stay JSON
    # Same batch, JSON: raw values, not neutralised
    rows = account.results(batch_id)
    assert rows[3]["input_value"] == values[3]


def test_csv_column_order_is_stable(account: Any, engine: Any) -> None:
    first = account.create(
        csv_of("handle", handles(engine, "youtube", 2)), enrichment_mode="raw", platform="youtube"
    ).json()["batch_id"]
    second = account.create(
        csv_of("handle", ["nobody_at_all"]), enrichment_mode="raw", platform="youtube"
    ).json()["batch_id"]
    account.wait(first)
    account.wait(second)
    header_a = account.results(first, fmt="csv").splitlines()[0]
    header_b = account.results(second, fmt="csv").splitlines()[0]
    assert header_a == header_b


def test_option_not_for_mode_is_ignored_and_named(account: Any, engine: Any) -> None:
    response = account.create(
        csv_of("handle", handles(engine, "tiktok", 2)),
        enrichment_mode="raw",
        platform="tiktok",
        min_followers="10",
        exclude_platforms="youtube",
        include_lookalikes="true",
        email_required="preferred",
    )
    assert response.status_code == 200, response.text
    message = response.json()["message"]
    assert (
        "Ignored for raw mode: email_required, include_lookalikes, exclude_platforms, "
        "min_followers" in message
    )


def test_multi_column_file_uses_the_named_column(account: Any, engine: Any) -> None:
    known = handles(engine, "instagram", 3)
    content = "name,Handle,country\n" + "".join(f"N{i},{h},US\n" for i, h in enumerate(known))
    response = account.create(content, enrichment_mode="raw", platform="instagram")
    assert response.status_code == 200, response.text
    assert "Used column 'Handle'" in response.json()["message"]
    status = account.wait(response.json()["batch_id"])
    assert status["success_count"] == 3


def test_headerless_file_detects_emails(account: Any, engine: Any) -> None:
    response = account.create(csv_of(None, emails(engine, 3)), enrichment_mode="basic")
    assert response.status_code == 200, response.text
    assert account.wait(response.json()["batch_id"])["success_count"] == 3


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"), ("cp1252", b"")],
)
def test_encodings(account: Any, engine: Any, encoding: str, bom: bytes) -> None:
    known = handles(engine, "instagram", 2)
    content = bom + "handle\r\n{}\r\n{}\r\ncafé_é\r\n".format(*known).encode(encoding)
    response = account.create(content, enrichment_mode="raw", platform="instagram")
    assert response.status_code == 200, response.text
    status = account.wait(response.json()["batch_id"])
    assert status["success_count"] == 2
    rows = account.results(response.json()["batch_id"])
    assert rows[2]["input_value"] == "café_é"
    assert rows[2]["status"] == "invalid"


def test_credits_alias_paths(account: Any) -> None:
    expected = {"credits_available": 1000, "credits_used": 0}
    for path in ("/public/v1/accounts/credits/", "/public/v1/account/credits"):
        response = account.client.get(path, headers=account.headers)
        assert response.status_code == 200
        assert response.json() == expected


def _batches_of(engine: Any, account_id: int) -> int:
    with read_connection(engine) as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(Batch).where(Batch.account_id == account_id)
            ).scalar_one()
        )


BAD_REQUESTS = [
    ("missing mode", {"platform": "instagram"}, "x\n", "enrichment_mode"),
    (
        "unknown mode",
        {"enrichment_mode": "deluxe", "platform": "instagram"},
        "x\n",
        "enrichment_mode",
    ),
    ("unknown platform", {"enrichment_mode": "raw", "platform": "myspace"}, "x\n", "platform"),
    ("raw without platform", {"enrichment_mode": "raw"}, "handle\nx\n", "platform"),
    (
        "bad boolean",
        {"enrichment_mode": "full", "platform": "instagram", "include_lookalikes": "yes"},
        "x\n",
        "include_lookalikes",
    ),
    (
        "bad metadata json",
        {"enrichment_mode": "raw", "platform": "instagram", "metadata": "{campaign"},
        "x\n",
        "metadata",
    ),
    (
        "metadata not object",
        {"enrichment_mode": "raw", "platform": "instagram", "metadata": "[1, 2]"},
        "x\n",
        "metadata",
    ),
    (
        "negative min_followers",
        {"enrichment_mode": "basic", "min_followers": "-5"},
        "a@b.co\n",
        "min_followers",
    ),
    (
        "non-integer min_followers",
        {"enrichment_mode": "basic", "min_followers": "many"},
        "a@b.co\n",
        "min_followers",
    ),
    (
        "unknown email_required",
        {"enrichment_mode": "full", "platform": "instagram", "email_required": "always"},
        "x\n",
        "email_required",
    ),
    (
        "unknown exclude_platforms",
        {"enrichment_mode": "basic", "exclude_platforms": "vine"},
        "a@b.co\n",
        "exclude_platforms",
    ),
    ("empty file", {"enrichment_mode": "raw", "platform": "instagram"}, "", "file"),
    ("header only", {"enrichment_mode": "raw", "platform": "instagram"}, "handle\n", "file"),
    (
        "no valid row",
        {"enrichment_mode": "raw", "platform": "instagram"},
        "handle\nhas space\nbad!char\n",
        "file",
    ),
    (
        "emails for a handle mode",
        {"enrichment_mode": "raw", "platform": "instagram"},
        "email\na@b.co\n",
        "file",
    ),
    ("handles for an email mode", {"enrichment_mode": "basic"}, "handle\nsomeone\n", "file"),
    (
        "several columns none named",
        {"enrichment_mode": "raw", "platform": "instagram"},
        "name,country\nA,US\n",
        "file",
    ),
    (
        "two matching columns",
        {"enrichment_mode": "raw", "platform": "instagram"},
        "handle,email\nx,a@b.co\n",
        "file",
    ),
    (
        "binary file",
        {"enrichment_mode": "raw", "platform": "instagram"},
        b"PK\x03\x04\x00\x00binary",
        "file",
    ),
]


@pytest.mark.parametrize(
    ("name", "fields", "content", "field"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS]
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(
    account: Any, engine: Any, name: str, fields: dict[str, str], content: Any, field: str
) -> None:
    response = account.create(content, **fields)
    assert response.status_code == 400, response.text
    body = response.json()
    assert field in body["errors"], body
    assert body["message"] and body["detail"] == body["message"]
    assert _batches_of(engine, account.id) == 0


def test_missing_file_field(account: Any, engine: Any) -> None:
    response = account.client.post(
        "/public/v1/enrichment/batch/",
        headers=account.headers,
        data={"enrichment_mode": "raw", "platform": "instagram"},
    )
    assert response.status_code == 400
    assert "file" in response.json()["errors"]
    assert _batches_of(engine, account.id) == 0


def test_two_file_fields(account: Any, engine: Any) -> None:
    response = account.client.post(
        "/public/v1/enrichment/batch/",
        headers=account.headers,
        data={"enrichment_mode": "raw", "platform": "instagram"},
        files=[("file", ("a.csv", b"handle\na\n")), ("file", ("b.csv", b"handle\nb\n"))],
    )
    assert response.status_code == 400
    assert "exactly one file" in response.json()["errors"]["file"][0]
    assert _batches_of(engine, account.id) == 0


def test_file_over_10_mb_is_413(account: Any, engine: Any) -> None:
    content = b"handle\n" + b"a_handle_name\n" * (11 * 1024 * 1024 // 14)
    response = account.create(content, enrichment_mode="raw", platform="instagram")
    assert response.status_code == 413
    assert "larger than" in response.json()["message"]
    assert _batches_of(engine, account.id) == 0


def test_authentication_required(client: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer ce_nope_nope"}, {"Authorization": "Basic x"}):
        response = client.get("/public/v1/accounts/credits/", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["detail"]


def test_a_wrong_method_is_405_naming_every_method_of_the_path(account: Any) -> None:
    """GET results and DELETE share `/batch/{id}/`: a 405 there lists both (schema fuzzing)."""
    for method in ("OPTIONS", "PUT", "PATCH", "POST"):
        response = account.client.request(
            method, "/public/v1/enrichment/batch/bch_x/", headers=account.headers
        )
        assert response.status_code == 405, (method, response.text)
        assert response.headers["allow"] == "DELETE, GET"
        assert response.json()["message"] == "Method Not Allowed"
    response = account.client.put("/public/v1/accounts/credits/", headers=account.headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


def test_another_accounts_batch_is_an_unknown_batch(make_account: Any, engine: Any) -> None:
    owner, stranger = make_account(), make_account()
    batch_id = owner.create(
        csv_of("handle", handles(engine, "instagram", 2)),
        enrichment_mode="raw",
        platform="instagram",
    ).json()["batch_id"]
    owner.wait(batch_id)
    unknown = "bch_" + "0" * 32
    spec = owner.client.get("/openapi.json").json()
    # Every route with a batch id, every method (the signed file is checked by its signature).
    routes = [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        if "{batch_id}" in path and not path.endswith("/file/")
        for method in operations
    ]
    assert len(routes) >= 5
    for method, path in routes:
        for params in ({}, {"format": "json"}):
            theirs = stranger.client.request(
                method,
                path.format(batch_id=batch_id),
                headers=stranger.headers,
                params=params,
            )
            missing = stranger.client.request(
                method, path.format(batch_id=unknown), headers=stranger.headers, params=params
            )
            assert theirs.status_code == missing.status_code == 404, (method, path)
            assert theirs.content == missing.content
    # Nothing the stranger did touched the owner's batch.
    assert owner.status(batch_id)["status"] == "finished"
    assert len(owner.results(batch_id)) == 2


def test_resume_of_a_batch_that_is_not_paused_is_409(account: Any, engine: Any) -> None:
    batch_id = account.create(
        csv_of("handle", handles(engine, "instagram", 2)),
        enrichment_mode="raw",
        platform="instagram",
    ).json()["batch_id"]
    account.wait(batch_id)
    response = account.client.post(
        f"/public/v1/enrichment/batch/{batch_id}/resume/", headers=account.headers
    )
    assert response.status_code == 409
    body = response.json()
    assert body["current_status"] == "finished"
    assert body["error"] and body["message"]


def test_pause_on_credits_then_resume_charges_what_a_funded_run_does(
    make_account: Any, engine: Any
) -> None:
    values = [*handles(engine, "instagram", 120), *[f"ghost_{i}" for i in range(30)]]
    content = csv_of("handle", values)

    funded = make_account(Decimal(1000))
    reference = funded.wait(
        funded.create(content, enrichment_mode="raw", platform="instagram").json()["batch_id"]
    )

    poor = make_account(Decimal("0.60"))  # pays for 20 of the 120 hits
    batch_id = poor.create(content, enrichment_mode="raw", platform="instagram").json()["batch_id"]
    paused = poor.wait(batch_id, until=("paused_insufficient_credits",))
    assert paused["credits_used"] == "0.60"
    assert "resume" in paused["status_message"]
    assert poor.credits()["credits_available"] == 0

    partial = poor.client.get(
        f"/public/v1/enrichment/batch/{batch_id}/",
        params={"format": "json"},
        headers=poor.headers,
    )
    assert partial.status_code == 200
    assert partial.headers["x-results-partial"] == "true"
    statuses = [r["status"] for r in partial.json()]
    assert statuses.count("success") == 20 and "pending" in statuses

    from creator_enrich.credits.ledger import grant

    grant(engine, poor.id, Decimal(100))
    resumed = poor.client.post(
        f"/public/v1/enrichment/batch/{batch_id}/resume/", headers=poor.headers
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] in ("queued", "processing", "finished")
    final = poor.wait(batch_id)
    assert final["status"] == "finished"
    assert final["credits_used"] == reference["credits_used"] == "3.60"
    assert final["success_count"] == reference["success_count"]
    assert [r["status"] for r in poor.results(batch_id)] == [
        r["status"] for r in funded.results(reference["batch_id"])
    ]
    assert_money_invariants(engine, poor.id, Decimal("100.60"))


def test_results_before_finish_are_refused(account: Any, engine: Any) -> None:
    """A batch that has not finished answers 400 on results (the reference's rule)."""
    from creator_enrich.batches import states
    from creator_enrich.db.engine import write_transaction

    batch_id = account.create(
        csv_of("handle", handles(engine, "instagram", 1)),
        enrichment_mode="raw",
        platform="instagram",
    ).json()["batch_id"]
    account.wait(batch_id)
    with write_transaction(engine) as conn:  # put it back to processing to see the refusal
        from sqlalchemy import update

        conn.execute(update(Batch).where(Batch.id == batch_id).values(status=states.PROCESSING))
    for suffix in ("", "download/"):
        response = account.client.get(
            f"/public/v1/enrichment/batch/{batch_id}/{suffix}", headers=account.headers
        )
        assert response.status_code == 400
        assert "processing" in response.json()["message"]


def test_signed_download_link(account: Any, engine: Any, settings: Any) -> None:
    from creator_enrich.batches import links

    batch_id = account.create(
        csv_of("handle", handles(engine, "instagram", 3)),
        enrichment_mode="raw",
        platform="instagram",
    ).json()["batch_id"]
    account.wait(batch_id)
    link = account.client.get(
        f"/public/v1/enrichment/batch/{batch_id}/download/", headers=account.headers
    ).json()
    assert {
        "download_url",
        "filename",
        "expires_in",
        "expires_at",
        "batch_id",
        "total_results",
        "invalid_records",
    } <= set(link)
    assert link["total_results"] == 3 and link["invalid_records"] == 0
    url = link["download_url"].replace("http://testserver", "")
    anonymous = account.client.get(url)  # no Bearer header
    assert anonymous.status_code == 200
    assert anonymous.text == account.results(batch_id, fmt="csv")

    other_id = "bch_" + "f" * 32
    assert account.client.get(url.replace(batch_id, other_id)).status_code == 403
    assert account.client.get(url.replace("format=csv", "format=json")).status_code == 403
    tampered = re.sub(r"expires=(\d+)", lambda m: f"expires={int(m[1]) + 1}", url)
    assert account.client.get(tampered).status_code == 403

    expires, signature = links.sign(settings.signing_key(), batch_id, -5)
    expired = account.client.get(
        f"/public/v1/enrichment/batch/{batch_id}/file/",
        params={"expires": expires, "signature": signature, "format": "csv"},
    )
    assert expired.status_code == 410
    assert "expired" in expired.json()["message"]


def test_openapi_declares_every_route_and_error(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    expected = {
        "/public/v1/enrichment/batch/": {"post": {"200", "400", "401", "403", "413", "415", "422"}},
        "/public/v1/enrichment/batch/{batch_id}/status/": {"get": {"200", "400", "401", "404"}},
        "/public/v1/enrichment/batch/{batch_id}/resume/": {
            "post": {"200", "400", "401", "403", "404", "409"}
        },
        "/public/v1/enrichment/batch/{batch_id}/": {
            "get": {"200", "400", "401", "404", "410"},
            "delete": {"200", "400", "401", "403", "404"},
        },
        "/public/v1/enrichment/batch/{batch_id}/download/": {
            "get": {"200", "400", "401", "404", "410"}
        },
        "/public/v1/enrichment/batch/{batch_id}/file/": {
            "get": {"200", "400", "403", "404", "410"}
        },
        "/public/v1/accounts/credits/": {"get": {"200", "401"}},
    }
    for path, methods in expected.items():
        for method, codes in methods.items():
            # 429 (the rate limit) is declared on every operation.
            assert set(paths[path][method]["responses"]) == codes | {"429"}, (path, method)
    assert client.get("/docs").status_code == 200


def test_chunks_that_keep_failing_end_failed_through_the_worker(account: Any, engine: Any) -> None:
    """A batch whose stored options cannot be read: every retry fails, then its rows are failed."""
    from sqlalchemy import insert

    from creator_enrich.batches import states
    from creator_enrich.batches.tasks import enqueue_chunks
    from creator_enrich.db.engine import write_transaction
    from creator_enrich.db.schema import BatchChunk, BatchRow
    from creator_enrich.db.types import utcnow

    batch_id = "bch_" + "e" * 32
    with write_transaction(engine) as conn:
        conn.execute(
            insert(Batch).values(
                id=batch_id,
                account_id=account.id,
                status=states.QUEUED,
                mode="raw",
                platform="instagram",
                type_report="ENRICH_BY_HANDLE",
                options='{"mode": "raw", "no_such_option": 1}',
                rate=Decimal("0.03"),
                og_input_number=2,
                chunks_total=1,
                created_at=utcnow(),
            )
        )
        conn.execute(
            insert(BatchRow),
            [
                {
                    "batch_id": batch_id,
                    "row_no": n,
                    "input_value": v,
                    "lookup_key": v,
                    "chunk_no": 0,
                    "weight": 1,
                }
                for n, v in ((1, "alpha"), (2, "beta"))
            ],
        )
        conn.execute(
            insert(BatchChunk).values(
                batch_id=batch_id, chunk_no=0, status=states.CHUNK_QUEUED, row_count=2
            )
        )
    enqueue_chunks(batch_id, [0])
    status = account.wait(batch_id, timeout=30)
    assert status["status"] == "failed"
    assert status["error_count"] == 2
    assert status["credits_used"] == "0.00"
    rows = account.results(batch_id)
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert "after 3 attempts" in rows[0]["reason"]


def test_row_cap_setting(account: Any, engine: Any, client: Any) -> None:
    settings = client.app.state.settings
    settings.max_rows = 5
    try:
        response = account.create(
            csv_of("handle", handles(engine, "instagram", 6)),
            enrichment_mode="raw",
            platform="instagram",
        )
    finally:
        settings.max_rows = None
    assert response.status_code == 400
    assert "more than 5 rows" in response.json()["errors"]["file"][0]
    assert _batches_of(engine, account.id) == 0
