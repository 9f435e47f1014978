"""Profiles keep their audience block, extra imported keys, and lookalike features.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 16:06:00.657540
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("niche", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("audience_countries", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("audience_json", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("extra_json", sa.Text(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("extra_json")
        batch_op.drop_column("audience_json")
        batch_op.drop_column("audience_countries")
        batch_op.drop_column("country")
        batch_op.drop_column("niche")
