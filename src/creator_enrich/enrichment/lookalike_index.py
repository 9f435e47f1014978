"""Lookalike creators from a vector index (usearch HNSW), one index per platform.

A profile becomes a short vector: its niche (one-hot), its audience geography (the audience's
country weights, or the creator's own country when there is no audience data), its size
(log10 followers) and its engagement. Distances are squared L2, not cosine: size is an absolute
scale (a creator ten times bigger is further away however the other features agree), which a
cosine would normalise away. The weights make one decade of followers count about as much as a
different main country, and a different niche more than either.

Indexes are built from the store in bulk, saved under ``<data_dir>/lookalikes/`` with a manifest
of what they were built from, and rebuilt when the store has changed since.
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

from creator_enrich.db.engine import read_connection
from creator_enrich.db.schema import Profile
from creator_enrich.enrichment.fields import PLATFORMS

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
    count: int
    max_id: int
    checked_at: float


_lock = threading.Lock()
_loaded: dict[tuple[str, str], _Loaded] = {}


def _store_state(engine: Engine, platform: str) -> tuple[int, int]:
    with read_connection(engine) as conn:
        count, max_id = conn.execute(
            select(func.count(), func.max(Profile.id)).where(Profile.platform == platform)
        ).one()
    return int(count), int(max_id or 0)


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
                )
                .where(Profile.platform == platform, Profile.id > after)
                .order_by(Profile.id)
                .limit(PAGE)
            ).all()
        if not page:
            return
        yield list(page)
        after = page[-1].id


def _paths(data_dir: Path, platform: str) -> tuple[Path, Path]:
    folder = data_dir / "lookalikes"
    return folder / f"{platform}.usearch", folder / f"{platform}.json"


def build_index(
    engine: Engine,
    data_dir: Path,
    platform: str,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> int:
    """Build and save one platform's index; returns how many profiles it holds."""
    from usearch.index import Index

    count, max_id = _store_state(engine, platform)
    index = Index(ndim=DIMS, metric="l2sq", dtype="f32")
    done = 0
    for page in _rows(engine, platform):
        keys = np.fromiter((r.id for r in page), dtype=np.uint64, count=len(page))
        vectors = np.vstack(
            [
                features(
                    r.niche, r.country, r.followers, r.engagement_percent, r.audience_countries
                )
                for r in page
            ]
        )
        index.add(keys, vectors)
        done += len(page)
        if on_progress:
            on_progress(platform, done, count)
    index_path, manifest_path = _paths(data_dir, platform)
    index_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = index_path.with_suffix(".tmp")
    index.save(str(tmp))
    tmp.replace(index_path)
    manifest = {"count": count, "max_id": max_id, "version": FEATURES_VERSION, "vectors": done}
    manifest_path.write_bytes(orjson.dumps(manifest))
    with _lock:
        _loaded[(str(data_dir), platform)] = _Loaded(index, count, max_id, time.monotonic())
    return done


def build_indexes(
    engine: Engine,
    data_dir: Path,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    return {p: build_index(engine, data_dir, p, on_progress) for p in PLATFORMS}


_build_locks: dict[tuple[str, str], threading.Lock] = {}


def _index_for(engine: Engine, data_dir: Path, platform: str, newest_id: int = 0) -> Any:
    """The current index: loaded once, re-checked against the store every 30 s, and at once
    when asked about a profile newer than the index (a creator imported a moment ago)."""
    from usearch.index import Index

    key = (str(data_dir), platform)
    with _lock:
        loaded = _loaded.get(key)
        build_lock = _build_locks.setdefault(key, threading.Lock())
    fresh = loaded and time.monotonic() - loaded.checked_at < RECHECK_SECONDS
    if loaded and fresh and newest_id <= loaded.max_id:
        return loaded.index
    with build_lock:  # one thread checks or builds; the others wait for its result
        with _lock:
            loaded = _loaded.get(key)
        fresh = loaded and time.monotonic() - loaded.checked_at < RECHECK_SECONDS
        if loaded and fresh and newest_id <= loaded.max_id:
            return loaded.index
        state = _store_state(engine, platform)
        if loaded and (loaded.count, loaded.max_id) == state:
            loaded.checked_at = time.monotonic()
            return loaded.index
        index_path, manifest_path = _paths(data_dir, platform)
        if index_path.exists() and manifest_path.exists():
            manifest = orjson.loads(manifest_path.read_bytes())
            current = (manifest.get("count"), manifest.get("max_id"))
            if current == state and manifest.get("version") == FEATURES_VERSION:
                index = Index.restore(str(index_path))
                with _lock:
                    _loaded[key] = _Loaded(index, *state, time.monotonic())
                return index
        log.info("building the %s lookalike index (store changed or no index yet)", platform)
        build_index(engine, data_dir, platform)
        with _lock:
            return _loaded[key].index


def lookalikes_for(
    engine: Engine, data_dir: Path, platform: str, profile_ids: Sequence[int], k: int = 10
) -> dict[int, list[dict[str, Any]]]:
    """Up to k lookalikes per profile, most similar first, never the profile itself."""
    if not profile_ids:
        return {}
    index = _index_for(engine, data_dir, platform, newest_id=max(profile_ids))
    keys = np.asarray(profile_ids, dtype=np.uint64)
    present = [int(key) for key in keys if key in index]
    if not present:
        return {pid: [] for pid in profile_ids}
    vectors = np.vstack(index.get(np.asarray(present, dtype=np.uint64), dtype=np.float32))
    matches = index.search(vectors, k + 1)
    neighbours: dict[int, list[int]] = {}
    for pid, found in zip(present, np.atleast_2d(matches.keys), strict=True):
        neighbours[pid] = [int(n) for n in found if int(n) != pid][:k]
    wanted = sorted({n for ns in neighbours.values() for n in ns})
    details: dict[int, dict[str, Any]] = {}
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
                details[row.id] = {
                    "username": row.username,
                    "profile_url": row.profile_url,
                    "engagement_percent": float(row.engagement_percent or 0.0),
                    "follower_count": int(row.followers),
                }
    return {
        pid: [details[n] for n in neighbours.get(pid, []) if n in details] for pid in profile_ids
    }
