"""Writers to one SQLite file from two processes (``serve`` and its worker process) queue on a
lock beside the database, so that neither meets SQLite's sleeping busy handler."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from creator_enrich.db.engine import create_db_engine, write_transaction

HOLDER = """
import sys
from creator_enrich.db.engine import WriteLock
with WriteLock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_write_waits_while_another_process_holds_the_lock_then_proceeds(tmp_path: Path) -> None:
    database = tmp_path / "locked.db"
    engine = create_db_engine(f"sqlite:///{database}")
    with write_transaction(engine) as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        entered = threading.Event()

        def write() -> None:
            with write_transaction(engine) as conn:
                entered.set()
                conn.execute(text("INSERT INTO t VALUES (1)"))

        writer = threading.Thread(target=write)
        writer.start()
        assert not entered.wait(0.5), "a write went ahead while another process held the lock"
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        writer.join(timeout=30)
        assert entered.is_set() and not writer.is_alive()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    assert (tmp_path / "locked.db-writelock").exists()
    engine.dispose()


PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free")
except BlockingIOError:
    print("held")
"""


def other_process_sees(lock_file: Path) -> str:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(lock_file)], capture_output=True, text=True, check=True
    )
    return probe.stdout.strip()


def test_the_lock_is_held_for_the_transaction_and_released_when_it_fails(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'fails.db'}")
    lock_file = tmp_path / "fails.db-writelock"
    with write_transaction(engine) as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        assert other_process_sees(lock_file) == "held"
    assert other_process_sees(lock_file) == "free"

    def failing_write() -> None:
        with write_transaction(engine) as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("the body fails")

    with pytest.raises(RuntimeError):
        failing_write()
    assert other_process_sees(lock_file) == "free"
    with engine.connect() as conn:  # rolled back
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    engine.dispose()
