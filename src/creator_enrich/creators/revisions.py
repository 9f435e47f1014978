"""The per-platform count of profiles changed in place (see ``ProfileRevision``)."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from creator_enrich.db.schema import ProfileRevision


def bump(conn: Connection, platform: str) -> int:
    """Record that a profile of ``platform`` changed in place (in the caller's transaction).
    Returns the new revision."""
    bumped = conn.execute(
        update(ProfileRevision)
        .where(ProfileRevision.platform == platform)
        .values(revision=ProfileRevision.revision + 1)
        .returning(ProfileRevision.revision)
    ).scalar()
    if bumped is None:
        conn.execute(insert(ProfileRevision).values(platform=platform, revision=1))
        return 1
    return int(bumped)


def current(conn: Connection, platform: str) -> int:
    found = conn.execute(
        select(ProfileRevision.revision).where(ProfileRevision.platform == platform)
    ).scalar()
    return int(found or 0)
