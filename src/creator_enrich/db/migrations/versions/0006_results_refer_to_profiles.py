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
    # Plain ADD/DROP COLUMN, never a table rebuild: on SQLite, rebuilding ``batches`` with foreign
    # keys on would cascade its DROP to every batch's rows and results.
    op.add_column("batch_results", sa.Column("profile_id", sa.Integer(), nullable=True))
    op.add_column("batch_results", sa.Column("profile_revision", sa.BigInteger(), nullable=True))
    op.add_column("batches", sa.Column("profile_revision", sa.BigInteger(), nullable=True))
    # A raw or full batch still processing stores its later results at this revision or above.
    op.execute(
        "UPDATE batches SET profile_revision = (SELECT revision FROM profile_revisions"
        " WHERE profile_revisions.platform = batches.platform)"
        " WHERE mode IN ('raw', 'full') AND platform IS NOT NULL"
    )
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
    op.create_index("ix_profile_history_platform", "profile_history", ["platform", "replaced_at"])


def downgrade() -> None:
    referring = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM batch_results WHERE profile_id IS NOT NULL"))
        .scalar()
    )
    if referring:
        # 0005 reads a result's record from its data alone: these would lose their blocks.
        raise RuntimeError(
            f"{referring} stored results refer to their profile; downgrading below 0006 would "
            "lose their records. Delete those batches first (or wait for their retention)."
        )
    op.drop_index("ix_profile_history_platform", table_name="profile_history")
    op.drop_table("profile_history")
    op.drop_column("batches", "profile_revision")
    op.drop_column("batch_results", "profile_revision")
    op.drop_column("batch_results", "profile_id")
