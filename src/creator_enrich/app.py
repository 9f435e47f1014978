"""The FastAPI application factory; in embedded mode the lifespan also runs the job worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from creator_enrich import __version__
from creator_enrich.api import accounts, batches, enrich, errors
from creator_enrich.api.limits import BodySizeLimit
from creator_enrich.api.rate_limits import RateLimiter, RateLimitHeaders
from creator_enrich.config import Settings, get_settings
from creator_enrich.db.engine import get_engine
from creator_enrich.worker.embedded import EmbeddedWorker
from creator_enrich.worker.process import WorkerProcesses

log = logging.getLogger(__name__)

DESCRIPTION = """\
Self-hosted creator enrichment, compatible with the Influencers Club public API (batch
enrichment). Authenticate with `Authorization: Bearer <API key>`.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    running: EmbeddedWorker | WorkerProcesses | None = None
    if settings.runs_worker_process:
        running = WorkerProcesses(settings).start()
    elif settings.runs_embedded_worker:
        running = EmbeddedWorker(settings).start()
    app.state.worker = running  # tests pause an in-process worker to hold a batch still
    try:
        yield
    finally:
        if running is not None:
            running.stop()


TOO_MANY = {
    "description": "More requests than the account's limit per minute; see `Retry-After`",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """Declare our 400 validation body instead of FastAPI's unused 422, and 429 everywhere."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            if responses.get("422", {}).get("description") == "Validation Error":
                responses.pop("422")
            responses.setdefault("429", TOO_MANY)
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    app.openapi_schema = schema
    return schema


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="creator-enrich",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = get_engine(settings.resolved_database_url)
    app.state.rate_limiter = RateLimiter.from_settings(settings)
    errors.install(app)
    app.include_router(batches.router)
    app.include_router(enrich.router)
    app.include_router(accounts.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(
        BodySizeLimit,
        upload_path=batches.PREFIX + "/",
        upload_limit=settings.max_upload_bytes + 64 * 1024,
        default_limit=1024 * 1024,
    )
    app.add_middleware(RateLimitHeaders)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
