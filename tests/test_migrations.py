"""Migrations: one linear history that builds exactly the models' schema, and goes both ways."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from creator_enrich.db.engine import create_db_engine
from creator_enrich.db.migrate import alembic_config, downgrade, upgrade
from creator_enrich.db.schema import Base
from tests.databases import fresh_database_url


def _diff(url: str) -> list[object]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_builds_the_models_schema_and_downgrade_reverses() -> None:
    url = fresh_database_url("migrations")
    upgrade(url)
    assert _diff(url) == []
    downgrade(url, "base")
    upgrade(url)
    assert _diff(url) == []


def test_history_is_linear(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(f"sqlite:///{tmp_path}/x.db"))
    assert len(script.get_heads()) == 1


def test_0008_counts_the_old_entries_and_its_downgrade_keeps_the_count_in_the_note() -> None:
    """Before 0008 each charge entry covered one record; after it, an entry covers
    ``row_count``. Down again, a merged entry's count goes into its note; no amount changes."""
    from sqlalchemy import text

    url = fresh_database_url("ledger_counts")
    upgrade(url, "0007")
    engine = create_db_engine(url)
    ledger = (
        "INSERT INTO credit_ledger (account_id, amount, kind, batch_id, row_no, note, created_at)"
        " VALUES (1, :amount, :kind, :batch, :row, :note, '2026-11-29 00:00:00')"
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (id, name, balance, credits_used, created_at)"
                    " VALUES (1, 'a', 9940000, 60000, '2026-11-29 00:00:00')"
                )
            )
            entries = [
                (10_000_000, "grant", None, None, None),
                (-30_000, "charge", "b1", 1, "chunk 0"),
                (-30_000, "charge", "b1", 2, "chunk 0"),
            ]
            names = ("amount", "kind", "batch", "row", "note")
            conn.execute(text(ledger), [dict(zip(names, e, strict=True)) for e in entries])
        upgrade(url)
        with engine.begin() as conn:
            counts = conn.execute(
                text("SELECT kind, row_count FROM credit_ledger ORDER BY id")
            ).all()
            assert [tuple(r) for r in counts] == [("grant", None), ("charge", 1), ("charge", 1)]
            conn.execute(
                text(
                    "INSERT INTO credit_ledger (account_id, amount, kind, batch_id, row_no,"
                    " row_count, note, created_at) VALUES (1, -90000, 'charge', 'b2', 1, 3,"
                    " 'chunk 4', '2026-11-29 00:00:00')"
                )
            )
        downgrade(url, "0007")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT note, amount FROM credit_ledger ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [
            (None, 10_000_000),
            ("chunk 0", -30_000),
            ("chunk 0", -30_000),
            ("chunk 4 (3 rows)", -90_000),
        ]
    finally:
        engine.dispose()
