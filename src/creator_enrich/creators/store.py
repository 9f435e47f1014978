"""Bulk lookups in the creator store: one query per slice of keys, never one per row."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, func, select

from creator_enrich.db.schema import Creator, Profile

# Well under SQLite's 32,766 bound parameters and PostgreSQL's 65,535.
LOOKUP_SLICE = 1000
# One bound list per query instead of a bound parameter per key: the statement compiles once
# and is cached, where 1,000 literal parameters were rebuilt and hashed on every call.
_SLICE: BindParameter[Any] = bindparam("slice", expanding=True)
_CHANNEL_ID = re.compile(r"^UC[A-Za-z0-9_-]{22}$")


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    platform: str
    username: str
    platform_user_id: str | None
    full_name: str | None
    followers: int
    profile_url: str | None
    picture: str | None


def _slices(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), LOOKUP_SLICE):
        yield keys[start : start + LOOKUP_SLICE]


def _key_columns(platform: str, keys: Sequence[str]) -> list[tuple[Any, list[str]]]:
    """YouTube channel ids (``UC…``, case-sensitive) match the user id; the rest, the handle."""
    by_id = [k for k in keys if platform == "youtube" and _CHANNEL_ID.match(k)]
    by_handle = [k for k in keys if not (platform == "youtube" and _CHANNEL_ID.match(k))]
    return [(Profile.handle_key, by_handle), (Profile.platform_user_id, by_id)]


def find_profiles(
    conn: Connection, platform: str, keys: Sequence[str], *columns: Any
) -> dict[str, Any]:
    """Map each found lookup key to its profile row (the requested columns, then the key)."""
    found: dict[str, Any] = {}
    for key_column, wanted in _key_columns(platform, keys):
        for part in _slices(wanted):
            stmt = select(*columns, key_column.label("lookup_key")).where(
                Profile.platform == platform, key_column.in_(_SLICE)
            )
            found.update((str(row.lookup_key), row) for row in conn.execute(stmt, {"slice": part}))
    return found


def raw_blocks(conn: Connection, platform: str, keys: Sequence[str]) -> dict[str, str]:
    """Map each found key to its stored raw block (JSON text)."""
    rows = find_profiles(conn, platform, keys, Profile.raw_json)
    return {key: row.raw_json for key, row in rows.items()}


def creators_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, Any]:
    """Creator rows (id, email, data) by id."""
    wanted = sorted(set(ids))
    found: dict[int, Any] = {}
    for start in range(0, len(wanted), LOOKUP_SLICE):
        stmt = select(Creator.id, Creator.email, Creator.data).where(Creator.id.in_(_SLICE))
        part = wanted[start : start + LOOKUP_SLICE]
        found.update((row.id, row) for row in conn.execute(stmt, {"slice": part}))
    return found


def creators_by_email(conn: Connection, emails: Sequence[str]) -> dict[str, Any]:
    """Creator rows (id, email, data) by normalised email."""
    found: dict[str, Any] = {}
    for part in _slices(emails):
        stmt = select(Creator.id, Creator.email, Creator.data).where(Creator.email.in_(_SLICE))
        found.update((str(row.email), row) for row in conn.execute(stmt, {"slice": part}))
    return found


def profiles_of_creators(
    conn: Connection, creator_ids: Iterable[int], *columns: Any, except_platform: str | None = None
) -> dict[int, list[Any]]:
    """Every profile of these creators, biggest first, with the requested columns; without
    their ``except_platform`` profile (one the caller has read already)."""
    wanted = sorted(set(creator_ids))
    found: dict[int, list[Any]] = defaultdict(list)
    for start in range(0, len(wanted), LOOKUP_SLICE):
        stmt = (
            select(Profile.creator_id, Profile.platform, Profile.followers, *columns)
            .where(Profile.creator_id.in_(_SLICE))
            .order_by(Profile.creator_id, Profile.followers.desc(), Profile.platform)
        )
        if except_platform is not None:
            stmt = stmt.where(Profile.platform != except_platform)
        for row in conn.execute(stmt, {"slice": wanted[start : start + LOOKUP_SLICE]}):
            found[row.creator_id].append(row)
    return dict(found)


def profiles_by_email(conn: Connection, emails: Sequence[str]) -> dict[str, list[ProfileSummary]]:
    """Every profile of the creators with these (normalised) emails."""
    result: dict[str, list[ProfileSummary]] = defaultdict(list)
    for part in _slices(emails):
        stmt = (
            select(
                Creator.email,
                Profile.platform,
                Profile.username,
                Profile.platform_user_id,
                Profile.full_name,
                Profile.followers,
                Profile.profile_url,
                Profile.picture,
            )
            .join(Profile, Profile.creator_id == Creator.id)
            .where(Creator.email.in_(_SLICE))
        )
        for row in conn.execute(stmt, {"slice": part}):
            result[row.email].append(ProfileSummary(*row[1:]))
    return dict(result)


def sample_handles(conn: Connection, platform: str, count: int) -> list[str]:
    """Existing usernames of a platform, biggest first (deterministic, for demos and tests)."""
    stmt = (
        select(Profile.username)
        .where(Profile.platform == platform)
        .order_by(Profile.followers.desc(), Profile.id)
        .limit(count)
    )
    return list(conn.execute(stmt).scalars())


def sample_emails(conn: Connection, count: int) -> list[str]:
    stmt = select(Creator.email).where(Creator.email.is_not(None)).order_by(Creator.id).limit(count)
    return [e for e in conn.execute(stmt).scalars() if e]


def count_creators(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(Creator)).scalar_one())
