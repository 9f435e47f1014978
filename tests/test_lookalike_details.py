"""The sidecar of the lookalike index (neighbours searched at build time, their entries as JSON):
the same lookalikes as searching and reading the store at each call, never stale after an
import changed a profile, and an index saved without a sidecar still served."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from sqlalchemy import select

from creator_enrich.creators.generate import generate_store
from creator_enrich.creators.importer import export_jsonl, import_jsonl
from creator_enrich.db.engine import create_db_engine, read_connection
from creator_enrich.db.migrate import upgrade
from creator_enrich.db.schema import Profile
from creator_enrich.enrichment import lookalike_index, lookalike_sidecar
from creator_enrich.enrichment.lookalike_index import build_index, lookalikes_json
from creator_enrich.enrichment.options import EnrichOptions
from creator_enrich.enrichment.records import EnrichContext, enrich
from tests.databases import fresh_database_url

PLATFORM = "instagram"


@pytest.fixture
def store(request: pytest.FixtureRequest) -> Any:
    url = fresh_database_url(request.node.name.removeprefix("test_")[:40])
    upgrade(url)
    engine = create_db_engine(url)
    generate_store(engine, creators=800, seed=11)
    yield engine
    engine.dispose()


def _profiles(engine: Any) -> list[Any]:
    with read_connection(engine) as conn:
        return conn.execute(
            select(Profile.id, Profile.handle_key, Profile.username)
            .where(Profile.platform == PLATFORM)
            .order_by(Profile.id)
        ).all()


def _from_the_store(engine: Any, data_dir: Path, ids: list[int], k: int = 10) -> dict[int, str]:
    """What the code before the sidecar answered: a search of the index, entries queried."""
    loaded = lookalike_index._loaded[(str(data_dir), PLATFORM)]
    kept, loaded.sidecar = loaded.sidecar, None
    try:
        return lookalikes_json(engine, data_dir, PLATFORM, ids, k)
    finally:
        loaded.sidecar = kept


def _full_records(engine: Any, data_dir: Path, keys: list[str]) -> dict[str, str | None]:
    options = EnrichOptions("full", PLATFORM, include_lookalikes=True, include_audience_data=True)
    with read_connection(engine) as conn:
        outcomes = enrich(EnrichContext(conn, engine, data_dir), options, keys)
    return {key: outcome.data for key, outcome in outcomes.items()}


def test_the_sidecar_gives_the_same_lookalikes_and_records(store: Any, tmp_path: Path) -> None:
    rows = _profiles(store)
    ids = [r.id for r in rows]
    kept = lookalikes_json(store, tmp_path, PLATFORM, [*ids, 10**9])  # and one not indexed
    assert lookalike_index._loaded[(str(tmp_path), PLATFORM)].sidecar is not None
    assert kept == _from_the_store(store, tmp_path, [*ids, 10**9])
    assert all(len(orjson.loads(kept[i])) == 10 for i in ids)
    assert kept[10**9] == "[]"
    # Another k than the sidecar keeps: searched, with the sidecar's entries.
    assert lookalikes_json(store, tmp_path, PLATFORM, ids[:50], 4) == _from_the_store(
        store, tmp_path, ids[:50], 4
    )
    rows = rows[:300]
    ids = ids[:300]

    # The batch record and the single call (one key) carry the same lookalikes as before.
    keys = [r.handle_key for r in rows]
    batch = _full_records(store, tmp_path, keys)
    loaded = lookalike_index._loaded[(str(tmp_path), PLATFORM)]
    saved, loaded.sidecar = loaded.sidecar, None
    try:
        before = _full_records(store, tmp_path, keys)
    finally:
        loaded.sidecar = saved
    assert batch == before
    single = _full_records(store, tmp_path, keys[:1])
    assert single[keys[0]] == batch[keys[0]]
    assert orjson.loads(batch[keys[0]] or "")["lookalikes"] == orjson.loads(kept[ids[0]])


def _import_changed(engine: Any, username: str, engagement: float, path: Path) -> None:
    """Re-import the creator of ``username`` with another engagement, as an operator would."""
    exported = io.BytesIO()
    export_jsonl(engine, exported)
    for line in exported.getvalue().splitlines():
        record = orjson.loads(line)
        if record.get(PLATFORM, {}).get("username") == username:
            record[PLATFORM]["engagement_percent"] = engagement
            break
    else:
        raise AssertionError(f"{username} not exported")
    path.write_bytes(orjson.dumps(record) + b"\n")
    report = import_jsonl(engine, path)
    assert report.updated == 1


def test_a_profile_changed_after_the_build_is_never_served_stale(
    store: Any, tmp_path: Path
) -> None:
    first = _profiles(store)[0]
    before = orjson.loads(lookalikes_json(store, tmp_path, PLATFORM, [first.id])[first.id])
    neighbour = before[0]["username"]
    assert before[0]["engagement_percent"] != 42.5

    _import_changed(store, neighbour, 42.5, tmp_path / "changed.jsonl")
    # At once (not at the next 30 s check): the entries come from the store again.
    after = orjson.loads(lookalikes_json(store, tmp_path, PLATFORM, [first.id])[first.id])
    changed = [item for item in after if item["username"] == neighbour]
    assert changed and changed[0]["engagement_percent"] == 42.5

    # The next check sees the change and rebuilds; the new entries are the current ones.
    lookalike_index._loaded[(str(tmp_path), PLATFORM)].checked_at = 0.0
    rebuilt = lookalikes_json(store, tmp_path, PLATFORM, [first.id])
    loaded = lookalike_index._loaded[(str(tmp_path), PLATFORM)]
    assert loaded.sidecar is not None and loaded.state[2] == 1
    assert rebuilt == _from_the_store(store, tmp_path, [first.id])
    manifest = orjson.loads((tmp_path / "lookalikes" / f"{PLATFORM}.json").read_bytes())
    assert manifest["revision"] == 1


def test_an_index_saved_without_sidecar_still_serves_the_same(store: Any, tmp_path: Path) -> None:
    ids = [r.id for r in _profiles(store)[:100]]
    build_index(store, tmp_path, PLATFORM)
    expected = lookalikes_json(store, tmp_path, PLATFORM, ids)
    folder = tmp_path / "lookalikes"
    # What the code before wrote: no sidecar, no revision in the manifest.
    manifest = orjson.loads((folder / f"{PLATFORM}.json").read_bytes())
    del manifest["sidecar"], manifest["revision"]
    (folder / f"{PLATFORM}.json").write_bytes(orjson.dumps(manifest))
    (folder / f"{PLATFORM}.sidecar.npz").unlink()
    built = (folder / f"{PLATFORM}.usearch").stat().st_mtime_ns

    lookalike_index._loaded.clear()  # a new process, with the old index on disk
    assert lookalikes_json(store, tmp_path, PLATFORM, ids) == expected
    assert lookalike_index._loaded[(str(tmp_path), PLATFORM)].sidecar is None
    assert (folder / f"{PLATFORM}.usearch").stat().st_mtime_ns == built  # reused, not rebuilt


def test_nearest_in_an_index_smaller_than_k(monkeypatch: pytest.MonkeyPatch) -> None:
    from usearch.index import Index

    from creator_enrich.enrichment.lookalike_sidecar import Sidecar, nearest

    index = Index(ndim=2, metric="l2sq", dtype="f32")
    keys = np.array([5, 7, 9], dtype=np.uint64)
    vectors = np.array([[0, 0], [1, 0], [3, 0]], dtype=np.float32)
    index.add(keys, vectors)
    found = nearest(index, keys, 10)
    assert found[:, :3].tolist() == [[7, 9, 0], [5, 9, 0], [7, 5, 0]]
    assert not found[:, 3:].any()
    assert nearest(index, keys[:1], 10)[0, :3].tolist() == [7, 9, 0]  # one query
    monkeypatch.setattr(lookalike_sidecar, "SLICE", 2)  # searched in slices: the same
    assert (nearest(index, keys, 10) == found).all()

    sidecar = Sidecar.build(keys, [b'"a"', b'"b"', b'"c"'], found)
    assert sidecar.lists([0, 2, -1]) == ['["b","c"]', '["b","a"]', "[]"]
    assert sidecar.neighbour_ids([1]) == [[5, 9]]
    assert sidecar.entries([9, 6]) == {9: b'"c"'}


def test_a_restored_index_is_mapped_and_outlives_a_rebuild(store: Any, tmp_path: Path) -> None:
    from creator_enrich.enrichment.lookalike_sidecar import nearest

    ids = [r.id for r in _profiles(store)[:20]]
    build_index(store, tmp_path, PLATFORM)
    lookalike_index._loaded.clear()  # a new process: the saved index is restored
    searched = lookalikes_json(store, tmp_path, PLATFORM, ids, 4)  # another k: a search
    mapped = lookalike_index._loaded[(str(tmp_path), PLATFORM)].index
    saved = tmp_path / "lookalikes" / f"{PLATFORM}.usearch"
    assert mapped.memory_usage < saved.stat().st_size / 10  # mapped, not read into memory
    before = nearest(mapped, np.asarray(ids, dtype=np.uint64), 4)

    build_index(store, tmp_path, PLATFORM)  # the file is replaced under the mapping
    assert (nearest(mapped, np.asarray(ids, dtype=np.uint64), 4) == before).all()
    assert lookalikes_json(store, tmp_path, PLATFORM, ids, 4).keys() == searched.keys()
