"""Found raw and full results refer to their primary profile instead of copying its block.

A 10 MB raw batch against a 1M-creator store wrote ~800 MB of copied raw blocks through SQLite's
one writer (bench/RESULTS.md, "Where the time goes"). A result now names the profile; the block
is read from it when the record is sent. The partial index finds a profile's results when an
import changes it (the old block is written into them first). Existing results keep their
copies: ``profile_id`` is NULL for them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONLY_REFERENCES = sa.text("profile_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("batch_results") as batch:
        batch.add_column(sa.Column("profile_id", sa.Integer(), nullable=True))
    op.create_index(
        "ix_batch_results_profile",
        "batch_results",
        ["profile_id"],
        sqlite_where=ONLY_REFERENCES,
        postgresql_where=ONLY_REFERENCES,
    )


def downgrade() -> None:
    op.drop_index("ix_batch_results_profile", table_name="batch_results")
    with op.batch_alter_table("batch_results") as batch:
        batch.drop_column("profile_id")
