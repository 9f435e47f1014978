"""Found raw and full results refer to their primary profile instead of copying its block.

A 10 MB raw batch against a 1M-creator store wrote ~800 MB of copied raw blocks through SQLite's
one writer (bench/RESULTS.md, "Where the time goes"). A result now names the profile and the
platform revision it was stored at; the block is read when the record is sent. An import that
changes a profile keeps the old blocks in ``profile_history`` for the results stored before.
Existing results keep their copies: ``profile_id`` is NULL for them.

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


def upgrade() -> None:
    with op.batch_alter_table("batch_results") as batch:
        batch.add_column(sa.Column("profile_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("profile_revision", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("profile_revision", sa.BigInteger(), nullable=True))
    op.create_table(
        "profile_history",
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("replaced_at", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("raw_json", sa.Text(), nullable=False),
        sa.Column("full_json", sa.Text(), nullable=True),
        sa.Column("audience_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("profile_id", "replaced_at", name=op.f("pk_profile_history")),
    )


def downgrade() -> None:
    op.drop_table("profile_history")
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("profile_revision")
    with op.batch_alter_table("batch_results") as batch:
        batch.drop_column("profile_revision")
        batch.drop_column("profile_id")
