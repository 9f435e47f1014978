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
