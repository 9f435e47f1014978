"""Writers to one SQLite file from two processes (``serve`` and its worker process) queue on a
lock beside the database, so that neither meets SQLite's sleeping busy handler."""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from creator_enrich.db.engine import WriteLock, create_db_engine, write_transaction

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


def _holder(lock_target: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.close()
    holder.wait(timeout=30)
    assert holder.stdout is not None
    holder.stdout.close()


def _enter_in_thread(lock: WriteLock) -> list[BaseException | None]:
    """Enter and leave ``lock`` in another thread; [None] on success, [the error] if not."""
    outcome: list[BaseException | None] = []

    def enter() -> None:
        try:
            with lock:
                outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=enter)
    waiter.start()
    waiter.join(timeout=60)
    assert not waiter.is_alive(), "the writer waited past its time limit"
    return outcome


def _gives_up(lock: WriteLock) -> None:
    """Entering ``lock`` fails, after its time limit, with SQLite's own error."""
    [error] = _enter_in_thread(lock)
    assert isinstance(error, OperationalError) and "database is locked" in str(error)


def _eventually_free(lock_file: Path) -> bool:
    deadline = time.monotonic() + 10
    while other_process_sees(lock_file) != "free":
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_writer_gives_up_with_database_is_locked_when_the_holder_never_lets_go(
    tmp_path: Path,
) -> None:
    """A stopped or hung process holding the lock makes the others fail after the time limit,
    with the error SQLite's busy handler gave (the API's 503, a chunk's retry), not hang; and
    the abandoned wait does not keep the lock once the holder lets go."""
    database = tmp_path / "stuck.db"
    lock_file = tmp_path / "stuck.db-writelock"
    holder = _holder(database)
    lock = WriteLock(str(database), seconds=0.3)
    try:
        _gives_up(lock)
    finally:
        _release(holder)
    assert _eventually_free(lock_file), "the given-up wait took the lock and kept it"
    with lock:  # free again: taken at once
        assert other_process_sees(lock_file) == "held"
    assert other_process_sees(lock_file) == "free"


def test_the_next_writer_takes_over_a_wait_given_up_and_gets_the_lock(tmp_path: Path) -> None:
    database = tmp_path / "takeover.db"
    lock_file = tmp_path / "takeover.db-writelock"
    holder = _holder(database)
    lock = WriteLock(str(database), seconds=0.3)
    try:
        _gives_up(lock)
        lock.seconds = 30
        entered = threading.Event()

        def second() -> None:
            with lock:
                entered.set()
                assert other_process_sees(lock_file) == "held"

        writer = threading.Thread(target=second)
        writer.start()
        assert not entered.wait(0.5), "went ahead while another process held the lock"
        waits = [t for t in threading.enumerate() if t.name == "write-lock-wait"]
        assert len(waits) == 1, "the second writer started a wait of its own"
    finally:
        _release(holder)
    writer.join(timeout=30)
    assert entered.is_set() and not writer.is_alive()
    assert other_process_sees(lock_file) == "free"


def test_threads_of_one_process_also_give_up_after_the_time_limit(tmp_path: Path) -> None:
    lock = WriteLock(str(tmp_path / "threads.db"), seconds=0.2)
    failures: list[BaseException] = []

    def second_writer() -> None:
        try:
            with lock:
                pass
        except OperationalError as exc:
            failures.append(exc)

    with lock:
        other = threading.Thread(target=second_writer)
        other.start()
        other.join(timeout=30)
    assert [("database is locked" in str(f)) for f in failures] == [True]


def test_a_forked_child_queues_for_the_lock_its_parent_holds(tmp_path: Path) -> None:
    """After fork the child has a mutex and a descriptor of its own: it neither inherits a
    mutex that a parent thread held nor shares the parent's flock."""
    database = tmp_path / "forked.db"
    lock = WriteLock(str(database), seconds=20)
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            taken.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: take the lock, say so, leave without pytest's teardown
        code = 0
        try:
            with lock:
                os.write(write_end, b"got")
        except BaseException:
            code = 3
        os._exit(code)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 0.5)
        assert not ready, "the child took the lock while a thread of its parent held it"
    finally:
        release.set()
        holder.join(timeout=30)
    ready, _, _ = select.select([read_end], [], [], 30)
    assert ready and os.read(read_end, 3) == b"got"
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    os.close(read_end)


class _Interrupted(Exception):
    pass


def test_an_interrupted_wait_does_not_leave_the_lock_held(tmp_path: Path) -> None:
    """A signal whose handler raises (Ctrl-C, a time-out of the caller) while the writer waits:
    once the holder lets go, nobody in this process keeps the lock."""
    database = tmp_path / "interrupted.db"
    holder = _holder(database)
    lock = WriteLock(str(database), seconds=30)

    def interrupt(_signum: int, _frame: object) -> None:
        raise _Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(_Interrupted), lock:
            pytest.fail("entered while another process held the lock")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        _release(holder)
    assert _eventually_free(tmp_path / "interrupted.db-writelock")
    with lock:
        pass


def test_a_failed_wait_given_up_is_not_handed_to_the_next_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel refusing the waiting flock (ENOLCK) after its waiter gave up: the next writer
    waits afresh rather than receiving that stale error."""
    database = tmp_path / "stale.db"
    holder = _holder(database)
    lock = WriteLock(str(database), seconds=0.3)
    real_flock = fcntl.flock

    def flock(fd: int, operation: int) -> None:
        if threading.current_thread().name == "write-lock-wait":
            time.sleep(0.6)  # past the waiter's time limit
            raise OSError(errno.ENOLCK, "No locks available")
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    try:
        _gives_up(lock)
        time.sleep(0.6)  # the acquirer fails meanwhile
    finally:
        _release(holder)
    lock.seconds = 30
    assert _enter_in_thread(lock) == [None]
