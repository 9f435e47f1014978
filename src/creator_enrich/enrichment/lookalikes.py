"""Lookalike creators: one approximate-nearest-neighbour index (usearch HNSW) per platform.

**Vectors.** A profile becomes a short vector of four weighted parts:

* niche, one-hot (``NICHE_WEIGHT``);
* geography, over the platform's known country codes plus one "elsewhere" slot: the square roots
  of the audience's country shares when the profile has audience data, else the creator's own
  country as a one-hot (``COUNTRY_WEIGHT``). Square roots (the Hellinger embedding) keep every
  geography at unit length, so a distribution and a one-hot compare on the same scale: two
  disjoint geographies are always as far apart as two different countries;
* size, ``log10(followers)`` (``SIZE_WEIGHT`` per decade);
* engagement, ``log1p(engagement_percent)`` (``ENGAGEMENT_WEIGHT``), compressed so that the odd
  outlier of 60 % does not outweigh everything else.

**Metric: squared L2, not cosine.** Size is an absolute scale: a creator ten times bigger must be
further away however well the rest agrees. Cosine normalises length away, so it would mix
log-followers into the direction with the other parts and rank a 1k and a 1M creator of the same
niche as near twins. Under L2 the weights read as costs: a different niche costs
``2 * NICHE_WEIGHT**2`` (= 4.5), a fully different geography ``2 * COUNTRY_WEIGHT**2`` (= 1.0),
one decade of followers ``SIZE_WEIGHT**2`` (= 1.0): one order of magnitude weighs like another
country, and a niche match is worth about two decades. Engagement only breaks near-ties (it falls
with size anyway, so weighting it more would double-count size).

**Storage.** Indexes are built in bulk from the store (profile ids in id order, rows fetched in
pages) and saved under ``<data_dir>/lookalikes/`` with ``manifest.json`` recording, per platform,
what they were built from (database, profile count, max profile id). A stale index (the store's
count or max id moved, the database or feature version differs) is rebuilt on first use.
Builders across processes (API, workers, the CLI) serialise on file locks; threads of a process
share one loaded index per platform, and keep querying the old one while a thread rebuilds.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import BigInteger, Engine, Text, any_, bindparam, cast, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement

from creator_enrich.config import PLATFORMS
from creator_enrich.creators.handles import profile_url
from creator_enrich.db.engine import read_connection
from creator_enrich.db.schema import Profile

log = logging.getLogger(__name__)

FEATURES_VERSION = 1  # bump when the vector changes: every saved index is then rebuilt
NICHE_WEIGHT = 1.5
COUNTRY_WEIGHT = math.sqrt(0.5)
SIZE_WEIGHT = 1.0
ENGAGEMENT_WEIGHT = 0.5
MAX_VOCABULARY = 64  # most frequent niches / countries that get a dimension of their own

PAGE = 5000  # profiles fetched per query while building
RECHECK_SECONDS = 10.0  # how often a loaded index asks the store whether it changed
SEARCH_SLACK = 3  # extra neighbours fetched to make up for dropping the creator's own profiles
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 32  # recall ~0.95 of the exact 10-NN; 64 buys ~0.97 at twice the time

GEO_PATH = ("audience_followers", "data", "audience_geo", "countries")
LOOKALIKE_KEYS = ("username", "profile_url", "engagement_percent", "follower_count")

Progress = Callable[[str, int, int], None]
FloatArray = np.ndarray[Any, np.dtype[np.float32]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True, slots=True)
class _Row:
    """What a vector is made of, kept compact between reading the store and vectorising."""

    id: int
    creator_id: int
    niche: str | None
    geo: tuple[tuple[str, float], ...]
    followers: int
    engagement: float


@dataclass(slots=True)
class _Loaded:
    """One platform's index in memory, with its rows' ids, creators and vectors (by id)."""

    index: Any  # usearch.index.Index, or None when the platform has no profiles
    ids: IntArray  # sorted profile ids
    creators: IntArray
    vectors: FloatArray
    count: int
    max_id: int
    build_id: str
    checked_at: float
    search_lock: threading.Lock = field(default_factory=threading.Lock)

    def positions(self, ids: IntArray) -> tuple[IntArray, np.ndarray[Any, np.dtype[np.bool_]]]:
        """Positions of ``ids`` in this index, and which of them are present."""
        if not self.ids.size:
            return np.zeros(ids.shape, dtype=np.int64), np.zeros(ids.shape, dtype=np.bool_)
        pos = np.minimum(np.searchsorted(self.ids, ids), self.ids.size - 1)
        return pos.astype(np.int64), self.ids[pos] == ids


def _still_current(loaded: _Loaded, state: tuple[int, int], entry: dict[str, Any] | None) -> bool:
    """The store has not changed, and no other process (say, ``data index``) rebuilt since."""
    rebuilt_elsewhere = entry is not None and entry.get("build_id") != loaded.build_id
    return (loaded.count, loaded.max_id) == state and not rebuilt_elsewhere


def _geo_from_json(value: Any) -> tuple[tuple[str, float], ...]:
    """``[{code, weight}, ...]`` (text or decoded) as normalised ``(code, share)`` pairs."""
    if isinstance(value, str | bytes):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return ()
    if not isinstance(value, list):
        return ()
    shares: dict[str, float] = {}
    for item in value:
        if not isinstance(item, dict):
            continue
        code, weight = item.get("code"), item.get("weight")
        if isinstance(code, str) and isinstance(weight, int | float) and weight > 0:
            shares[code.upper()] = shares.get(code.upper(), 0.0) + float(weight)
    total = sum(shares.values())
    if not math.isfinite(total) or total <= 0:
        return ()
    return tuple((code, share / total) for code, share in shares.items())


def _geo_from_audience(audience_json: str | None) -> tuple[tuple[str, float], ...]:
    """The fallback when the database cannot extract the countries itself: decode in Python."""
    if not audience_json:
        return ()
    try:
        node: Any = orjson.loads(audience_json)
    except orjson.JSONDecodeError:
        return ()
    for key in GEO_PATH:
        node = node.get(key) if isinstance(node, dict) else None
    return _geo_from_json(node)


def _geo_expression(dialect: str) -> ColumnElement[Any] | None:
    """The audience's country list, extracted by the database: decoding whole audience blocks
    in Python costs ~10x more (they are several KB each). None where we know no such function.
    """
    if dialect == "sqlite":
        return func.json_extract(Profile.audience_json, "$." + ".".join(GEO_PATH))
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return cast(cast(Profile.audience_json, JSONB)[GEO_PATH], Text)
    return None


def _id_in(dialect: str, ids: Sequence[int]) -> ColumnElement[bool]:
    """``profiles.id IN ids`` with one bound parameter where the database allows it.

    SQLite spends ~3x longer binding ten thousand ``?`` than walking one JSON array, and
    PostgreSQL takes an array as a single parameter; both keep the statement text constant.
    """
    if dialect == "sqlite":
        values = func.json_each(orjson.dumps(list(ids)).decode()).table_valued("value")
        return Profile.id.in_(select(values.c.value))
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return Profile.id == any_(bindparam("ids", list(ids), type_=ARRAY(BigInteger)))
    return Profile.id.in_(list(ids))


def _fetch_page(engine: Engine, ids: list[int]) -> list[_Row]:
    """One page of profiles by id. Malformed audience JSON makes the database's extraction fail
    for the whole page; that page is then read again and decoded in Python."""
    columns = (
        Profile.id,
        Profile.creator_id,
        Profile.niche,
        Profile.country,
        Profile.followers,
        Profile.engagement_percent,
    )
    geo = _geo_expression(engine.dialect.name)
    where = _id_in(engine.dialect.name, ids)
    if geo is not None:
        try:
            with read_connection(engine) as conn:
                rows = conn.execute(select(*columns, geo).where(where)).all()
            return [_row(r, _geo_from_json(r[6])) for r in rows]
        except DBAPIError:
            log.debug("audience JSON not extractable in SQL for a page; decoding in Python")
    with read_connection(engine) as conn:
        rows = conn.execute(select(*columns, Profile.audience_json).where(where)).all()
    return [_row(r, _geo_from_audience(r[6])) for r in rows]


def _row(r: Any, geo: tuple[tuple[str, float], ...]) -> _Row:
    if not geo and r.country:
        geo = ((str(r.country).upper(), 1.0),)
    engagement = r.engagement_percent
    if engagement is None or not math.isfinite(engagement):
        engagement = 0.0
    return _Row(
        int(r.id), int(r.creator_id), r.niche, geo, int(r.followers or 0), float(engagement)
    )


def _vocabulary(counts: Counter[str]) -> tuple[str, ...]:
    return tuple(sorted(code for code, _ in counts.most_common(MAX_VOCABULARY)))


def _vectorise(rows: Sequence[_Row]) -> tuple[FloatArray, dict[str, Any]]:
    """The vectors of ``rows`` and the layout (vocabularies) they were made with."""
    niches = _vocabulary(Counter(r.niche for r in rows if r.niche))
    countries = _vocabulary(Counter(code for r in rows for code, _ in r.geo))
    niche_at = {name: i for i, name in enumerate(niches)}
    geo_offset = len(niches)
    country_at = {code: geo_offset + i for i, code in enumerate(countries)}
    elsewhere = geo_offset + len(countries)
    size_at, engagement_at = elsewhere + 1, elsewhere + 2
    vectors = np.zeros((len(rows), engagement_at + 1), dtype=np.float32)
    for i, r in enumerate(rows):
        if r.niche in niche_at:
            vectors[i, niche_at[r.niche]] = NICHE_WEIGHT
        for code, share in r.geo:
            vectors[i, country_at.get(code, elsewhere)] += share
    geo = vectors[:, geo_offset : elsewhere + 1]
    geo[:] = COUNTRY_WEIGHT * np.sqrt(geo)
    followers = np.fromiter((r.followers for r in rows), dtype=np.float64, count=len(rows))
    engagement = np.fromiter((r.engagement for r in rows), dtype=np.float64, count=len(rows))
    vectors[:, size_at] = SIZE_WEIGHT * np.log10(np.maximum(followers, 1.0))
    vectors[:, engagement_at] = ENGAGEMENT_WEIGHT * np.log1p(np.clip(engagement, 0.0, 100.0))
    return vectors, {"niches": list(niches), "countries": list(countries)}


@contextlib.contextmanager
def _file_lock(path: Path, *, exclusive: bool) -> Iterator[None]:
    """Serialise builders and readers across processes sharing the data dir (POSIX only)."""
    if sys.platform == "win32":  # pragma: no cover - no flock; threads still serialise
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


class LookalikeIndex:
    """The lookalike indexes of one store, kept in ``<data_dir>/lookalikes``.

    Share one per (engine, data dir) through :func:`index_for`: each instance holds its own
    copies of the indexes in memory. ``builds`` counts builds per platform made by this instance.
    """

    def __init__(
        self, engine: Engine, data_dir: Path, *, recheck_seconds: float = RECHECK_SECONDS
    ) -> None:
        self.engine = engine
        self.folder = Path(data_dir) / "lookalikes"
        self.recheck_seconds = recheck_seconds
        self.database = engine.url.render_as_string(hide_password=True)
        self.builds: Counter[str] = Counter()
        self._loaded: dict[str, _Loaded] = {}
        self._locks = {platform: threading.Lock() for platform in PLATFORMS}

    # -- queries ------------------------------------------------------------------------------
    def lookalikes(
        self, platform: str, profile_ids: Sequence[int], k: int = 10
    ) -> dict[int, list[dict[str, Any]]]:
        """Up to ``k`` lookalikes per profile id, most similar first.

        One batched ANN search for all ids and one query for the lookalikes' details. Never the
        profile itself nor another profile of the same creator; ids not in the store get ``[]``.
        """
        self._check_platform(platform)
        unique = np.unique(np.asarray(list(profile_ids), dtype=np.int64))
        result: dict[int, list[dict[str, Any]]] = {int(pid): [] for pid in profile_ids}
        if k <= 0 or not unique.size:
            return result
        loaded = self._current(platform, unique)
        pos, present = loaded.positions(unique)
        queries, pos = unique[present], pos[present]
        if loaded.index is None or not queries.size:
            return result
        count = min(k + 1 + SEARCH_SLACK, loaded.ids.size)
        with loaded.search_lock:  # usearch indexes are not safe for concurrent searches
            found = loaded.index.search(loaded.vectors[pos], count, threads=0)
        keys = np.atleast_2d(np.asarray(found.keys)).astype(np.int64)
        counts = np.asarray(getattr(found, "counts", [keys.shape[1]]), dtype=np.int64)
        valid = np.arange(keys.shape[1])[None, :] < counts[:, None]
        # Drop the query itself and its creator's other profiles; sentinels of short rows too.
        npos, known = loaded.positions(keys)
        same_creator = loaded.creators[npos] == loaded.creators[pos][:, None]
        keep = valid & known & ~same_creator & (keys != queries[:, None])
        neighbours = {
            int(qid): [int(n) for n in row[mask][:k]]
            for qid, row, mask in zip(queries, keys, keep, strict=True)
        }
        details = self._details(platform, {n for ns in neighbours.values() for n in ns})
        for qid, ns in neighbours.items():
            result[qid] = [details[n] for n in ns if n in details]
        return result

    def _details(self, platform: str, ids: set[int]) -> dict[int, dict[str, Any]]:
        """The lookalikes' public fields, read fresh from the store in one query."""
        if not ids:
            return {}
        stmt = select(
            Profile.id,
            Profile.username,
            Profile.profile_url,
            Profile.engagement_percent,
            Profile.followers,
        ).where(_id_in(self.engine.dialect.name, sorted(ids)))
        with read_connection(self.engine) as conn:
            rows = conn.execute(stmt).all()
        details: dict[int, dict[str, Any]] = {}
        for r in rows:
            url = r.profile_url
            if not url:
                try:
                    url = profile_url(platform, r.username)
                except ValueError:
                    continue
            details[int(r.id)] = {
                "username": str(r.username),
                "profile_url": str(url),
                "engagement_percent": float(r.engagement_percent or 0.0),
                "follower_count": int(r.followers or 0),
            }
        return details

    # -- freshness ----------------------------------------------------------------------------
    def _check_platform(self, platform: str) -> None:
        if platform not in self._locks:
            raise ValueError(f"unknown platform {platform!r}")

    def _current(self, platform: str, ids: IntArray) -> _Loaded:
        """The index to query: the loaded one while it is fresh, else checked against the store.

        Ids beyond what the index was built from mean new profiles: check at once, waiting for
        a rebuild. Otherwise a stale check only happens every ``recheck_seconds``, and a thread
        that finds another already checking keeps using the index it has.
        """
        lock = self._locks[platform]
        loaded = self._loaded.get(platform)
        if loaded is not None and int(ids[-1]) <= loaded.max_id:
            if time.monotonic() - loaded.checked_at < self.recheck_seconds:
                return loaded
            if not lock.acquire(blocking=False):
                return loaded
        else:
            lock.acquire()
        try:
            return self._refresh(platform, ids)
        finally:
            lock.release()

    def _refresh(self, platform: str, ids: IntArray) -> _Loaded:
        loaded = self._loaded.get(platform)
        if (
            loaded is not None
            and int(ids[-1]) <= loaded.max_id
            and time.monotonic() - loaded.checked_at < self.recheck_seconds
        ):
            return loaded  # another thread refreshed it while this one waited
        state = self._store_state(platform)
        entry = self._manifest_entry(platform)
        if loaded is not None and _still_current(loaded, state, entry):
            loaded.checked_at = time.monotonic()
            return loaded
        if self._entry_matches(entry, state):
            restored = self._restore(platform, state)
            if restored is not None:
                return restored
        return self._build(platform)

    def _store_state(self, platform: str) -> tuple[int, int]:
        with read_connection(self.engine) as conn:
            count, max_id = conn.execute(
                select(func.count(), func.max(Profile.id)).where(Profile.platform == platform)
            ).one()
        return int(count), int(max_id or 0)

    # -- files --------------------------------------------------------------------------------
    def _paths(self, platform: str) -> tuple[Path, Path, Path]:
        return (
            self.folder / f"{platform}.usearch",
            self.folder / f"{platform}.npz",
            self.folder / f"{platform}.lock",
        )

    def _manifest(self) -> dict[str, Any]:
        try:
            data = orjson.loads((self.folder / "manifest.json").read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def _manifest_entry(self, platform: str) -> dict[str, Any] | None:
        entry = self._manifest().get("platforms", {}).get(platform)
        return entry if isinstance(entry, dict) else None

    def _entry_matches(self, entry: dict[str, Any] | None, state: tuple[int, int]) -> bool:
        return (
            entry is not None
            and entry.get("features") == FEATURES_VERSION
            and entry.get("database") == self.database
            and (entry.get("count"), entry.get("max_id")) == state
        )

    def _restore(self, platform: str, state: tuple[int, int]) -> _Loaded | None:
        """Load the saved index if it (still) matches ``state``; None if it does not."""
        with _file_lock(self._paths(platform)[2], exclusive=False):
            return self._restore_locked(platform, state)

    def _restore_locked(self, platform: str, state: tuple[int, int]) -> _Loaded | None:
        from usearch.index import Index

        entry = self._manifest_entry(platform)
        if entry is None or not self._entry_matches(entry, state):
            return None
        index_path, arrays_path, _ = self._paths(platform)
        try:
            with np.load(arrays_path) as arrays:
                ids, creators, vectors = arrays["ids"], arrays["creators"], arrays["vectors"]
            index = (
                Index.restore(str(index_path), expansion_search=EXPANSION_SEARCH)
                if ids.size
                else None
            )
        except (OSError, ValueError, KeyError, RuntimeError):
            log.warning("the saved %s lookalike index is unreadable; rebuilding", platform)
            return None
        if ids.size and (index is None or len(index) != ids.size):
            return None
        loaded = _Loaded(
            index, ids, creators, vectors, *state, str(entry["build_id"]), time.monotonic()
        )
        self._loaded[platform] = loaded
        return loaded

    def _save_manifest_entry(self, platform: str, entry: dict[str, Any]) -> None:
        with _file_lock(self.folder / "manifest.lock", exclusive=True):
            manifest = self._manifest()
            platforms = manifest.get("platforms")
            if not isinstance(platforms, dict):
                platforms = {}
            platforms[platform] = entry
            manifest = {"platforms": dict(sorted(platforms.items()))}
            _write_atomic(
                self.folder / "manifest.json", orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
            )

    # -- building -----------------------------------------------------------------------------
    def build_all(self, on_progress: Progress | None = None) -> dict[str, int]:
        """Rebuild every platform's index now, fresh or not; returns vectors per platform."""
        built: dict[str, int] = {}
        for platform in PLATFORMS:
            with self._locks[platform]:
                built[platform] = int(self._build(platform, on_progress, force=True).ids.size)
        return built

    def _build(
        self, platform: str, on_progress: Progress | None = None, *, force: bool = False
    ) -> _Loaded:
        """Build, save and load one platform's index. Call with the platform's thread lock.

        Unless forced, first look again under the file lock: another process may just have
        built the very index this one was about to.
        """
        with _file_lock(self._paths(platform)[2], exclusive=True):
            if not force:
                restored = self._restore_locked(platform, self._store_state(platform))
                if restored is not None:
                    return restored
            return self._build_locked(platform, on_progress)

    def _read_rows(self, platform: str, on_progress: Progress | None) -> tuple[list[_Row], int]:
        """Every profile of the platform, in id order, read a page at a time.

        Ids come from the (platform, ...) index alone and rows are then read by primary key, so
        a small platform never scans the whole table (rows hold several KB of JSON each).
        """
        with read_connection(self.engine) as conn:
            max_id = int(
                conn.execute(
                    select(func.max(Profile.id)).where(Profile.platform == platform)
                ).scalar_one()
                or 0
            )
            id_list = sorted(
                conn.execute(
                    select(Profile.id).where(Profile.platform == platform, Profile.id <= max_id)
                ).scalars()
            )
        if on_progress:
            on_progress(platform, 0, 2 * len(id_list))
        rows: list[_Row] = []
        for start in range(0, len(id_list), PAGE):
            page = _fetch_page(self.engine, id_list[start : start + PAGE])
            rows.extend(sorted(page, key=lambda r: r.id))
            if on_progress:
                on_progress(platform, min(start + PAGE, len(id_list)), 2 * len(id_list))
        return rows, max_id

    def _build_locked(self, platform: str, on_progress: Progress | None) -> _Loaded:
        from usearch.index import Index

        started = time.perf_counter()
        rows, max_id = self._read_rows(platform, on_progress)
        vectors, layout = _vectorise(rows)
        ids = np.fromiter((r.id for r in rows), dtype=np.int64, count=len(rows))
        creators = np.fromiter((r.creator_id for r in rows), dtype=np.int64, count=len(rows))
        index: Any = None
        if rows:
            index = Index(
                ndim=vectors.shape[1],
                metric="l2sq",
                dtype="f32",
                connectivity=CONNECTIVITY,
                expansion_add=EXPANSION_ADD,
                expansion_search=EXPANSION_SEARCH,
            )
            for start in range(0, len(rows), PAGE):
                stop = min(start + PAGE, len(rows))
                index.add(ids[start:stop].astype(np.uint64), vectors[start:stop], threads=0)
                if on_progress:
                    on_progress(platform, len(rows) + stop, 2 * len(rows))
        build_id = uuid.uuid4().hex
        self._save_files(platform, index, ids, creators, vectors)
        seconds = time.perf_counter() - started
        self._save_manifest_entry(
            platform,
            {
                "database": self.database,
                "features": FEATURES_VERSION,
                "count": len(rows),
                "max_id": max_id,
                "dims": int(vectors.shape[1]),
                **layout,
                "build_id": build_id,
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "seconds": round(seconds, 3),
            },
        )
        loaded = _Loaded(
            index, ids, creators, vectors, len(rows), max_id, build_id, time.monotonic()
        )
        self._loaded[platform] = loaded
        self.builds[platform] += 1
        log.info("built the %s lookalike index: %d vectors in %.1fs", platform, len(rows), seconds)
        return loaded

    def _save_files(
        self, platform: str, index: Any, ids: IntArray, creators: IntArray, vectors: FloatArray
    ) -> None:
        """Write to temporary names, then rename: a reader never sees half a file."""
        index_path, arrays_path, _ = self._paths(platform)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = arrays_path.with_name(f".{arrays_path.name}.{os.getpid()}.tmp.npz")
        np.savez(tmp, ids=ids, creators=creators, vectors=vectors)
        tmp.replace(arrays_path)
        if index is not None:
            tmp = index_path.with_name(f".{index_path.name}.{os.getpid()}.tmp")
            index.save(str(tmp))
            tmp.replace(index_path)


_instances: weakref.WeakKeyDictionary[Engine, dict[Path, LookalikeIndex]] = (
    weakref.WeakKeyDictionary()
)
_instances_lock = threading.Lock()


def index_for(engine: Engine, data_dir: Path) -> LookalikeIndex:
    """The process-wide :class:`LookalikeIndex` for this engine and data dir."""
    folder = Path(data_dir).resolve()
    with _instances_lock:
        per_engine = _instances.setdefault(engine, {})
        instance = per_engine.get(folder)
        if instance is None:
            instance = per_engine[folder] = LookalikeIndex(engine, folder)
        return instance


def lookalikes_for(
    engine: Engine, data_dir: Path, platform: str, profile_ids: Sequence[int], k: int = 10
) -> dict[int, list[dict[str, Any]]]:
    """Up to ``k`` lookalikes per profile id (see :meth:`LookalikeIndex.lookalikes`)."""
    return index_for(engine, data_dir).lookalikes(platform, profile_ids, k)


def build_indexes(
    engine: Engine, data_dir: Path, on_progress: Progress | None = None
) -> dict[str, int]:
    """(Re)build every platform's index now; returns vectors indexed per platform."""
    return index_for(engine, data_dir).build_all(on_progress)
