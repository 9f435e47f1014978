"""Where tests keep their data: a fresh SQLite file, or a fresh database on the PostgreSQL server
named by ``CREATOR_ENRICH_TEST_DATABASE_URL`` (the suite runs on both; see .ci/run)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from creator_enrich.db.engine import normalise_url

DATA_DIR = Path(tempfile.mkdtemp(prefix="creator-enrich-tests-"))
SERVER_URL = os.environ.get("CREATOR_ENRICH_TEST_DATABASE_URL")
BROKER_URL = os.environ.get("CREATOR_ENRICH_TEST_BROKER_URL", "memory://")


_created: list[str] = []


def fresh_database_url(name: str) -> str:
    """A new, empty database for one purpose of this test run."""
    if not SERVER_URL:
        return f"sqlite:///{DATA_DIR}/{name}.db"
    assert re.fullmatch(r"\w+", name)
    url = make_url(normalise_url(SERVER_URL))
    database = f"ce_test_{name}_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
    finally:
        admin.dispose()
    _created.append(database)
    return url.set(database=database).render_as_string(hide_password=False)


def drop_databases() -> None:
    """Remove the databases this run created on the PostgreSQL server."""
    if not SERVER_URL or not _created:
        return
    admin = create_engine(make_url(normalise_url(SERVER_URL)), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for database in _created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        admin.dispose()
