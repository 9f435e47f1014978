"""Profiles as they were before an import changed them, for the batch results stored before.

A found ``raw`` or ``full`` batch result refers to its profile and to the platform revision it
was stored at (``BatchResult``) instead of copying the profile's block. When an import changes a
profile in place it bumps the revision and keeps the old blocks here first, so a result always
sends the blocks that were current when it was charged: the history row with the lowest
``replaced_at`` above the result's revision, or, if there is none, the profile itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from creator_enrich.db.schema import ProfileHistory

_OF_PROFILES = select(
    ProfileHistory.profile_id,
    ProfileHistory.replaced_at,
    ProfileHistory.raw_json,
    ProfileHistory.full_json,
    ProfileHistory.audience_json,
).where(ProfileHistory.profile_id.in_(bindparam("ids", expanding=True)))


def keep(conn: Connection, old: Any, platform: str, replaced_at: int) -> None:
    """Keep ``old`` (a profile row with its three blocks) before it is changed in place."""
    conn.execute(
        insert(ProfileHistory).values(
            profile_id=old.id,
            replaced_at=replaced_at,
            platform=platform,
            raw_json=old.raw_json,
            full_json=old.full_json,
            audience_json=old.audience_json,
        )
    )


class Versions:
    """The history rows of a set of profiles (typically none), to pick each result's blocks."""

    def __init__(self, conn: Connection, profile_ids: Collection[int]) -> None:
        self._rows: dict[int, list[Any]] = defaultdict(list)
        if profile_ids:
            for row in conn.execute(_OF_PROFILES, {"ids": list(profile_ids)}):
                self._rows[row.profile_id].append(row)

    def at(self, profile_id: int, revision: int) -> Any | None:
        """The blocks of ``profile_id`` as they were at ``revision`` if they have changed since
        (a row with raw_json, full_json, audience_json); None: the profile is still as it was."""
        later = [row for row in self._rows.get(profile_id, ()) if row.replaced_at > revision]
        return min(later, key=lambda row: row.replaced_at) if later else None
