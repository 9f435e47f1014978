"""Profiles as they were before an import changed them, for the batch results stored before.

A found ``raw`` or ``full`` batch result refers to its profile and to the platform revision it
was stored at (``BatchResult``) instead of copying the profile's block. When an import changes a
profile in place it bumps the revision and keeps the old blocks here first, so a result always
sends the blocks that were current when it was charged: the history row with the lowest
``replaced_at`` above the result's revision, or, if there is none, the profile itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from creator_enrich.db.schema import Profile, ProfileHistory

BLOCKS = ("raw_json", "full_json", "audience_json")


def keep(conn: Connection, profile_id: int, replaced_at: int, new: Mapping[str, Any]) -> None:
    """Before the profile is changed in place to ``new``, keep its blocks as they stand, unless
    ``new`` leaves them as they are (a change of niche, say: the next row still holds them).

    Copied in the database from the row as committed, not from what the caller read earlier: on
    PostgreSQL another import may have changed the profile since, and the bump that gave
    ``replaced_at`` waited for it.
    """
    changed = or_(*(getattr(Profile, c).is_distinct_from(new[c]) for c in BLOCKS))
    current = select(
        Profile.id,
        literal(replaced_at, BigInteger),
        Profile.platform,
        *(getattr(Profile, c) for c in BLOCKS),
    ).where(Profile.id == profile_id, changed)
    columns = ["profile_id", "replaced_at", "platform", *BLOCKS]
    conn.execute(insert(ProfileHistory).from_select(columns, current))


def join_as_stored(
    query: Select[Any], profile_id: Any, revision: Any, column: str
) -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any]]:
    """Outer-join ``query`` (over results with these ``profile_id`` and ``revision`` columns) to
    the blocks each result was stored with. Returns the query, the block named ``column`` (one of
    ``BLOCKS``, a column of both tables) and the audience block: the history row replaced first
    after the revision, or else the profile's. One index probe per result, in the database."""
    assert column in BLOCKS, column
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
