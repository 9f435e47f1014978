"""One settings object, read from the environment (prefix ``CREATOR_ENRICH_``) by all commands."""

from __future__ import annotations

import secrets
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLATFORMS = ("instagram", "youtube", "tiktok", "twitter", "twitch", "onlyfans")
MODES = ("raw", "full", "basic", "advanced")


class Settings(BaseSettings):
    """Every tunable of the server; CLI commands and the API read the same instance."""

    model_config = SettingsConfigDict(env_prefix="CREATOR_ENRICH_", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = None
    broker_url: str = "memory://"
    secret_key: str | None = None
    public_base_url: str | None = Field(
        default=None, description="Base URL used in signed download links; default: the request's"
    )

    # Intake
    max_upload_bytes: int = 10 * 1024 * 1024
    max_rows: int | None = None
    chunk_size: int = 1000

    # Worker
    # Two: SQLite has one writer, and more threads only queue on it and on the interpreter lock
    # (bench/RESULTS.md: 4 threads were the slowest of 1, 2 and 4).
    worker_threads: int = 2
    embedded_worker: bool | None = None  # default: on with memory://, off otherwise
    # With memory://, run the embedded worker in child processes of `serve`, fed through pipes,
    # so that chunks never hold the API's interpreter lock; false runs it as threads in the API.
    worker_process: bool = True
    # How many: chunk reads and record building run in parallel, SQLite commits one at a time
    # (2 processes: 10 MB raw batch 46-50k -> 61-75k rows/s on 2 cores, bench/RESULTS.md).
    worker_processes: int = 2
    # Worker processes (serve's children, `creator-enrich worker`) lower their CPU priority by
    # this much (nice, 0-19), so that on a busy machine status polls, uploads and downloads are
    # answered first and chunks take the CPU the API leaves; 0 keeps them at the API's priority.
    worker_nice: int = Field(default=10, ge=0, le=19)
    lease_seconds: int = 120  # renewed every third of it while a live worker is on the chunk
    chunk_time_limit_seconds: int = 900  # then the attempt is aborted (and retried)
    # `creator-enrich worker` on SIGTERM: in-flight chunks get this long, then the process exits
    # (their leases expire and they run again); bounds the exit even when Redis is down.
    worker_shutdown_seconds: int = 10
    max_chunk_retries: int = 5  # then the chunk's rows end as `failed`
    sweep_interval_seconds: float = 30.0
    requeue_after_seconds: float = 300.0
    # Fault tests only: "before_commit:N" / "after_commit:N" kills the process at that point
    # of its Nth chunk commit (see batches/failpoints.py). Unset in any real deployment.
    crash_at: str | None = None

    # Downloads and retention
    download_link_ttl_seconds: int = 3600
    results_retention_days: float = 30.0  # then rows and results are deleted; 0 keeps them

    # Abuse limits
    rate_limit_per_minute: int = 300  # per account, all endpoints; 0 turns the limit off
    rate_limit_storage_url: str | None = None  # default: the Redis broker, else process memory
    rate_limit_key_prefix: str = "creator-enrich-rate"  # per deployment sharing one Redis
    idempotency_key_hours: float = 24.0  # how long an Idempotency-Key replays its batch

    # Credit rates per enriched record (Decimal, exact)
    rate_raw: Decimal = Decimal("0.03")
    rate_full: Decimal = Decimal("1")
    rate_basic: Decimal = Decimal("0.05")
    rate_advanced: Decimal = Decimal("2")
    rate_profile: Decimal = Decimal("0.2")
    rate_analytics: Decimal = Decimal("0.8")

    # Batch option defaults (the reference's docs disagree; see README)
    default_include_lookalikes: bool = True
    default_include_audience_data: bool = True
    # Single-enrichment defaults (the reference's single calls default both to off)
    single_include_lookalikes: bool = False
    single_include_audience_data: bool = False

    @field_validator(
        "chunk_size",
        "worker_threads",
        "worker_processes",
        "max_upload_bytes",
        "lease_seconds",
        "chunk_time_limit_seconds",
        "worker_shutdown_seconds",
    )
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be positive")
        return value

    @field_validator("crash_at")
    @classmethod
    def _crash_point(cls, value: str | None) -> str | None:
        if value:
            from creator_enrich.batches.failpoints import parse

            parse(value)
        return value or None

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'creator-enrich.db').resolve()}"

    @property
    def resolved_rate_limit_storage_url(self) -> str:
        """Counts must be shared by every API process: Redis whenever the broker is Redis."""
        if self.rate_limit_storage_url:
            return self.rate_limit_storage_url
        return "memory://" if self.is_memory_broker else self.broker_url

    @property
    def is_memory_broker(self) -> bool:
        return self.broker_url.startswith("memory://")

    @property
    def runs_embedded_worker(self) -> bool:
        return self.is_memory_broker if self.embedded_worker is None else self.embedded_worker

    @property
    def runs_worker_process(self) -> bool:
        """The embedded worker runs in a child process (only the in-memory broker needs one)."""
        return self.runs_embedded_worker and self.is_memory_broker and self.worker_process

    def rate_for(self, mode: str) -> Decimal:
        rates = {
            "raw": self.rate_raw,
            "full": self.rate_full,
            "basic": self.rate_basic,
            "advanced": self.rate_advanced,
            "profile": self.rate_profile,
            "analytics": self.rate_analytics,
        }
        return rates[mode]

    def signing_key(self) -> bytes:
        """The key that signs download links: the setting, else one persisted in the data dir.

        Persisting it means links survive a restart; a fresh random key per process would not.
        """
        if self.secret_key:
            if len(self.secret_key) < 32:
                raise ValueError("CREATOR_ENRICH_SECRET_KEY must be at least 32 characters")
            return self.secret_key.encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            tmp.replace(path)
        return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
