"""Bulk lookups in the creator store: one query per slice of keys, never one per row."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from creator_enrich.db.schema import Creator, Profile

# Well under SQLite's 32,766 bound parameters and PostgreSQL's 65,535.
LOOKUP_SLICE = 1000
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


def raw_blocks(conn: Connection, platform: str, keys: Sequence[str]) -> dict[str, str]:
    """Map each found key to its stored raw block (JSON text).

    YouTube channel ids (``UC…``, case-sensitive) are looked up by platform user id; every other
    key by normalised handle.
    """
    by_id = [k for k in keys if platform == "youtube" and _CHANNEL_ID.match(k)]
    by_handle = [k for k in keys if not (platform == "youtube" and _CHANNEL_ID.match(k))]
    found: dict[str, str] = {}
    for column, wanted in ((Profile.handle_key, by_handle), (Profile.platform_user_id, by_id)):
        for part in _slices(wanted):
            stmt = select(column, Profile.raw_json).where(
                Profile.platform == platform, column.in_(part)
            )
            found.update((str(key), raw) for key, raw in conn.execute(stmt))
    return found


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
            .where(Creator.email.in_(part))
        )
        for row in conn.execute(stmt):
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
