"""Profiles keep their full block's ``is_verified`` in a column of its own.

A full record lists the creator's other platforms with a handful of fields, ``is_verified``
among them. Reading it from each secondary profile's full block made SQLite walk the 10 KB
block's overflow pages for one key: 71 ms of a 1,000-row chunk's 148 ms on a 1M-creator store,
24 ms without it (bench/RESULTS.md). The backfill reads every profile's full block once, so
upgrading a large store takes a while (minutes for a million creators).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JSON text of the key, NULL when the block lacks it: what the importer stores.
BACKFILL = {
    "sqlite": "UPDATE profiles SET verified_json = full_json -> '$.is_verified'"
    " WHERE full_json IS NOT NULL AND full_json <> ''",
    "postgresql": "UPDATE profiles SET verified_json = (full_json::json -> 'is_verified')::text"
    " WHERE full_json IS NOT NULL AND full_json <> ''",
}


def upgrade() -> None:
    op.add_column("profiles", sa.Column("verified_json", sa.Text(), nullable=True))
    op.execute(BACKFILL[op.get_bind().dialect.name])


def downgrade() -> None:
    op.drop_column("profiles", "verified_json")  # plain DROP COLUMN: no rebuild of the store
