"""Lookalike creators from a vector index (usearch HNSW), one index per platform.

A profile becomes a short vector: its niche (one-hot), its audience geography (the audience's
country weights, or the creator's own country when there is no audience data), its size
(log10 followers) and its engagement. Distances are squared L2, not cosine: size is an absolute
scale (a creator ten times bigger is further away however the other features agree), which a
cosine would normalise away. The weights make one decade of followers count about as much as a
different main country, and a different niche more than either.

Indexes are built from the store in bulk, saved under ``<data_dir>/lookalikes/`` with a manifest
of what they were built from, and rebuilt when the store has changed since. Each keeps a sidecar
(``lookalike_sidecar``): every profile's neighbours, searched at build time, and their entries as
JSON. The entries are served only while no profile of the platform has changed in place since
the build (``creators.revisions``); otherwise they are read from the store, as they are for an
index saved without a sidecar (which is searched at each call, as before).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Engine, func, select

from creator_enrich.creators import revisions
from creator_enrich.db.engine import read_connection
from creator_enrich.db.schema import Profile
from creator_enrich.enrichment.fields import PLATFORMS
from creator_enrich.enrichment.lookalike_sidecar import K, Sidecar, entry_json, nearest

log = logging.getLogger(__name__)

FEATURES_VERSION = 1
NICHES = (
    "fitness", "beauty", "gaming", "food", "travel", "tech",
    "music", "fashion", "parenting", "finance", "comedy", "education",
)  # fmt: skip
COUNTRIES = ("US", "BR", "GB", "IN", "MX", "DE", "FR", "ES", "ID", "PH", "IT", "CA")
NICHE_WEIGHT = 1.0
COUNTRY_WEIGHT = 0.6
SIZE_WEIGHT = 0.5  # per decade of followers
ENGAGEMENT_WEIGHT = 0.05  # per engagement point
DIMS = len(NICHES) + len(COUNTRIES) + 1 + 2
PAGE = 5000
RECHECK_SECONDS = 30.0


def _geo(country: str | None, audience_countries: str | None) -> dict[str, float]:
    if audience_countries:
        weights: dict[str, float] = orjson.loads(audience_countries)
        if weights:
            return weights
    return {country: 1.0} if country else {}


def features(
    niche: str | None,
    country: str | None,
    followers: int,
    engagement: float | None,
    audience_countries: str | None = None,
) -> np.ndarray[Any, np.dtype[np.float32]]:
    vector = np.zeros(DIMS, dtype=np.float32)
    if niche in NICHES:
        vector[NICHES.index(niche)] = NICHE_WEIGHT
    offset = len(NICHES)
    geo = _geo(country, audience_countries)
    known = sum(w for code, w in geo.items() if code in COUNTRIES)
    for code, weight in geo.items():
        if code in COUNTRIES:
            vector[offset + COUNTRIES.index(code)] = COUNTRY_WEIGHT * weight / max(known, 1e-9)
    offset += len(COUNTRIES)
    vector[offset] = COUNTRY_WEIGHT * max(0.0, 1.0 - known)  # audience outside the known list
    vector[offset + 1] = SIZE_WEIGHT * math.log10(max(followers, 1))
    vector[offset + 2] = ENGAGEMENT_WEIGHT * min(engagement or 0.0, 30.0)
    return vector


@dataclass
class _Loaded:
    index: Any  # usearch.index.Index
    state: tuple[int, int, int]  # count, max_id, revision when built
    checked_at: float
    sidecar: Sidecar | None  # None: saved by an older version; search, and query the store


_lock = threading.Lock()
_loaded: dict[tuple[str, str], _Loaded] = {}


def _store_state(engine: Engine, platform: str) -> tuple[int, int, int]:
    with read_connection(engine) as conn:
        revision = revisions.current(conn, platform)
        count, max_id = conn.execute(
            select(func.count(), func.max(Profile.id)).where(Profile.platform == platform)
        ).one()
    return int(count), int(max_id or 0), revision


def _rows(engine: Engine, platform: str) -> Iterator[list[Any]]:
    after = 0
    while True:
        with read_connection(engine) as conn:
            page = conn.execute(
                select(
                    Profile.id,
                    Profile.niche,
                    Profile.country,
                    Profile.followers,
                    Profile.engagement_percent,
                    Profile.audience_countries,
                    Profile.username,
                    Profile.profile_url,
                )
                .where(Profile.platform == platform, Profile.id > after)
                .order_by(Profile.id)
                .limit(PAGE)
            ).all()
        if not page:
            return
        yield list(page)
        after = page[-1].id


def _paths(data_dir: Path, platform: str) -> tuple[Path, Path, Path]:
    folder = data_dir / "lookalikes"
    return (
        folder / f"{platform}.usearch",
        folder / f"{platform}.json",
        folder / f"{platform}.sidecar.npz",
    )


def build_index(
    engine: Engine,
    data_dir: Path,
    platform: str,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> int:
    """Build and save one platform's index and sidecar; returns how many profiles it holds."""
    from usearch.index import Index

    state = _store_state(engine, platform)  # before the rows: a change meanwhile shows later
    count, max_id, revision = state
    index = Index(ndim=DIMS, metric="l2sq", dtype="f32")
    ids: list[np.ndarray[Any, Any]] = []
    entries: list[bytes] = []
    done = 0
    for page in _rows(engine, platform):
        ids.append(np.fromiter((r.id for r in page), dtype=np.uint64, count=len(page)))
        vectors = np.vstack(
            [
                features(
                    r.niche, r.country, r.followers, r.engagement_percent, r.audience_countries
                )
                for r in page
            ]
        )
        index.add(ids[-1], vectors)
        entries.extend(
            entry_json(r.username, r.profile_url, r.engagement_percent, r.followers) for r in page
        )
        done += len(page)
        if on_progress:
            on_progress(platform, done, count)
    keys = np.concatenate(ids) if ids else np.zeros(0, dtype=np.uint64)
    found = nearest(index, keys, K)
    sidecar = Sidecar.build(keys, entries, found)
    index_path, manifest_path, sidecar_path = _paths(data_dir, platform)
    index_path.parent.mkdir(parents=True, exist_ok=True)
    sidecar.save(sidecar_path)
    tmp = index_path.with_suffix(".tmp")
    index.save(str(tmp))
    tmp.replace(index_path)
    manifest = {
        "count": count,
        "max_id": max_id,
        "revision": revision,
        "version": FEATURES_VERSION,
        "vectors": done,
        "sidecar": sidecar_path.name,
    }
    manifest_path.write_bytes(orjson.dumps(manifest))
    with _lock:
        _loaded[(str(data_dir), platform)] = _Loaded(index, state, time.monotonic(), sidecar)
    return done


def build_indexes(
    engine: Engine,
    data_dir: Path,
    on_progress: Callable[[str, int, int], None] | None = None,
    platforms: Sequence[str] = PLATFORMS,
) -> dict[str, int]:
    return {p: build_index(engine, data_dir, p, on_progress) for p in platforms}


_build_locks: dict[tuple[str, str], threading.Lock] = {}


def _restore(data_dir: Path, platform: str, state: tuple[int, int, int]) -> _Loaded | None:
    """The saved index, if it was built from this state of the store."""
    from usearch.index import Index

    index_path, manifest_path, sidecar_path = _paths(data_dir, platform)
    if not (index_path.exists() and manifest_path.exists()):
        return None
    manifest = orjson.loads(manifest_path.read_bytes())
    built = (manifest.get("count"), manifest.get("max_id"), manifest.get("revision", 0))
    if built != state or manifest.get("version") != FEATURES_VERSION:
        return None
    sidecar = None
    if manifest.get("sidecar") == sidecar_path.name and sidecar_path.exists():
        sidecar = Sidecar.load(sidecar_path)
        if len(sidecar.ids) != manifest.get("vectors"):  # not from this build: do without
            sidecar = None
    # Mapped, not read: with a sidecar the index is only searched for another k or a stale
    # build, so most processes never touch its pages (17 MB of RSS for the 100k store's
    # Instagram index; ten times that at 1M). A rebuild replaces the file by rename, which
    # leaves this mapping valid.
    index = Index.restore(str(index_path), view=True)
    return _Loaded(index, state, time.monotonic(), sidecar)


def _index_for(engine: Engine, data_dir: Path, platform: str, newest_id: int = 0) -> _Loaded:
    """The current index: loaded once, re-checked against the store every 30 s, and at once
    when asked about a profile newer than the index (a creator imported a moment ago)."""
    key = (str(data_dir), platform)
    with _lock:
        loaded = _loaded.get(key)
        build_lock = _build_locks.setdefault(key, threading.Lock())
    fresh = loaded and time.monotonic() - loaded.checked_at < RECHECK_SECONDS
    if loaded and fresh and newest_id <= loaded.state[1]:
        return loaded
    with build_lock:  # one thread checks or builds; the others wait for its result
        with _lock:
            loaded = _loaded.get(key)
        fresh = loaded and time.monotonic() - loaded.checked_at < RECHECK_SECONDS
        if loaded and fresh and newest_id <= loaded.state[1]:
            return loaded
        state = _store_state(engine, platform)
        if loaded and loaded.state == state:
            loaded.checked_at = time.monotonic()
            return loaded
        restored = _restore(data_dir, platform, state)
        if restored is not None:
            with _lock:
                _loaded[key] = restored
            return restored
        log.info("building the %s lookalike index (store changed or no index yet)", platform)
        build_index(engine, data_dir, platform)
        with _lock:
            return _loaded[key]


def _entries_from_store(engine: Engine, wanted: Sequence[int]) -> dict[int, bytes]:
    entries: dict[int, bytes] = {}
    with read_connection(engine) as conn:
        for start in range(0, len(wanted), 1000):
            stmt = select(
                Profile.id,
                Profile.username,
                Profile.profile_url,
                Profile.engagement_percent,
                Profile.followers,
            ).where(Profile.id.in_(wanted[start : start + 1000]))
            for row in conn.execute(stmt):
                entries[row.id] = entry_json(
                    row.username, row.profile_url, row.engagement_percent, row.followers
                )
    return entries


def _unchanged_since_build(engine: Engine, platform: str, loaded: _Loaded) -> bool:
    with read_connection(engine) as conn:
        return revisions.current(conn, platform) == loaded.state[2]


def lookalikes_json(
    engine: Engine, data_dir: Path, platform: str, profile_ids: Sequence[int], k: int = K
) -> dict[int, str]:
    """Up to k lookalikes per profile as a JSON list, most similar first, never the profile
    itself."""
    if not profile_ids:
        return {}
    loaded = _index_for(engine, data_dir, platform, newest_id=max(profile_ids))
    sidecar = loaded.sidecar
    keys = np.asarray(profile_ids, dtype=np.uint64)
    fresh = sidecar is not None and _unchanged_since_build(engine, platform, loaded)
    if sidecar is not None and sidecar.k == k:
        positions = sidecar.positions(keys).tolist()
        if fresh:  # the common case: no search, no query
            return dict(zip(profile_ids, sidecar.lists(positions), strict=True))
        found = dict(zip(profile_ids, sidecar.neighbour_ids(positions), strict=True))
    else:
        present = keys[loaded.index.contains(keys)]
        rows = nearest(loaded.index, present, k).tolist()
        found = {
            pid: [n for n in row if n] for pid, row in zip(present.tolist(), rows, strict=True)
        }
    wanted = sorted({n for ns in found.values() for n in ns})
    if fresh:
        assert sidecar is not None
        entries = sidecar.entries(wanted)
    else:  # changed since the build, or an index without a sidecar: read them as before
        entries = _entries_from_store(engine, wanted)
    return {
        pid: (
            b"[" + b",".join(entries[n] for n in found.get(pid, ()) if n in entries) + b"]"
        ).decode()
        for pid in profile_ids
    }


def lookalikes_for(
    engine: Engine, data_dir: Path, platform: str, profile_ids: Sequence[int], k: int = K
) -> dict[int, list[dict[str, Any]]]:
    """Up to k lookalikes per profile, most similar first, never the profile itself."""
    found = lookalikes_json(engine, data_dir, platform, profile_ids, k)
    return {pid: orjson.loads(text) for pid, text in found.items()}
