"""A per-platform counter of profiles changed in place.

The lookalike index keeps its neighbours' details (username, URL, engagement, followers) beside
the vectors; it must know when an import has updated a profile since it was built, which the
profiles' count and highest id do not show.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


PLATFORMS = ("instagram", "youtube", "tiktok", "twitter", "twitch", "onlyfans")


def upgrade() -> None:
    table = op.create_table(
        "profile_revisions",
        sa.Column("platform", sa.String(20), primary_key=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
    )
    # One row per platform from the start, so that two importers never race to insert it.
    op.bulk_insert(table, [{"platform": p, "revision": 0} for p in PLATFORMS])


def downgrade() -> None:
    op.drop_table("profile_revisions")
