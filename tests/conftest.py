"""Shared fixtures: a real database (SQLite file, or PostgreSQL when configured), a generated
creator store, the real app and a real Dramatiq worker (in the API process with the in-memory
broker, as in the embedded default; beside it on Redis, as separate workers would be).

The environment is set before anything from the package is imported, because the settings and
the Dramatiq broker are process-wide (as they are in the server).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from tests.databases import BROKER_URL, DATA_DIR, drop_databases, fresh_database_url

os.environ["CREATOR_ENRICH_DATA_DIR"] = str(DATA_DIR)
os.environ["CREATOR_ENRICH_DATABASE_URL"] = fresh_database_url("main")
os.environ["CREATOR_ENRICH_BROKER_URL"] = BROKER_URL
os.environ["CREATOR_ENRICH_CHUNK_SIZE"] = "50"
os.environ["CREATOR_ENRICH_SWEEP_INTERVAL_SECONDS"] = "0.5"
os.environ["CREATOR_ENRICH_REQUEUE_AFTER_SECONDS"] = "30"
os.environ["CREATOR_ENRICH_MAX_CHUNK_RETRIES"] = "2"
# The app under TestClient runs its worker as threads, which tests can pause; the worker process
# of `serve`'s default is tested through real servers (tests/processes.py sets it back on).
os.environ["CREATOR_ENRICH_WORKER_PROCESS"] = "false"
# Tests poll fast from one account; the rate-limit tests build their own app with the real limit.
os.environ["CREATOR_ENRICH_RATE_LIMIT_PER_MINUTE"] = "1000000"
os.environ["CREATOR_ENRICH_RATE_LIMIT_KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"

from fastapi.testclient import TestClient

from creator_enrich.accounts.service import create_account, create_api_key
from creator_enrich.config import Settings, get_settings
from creator_enrich.creators.generate import generate_store
from creator_enrich.db.engine import dispose_engines, get_engine
from creator_enrich.db.migrate import upgrade
from tests.processes import Server, admin_flow


def pytest_report_header() -> str:
    database = os.environ["CREATOR_ENRICH_DATABASE_URL"].split("://")[0]
    return f"creator-enrich backends: database {database}, broker {BROKER_URL.split('://')[0]}"


# Fault tests stop and start PostgreSQL and Redis: only a run that owns them may do that.
collect_ignore = [] if os.environ.get("CREATOR_ENRICH_TEST_SERVICES_DIR") else ["test_faults.py"]

STORE_CREATORS = 3000
STORE_SEED = 7


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Any:
    upgrade(settings.resolved_database_url)
    engine = get_engine(settings.resolved_database_url)
    generate_store(engine, creators=STORE_CREATORS, seed=STORE_SEED)
    return engine


@pytest.fixture(scope="session")
def client(engine: Any, settings: Settings) -> Iterator[TestClient]:
    from creator_enrich.app import create_app

    with TestClient(create_app(settings)) as test_client, _separate_worker(settings) as worker:
        if worker is not None:
            test_client.app.state.worker = worker  # type: ignore[attr-defined]
        yield test_client


@contextmanager
def _separate_worker(settings: Settings) -> Iterator[Any]:
    """With Redis, the API runs no worker: run a real Dramatiq worker and sweeper beside it."""
    if settings.runs_embedded_worker:
        yield None
        return
    from creator_enrich.batches.tasks import process_chunk_task
    from creator_enrich.worker.embedded import EmbeddedWorker

    process_chunk_task.broker.flush_all()
    worker = EmbeddedWorker(settings).start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def paused_worker(client: TestClient) -> Iterator[Callable[[], None]]:
    """Hold the worker (embedded or separate) still; the test calls the yielded function to let
    it go and wait until every queued message has been handled."""
    from creator_enrich.batches.tasks import process_chunk_task

    worker = client.app.state.worker.worker  # type: ignore[attr-defined]
    worker.pause()
    paused = True

    def drain() -> None:
        nonlocal paused
        if paused:
            worker.resume()
            paused = False
        process_chunk_task.broker.join(process_chunk_task.queue_name, timeout=30_000)
        worker.join()

    try:
        yield drain
    finally:
        if paused:
            worker.resume()


# For modules that run real server processes: each defines a module-scoped `env`
# (tests.processes.server_env) and gets an operator's key and a started server from these.
@pytest.fixture(scope="module")
def admin(env: dict[str, str]) -> dict[str, str]:
    """The CLI flow an operator follows: schema, data, account, key, credits."""
    return {"key": admin_flow(env)}


@pytest.fixture
def server(env: dict[str, str], admin: dict[str, str]) -> Iterator[Server]:
    srv = Server(env)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    dispose_engines()
    drop_databases()
    shutil.rmtree(DATA_DIR, ignore_errors=True)


class Account:
    """A fresh account with its own key, and helpers to call the API as it."""

    def __init__(self, client: TestClient, engine: Any, credits: Decimal) -> None:
        self.client = client
        self.engine = engine
        self.name = f"acct-{uuid.uuid4().hex[:10]}"
        self.id = create_account(engine, self.name, credits)
        self.key = create_api_key(engine, self.name)
        self.headers = {"Authorization": f"Bearer {self.key}"}

    def create(
        self,
        content: bytes | str,
        filename: str = "input.csv",
        **fields: str,
    ) -> Any:
        if isinstance(content, str):
            content = content.encode()
        return self.client.post(
            "/public/v1/enrichment/batch/",
            headers=self.headers,
            data=fields,
            files={"file": (filename, content, "text/csv")},
        )

    def status(self, batch_id: str) -> dict[str, Any]:
        response = self.client.get(
            f"/public/v1/enrichment/batch/{batch_id}/status/", headers=self.headers
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def wait(
        self, batch_id: str, until: tuple[str, ...] = ("finished", "failed"), timeout: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(batch_id)
            if status["status"] in until:
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"batch still {status['status']} after {timeout}s: {status}")
            time.sleep(0.05)

    def results(self, batch_id: str, fmt: str = "json") -> Any:
        response = self.client.get(
            f"/public/v1/enrichment/batch/{batch_id}/",
            params={"format": fmt},
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        return response.json() if fmt == "json" else response.text

    def credits(self) -> dict[str, Any]:
        response = self.client.get("/public/v1/accounts/credits/", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def make_account(client: TestClient, engine: Any) -> Any:
    def make(credits: Decimal | int | str = Decimal(1000)) -> Account:
        return Account(client, engine, Decimal(credits))

    return make


@pytest.fixture
def account(make_account: Any) -> Account:
    return make_account()
