"""Profiles as they were before an import changed them, for the batch results stored before.

A found ``raw`` or ``full`` batch result refers to its profile and to the platform revision it
was stored at (``BatchResult``) instead of copying the profile's block. When an import changes a
profile in place it bumps the revision and keeps the old blocks here first, so a result always
sends the blocks that were current when it was charged: the history row with the lowest
``replaced_at`` above the result's revision, or, if there is none, the profile itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, case, func, insert, select
from sqlalchemy.orm import aliased

from creator_enrich.db.schema import Profile, ProfileHistory


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


def join_as_stored(
    query: Select[Any], profile_id: Any, revision: Any, column: str
) -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any]]:
    """Outer-join ``query`` (over results with these ``profile_id`` and ``revision`` columns) to
    the blocks each result was stored with. Returns the query, the ``column`` block and the
    audience block: the history row replaced first after the revision, or else the profile's.
    One index probe per result, inside the database."""
    newer = aliased(ProfileHistory)
    first_after = (
        select(func.min(newer.replaced_at))
        .where(newer.profile_id == profile_id, newer.replaced_at > revision)
        .scalar_subquery()
    )
    query = query.outerjoin(Profile, Profile.id == profile_id).outerjoin(
        ProfileHistory,
        and_(ProfileHistory.profile_id == profile_id, ProfileHistory.replaced_at == first_after),
    )
    kept = ProfileHistory.replaced_at.is_not(None)
    block = case((kept, getattr(ProfileHistory, column)), else_=getattr(Profile, column))
    audience = case((kept, ProfileHistory.audience_json), else_=Profile.audience_json)
    return query, block, audience
