"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_conflicts(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], returning: str
) -> set[Any]:
    """Insert rows, skipping those whose key already exists; return the keys actually inserted.

    This is the guard that makes a redelivered chunk charge nothing: only rows this call stored
    are returned, so only they are charged.
    """
    if not rows:
        return set()
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(table).on_conflict_do_nothing().returning(table.c[returning])
    return {row[0] for row in conn.execute(stmt, list(rows))}
