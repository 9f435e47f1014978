"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
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


def insert_many(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert thousands of rows through the driver's executemany.

    At a chunk's size SQLAlchemy's per-row parameter processing costs more than the insert
    itself (bench/RESULTS.md), so values arrive already in their stored form (credits as
    integer millionths: ``to_micros``).
    """
    if rows:
        conn.exec_driver_sql(_insert_sql(table, tuple(columns), conn.dialect.paramstyle), rows)


@lru_cache(maxsize=64)
def _insert_sql(table: Table, columns: tuple[str, ...], paramstyle: str) -> str:
    mark = "?" if paramstyle == "qmark" else "%s"  # sqlite3; psycopg
    names = ", ".join(table.c[name].name for name in columns)  # KeyError: not a column of ours
    marks = ", ".join([mark] * len(columns))
    # Names come from our own Table objects, never from a request.
    return f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608
