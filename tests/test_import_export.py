"""The creator store's JSONL import and export: lossless, idempotent, tolerant of bad lines."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from creator_enrich.creators.generate import generate_store
from creator_enrich.creators.importer import export_jsonl, import_jsonl
from creator_enrich.creators.store import raw_blocks
from creator_enrich.db.engine import create_db_engine, read_connection
from creator_enrich.db.migrate import upgrade
from creator_enrich.db.schema import Creator, Profile, ProfileHistory
from tests.databases import fresh_database_url

_count = 0


def _empty_store() -> tuple[str, Any]:
    global _count
    _count += 1
    url = fresh_database_url(f"jsonl{_count}")
    upgrade(url)
    return url, create_db_engine(url)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _url, engine = _empty_store()
    generate_store(engine, creators=300, seed=21)
    path = tmp_path_factory.mktemp("jsonl") / "store.jsonl"
    with path.open("wb") as out:
        assert export_jsonl(engine, out) == 300
    engine.dispose()
    return path


def _export(engine: Any) -> bytes:
    buffer = io.BytesIO()
    export_jsonl(engine, buffer)
    return buffer.getvalue()


def _dump(engine: Any) -> list[Any]:
    with read_connection(engine) as conn:
        creators = conn.execute(select(Creator.__table__).order_by(Creator.id)).all()
        profiles = conn.execute(select(Profile.__table__).order_by(Profile.id)).all()
    return [tuple(r) for r in creators] + [tuple(r) for r in profiles]


def test_export_then_import_is_lossless(exported: Path) -> None:
    _url, engine = _empty_store()
    report = import_jsonl(engine, exported)
    assert (report.lines, report.created, report.bad_count) == (300, 300, 0)
    assert _export(engine) == exported.read_bytes()
    engine.dispose()


def test_import_twice_changes_nothing(exported: Path) -> None:
    _url, engine = _empty_store()
    import_jsonl(engine, exported)
    before = _dump(engine)
    again = import_jsonl(engine, exported)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 300)
    assert _dump(engine) == before
    engine.dispose()


def test_a_generated_store_imported_into_itself_changes_nothing(tmp_path: Path) -> None:
    # The generator gives Instagram and Twitter profiles the creator's country, which their
    # blocks do not carry: the import must find the same one in the creator's `location`.
    _url, engine = _empty_store()
    generate_store(engine, creators=120, seed=5)
    path = tmp_path / "own.jsonl"
    path.write_bytes(_export(engine))
    before = _dump(engine)
    report = import_jsonl(engine, path)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 120)
    assert _dump(engine) == before
    with read_connection(engine) as conn:
        assert conn.execute(select(ProfileHistory.profile_id)).all() == []
        assert None not in conn.execute(select(Profile.country)).scalars().all()
    engine.dispose()


def test_countries_are_read_from_names_and_from_the_creators_location(tmp_path: Path) -> None:
    def line(n: int, location: str | None, **blocks: dict[str, Any]) -> dict[str, Any]:
        return {"external_id": f"c{n}", "location": location, **blocks}

    lines = [
        # the live shapes name the country in words
        line(1, None, youtube={"id": "UC" + "b" * 22, "custom_url": "@one", "country": "Canada"}),
        line(2, None, tiktok={"username": "two", "region": "United States"}),
        # Instagram and Twitter blocks name none: the creator's location does
        line(3, "Lisbon, Portugal", instagram={"username": "three"}, twitter={"username": "t3"}),
        # the block's own country wins over the creator's
        line(4, "Brazil", youtube={"id": "UC" + "c" * 22, "custom_url": "@four", "country": "de"}),
        line(5, "Atlanta, Georgia", instagram={"username": "five"}),
        line(6, None, instagram={"username": "six"}),
    ]
    path = tmp_path / "countries.jsonl"
    path.write_bytes(b"".join(orjson.dumps(ln) + b"\n" for ln in lines))
    _url, engine = _empty_store()
    assert import_jsonl(engine, path).created == 6
    with read_connection(engine) as conn:
        rows = conn.execute(select(Profile.username, Profile.country)).all()
    assert dict(rows) == {
        "one": "CA",
        "two": "US",
        "three": "PT",
        "t3": "PT",
        "four": "DE",
        "five": None,
        "six": None,
    }
    engine.dispose()


def test_an_import_leaves_postgresql_planning_with_the_stores_size(exported: Path) -> None:
    _url, engine = _empty_store()
    import_jsonl(engine, exported)
    with read_connection(engine) as conn:
        profiles = conn.execute(select(func.count()).select_from(Profile)).scalar_one()
        if engine.dialect.name == "postgresql":
            known = conn.exec_driver_sql(
                "SELECT relname, reltuples FROM pg_class WHERE relname IN ('creators', 'profiles')"
            ).all()
            assert dict(known) == {"creators": 300, "profiles": profiles}
        else:  # SQLite: no statistics are kept, so no plan depends on stale ones
            names = conn.exec_driver_sql("SELECT name FROM sqlite_master").scalars().all()
            assert "sqlite_stat1" not in names
    engine.dispose()


def test_renamed_handle_is_the_same_creator(exported: Path, tmp_path: Path) -> None:
    _url, engine = _empty_store()
    import_jsonl(engine, exported)
    line = next(
        record
        for record in map(json.loads, exported.read_text().splitlines())
        if "instagram" in record
    )
    old = line["instagram"]["username"].lower()
    line.pop("external_id")  # only the platform user id can tell it is the same account
    line["instagram"]["username"] = "renamed_account_77"
    path = tmp_path / "rename.jsonl"
    path.write_bytes(orjson.dumps(line) + b"\n")
    report = import_jsonl(engine, path)
    assert (report.created, report.updated) == (0, 1)
    with read_connection(engine) as conn:
        assert raw_blocks(conn, "instagram", [old]) == {}
        assert "renamed_account_77" in raw_blocks(conn, "instagram", ["renamed_account_77"])
        creators = conn.execute(select(Creator.id)).all()
    assert len(creators) == 300
    engine.dispose()


def test_gzip_input_is_recognised_by_content(exported: Path, tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "store.data"  # no .gz suffix: detection is by magic bytes
    path.write_bytes(gzip.compress(exported.read_bytes()))
    _url, engine = _empty_store()
    assert import_jsonl(engine, path).created == 300
    engine.dispose()


def test_bad_lines_are_reported_by_number_and_the_rest_imported(tmp_path: Path) -> None:
    good = {"email": "a.b@example.com", "instagram": {"username": "good_one", "userid": "1"}}
    lines = [
        orjson.dumps(good).decode(),
        "{not json",
        "[1, 2]",
        '{"email": "x@example.com"}',
        '{"instagram": {"userid": "2"}}',
        '{"instagram": {"username": "has space"}}',
        "",
        orjson.dumps({"tiktok": {"username": "fine_too", "user_id": "3"}}).decode(),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    _url, engine = _empty_store()
    report = import_jsonl(engine, path)
    assert report.created == 2
    assert [b.split(":")[0] for b in report.bad] == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
        "line 6",
    ]
    assert "not valid JSON" in report.bad[0]
    assert "no platform block" in report.bad[2]
    assert "username" in report.bad[3]
    assert "space" in report.bad[4]
    engine.dispose()


def test_a_clash_rejects_only_its_line(tmp_path: Path) -> None:
    """New creators go in bulk; when one of them clashes, only that line is rejected."""
    lines = [
        {"external_id": "ext-1", "instagram": {"username": "first_one", "userid": "11"}},
        {"instagram": {"username": "second_one", "userid": "12"}},
        # The same external id as line 1 with other accounts: it cannot be line 1's creator.
        {"external_id": "ext-1", "tiktok": {"username": "third_one", "user_id": "13"}},
        {"tiktok": {"username": "fourth_one", "user_id": "14"}},
    ]
    path = tmp_path / "clash.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    _url, engine = _empty_store()
    report = import_jsonl(engine, path)
    assert (report.created, report.bad_count) == (3, 1)
    assert report.bad == ["line 3: a handle or external_id here belongs to another creator"]
    with read_connection(engine) as conn:
        handles = set(conn.execute(select(Profile.handle_key)).scalars())
    assert handles == {"first_one", "second_one", "fourth_one"}
    engine.dispose()


def test_unknown_keys_and_audience_round_trip(tmp_path: Path) -> None:
    line = {
        "external_id": "crm-42",
        "email": "Someone@Example.com",
        "favourite_colour": "teal",
        "youtube": {
            "id": "UC" + "a" * 22,
            "custom_url": "@SomeOne",
            "subscriber_count": 1200,
            "video_count": 3,
            "channel_mood": {"calm": True},
            "audience": {"audience_followers": {"success": False, "error": "empty_audience"}},
        },
    }
    path = tmp_path / "one.jsonl"
    path.write_bytes(orjson.dumps(line) + b"\n")
    _url, engine = _empty_store()
    import_jsonl(engine, path)
    exported = json.loads(_export(engine))
    assert exported["external_id"] == "crm-42"
    assert exported["favourite_colour"] == "teal"
    assert exported["email"] == "Someone@Example.com"  # verbatim in the record
    block = exported["youtube"]
    for key, value in line["youtube"].items():  # type: ignore[attr-defined]
        assert block[key] == value
    with read_connection(engine) as conn:
        stored = conn.execute(select(Creator.email)).scalar_one()
    assert stored == "someone@example.com"  # normalised for lookups
    engine.dispose()


def test_cli_import_and_export(exported: Path, tmp_path: Path) -> None:
    url = fresh_database_url("jsonl_cli")
    env = {
        **os.environ,
        "CREATOR_ENRICH_DATA_DIR": str(tmp_path),
        "CREATOR_ENRICH_DATABASE_URL": url,
    }
    cli = [sys.executable, "-m", "creator_enrich", "data"]
    done = subprocess.run(
        [*cli, "import", str(exported)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "300 created" in done.stdout
    out = tmp_path / "back.jsonl.gz"
    subprocess.run(
        [*cli, "export", "--out", str(out)], env=env, capture_output=True, timeout=120, check=True
    )
    import gzip

    assert gzip.decompress(out.read_bytes()) == exported.read_bytes()
    missing = subprocess.run(
        [*cli, "import", str(tmp_path / "nope.jsonl")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert "cannot read" in missing.stderr
