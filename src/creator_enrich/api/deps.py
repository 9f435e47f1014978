"""Dependencies: settings, engine, and the authenticated caller (short ``Annotated`` aliases)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from creator_enrich.accounts.service import Caller, authenticate
from creator_enrich.api.rate_limits import STATE_KEY, RateLimiter
from creator_enrich.config import Settings
from creator_enrich.errors import Forbidden, NotAuthenticated

bearer = HTTPBearer(auto_error=False, bearerFormat="API key", description="Your API key")
CHALLENGE = {"WWW-Authenticate": "Bearer"}


# Async on purpose: FastAPI runs a plain ``def`` dependency in the thread pool, and a thread hop
# per dependency per request cost more than these attribute reads (worse while worker threads
# hold the interpreter lock).
async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_engine_dep(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EngineDep = Annotated[Engine, Depends(get_engine_dep)]


def count_request(request: Request, account_id: int) -> None:
    """Count a request against the account's rate limit (429 past it)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    setattr(request.state, STATE_KEY, limiter.check(account_id))


CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def presented_key(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The Bearer key, or 401 when there is none."""
    if credentials is None:
        raise NotAuthenticated("Authentication credentials were not provided.", headers=CHALLENGE)
    return credentials.credentials


def admit(request: Request, caller: Caller | None) -> Caller:
    """401 for a key that did not authenticate; else count the request (429 past the limit)."""
    if caller is None:
        raise NotAuthenticated("Invalid API key.", headers=CHALLENGE)
    count_request(request, caller.account_id)
    return caller


def require_caller(request: Request, engine: EngineDep, credentials: CredentialsDep) -> Caller:
    return admit(request, authenticate(engine, presented_key(credentials)))


def require_writer(caller: Annotated[Caller, Depends(require_caller)]) -> Caller:
    """A caller whose key may spend credits or change things: a read-only key gets 403."""
    if caller.read_only:
        raise Forbidden(
            "This API key is read-only: it cannot create, resume or delete batches, "
            "or spend credits on single enrichments."
        )
    return caller


CallerDep = Annotated[Caller, Depends(require_caller)]
WriterDep = Annotated[Caller, Depends(require_writer)]
