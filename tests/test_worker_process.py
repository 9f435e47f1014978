"""The worker processes of `serve` (the embedded default, two of them): fed through pipes,
started again when one dies mid-batch without losing or double-charging a row, and never
outliving the API.

Real servers on the run's database (SQLite, or PostgreSQL), always with the in-memory broker:
that is the only broker that needs a worker process.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from creator_enrich.config import Settings
from creator_enrich.db.engine import create_db_engine, read_connection
from creator_enrich.db.schema import Account
from creator_enrich.worker.broker import PipeBroker
from creator_enrich.worker.child import feed
from creator_enrich.worker.process import child_env
from tests.helpers import assert_money_invariants, results_and_charges
from tests.processes import Server, cli, ghost_csv, is_done, server_env, wait_for_batch


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        **server_env(tmp_path_factory.mktemp("worker-process"), "worker_process", redis_db=5),
        "CREATOR_ENRICH_BROKER_URL": "memory://",
    }


def stat_fields(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command's name: state, ppid, ... (OSError once
    the process is gone)."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (zombies count as gone)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            state, ppid = stat_fields(entry)[:2]
        except OSError:
            continue
        if int(ppid) == pid and state != "Z":
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        return stat_fields(pid)[0] != "Z"
    except OSError:
        return False


def wait_until(condition: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return value


def worker_pids(server: Server, other_than: frozenset[int] = frozenset()) -> set[int]:
    """The two worker processes of ``server`` (none of ``other_than``), once both run."""
    assert server.proc is not None
    api = server.proc.pid

    def found() -> set[int]:
        pids = set(children(api))
        return pids if len(pids) == 2 and not pids & other_than else set()

    return set(wait_until(found, 30, "two (new) worker processes did not start"))


def test_a_killed_worker_process_restarts_them_all_and_the_batch_finishes_once(
    env: dict[str, str], admin: dict[str, str], server: Server, tmp_path: Path
) -> None:
    engine = create_db_engine(env["CREATOR_ENRICH_DATABASE_URL"])
    with read_connection(engine) as conn:
        account_id = int(conn.execute(select(Account.id).where(Account.name == "ops")).scalar_one())
    sample = cli(env, "data", "sample", "--platform", "instagram", "--count", "200").stdout.split()
    csv_path = tmp_path / "big.csv"
    ghost_csv(csv_path, sample, 20_000)  # ~800 chunks of 25: long enough to kill mid-way
    first = worker_pids(server)
    batch_id = str(server.submit(admin["key"], csv_path, "instagram")["batch_id"])
    status = wait_for_batch(
        server.url, admin["key"], batch_id, lambda s: s["processed_rows"] > 0, seconds=60
    )
    os.kill(min(first), signal.SIGKILL)
    assert status["processed_rows"] < status["total_rows"], "the batch must be cut mid-way"
    worker_pids(server, other_than=frozenset(first))  # both replaced
    status = wait_for_batch(server.url, admin["key"], batch_id, is_done, seconds=180)
    assert status["status"] == "finished"
    assert status["processed_rows"] == status["total_rows"] == 20_200
    assert (status["success_count"], status["credits_used"]) == (200, "6.00")
    results, charges = results_and_charges(engine, batch_id)
    assert results == (20_200, 20_200)  # one result per row, none twice
    assert charges == (200, 200)  # one charge per enriched row
    assert_money_invariants(engine, account_id, Decimal("50.5"))  # what admin_flow granted
    engine.dispose()


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_the_worker_process_never_outlives_the_api(
    env: dict[str, str], admin: dict[str, str], how: signal.Signals
) -> None:
    """Only the API process is signalled (not its group): the child sees its pipe close."""
    srv = Server(env)
    srv.start()
    try:
        workers = worker_pids(srv)
        assert srv.proc is not None
        os.kill(srv.proc.pid, how)
        srv.proc.wait(timeout=30)
        wait_until(lambda: not any(alive(pid) for pid in workers), 30, "a worker outlived the API")
    finally:
        srv.stop()


def nice(pid: int) -> int:
    return int(stat_fields(pid)[16])


@pytest.mark.parametrize("lowered", [None, "0", "19"])
def test_worker_processes_yield_the_cpu_to_the_api(
    env: dict[str, str], lowered: str | None
) -> None:
    """On a busy machine the API's requests come first: its children run niced by
    WORKER_NICE (10 unless set), the API itself at the priority it was started with."""
    given = {} if lowered is None else {"CREATOR_ENRICH_WORKER_NICE": lowered}
    srv = Server({**env, **given})
    srv.start()
    try:
        assert srv.proc is not None
        api = nice(srv.proc.pid)
        expected = min(api + int(lowered or 10), 19)
        workers = sorted(worker_pids(srv))
        # A child lowers its priority once it has read its settings, just after it starts.
        wait_until(
            lambda: [nice(pid) for pid in workers] == [expected, expected],
            30,
            f"worker processes not at nice {expected}: {[nice(pid) for pid in workers]}",
        )
    finally:
        srv.stop()


def test_a_nice_value_out_of_range_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="worker_nice"):
        Settings(worker_nice=20)
    with pytest.raises(ValueError, match="worker_nice"):
        Settings(worker_nice=-1)


def test_settings_reach_the_worker_process_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's settings may not come from the environment (tests, embedding); the child must
    run with the same ones, except that it runs its worker in-process."""
    given = Settings(
        chunk_size=77,
        worker_threads=3,
        rate_raw=Decimal("0.0301"),
        data_dir=Path("/tmp/somewhere"),
        max_rows=None,
        default_include_lookalikes=False,
        requeue_after_seconds=12.5,
    )
    env = child_env(given)
    for name in list(os.environ):
        if name.startswith("CREATOR_ENRICH_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith("CREATOR_ENRICH_"):
            monkeypatch.setenv(name, value)
    seen = Settings()
    assert (seen.embedded_worker, seen.worker_process) == (True, False)
    expected = given.model_dump() | {"embedded_worker": True, "worker_process": False}
    assert seen.model_dump() == expected


def test_feed_enqueues_each_line_skips_a_bad_one_and_ends_at_eof() -> None:
    broker = StubBroker()
    broker.declare_queue("chunks")
    sent = [
        dramatiq.Message(
            queue_name="chunks",
            actor_name="process_chunk_task",
            args=(f"b{n}", n),
            kwargs={},
            options={},
        )
        for n in range(3)
    ]
    lines = [sent[0].encode(), b"not a message", sent[1].encode(), sent[2].encode()]
    done = threading.Event()
    feed(io.BytesIO(b"\n".join(lines) + b"\n"), broker, done)
    assert done.is_set()
    queued = broker.queues["chunks"]
    got = [dramatiq.Message.decode(queued.get_nowait()).args for _ in range(queued.qsize())]
    assert got == [("b0", 0), ("b1", 1), ("b2", 2)]


def test_a_pipe_broker_without_a_worker_process_refuses_the_message() -> None:
    """create_batch logs this and answers; the next worker process's start-up sweep sends the
    chunks (test_a_killed_worker_process_restarts... covers the resend)."""
    broker = PipeBroker(Settings())
    broker.declare_queue("chunks")
    message = dramatiq.Message(
        queue_name="chunks", actor_name="a", args=("b", 1), kwargs={}, options={}
    )
    with pytest.raises(BrokenPipeError):
        broker.enqueue(message)
    written: list[bytes] = []
    broker.connect(written.append)
    broker.enqueue(message)
    assert [dramatiq.Message.decode(line.rstrip(b"\n")).args for line in written] == [("b", 1)]


def test_the_worker_command_lowers_its_priority_before_starting_dramatiq(tmp_path: Path) -> None:
    """`creator-enrich worker` replaces itself with Dramatiq's processes, which inherit the
    niceness it set: read it at that exec, in a process of its own (niceness cannot go back)."""
    probe = (
        "import os, sys\n"
        "os.execv = lambda *argv: (print(os.nice(0), argv[1][2]), sys.exit(0))\n"
        "from creator_enrich.cli import app\n"
        "app(['worker', '--processes', '1', '--threads', '1'])\n"
    )
    for given, expected in ((None, 10), ("3", 3)):
        environ = {
            **os.environ,
            "CREATOR_ENRICH_DATA_DIR": str(tmp_path),
            "CREATOR_ENRICH_BROKER_URL": "redis://127.0.0.1:1/0",  # never reached
        }
        environ.pop("CREATOR_ENRICH_WORKER_NICE", None)
        if given is not None:
            environ["CREATOR_ENRICH_WORKER_NICE"] = given
        done = subprocess.run(
            [sys.executable, "-c", probe], env=environ, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [str(min(os.nice(0) + expected, 19)), "dramatiq"]
