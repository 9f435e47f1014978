"""Every mode and option, batch and single, against the reference's record shapes.

The key lists in ``enrichment.fields`` and the live shapes in ``enrichment/shapes`` are the
specification: these tests are table-driven from them, per platform and mode.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import pytest

from creator_enrich.enrichment.fields import (
    BASIC_FIELDS,
    CREATOR_FIELDS,
    FULL_FIELDS,
    PLATFORMS,
    RAW_FIELDS,
    SECONDARY_FIELDS,
)
from tests.helpers import assert_money_invariants, csv_of, emails, handles

AUDIENCE_PLATFORMS = ("instagram", "tiktok", "youtube")


@cache
def shape(platform: str) -> dict[str, Any]:
    files = resources.files("creator_enrich.enrichment") / "shapes" / f"{platform}-full.json"
    if not files.is_file():
        return {}
    return json.loads(files.read_bytes())["result"]  # type: ignore[no-any-return]


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def assert_types_match(record: Any, template: Any, path: str = "") -> None:
    """Every value whose template is typed (not null) has the template's JSON type, recursively."""
    if template is None or record is None:
        return
    assert json_type(record) == json_type(template), (path, record, template)
    if isinstance(template, dict):
        for key, sub in template.items():
            if key in record:
                assert_types_match(record[key], sub, f"{path}.{key}")
    elif isinstance(template, list) and template:
        for item in record:
            assert_types_match(item, template[0], f"{path}[]")


def batch_records(account: Any, content: str, **fields: str) -> list[dict[str, Any]]:
    response = account.create(content, **fields)
    assert response.status_code == 200, response.text
    batch_id = response.json()["batch_id"]
    assert account.wait(batch_id)["status"] == "finished"
    return account.results(batch_id)  # type: ignore[no-any-return]


def single(account: Any, path: str, body: dict[str, Any]) -> Any:
    return account.client.post(
        f"/public/v1/creators/enrich/{path}", json=body, headers=account.headers
    )


@pytest.mark.parametrize("platform", PLATFORMS)
def test_raw_records_carry_the_raw_keys(account: Any, engine: Any, platform: str) -> None:
    rows = batch_records(
        account,
        csv_of("handle", handles(engine, platform, 3)),
        enrichment_mode="raw",
        platform=platform,
    )
    for row in rows:
        assert row["status"] == "success"
        record = row["enrichment_data"]
        assert list(record) == [platform]
        assert list(record[platform]) == list(RAW_FIELDS[platform])
        assert_types_match(record[platform], shape(platform).get(platform))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_full_records_carry_the_full_keys(account: Any, engine: Any, platform: str) -> None:
    rows = batch_records(
        account,
        csv_of("handle", handles(engine, platform, 5)),
        enrichment_mode="full",
        platform=platform,
        include_lookalikes="false",
        include_audience_data="true",
    )
    live = shape(platform)
    for row in rows:
        record = row["enrichment_data"]
        block = record[platform]
        expected = list(FULL_FIELDS[platform])
        if platform in AUDIENCE_PLATFORMS:
            expected.append("audience")
            assert set(block["audience"]) == set(live[platform]["audience"])
        assert list(block) == expected
        assert_types_match(block, live.get(platform))
        assert set(CREATOR_FIELDS) <= set(record)
        assert_types_match({k: record[k] for k in CREATOR_FIELDS}, _creator_template())
        for other in set(record) & set(PLATFORMS) - {platform}:
            assert list(record[other]) == list(SECONDARY_FIELDS)
        assert "lookalikes" not in record


@cache
def _creator_template() -> dict[str, Any]:
    return {k: v for k, v in shape("youtube").items() if k in CREATOR_FIELDS}


def test_full_audience_only_when_asked_and_only_where_it_exists(account: Any, engine: Any) -> None:
    for platform in ("instagram", "twitter"):
        rows = batch_records(
            account,
            csv_of("handle", handles(engine, platform, 2)),
            enrichment_mode="full",
            platform=platform,
            include_lookalikes="false",
            include_audience_data="false",
        )
        assert all("audience" not in r["enrichment_data"][platform] for r in rows)
    rows = batch_records(
        account,
        csv_of("handle", handles(engine, "twitter", 2)),
        enrichment_mode="full",
        platform="twitter",
        include_lookalikes="false",
        include_audience_data="true",
    )
    assert all("audience" not in r["enrichment_data"]["twitter"] for r in rows)


def test_full_lookalikes_are_similar_creators_never_itself(account: Any, engine: Any) -> None:
    known = handles(engine, "instagram", 20)
    rows = batch_records(
        account,
        csv_of("handle", known),
        enrichment_mode="full",
        platform="instagram",
        include_audience_data="false",  # include_lookalikes defaults to true in batch
    )
    for handle, row in zip(known, rows, strict=True):
        lookalikes = row["enrichment_data"]["lookalikes"]
        assert 0 < len(lookalikes) <= 10
        for item in lookalikes:
            assert list(item) == ["username", "profile_url", "engagement_percent", "follower_count"]
            assert item["username"].lower() != handle.lower()
            assert isinstance(item["follower_count"], int)


def test_email_required_must_have_returns_and_charges_only_creators_with_email(
    make_account: Any, engine: Any
) -> None:
    known = handles(engine, "instagram", 60)
    content = csv_of("handle", known)
    preferred, strict = make_account(), make_account()
    loose_rows = batch_records(
        preferred,
        content,
        enrichment_mode="full",
        platform="instagram",
        include_lookalikes="false",
        include_audience_data="false",
    )
    strict_rows = batch_records(
        strict,
        content,
        enrichment_mode="full",
        platform="instagram",
        email_required="must_have",
        include_lookalikes="false",
        include_audience_data="false",
    )
    with_email = [r for r in loose_rows if r["enrichment_data"]["email"]]
    assert 0 < len(with_email) < len(loose_rows)
    assert all(r["status"] == "success" for r in loose_rows)
    for loose, tight in zip(loose_rows, strict_rows, strict=True):
        if loose["enrichment_data"]["email"]:
            assert tight["enrichment_data"] == loose["enrichment_data"]
        else:
            assert tight["status"] == "not_found"
            assert "email" in tight["reason"]
    assert strict.credits()["credits_used"] == len(with_email)
    assert preferred.credits()["credits_used"] == len(loose_rows)
    assert_money_invariants(engine, strict.id, Decimal(1000))


def test_basic_records_carry_the_basic_keys(account: Any, engine: Any) -> None:
    rows = batch_records(account, csv_of("email", emails(engine, 10)), enrichment_mode="basic")
    for row in rows:
        record = row["enrichment_data"]
        assert list(record) == list(BASIC_FIELDS)
        assert [json_type(record[k]) for k in BASIC_FIELDS] == [
            "string",
            "string",
            "string",
            "string",
            "string",
            "string",
            "number",
        ]


def test_advanced_records_every_platform_filtered(account: Any, engine: Any) -> None:
    known = emails(engine, 60)
    everything = batch_records(account, csv_of("email", known), enrichment_mode="advanced")
    filtered = batch_records(
        account,
        csv_of("email", known),
        enrichment_mode="advanced",
        exclude_platforms="instagram",
        min_followers="5000",
    )
    multi = 0
    for row, narrow in zip(everything, filtered, strict=True):
        record = row["enrichment_data"]
        platforms = [k for k in record if k in PLATFORMS]
        multi += len(platforms) > 1
        for platform in platforms:
            assert list(record[platform]) == list(FULL_FIELDS[platform])
        assert set(CREATOR_FIELDS) <= set(record)
        kept = [p for p in platforms if p != "instagram" and _followers(record[p], p) >= 5000]
        if kept:
            assert [k for k in narrow["enrichment_data"] if k in PLATFORMS] == kept
        else:
            assert narrow["status"] == "not_found"
    assert multi > 0


def _followers(block: dict[str, Any], platform: str) -> int:
    from creator_enrich.enrichment.fields import FOLLOWER_KEY

    return int(block[FOLLOWER_KEY[platform]])


SINGLE_CASES = [
    ("handle/raw/", "raw", {}),
    ("handle/full/", "full", {"include_audience_data": True, "include_lookalikes": True}),
]


@pytest.mark.parametrize(("path", "mode", "extra"), SINGLE_CASES, ids=["raw", "full"])
def test_single_and_batch_give_the_same_record(
    account: Any, engine: Any, path: str, mode: str, extra: dict[str, Any]
) -> None:
    known = handles(engine, "youtube", 4)
    fields = {k: str(v).lower() for k, v in extra.items()}
    rows = batch_records(
        account, csv_of("handle", known), enrichment_mode=mode, platform="youtube", **fields
    )
    for handle, row in zip(known, rows, strict=True):
        response = single(account, path, {"handle": handle, "platform": "youtube", **extra})
        assert response.status_code == 200, response.text
        body = response.json()
        assert list(body) == ["result", "credits_cost", "trial_searches_left"]
        assert body["result"] == row["enrichment_data"]


def test_single_email_calls_match_batch(account: Any, engine: Any) -> None:
    known = emails(engine, 3)
    for path, mode in (("email/", "basic"), ("email/advanced/", "advanced")):
        rows = batch_records(account, csv_of("email", known), enrichment_mode=mode)
        for email, row in zip(known, rows, strict=True):
            response = single(account, path, {"email": email.upper()})
            assert response.status_code == 200, response.text
            assert response.json()["result"] == row["enrichment_data"]


RATES = {
    "handle/raw/": Decimal("0.03"),
    "handle/full/": Decimal("1"),
    "handle/profile/": Decimal("0.2"),
    "handle/analytics/": Decimal("0.8"),
}


@pytest.mark.parametrize("path", list(RATES))
def test_single_handle_calls_charge_their_rate_once(
    make_account: Any, engine: Any, path: str
) -> None:
    account = make_account(Decimal(10))
    handle = handles(engine, "tiktok", 1)[0]
    response = single(account, path, {"handle": "@" + handle, "platform": "tiktok"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert Decimal(str(body["credits_cost"])) == RATES[path]
    assert body["trial_searches_left"] == 0
    assert "tiktok" in body["result"]
    credits = account.credits()
    assert Decimal(str(credits["credits_used"])) == RATES[path]
    assert_money_invariants(engine, account.id, Decimal(10))


def test_single_profile_and_analytics_shapes(account: Any, engine: Any) -> None:
    handle = handles(engine, "instagram", 1)[0]
    profile = single(account, "handle/profile/", {"handle": handle, "platform": "instagram"})
    record = profile.json()["result"]
    assert list(record["instagram"]) == list(RAW_FIELDS["instagram"])
    assert set(CREATOR_FIELDS) <= set(record)
    analytics = single(account, "handle/analytics/", {"handle": handle, "platform": "instagram"})
    record = analytics.json()["result"]
    assert list(record) == ["instagram"]
    assert list(record["instagram"]) == [*FULL_FIELDS["instagram"], "audience"]


def test_single_miss_is_404_and_free(make_account: Any) -> None:
    account = make_account(Decimal(5))
    for path, body in (
        ("handle/raw/", {"handle": "nobody_at_all_42", "platform": "instagram"}),
        ("handle/full/", {"handle": "nobody_at_all_42", "platform": "instagram"}),
        ("email/", {"email": "nobody@nowhere.example"}),
        ("email/advanced/", {"email": "nobody@nowhere.example"}),
    ):
        response = single(account, path, body)
        assert response.status_code == 404
        assert response.json()["detail"] == "No data found"
        assert response.json()["credits_cost"] == 0
    assert account.credits() == {"credits_available": 5, "credits_used": 0}


def test_single_without_credits_is_402_and_free(make_account: Any, engine: Any) -> None:
    account = make_account(Decimal("0.5"))
    handle = handles(engine, "instagram", 1)[0]
    response = single(account, "handle/full/", {"handle": handle, "platform": "instagram"})
    assert response.status_code == 402
    assert "Insufficient credits" in response.json()["message"]
    assert account.credits() == {"credits_available": 0.5, "credits_used": 0}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("handle/raw/", {"handle": "has space", "platform": "instagram"}, "handle"),
        ("handle/raw/", {"handle": "x", "platform": "myspace"}, "platform"),
        ("handle/raw/", {"platform": "instagram"}, "handle"),
        (
            "handle/full/",
            {"handle": "x", "platform": "tiktok", "email_required": "always"},
            "email_required",
        ),
        ("email/", {"email": "not-an-email"}, "email"),
        ("email/advanced/", {"email": "a@b.co", "min_followers": -1}, "min_followers"),
        (
            "email/advanced/",
            {"email": "a@b.co", "exclude_platforms": ["vine"]},
            "exclude_platforms.0",
        ),
    ],
)
def test_single_bad_input_is_400_naming_the_field(
    account: Any, path: str, body: dict[str, Any], field: str
) -> None:
    response = single(account, path, body)
    assert response.status_code == 400, response.text
    assert field in response.json()["errors"]
    assert account.credits()["credits_used"] == 0


def test_single_length_limits_in_the_schema_are_the_ones_the_server_applies(account: Any) -> None:
    """The schema allowed 320-character emails and 500-character handles that the server then
    refused (schema fuzzing, positive data acceptance): the longest value the schema allows is
    looked up, one more character is a 400 naming the field."""
    schemas = account.client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["EmailBasic"]["properties"]["email"]["maxLength"] == 254
    assert schemas["HandleRaw"]["properties"]["handle"]["maxLength"] == 255
    longest_email = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 61
    assert len(longest_email) == 254
    assert single(account, "email/", {"email": longest_email}).status_code == 404
    too_long = single(account, "email/", {"email": "a" + longest_email})
    assert too_long.status_code == 400 and "email" in too_long.json()["errors"]
    url = "https://instagram.com/" + "x" * 30 + "/?" + "q" * 201
    assert len(url) == 255
    assert (
        single(account, "handle/raw/", {"handle": url, "platform": "instagram"}).status_code == 404
    )
    too_long = single(account, "handle/raw/", {"handle": url + "q", "platform": "instagram"})
    assert too_long.status_code == 400 and "handle" in too_long.json()["errors"]
    assert account.credits()["credits_used"] == 0


def test_single_body_that_is_not_json_is_400(account: Any) -> None:
    response = account.client.post(
        "/public/v1/creators/enrich/handle/raw/",
        content=b"{not json",
        headers={**account.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_full_csv_header_is_stable_and_flattened(account: Any, engine: Any) -> None:
    response = account.create(
        csv_of("handle", handles(engine, "instagram", 2)),
        enrichment_mode="full",
        platform="instagram",
        include_lookalikes="false",
    )
    batch_id = response.json()["batch_id"]
    account.wait(batch_id)
    header = next(csv.reader(io.StringIO(account.results(batch_id, fmt="csv"))))
    assert header[:3] == ["input_value", "status", "instagram.username"]
    assert "instagram.reels.avg_like_count" in header
    assert "instagram.audience" in header
    assert "creator_has.youtube" in header
    assert "youtube.follower_count" in header
    assert header[-2:] == ["lookalikes", "reason"]
