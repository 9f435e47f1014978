"""The lookalike index: similar creators by niche, audience geography and size; persisted,
rebuilt when the store changes, safe to call from many threads."""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from creator_enrich.creators.generate import generate_store
from creator_enrich.db.engine import create_db_engine, read_connection, write_transaction
from creator_enrich.db.migrate import upgrade
from creator_enrich.db.schema import Profile
from creator_enrich.enrichment import lookalike_index
from creator_enrich.enrichment.lookalike_index import features, lookalikes_for
from tests.databases import fresh_database_url


@pytest.fixture(scope="module")
def store() -> Any:
    url = fresh_database_url("lookalikes")
    upgrade(url)
    engine = create_db_engine(url)
    generate_store(engine, creators=2500, seed=8)
    yield engine
    engine.dispose()


def _profiles(engine: Any, platform: str = "instagram") -> list[Any]:
    with read_connection(engine) as conn:
        return conn.execute(
            select(Profile.id, Profile.username, Profile.niche, Profile.followers)
            .where(Profile.platform == platform)
            .order_by(Profile.id)
        ).all()


def test_lookalikes_share_the_niche_and_size_never_the_creator(store: Any, tmp_path: Path) -> None:
    rows = _profiles(store)[:100]
    by_name = {r.username: r for r in _profiles(store)}
    found = lookalikes_for(store, tmp_path, "instagram", [r.id for r in rows], k=10)
    same_niche = same_band = total = 0
    for row in rows:
        items = found[row.id]
        assert len(items) == 10
        for item in items:
            assert list(item) == ["username", "profile_url", "engagement_percent", "follower_count"]
            assert isinstance(item["username"], str)
            assert item["profile_url"].startswith("https://")
            assert isinstance(item["engagement_percent"], float)
            assert isinstance(item["follower_count"], int)
            assert item["username"] != row.username
            other = by_name[item["username"]]
            same_niche += other.niche == row.niche
            same_band += int(math.log10(other.followers)) == int(math.log10(row.followers))
            total += 1
    # Twelve niches: chance alone would give about 0.08.
    assert same_niche / total >= 0.9
    assert same_band / total >= 0.6


def test_size_is_a_distance_not_a_direction() -> None:
    small = features("gaming", "US", 10_000, 3.0)
    bigger = features("gaming", "US", 100_000, 3.0)
    much_bigger = features("gaming", "US", 10_000_000, 3.0)
    other_niche = features("beauty", "US", 10_000, 3.0)
    dist = lambda a, b: float(((a - b) ** 2).sum())  # noqa: E731
    assert dist(small, bigger) < dist(small, much_bigger)
    assert dist(small, bigger) < dist(small, other_niche)


def test_index_is_saved_reused_and_rebuilt_when_the_store_changes(
    store: Any, tmp_path: Path
) -> None:
    platform = "tiktok"
    first = _profiles(store, platform)[0]
    saved = tmp_path / "lookalikes" / f"{platform}.usearch"
    lookalikes_for(store, tmp_path, platform, [first.id])
    built = saved.stat().st_mtime_ns

    lookalike_index._loaded.clear()  # as a new process would: the saved index is reused
    lookalikes_for(store, tmp_path, platform, [first.id])
    assert saved.stat().st_mtime_ns == built

    with write_transaction(store) as conn:  # the store changes: a twin of the first profile
        twin = conn.execute(
            insert(Profile)
            .values(
                creator_id=1,
                platform=platform,
                handle_key="fresh_twin_1",
                username="fresh_twin_1",
                followers=first.followers,
                engagement_percent=5.0,
                niche=first.niche,
                country="US",
                profile_url="https://www.tiktok.com/@fresh_twin_1",
                raw_json="{}",
            )
            .returning(Profile.id)
        ).scalar_one()
    # Asked about a profile newer than the index: the store is compared at once, not in 30 s.
    found = lookalikes_for(store, tmp_path, platform, [twin])
    assert saved.stat().st_mtime_ns > built
    assert found[twin]
    assert all(item["username"] != "fresh_twin_1" for item in found[twin])


def test_many_threads_at_once(store: Any, tmp_path: Path) -> None:
    ids = [r.id for r in _profiles(store, "youtube")[:50]]
    results: list[dict[int, Any]] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            results.append(lookalikes_for(store, tmp_path, "youtube", ids))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 8
    assert all(r == results[0] for r in results)


def test_data_index_builds_the_platforms_asked_for_and_names_an_unknown_one(
    tmp_path: Path,
) -> None:
    import os
    import subprocess

    from tests.processes import CLI, cli

    env = {
        **os.environ,
        "CREATOR_ENRICH_DATA_DIR": str(tmp_path),
        "CREATOR_ENRICH_DATABASE_URL": fresh_database_url("index_cli"),
    }
    cli(env, "db", "upgrade")
    cli(env, "data", "generate", "--creators", "300", "--seed", "4")
    built = cli(env, "data", "index", "--platform", "instagram", "--platform", "tiktok")
    assert [line.split()[0] for line in built.stdout.splitlines()[:2]] == ["instagram", "tiktok"]
    assert sorted(p.name for p in (tmp_path / "lookalikes").glob("*.usearch")) == [
        "instagram.usearch",
        "tiktok.usearch",
    ]
    wrong = subprocess.run(
        [*CLI, "data", "index", "--platform", "myspace"], env=env, capture_output=True, text=True
    )
    assert wrong.returncode == 1
    assert "unknown platform myspace" in wrong.stderr
    assert sorted(p.name for p in (tmp_path / "lookalikes").glob("*.usearch")) == [
        "instagram.usearch",
        "tiktok.usearch",
    ]
