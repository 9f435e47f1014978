"""One ledger entry per charge (a chunk's commit), with the number of records it covers.

An entry per charged record made the ledger the biggest write of a chunk commit, which holds
SQLite's one write lock: 6.4 ms of a 1,000-hit chunk's 15 ms on a ledger of 19.5 million rows,
and the ledger grew by a row per record for ever (bench/RESULTS.md). Each record's charge stays
in its result's ``credits``. Existing entries each covered one record.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("credit_ledger", sa.Column("row_count", sa.Integer(), nullable=True))
    op.execute("UPDATE credit_ledger SET row_count = 1 WHERE kind = 'charge'")


def downgrade() -> None:
    # Older code reads no count: it goes into the note, so that an entry still says how many
    # records it charged. The amounts, and so every balance, stay as they are.
    op.execute(
        "UPDATE credit_ledger SET note = COALESCE(note, 'charge') || ' (' || row_count || ' rows)'"
        " WHERE row_count > 1"
    )
    op.drop_column("credit_ledger", "row_count")
