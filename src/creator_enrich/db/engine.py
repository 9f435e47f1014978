"""Engines for SQLite (default) and PostgreSQL, with the per-dialect details kept here.

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` for write transactions: a deferred transaction
that reads, then writes while another writer commits, fails with SQLITE_BUSY; taking the write
lock up front makes it wait (``busy_timeout``) instead.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def normalise_url(url: str) -> str:
    """Pick the driver ourselves so that plain ``sqlite:///`` and ``postgresql://`` URLs work."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return parsed.set(drivername="sqlite+pysqlite").render_as_string(hide_password=False)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module; we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        # 8 MB of page cache per connection (SQLite's default is 2 MB). Each pooled connection
        # keeps its cache, so 64 MB each held the API process over 300 MB after one 10 MB batch;
        # the OS page cache serves the store's hot pages either way.
        cursor.execute("PRAGMA cache_size=-8192")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_db_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 60},
            pool_size=16,
            max_overflow=16,
            pool_pre_ping=False,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def get_engine(url: str) -> Engine:
    """One engine per URL per process (engines own connection pools)."""
    url = normalise_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = create_db_engine(url)
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that intends to write: ``BEGIN IMMEDIATE`` on SQLite, plain BEGIN elsewhere.

    SQLite has one writer. Writers queue on ``WriteLock`` rather than on SQLite's busy handler,
    which sleeps in steps of up to 100 ms and would stall every contended commit.
    """
    if engine.dialect.name != "sqlite":
        with engine.connect() as conn, conn.begin():
            yield conn
        return
    with _sqlite_write_lock(engine), engine.connect() as conn:
        conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


WRITE_LOCK_SECONDS = 60.0  # as long as SQLite's busy_timeout would have waited


class WriteLock:
    """One writer at a time on a SQLite file: the threads of this process on a mutex, the
    processes (``serve`` and its worker processes, CLI imports) on an ``flock`` of a file beside
    the database. A waiter sleeps in the kernel and wakes when the holder lets go (SQLite's busy
    handler sleeps up to 100 ms between tries).

    A waiter gives up after ``seconds`` with SQLite's own "database is locked" error (the API
    answers 503, a chunk is retried), so a writer that hangs or is stopped holding the lock
    stalls the others for a minute, not for ever. A blocking ``flock`` cannot time out, so a
    contended one waits in a thread of its own (``_Acquirer``) that the waiter can leave: the
    next writer of this process takes the wait over, and if none comes the lock is let go.
    """

    def __init__(self, database: str | None, seconds: float = WRITE_LOCK_SECONDS) -> None:
        self._mutex = threading.Lock()
        self._guard = threading.Lock()  # the hand-over between a waiter and its acquirer
        self._waiting: _Acquirer | None = None
        self.seconds = seconds
        on_disk = database not in (None, "", ":memory:") and not str(database).startswith("file:")
        self._path = f"{database}-writelock" if on_disk else None
        self._fd: int | None = None
        self._closer: weakref.finalize[Any, Any] | None = None
        _all_write_locks.add(self)

    def _after_fork(self) -> None:
        # The child has only the forking thread: a mutex another thread held would stay held
        # for ever, and the inherited descriptor shares the parent's flock (kept alive by the
        # child if the parent died holding it). Start afresh, with a descriptor of its own.
        self._mutex, self._guard, self._waiting = threading.Lock(), threading.Lock(), None
        if self._closer is not None:
            self._closer.detach()
            self._closer = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _file(self) -> int | None:
        if self._path is None:
            return None
        if self._fd is None:
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            except PermissionError:  # made by another user (flock needs no write access)
                self._fd = os.open(self._path, os.O_RDONLY)
            self._closer = weakref.finalize(self, os.close, self._fd)
            self._closer.atexit = False  # a waiting acquirer may still use it at exit
        return self._fd

    def __enter__(self) -> None:
        deadline = time.monotonic() + self.seconds
        if not self._mutex.acquire(timeout=self.seconds):
            raise _locked(self.seconds)
        try:
            fd = self._file()
            if fd is not None:
                self._flock(fd, deadline)
        except BaseException:  # a time-out, or an interrupt at any point of the wait
            self._abandon()
            self._mutex.release()
            raise

    def __exit__(self, *_: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()

    def _flock(self, fd: int, deadline: float) -> None:
        with self._guard:
            acquirer = self._waiting
            if acquirer is None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    acquirer = self._waiting = _Acquirer(self, fd)
                    acquirer.start()
            acquirer.wanted = True
        acquirer.done.wait(max(0.0, deadline - time.monotonic()))
        with self._guard:
            if not acquirer.done.is_set():
                acquirer.wanted = False  # it lets go when it gets the lock, unless taken over
                raise _locked(self.seconds)
            self._waiting = None
        if acquirer.error is not None:
            raise acquirer.error

    def _abandon(self) -> None:
        """After a failed ``__enter__`` (mutex held): no flock kept, no wait left wanted."""
        with self._guard:
            acquirer = self._waiting
            if acquirer is not None and not acquirer.done.is_set():
                acquirer.wanted = False  # it lets go when it gets the lock
                return
            self._waiting = None
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)  # a lock handed over; a no-op if none

    def _acquired(self, acquirer: _Acquirer) -> None:
        """Called by the acquirer's thread once its ``flock`` returned (or failed)."""
        with self._guard:
            if acquirer.wanted:
                acquirer.done.set()
                return
            # Its waiter gave up and nobody took over: let go (a failure goes unreported).
            if self._waiting is acquirer:
                self._waiting = None
            if acquirer.error is None:
                fcntl.flock(acquirer.fd, fcntl.LOCK_UN)


class _Acquirer:
    """A blocking ``flock`` in a daemon thread, handed to whoever waits for it."""

    def __init__(self, lock: WriteLock, fd: int) -> None:
        self.fd = fd
        self.wanted = True
        self.done = threading.Event()
        self.error: OSError | None = None
        self._lock = lock

    def start(self) -> None:
        threading.Thread(target=self._run, name="write-lock-wait", daemon=True).start()

    def _run(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError as exc:
            self.error = exc
        self._lock._acquired(self)


def _locked(seconds: float) -> OperationalError:
    reason = sqlite3.OperationalError(f"database is locked (no write lock in {seconds:g} s)")
    return OperationalError("BEGIN IMMEDIATE", None, reason)


_all_write_locks: weakref.WeakSet[WriteLock] = weakref.WeakSet()


def _reset_write_locks_after_fork() -> None:
    for lock in list(_all_write_locks):
        lock._after_fork()


os.register_at_fork(after_in_child=_reset_write_locks_after_fork)


_write_locks: weakref.WeakKeyDictionary[Engine, WriteLock] = weakref.WeakKeyDictionary()


def _sqlite_write_lock(engine: Engine) -> WriteLock:
    with _lock:
        lock = _write_locks.get(engine)
        if lock is None:
            lock = _write_locks[engine] = WriteLock(engine.url.database)
        return lock


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A short read transaction, one consistent snapshot on both dialects: SQLite's deferred
    transaction keeps the snapshot of its first read; PostgreSQL needs REPEATABLE READ (its
    READ COMMITTED gives each statement its own). A batch chunk relies on it: the profile revision
    it stores with its results must be the one its lookups saw."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def analyze_store(engine: Engine) -> None:
    """After a bulk load, PostgreSQL: refresh the planner's statistics of the creator store now,
    rather than whenever autovacuum gets to it, so that the first batches are planned with the
    store's real size. SQLite keeps no statistics unless asked (the schema's indexes suffice)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE creators, profiles")
