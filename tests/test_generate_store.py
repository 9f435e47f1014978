"""The synthetic store: deterministic, realistic where enrichment cares, shaped like the
reference's records."""

from __future__ import annotations

import io
import os
import statistics
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from creator_enrich.creators.generate import generate_store
from creator_enrich.creators.importer import export_jsonl
from creator_enrich.db.engine import create_db_engine, read_connection
from creator_enrich.db.migrate import upgrade
from creator_enrich.db.schema import Creator, Profile
from creator_enrich.enrichment.fields import CREATOR_FIELDS, FULL_FIELDS, RAW_FIELDS
from tests.databases import fresh_database_url

CREATORS = 2000
_made = 0


def _store(seed: int, workers: int = 1) -> Any:
    global _made
    _made += 1
    url = fresh_database_url(f"generated{_made}")
    upgrade(url)
    engine = create_db_engine(url)
    generate_store(engine, creators=CREATORS, seed=seed, workers=workers)
    return engine


def _export(engine: Any) -> bytes:
    out = io.BytesIO()
    export_jsonl(engine, out)
    return out.getvalue()


@pytest.fixture(scope="module")
def store() -> Any:
    engine = _store(seed=5)
    yield engine
    engine.dispose()


def test_same_seed_same_store_whatever_the_number_of_processes(store: Any) -> None:
    again = _store(seed=5, workers=2)
    other = _store(seed=6)
    assert _export(again) == _export(store)
    assert _export(other) != _export(store)
    again.dispose()
    other.dispose()


def _profiles(engine: Any) -> list[Any]:
    with read_connection(engine) as conn:
        return conn.execute(
            select(
                Profile.id,
                Profile.handle_key,
                Profile.audience_countries,
                Profile.creator_id,
                Profile.platform,
                Profile.followers,
                Profile.engagement_percent,
                Profile.raw_json,
                Profile.full_json,
                Profile.audience_json,
                Profile.niche,
                Profile.country,
            ).order_by(Profile.id)
        ).all()


def test_followers_are_heavy_tailed_and_engagement_falls_with_size(store: Any) -> None:
    profiles = _profiles(store)
    followers = [p.followers for p in profiles]
    assert statistics.mean(followers) > 3 * statistics.median(followers)
    assert max(followers) > 100 * statistics.median(followers)
    # Twitch blocks carry no engagement, so neither do Twitch profiles (as an import would read).
    assert all((p.engagement_percent is None) == (p.platform == "twitch") for p in profiles)
    ranked = sorted((p for p in profiles if p.platform != "twitch"), key=lambda p: p.followers)
    tenth = len(ranked) // 10
    small = statistics.mean(p.engagement_percent for p in ranked[:tenth])
    big = statistics.mean(p.engagement_percent for p in ranked[-tenth:])
    assert big < small


def test_platforms_emails_niches_and_countries(store: Any) -> None:
    profiles = _profiles(store)
    per_creator: dict[int, int] = {}
    for p in profiles:
        per_creator[p.creator_id] = per_creator.get(p.creator_id, 0) + 1
    multi = sum(n > 1 for n in per_creator.values()) / CREATORS
    assert 0.25 < multi < 0.42  # about a third
    with read_connection(store) as conn:
        emails = conn.execute(
            select(func.count()).select_from(Creator).where(Creator.email.is_not(None))
        ).scalar_one()
    assert 0.33 < emails / CREATORS < 0.47  # about 40 %
    assert len({p.niche for p in profiles}) == 12
    assert len({p.country for p in profiles}) >= 10
    assert {p.platform for p in profiles} == set(RAW_FIELDS)


def test_blocks_have_the_key_lists_and_agree_with_each_other(store: Any) -> None:
    for p in _profiles(store)[:500]:
        raw, full = orjson.loads(p.raw_json), orjson.loads(p.full_json)
        assert list(raw) == list(RAW_FIELDS[p.platform])
        assert list(full) == list(FULL_FIELDS[p.platform])
        shared = set(raw) & set(full) - {"post_data"}
        assert {k: raw[k] for k in shared} == {k: full[k] for k in shared}
    with read_connection(store) as conn:
        data = orjson.loads(conn.execute(select(Creator.data).limit(1)).scalar_one())
    assert list(data) == list(CREATOR_FIELDS)


def test_audience_is_consistent_with_niche_and_country(store: Any) -> None:
    female_share: dict[str, list[float]] = {}
    for p in _profiles(store):
        if p.audience_json is None:
            assert p.platform not in ("instagram", "tiktok", "youtube")
            continue
        followers = orjson.loads(p.audience_json)["audience_followers"]["data"]
        countries = followers["audience_geo"]["countries"]
        assert countries[0]["code"] == p.country  # the creator's country leads
        assert abs(sum(c["weight"] for c in countries) - 1) < 0.01
        genders = {g["code"]: g["weight"] for g in followers["audience_genders"]}
        female_share.setdefault(p.niche, []).append(genders["FEMALE"])
    assert statistics.mean(female_share["beauty"]) > 0.7
    assert statistics.mean(female_share["gaming"]) < 0.3


def test_handles_never_collide_across_creators() -> None:
    from creator_enrich.creators.generate import _Generator

    gen = _Generator(3)
    for platform in RAW_FIELDS:
        handles = [gen.handle(platform, "emma", "smith", index) for index in range(30_000)]
        assert len(set(handles)) == len(handles), platform


def test_the_store_takes_new_creators_after_generation(store: Any) -> None:
    """Generated ids are explicit; a creator added afterwards still gets a free id."""
    from sqlalchemy import insert

    from creator_enrich.db.engine import write_transaction

    with write_transaction(store) as conn:
        new_id = conn.execute(insert(Creator).values(data="{}").returning(Creator.id)).scalar_one()
    assert new_id > CREATORS


def test_a_raw_only_store_holds_the_same_profiles_without_full_and_audience_blocks(
    store: Any,
) -> None:
    """Same seed, same creators, handles, raw blocks and lookalike columns; only the full and
    audience blocks are left out."""
    url = fresh_database_url("generated_raw_only")
    upgrade(url)
    lean = create_db_engine(url)
    generate_store(lean, creators=CREATORS, seed=5, raw_only=True, workers=2)

    full, raw_only = _profiles(store), _profiles(lean)
    assert len(raw_only) == len(full) > CREATORS

    def same(p: Any) -> tuple[Any, ...]:
        return (p.id, p.handle_key, p.followers, p.niche, p.audience_countries, p.raw_json)

    assert [same(p) for p in raw_only] == [same(p) for p in full]
    assert {(r.full_json, r.audience_json) for r in raw_only} == {(None, None)}
    assert sum(r.audience_countries is not None for r in raw_only) > CREATORS / 2
    lean.dispose()


def test_the_cli_generates_a_raw_only_store(tmp_path: Path) -> None:
    from tests.processes import cli

    env = {
        **os.environ,
        "CREATOR_ENRICH_DATA_DIR": str(tmp_path),
        "CREATOR_ENRICH_DATABASE_URL": fresh_database_url("generated_cli_raw_only"),
    }
    cli(env, "db", "upgrade")
    done = cli(env, "data", "generate", "--creators", "40", "--seed", "5", "--raw-only")
    assert "generated 40 creators" in done.stderr
    engine = create_db_engine(env["CREATOR_ENRICH_DATABASE_URL"])
    with read_connection(engine) as conn:
        blocks = conn.execute(select(Profile.raw_json, Profile.full_json)).all()
    engine.dispose()
    assert len(blocks) >= 40
    assert all(raw.startswith("{") and full is None for raw, full in blocks)
