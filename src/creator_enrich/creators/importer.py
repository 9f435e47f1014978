"""Import and export the creator store as JSONL, one creator a line, in the reference's full-record
shape: creator-level keys plus one block per platform (optionally with its ``audience``), and an
optional ``external_id`` of ours.

Import is a streaming, idempotent upsert. A line is the same creator as one already stored when
its ``external_id`` matches, or one of its blocks matches a stored profile by platform user id (a
renamed handle is still the same account), or else by handle. Bad lines are reported by number
and skipped. Export writes back exactly what import stored, so the round trip is lossless.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import orjson
from sqlalchemy import Connection, Engine, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from creator_enrich.creators import history, revisions
from creator_enrich.creators.countries import country_code
from creator_enrich.creators.handles import (
    InvalidValue,
    normalise_email,
    normalise_handle,
    profile_url,
)
from creator_enrich.db.engine import analyze_store, read_connection, write_transaction
from creator_enrich.db.schema import Creator, Profile
from creator_enrich.enrichment.fields import (
    FOLLOWER_KEY,
    FULL_FIELDS,
    FULL_NAME_KEY,
    PICTURE_KEY,
    PLATFORMS,
    RAW_FIELDS,
    USER_ID_KEY,
    USERNAME_KEY,
    audience_countries,
    verified_json,
)

BATCH_LINES = 1000
MAX_LINE_BYTES = 10 * 1024 * 1024
MAX_REPORTED = 1000
PROFILE_VALUES = (
    "username", "handle_key", "platform_user_id", "full_name", "followers",
    "engagement_percent", "profile_url", "picture", "niche", "country",
    "raw_json", "full_json", "audience_json", "audience_countries", "extra_json",
    "verified_json",
)  # fmt: skip


@dataclass
class ImportReport:
    lines: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: list[str] = field(default_factory=list)
    bad_count: int = 0

    def reject(self, line_no: int, reason: str) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_REPORTED:
            self.bad.append(f"line {line_no}: {reason}")


@dataclass
class _Line:
    line_no: int
    external_id: str | None
    creator: dict[str, Any]  # the creators row values
    profiles: dict[str, dict[str, Any]]  # platform -> profiles row values


class BadLine(ValueError):
    pass


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _country(block: dict[str, Any], data: dict[str, Any]) -> str | None:
    """The block's own country, else the creator's `location` (Instagram and Twitter blocks
    name none), as a code."""
    for value in (block.get("country"), block.get("region"), data.get("location")):
        code = country_code(value)
        if code is not None:
            return code
    return None


def _top_niche(data: dict[str, Any]) -> str | None:
    niches = data.get("ai_niches")
    if not isinstance(niches, list):
        return None
    ranked = [n for n in niches if isinstance(n, dict) and isinstance(n.get("niche"), str)]
    if not ranked:
        return None
    best = max(ranked, key=lambda n: n.get("percentage") or 0)
    return str(best["niche"])[:50]


def _profile(platform: str, block: Any, data: dict[str, Any], niche: str | None) -> dict[str, Any]:
    if not isinstance(block, dict):
        raise BadLine(f"the {platform} block is not an object")
    username = block.get(USERNAME_KEY[platform])
    if platform == "youtube" and isinstance(username, str):
        username = username.removeprefix("@")
    if not isinstance(username, str) or not username:
        raise BadLine(f"the {platform} block has no {USERNAME_KEY[platform]}")
    try:
        handle_key = normalise_handle(platform, username)
    except InvalidValue as exc:
        raise BadLine(f"{platform} {USERNAME_KEY[platform]}: {exc.reason}") from exc
    user_id = block.get(USER_ID_KEY[platform])
    user_id = None if user_id is None else str(user_id)
    followers = block.get(FOLLOWER_KEY[platform])
    engagement = block.get("engagement_percent")
    known = set(RAW_FIELDS[platform]) | set(FULL_FIELDS[platform]) | {"audience"}
    extra = {k: v for k, v in block.items() if k not in known}
    audience = block.get("audience")
    countries = audience_countries(audience)
    full = {k: block.get(k) for k in FULL_FIELDS[platform]}
    return {
        "platform": platform,
        "username": username[:200],
        "handle_key": handle_key,
        "platform_user_id": user_id,
        "full_name": block.get(FULL_NAME_KEY[platform]),
        "followers": int(followers) if isinstance(followers, (int, float)) else 0,
        "engagement_percent": float(engagement) if isinstance(engagement, (int, float)) else None,
        "profile_url": profile_url(platform, handle_key, user_id),
        "picture": block.get(PICTURE_KEY[platform]),
        "niche": niche,
        "country": _country(block, data),
        "raw_json": _dumps({k: block.get(k) for k in RAW_FIELDS[platform]}),
        "full_json": _dumps(full),
        "audience_json": None if audience is None else _dumps(audience),
        "audience_countries": None if countries is None else _dumps(countries),
        "extra_json": _dumps(extra) if extra else None,
        "verified_json": verified_json(full),
    }


def parse_line(line_no: int, text: bytes) -> _Line:
    if len(text) > MAX_LINE_BYTES:
        raise BadLine("longer than 10 MB")
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON ({exc.msg} at position {exc.pos})") from exc
    if not isinstance(record, dict):
        raise BadLine("not a JSON object")
    external_id = record.get("external_id")
    if external_id is not None and (not isinstance(external_id, str) or len(external_id) > 64):
        raise BadLine("external_id must be a string of at most 64 characters")
    data = {k: v for k, v in record.items() if k not in PLATFORMS and k != "external_id"}
    niche = _top_niche(data)
    # In the line's order, so that export writes the blocks back in the same order.
    profiles = {
        key: _profile(key, value, data, niche)
        for key, value in record.items()
        if key in PLATFORMS and value is not None
    }
    if not profiles:
        raise BadLine("no platform block (instagram, youtube, tiktok, twitter, twitch, onlyfans)")
    email = data.get("email")
    try:
        email = normalise_email(email) if isinstance(email, str) and email else None
    except InvalidValue:
        email = None  # kept verbatim in `data`; not usable for email lookups
    primary = max(profiles.values(), key=lambda p: p["followers"])
    creator = {
        "external_id": external_id,
        "full_name": primary["full_name"],
        "email": email,
        "email_type": data.get("email_type") if isinstance(data.get("email_type"), str) else None,
        "data": _dumps(data),
    }
    return _Line(line_no, external_id, creator, profiles)


def _read_lines(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """(line number, text, bytes read so far) for every non-blank line; gzip by magic bytes."""
    raw = path.open("rb")
    with raw:
        magic = raw.read(2)
        raw.seek(0)
        stream: Any = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
        for line_no, text in enumerate(stream, start=1):
            if text.strip():
                yield line_no, text, raw.tell()


def _match(conn: Connection, lines: list[_Line]) -> dict[int, int]:
    """line number -> existing creator id, by external id, then platform user id, then handle."""
    ext = {ln.external_id: ln.line_no for ln in lines if ln.external_id}
    by_uid = {
        (p, prof["platform_user_id"]): ln.line_no
        for ln in lines
        for p, prof in ln.profiles.items()
        if prof["platform_user_id"]
    }
    by_handle = {
        (p, prof["handle_key"]): ln.line_no for ln in lines for p, prof in ln.profiles.items()
    }
    found: dict[int, int] = {}
    if ext:
        for cid, e in conn.execute(
            select(Creator.id, Creator.external_id).where(Creator.external_id.in_(list(ext)))
        ):
            found.setdefault(ext[str(e)], cid)
    for keys, column, index in (
        (by_uid, Profile.platform_user_id, by_uid),
        (by_handle, Profile.handle_key, by_handle),
    ):
        pairs = list(keys)
        for start in range(0, len(pairs), 500):
            stmt = select(Profile.creator_id, Profile.platform, column).where(
                tuple_(Profile.platform, column).in_(pairs[start : start + 500])
            )
            for cid, platform, value in conn.execute(stmt):
                found.setdefault(index[(platform, value)], cid)
    return found


def _apply(conn: Connection, lines: list[_Line], report: ImportReport) -> None:
    matched = _match(conn, lines)
    existing_creators = (
        {
            row.id: row
            for row in conn.execute(
                select(
                    Creator.id,
                    Creator.external_id,
                    Creator.full_name,
                    Creator.email,
                    Creator.email_type,
                    Creator.data,
                ).where(Creator.id.in_(set(matched.values())))
            )
        }
        if matched
        else {}
    )
    existing_profiles: dict[tuple[int, str], Any] = {}
    if matched:
        for row in conn.execute(
            select(
                Profile.id,
                Profile.creator_id,
                Profile.platform,
                *[Profile.__table__.c[c] for c in PROFILE_VALUES],
            ).where(Profile.creator_id.in_(set(matched.values())))
        ):
            existing_profiles[(row.creator_id, row.platform)] = row
    fresh = [ln for ln in lines if ln.line_no not in matched]
    if fresh:
        try:
            with conn.begin_nested():
                _insert_creators(conn, fresh)
            report.created += len(fresh)
        except IntegrityError:  # one of them clashes: find which, line by line
            for ln in fresh:
                _apply_line(conn, ln, None, existing_creators, existing_profiles, report)
    for ln in lines:
        if ln.line_no in matched:
            creator_id = matched[ln.line_no]
            _apply_line(conn, ln, creator_id, existing_creators, existing_profiles, report)


def _insert_creators(conn: Connection, lines: list[_Line]) -> None:
    """New creators and their profiles in two bulk statements (the common case of an import)."""
    ids = conn.execute(
        insert(Creator).returning(Creator.id, sort_by_parameter_order=True),
        [ln.creator for ln in lines],
    ).scalars()
    profiles = [
        {"creator_id": creator_id, **prof}
        for creator_id, ln in zip(ids, lines, strict=True)
        for prof in ln.profiles.values()
    ]
    conn.execute(insert(Profile), profiles)


def _apply_line(
    conn: Connection,
    ln: _Line,
    creator_id: int | None,
    existing_creators: dict[int, Any],
    existing_profiles: dict[tuple[int, str], Any],
    report: ImportReport,
) -> None:
    """One line in its own savepoint, so that a clash rejects only that line."""
    try:
        with conn.begin_nested():
            if creator_id is None:
                _insert_creators(conn, [ln])
                report.created += 1
                return
            changed = _update_creator(conn, existing_creators[creator_id], ln)
            for platform, prof in ln.profiles.items():
                old = existing_profiles.get((creator_id, platform))
                if old is None:
                    conn.execute(insert(Profile).values(creator_id=creator_id, **prof))
                    changed = True
                elif any(getattr(old, c) != prof[c] for c in PROFILE_VALUES):
                    # Batch results stored before keep the blocks they were charged for.
                    history.keep(conn, old.id, revisions.bump(conn, platform), prof)
                    conn.execute(update(Profile).where(Profile.id == old.id).values(**prof))
                    changed = True
            if changed:
                report.updated += 1
            else:
                report.unchanged += 1
    except IntegrityError:  # a clash with another creator's handle or id: report the line
        report.reject(ln.line_no, "a handle or external_id here belongs to another creator")


def _update_creator(conn: Connection, old: Any, ln: _Line) -> bool:
    new = dict(ln.creator)
    if new["external_id"] is None:
        new["external_id"] = old.external_id
    if all(getattr(old, k) == v for k, v in new.items()):
        return False
    conn.execute(update(Creator).where(Creator.id == old.id).values(**new))
    return True


def import_jsonl(
    engine: Engine, path: Path, *, on_progress: Callable[[int, int], None] | None = None
) -> ImportReport:
    """Stream a JSONL file (optionally gzipped) into the store, one transaction per batch."""
    total = path.stat().st_size
    report = ImportReport()
    batch: list[_Line] = []
    done = 0
    for line_no, text, done in _read_lines(path):
        report.lines += 1
        try:
            batch.append(parse_line(line_no, text))
        except BadLine as exc:
            report.reject(line_no, str(exc))
        if len(batch) >= BATCH_LINES:
            _flush(engine, batch, report)
            batch = []
            if on_progress:
                on_progress(done, total)
    _flush(engine, batch, report)
    analyze_store(engine)
    if on_progress:
        on_progress(total, total)
    return report


def _flush(engine: Engine, batch: list[_Line], report: ImportReport) -> None:
    if not batch:
        return
    # Within one batch, a later line for the same creator goes in its own batch (it must see
    # the first one's rows to match them).
    seen: set[tuple[str, str]] = set()
    first: list[_Line] = []
    later: list[_Line] = []
    for ln in batch:
        keys = {(p, prof["handle_key"]) for p, prof in ln.profiles.items()}
        (later if keys & seen else first).append(ln)
        seen |= keys
    with write_transaction(engine) as conn:
        _apply(conn, first, report)
    if later:
        _flush(engine, later, report)


def export_jsonl(engine: Engine, out: IO[bytes]) -> int:
    """Write every creator as one JSONL line, in id order, page by page."""
    written = 0
    after = 0
    while True:
        with read_connection(engine) as conn:
            creators = conn.execute(
                select(Creator.id, Creator.external_id, Creator.data)
                .where(Creator.id > after)
                .order_by(Creator.id)
                .limit(1000)
            ).all()
            if not creators:
                return written
            profiles: dict[int, list[Any]] = {}
            for row in conn.execute(
                select(
                    Profile.creator_id,
                    Profile.platform,
                    Profile.raw_json,
                    Profile.full_json,
                    Profile.audience_json,
                    Profile.extra_json,
                )
                .where(Profile.creator_id.in_([c.id for c in creators]))
                .order_by(Profile.creator_id, Profile.id)
            ):
                profiles.setdefault(row.creator_id, []).append(row)
        for creator in creators:
            out.write(_export_line(creator, profiles.get(creator.id, [])))
            written += 1
        after = creators[-1].id


def _export_line(creator: Any, profiles: list[Any]) -> bytes:
    record: dict[str, Any] = {}
    if creator.external_id is not None:
        record["external_id"] = creator.external_id
    record.update(orjson.loads(creator.data))
    for prof in profiles:
        block = orjson.loads(prof.full_json or "{}")
        for key, value in orjson.loads(prof.raw_json).items():
            block.setdefault(key, value)
        if prof.extra_json:
            block.update(orjson.loads(prof.extra_json))
        if prof.audience_json is not None:
            block["audience"] = orjson.loads(prof.audience_json)
        record[prof.platform] = block
    return orjson.dumps(record) + b"\n"


def open_export(path: Path | None) -> IO[bytes]:
    """Where export writes: a file (gzip when it ends in .gz) or standard output."""
    import sys

    if path is None:
        return sys.stdout.buffer
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "wb"))
    return path.open("wb")
