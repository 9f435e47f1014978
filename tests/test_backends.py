"""The run uses the stack it was asked to use (see .ci/run)."""

from __future__ import annotations


def test_the_suite_runs_on_the_configured_backends(engine: object, settings: object) -> None:
    """A run asked to use PostgreSQL and Redis must not quietly fall back to the defaults."""
    import os

    from creator_enrich.batches.tasks import process_chunk_task

    expected_db = "postgresql" if os.environ.get("CREATOR_ENRICH_TEST_DATABASE_URL") else "sqlite"
    assert engine.dialect.name == expected_db  # type: ignore[attr-defined]
    broker = type(process_chunk_task.broker).__name__
    redis = bool(os.environ.get("CREATOR_ENRICH_TEST_BROKER_URL"))
    assert broker == ("RedisBroker" if redis else "StubBroker")
