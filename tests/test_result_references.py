"""Found raw and full results refer to their profile instead of copying its block, and still
never change after they were charged: an import that changes the profile keeps the old blocks in
the profile history, and an import between a chunk's read and its commit makes the commit read
again. History that no stored result can need is deleted by the sweeper.
"""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, update

from creator_enrich.accounts.service import Caller, create_account
from creator_enrich.batches import processing
from creator_enrich.batches.create_form import parse_create_form
from creator_enrich.batches.exports import BIG_RECORD_PAGE, stream_csv, stream_json
from creator_enrich.batches.retention import drop_contents, forget_profile_history
from creator_enrich.batches.service import create_batch, get_batch_unchecked
from creator_enrich.config import Settings
from creator_enrich.creators import revisions
from creator_enrich.creators import store as store_lookup
from creator_enrich.creators.generate import generate_store
from creator_enrich.creators.handles import normalise_handle
from creator_enrich.creators.importer import export_jsonl, import_jsonl
from creator_enrich.db.engine import create_db_engine, read_connection, write_transaction
from creator_enrich.db.migrate import downgrade, upgrade
from creator_enrich.db.schema import (
    Batch,
    BatchResult,
    BatchRow,
    Creator,
    Profile,
    ProfileHistory,
)
from creator_enrich.db.types import utcnow
from creator_enrich.enrichment.options import EnrichOptions
from creator_enrich.enrichment.records import EnrichContext, enrich
from tests.databases import DATA_DIR, fresh_database_url
from tests.helpers import csv_of, handles, ledger_rows

_stores = itertools.count()
FULL_WITH_AUDIENCE = {"include_audience_data": "true", "include_lookalikes": "false"}


@pytest.fixture
def store() -> Any:
    """A store of its own: the tests change profiles in it."""
    url = fresh_database_url(f"references{next(_stores)}")
    upgrade(url)
    engine = create_db_engine(url)
    generate_store(engine, creators=200, seed=13)
    yield engine
    engine.dispose()


def _known(engine: Any, count: int) -> list[str]:
    """Instagram handles of the store, as lookup keys (so they name the outcomes too)."""
    return [normalise_handle("instagram", h) for h in handles(engine, "instagram", count)]


def _create(engine: Any, mode: str, values: list[str], **fields: str) -> str:
    settings = Settings(chunk_size=10)
    account_id = create_account(engine, f"r-{uuid.uuid4().hex[:8]}", Decimal(100))
    caller = Caller(account_id=account_id, key_id="test", read_only=False)
    by_email = mode in ("basic", "advanced")
    form = {"enrichment_mode": [mode]} | ({} if by_email else {"platform": ["instagram"]})
    form |= {name: [value] for name, value in fields.items()}
    request = parse_create_form(form, settings)
    upload = csv_of("email" if by_email else "handle", values).encode()
    created, _ = create_batch(engine, settings, caller, request, upload)
    return str(created["batch_id"])


def _run(engine: Any, mode: str, values: list[str], **fields: str) -> str:
    batch_id = _create(engine, mode, values, **fields)
    with read_connection(engine) as conn:
        chunks = conn.execute(select(Batch.chunks_total).where(Batch.id == batch_id)).scalar_one()
    for chunk_no in range(chunks):
        assert processing.process_chunk(engine, batch_id, chunk_no, 60, DATA_DIR) == "done"
    return batch_id


def _json(engine: Any, batch_id: str) -> list[dict[str, Any]]:
    body = b"".join(stream_json(engine, get_batch_unchecked(engine, batch_id)))
    return orjson.loads(body)  # type: ignore[no-any-return]


def _csv(engine: Any, batch_id: str) -> list[list[str]]:
    body = b"".join(stream_csv(engine, get_batch_unchecked(engine, batch_id))).decode()
    return list(csv.reader(io.StringIO(body)))


def _stored(engine: Any, batch_id: str) -> dict[int, Any]:
    with read_connection(engine) as conn:
        rows = conn.execute(
            select(BatchResult.row_no, BatchResult.data, BatchResult.profile_id).where(
                BatchResult.batch_id == batch_id
            )
        ).all()
    return {row.row_no: row for row in rows}


def _whole_records(engine: Any, mode: str, keys: list[str], **flags: bool) -> dict[str, Any]:
    """What a single enrichment answers for each handle: the record with every block in it."""
    options = EnrichOptions(mode=mode, platform="instagram", **flags)
    lookup = {key: normalise_handle("instagram", key) for key in keys}
    with read_connection(engine) as conn:
        outcomes = enrich(
            EnrichContext(conn, engine, DATA_DIR), options, sorted(set(lookup.values()))
        )
    return {
        key: orjson.loads(o.data) if (o := outcomes[k]).data else None for key, k in lookup.items()
    }


def _change_instagram(engine: Any, tmp_path: Path, handle: str, **changes: str) -> None:
    """Import the creator of ``handle`` (a lookup key) again with its Instagram block changed."""
    exported = io.BytesIO()
    export_jsonl(engine, exported)
    for line in exported.getvalue().splitlines():
        record = orjson.loads(line)
        username = record.get("instagram", {}).get("username")
        if username and normalise_handle("instagram", username) == handle:
            record["instagram"].update(changes)
            path = tmp_path / f"change-{uuid.uuid4().hex[:6]}.jsonl"
            path.write_bytes(orjson.dumps(record) + b"\n")
            assert import_jsonl(engine, path).updated == 1
            return
    raise AssertionError(f"{handle} is not in the store")


@pytest.mark.parametrize(
    ("mode", "fields", "flags"),
    [
        ("raw", {}, {}),
        ("full", FULL_WITH_AUDIENCE, {"include_audience_data": True, "include_lookalikes": False}),
    ],
)
def test_a_found_result_stores_no_copy_of_the_block_and_sends_the_whole_record(
    store: Any, mode: str, fields: dict[str, str], flags: dict[str, bool]
) -> None:
    known = _known(store, 12)
    values = [*known, "no_such_creator_xyz"]
    batch_id = _run(store, mode, values, **fields)
    stored = _stored(store, batch_id)
    found = [row for row in stored.values() if row.profile_id is not None]
    assert len(found) == 12
    # raw keeps nothing of the record; full keeps only what follows the block (secondaries,
    # creator fields), never the Instagram block itself
    for row in found:
        if mode == "raw":
            assert row.data is None
        else:
            assert row.data.startswith(",") and '"instagram":{' not in row.data
    expected = _whole_records(store, mode, [*known, "no_such_creator_xyz"], **flags)
    sent = _json(store, batch_id)
    assert [r["enrichment_data"] for r in sent] == [expected[v] for v in values]
    assert sent[-1]["status"] == "not_found"


@pytest.mark.parametrize(("mode", "fields"), [("raw", {}), ("full", FULL_WITH_AUDIENCE)])
def test_an_import_after_the_batch_leaves_its_download_as_it_was_charged(
    store: Any, tmp_path: Path, mode: str, fields: dict[str, str]
) -> None:
    known = _known(store, 15)
    batch_id = _run(store, mode, known, **fields)
    before_json, before_csv = _json(store, batch_id), _csv(store, batch_id)
    assert all(r["status"] == "success" for r in before_json)
    _change_instagram(store, tmp_path, known[4], biography="changed after the batch")

    assert _json(store, batch_id) == before_json
    assert _csv(store, batch_id) == before_csv
    # Only the Instagram profile changed; the creator's other profiles keep no history.
    assert _history_rows(store) == 1
    # a new batch sees the import
    again = _json(store, _run(store, mode, [known[4]], **fields))
    assert again[0]["enrichment_data"]["instagram"]["biography"] == "changed after the batch"


def _biography(engine: Any, batch_id: str) -> str:
    return str(_json(engine, batch_id)[0]["enrichment_data"]["instagram"]["biography"])


def _history_rows(engine: Any) -> int:
    with read_connection(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(ProfileHistory)).scalar_one())


def test_each_batch_sends_the_profile_as_it_was_when_its_result_was_stored(
    store: Any, tmp_path: Path
) -> None:
    handle = _known(store, 1)[0]
    first = [_run(store, "raw", [handle]), _run(store, "full", [handle], **FULL_WITH_AUDIENCE)]
    original = _biography(store, first[0])
    _change_instagram(store, tmp_path, handle, biography="second version")
    second = _run(store, "raw", [handle])
    _change_instagram(store, tmp_path, handle, biography="third version")
    third = _run(store, "raw", [handle])
    assert [_biography(store, b) for b in first] == [original, original]
    assert _biography(store, second) == "second version"
    assert _biography(store, third) == "third version"


def test_history_goes_once_no_batch_that_holds_results_can_need_it(
    store: Any, tmp_path: Path
) -> None:
    handle = _known(store, 1)[0]
    old_batch = _run(store, "raw", [handle])
    original = _biography(store, old_batch)
    _change_instagram(store, tmp_path, handle, biography="second version")
    _change_instagram(store, tmp_path, handle, biography="third version")
    new_batch = _run(store, "raw", [handle])  # created after both changes: needs none of them
    forget_profile_history(store)
    assert _history_rows(store) == 2  # the old batch still needs both
    assert _biography(store, old_batch) == original
    with write_transaction(store) as conn:  # as the retention period does
        drop_contents(conn, old_batch)
        conn.execute(update(Batch).where(Batch.id == old_batch).values(results_deleted_at=utcnow()))
    assert forget_profile_history(store) == 2
    assert _history_rows(store) == 0
    assert _biography(store, new_batch) == "third version"


def test_an_import_between_a_chunks_read_and_its_commit_leaves_what_the_read_saw(
    store: Any, tmp_path: Path
) -> None:
    """The chunk found the handle; before its commit an import renamed that account. The result
    was charged for what the lookup found, so it sends that: the account under the handle that
    was asked for, as it was then (the result stores the revision its read saw; the import kept
    the old blocks). Pointing at the profile as it is now would send another handle's data."""
    known = _known(store, 10)
    whole = _whole_records(store, "raw", known)
    batch_id = _create(store, "raw", known)
    claim = processing.claim_chunk(store, batch_id, 0, lease_seconds=60)
    assert claim is not None
    read = processing.read_chunk(store, claim, DATA_DIR)
    assert read.outcomes[known[2]].status == "success"
    _change_instagram(store, tmp_path, known[2], username="renamed_meanwhile_7")

    assert processing.commit_chunk(store, claim, read) == "done"
    sent = {r["input_value"]: r for r in _json(store, batch_id)}
    assert all(sent[h]["status"] == "success" for h in known)
    assert {h: sent[h]["enrichment_data"] for h in known} == whole
    assert normalise_handle("instagram", whole[known[2]]["instagram"]["username"]) == known[2]
    with read_connection(store) as conn:
        charged = ledger_rows(conn, batch_id)
    assert charged == 10


def test_a_batch_from_before_the_upgrade_keeps_all_history(store: Any, tmp_path: Path) -> None:
    """A raw batch created before migration 0006 has no creation revision; its later chunks
    still store references, so the history it might need stays while it holds results."""
    handle = _known(store, 1)[0]
    _change_instagram(store, tmp_path, handle, biography="second version")
    batch_id = _run(store, "raw", [handle])
    with write_transaction(store) as conn:
        conn.execute(update(Batch).where(Batch.id == batch_id).values(profile_revision=None))
    forget_profile_history(store)
    assert _history_rows(store) == 1


def test_a_full_download_longer_than_a_page_keeps_input_order_and_every_record(
    store: Any,
) -> None:
    """Full records are sent in pages of BIG_RECORD_PAGE rows: the pages join up in order,
    duplicates and unknown handles included."""
    known = _known(store, 40)
    values = [
        known[i % len(known)] if i % 7 else f"nobody_here_{i}" for i in range(BIG_RECORD_PAGE + 90)
    ]
    batch_id = _run(store, "full", values, **FULL_WITH_AUDIENCE)
    expected = _whole_records(
        store, "full", values, include_audience_data=True, include_lookalikes=False
    )
    sent = _json(store, batch_id)
    assert [r["input_value"] for r in sent] == values
    assert [r["enrichment_data"] for r in sent] == [expected[v] for v in values]


def test_a_downgrade_below_0006_refuses_while_results_refer_to_profiles(store: Any) -> None:
    url = store.url.render_as_string(hide_password=False)
    _run(store, "raw", _known(store, 3))
    with pytest.raises(RuntimeError, match="3 stored results refer to their profile"):
        downgrade(url, "0005")
    assert _history_rows(store) == 0  # still at head: the table is there


def test_a_downgrade_below_0006_keeps_every_batchs_rows(store: Any) -> None:
    """Plain DROP COLUMN: rebuilding ``batches`` on SQLite would cascade to its rows."""
    url = store.url.render_as_string(hide_password=False)
    with read_connection(store) as conn:
        emails = [
            e
            for (e,) in conn.execute(
                select(Creator.email).where(Creator.email.is_not(None)).limit(5)
            )
        ]
    batch_id = _run(store, "basic", emails)  # basic results hold their whole record
    before = _json(store, batch_id)
    store.dispose()
    downgrade(url, "0005")
    with read_connection(store) as conn:
        rows = conn.execute(select(func.count()).where(BatchRow.batch_id == batch_id)).scalar_one()
    assert rows == len(emails)
    upgrade(url)
    store.dispose()
    assert _json(store, batch_id) == before


def test_a_chunks_revision_and_its_lookups_are_one_snapshot(store: Any, tmp_path: Path) -> None:
    """`read_chunk` reads the platform's revision, then looks the chunk's keys up, in one read
    transaction; a result stores that revision and is read back at it. An import committed
    between the two reads must be invisible to both, or the download would send blocks the
    batch never saw (PostgreSQL's default READ COMMITTED would show it to the second)."""
    handle = _known(store, 1)[0]
    with read_connection(store) as conn:
        revision = revisions.current(conn, "instagram")
        _change_instagram(store, tmp_path, handle, biography="committed mid-read")
        seen = store_lookup.find_profiles(conn, "instagram", [handle], Profile.full_json)
        assert "committed mid-read" not in seen[handle].full_json
        assert revisions.current(conn, "instagram") == revision
    with read_connection(store) as conn:
        assert revisions.current(conn, "instagram") == revision + 1
        seen = store_lookup.find_profiles(conn, "instagram", [handle], Profile.full_json)
        assert "committed mid-read" in seen[handle].full_json
