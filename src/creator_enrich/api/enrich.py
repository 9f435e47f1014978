"""Single-enrichment routes: by handle (raw, full, profile, analytics) and by email."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from creator_enrich.api.deps import EngineDep, SettingsDep, WriterDep
from creator_enrich.api.schemas import ErrorBody
from creator_enrich.creators.handles import MAX_EMAIL_LENGTH, MAX_VALUE_LENGTH
from creator_enrich.db.types import plain_decimal
from creator_enrich.enrichment.options import EnrichOptions
from creator_enrich.enrichment.single import enrich_one

router = APIRouter(prefix="/public/v1/creators/enrich", tags=["Single enrichment"])
Handler = Callable[..., Awaitable[Response]]

Platform = Literal["instagram", "youtube", "tiktok", "twitter", "twitch", "onlyfans"]
Handle = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_VALUE_LENGTH,
        description="username, profile URL or YouTube channel id; its syntax depends on "
        "`platform` (a value that cannot be a handle there is a 400 naming `handle`)",
    ),
]
# The limits the server applies, so that the schema promises no value it then refuses.
Email = Annotated[
    str,
    Field(
        min_length=3,
        max_length=MAX_EMAIL_LENGTH,
        description="an email address (a syntactically invalid one is a 400 naming `email`)",
    ),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class HandleRaw(_Body):
    handle: Handle
    platform: Platform


class HandleFull(HandleRaw):
    email_required: Literal["must_have", "preferred"] = "preferred"
    include_lookalikes: bool | None = None
    include_audience_data: bool | None = None


class HandleProfile(HandleRaw):
    email_required: Literal["must_have", "preferred"] = "preferred"


class HandleAnalytics(HandleRaw):
    include_lookalikes: bool | None = None


class EmailBasic(_Body):
    email: Email


class EmailAdvanced(EmailBasic):
    exclude_platforms: list[Platform] = Field(default_factory=list, max_length=6)
    min_followers: Annotated[int, Field(ge=0, le=10**12)] | None = None


class Envelope(BaseModel):
    result: dict[str, Any]
    credits_cost: float = Field(description="exact decimal number; 0 when nothing was found")
    trial_searches_left: int


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid request; `errors` names each field"},
    401: {"model": ErrorBody, "description": "Missing or invalid API key"},
    402: {"model": ErrorBody, "description": "Not enough credits for this call"},
    403: {"model": ErrorBody, "description": "The API key is read-only (it cannot spend credits)"},
    404: {"model": ErrorBody, "description": "No data found (nothing is charged)"},
}


async def _answer(
    engine: Any, settings: Any, caller: Any, options: EnrichOptions, value: str
) -> Response:
    single = await run_in_threadpool(enrich_one, engine, settings, caller, options, value)
    cost = plain_decimal(single.credits_cost)
    body = f'{{"result":{single.result},"credits_cost":{cost},"trial_searches_left":0}}'
    return Response(body, media_type="application/json")


def _or(value: bool | None, default: bool) -> bool:
    return default if value is None else value


def _route(path: str, summary: str) -> Callable[[Handler], Handler]:
    return router.post(path, response_model=Envelope, responses=ERRORS, summary=summary)


@_route("/handle/raw/", "Raw platform data for a handle (0.03 credits)")
async def handle_raw(
    body: HandleRaw, caller: WriterDep, engine: EngineDep, settings: SettingsDep
) -> Response:
    options = EnrichOptions(mode="raw", platform=body.platform)
    return await _answer(engine, settings, caller, options, body.handle)


@_route("/handle/full/", "Full creator record for a handle (1 credit)")
async def handle_full(
    body: HandleFull, caller: WriterDep, engine: EngineDep, settings: SettingsDep
) -> Response:
    options = EnrichOptions(
        mode="full",
        platform=body.platform,
        email_required=body.email_required,
        include_lookalikes=_or(body.include_lookalikes, settings.single_include_lookalikes),
        include_audience_data=_or(
            body.include_audience_data, settings.single_include_audience_data
        ),
    )
    return await _answer(engine, settings, caller, options, body.handle)


@_route("/handle/profile/", "Profile and contact data for a handle (0.2 credits)")
async def handle_profile(
    body: HandleProfile, caller: WriterDep, engine: EngineDep, settings: SettingsDep
) -> Response:
    options = EnrichOptions(
        mode="profile", platform=body.platform, email_required=body.email_required
    )
    return await _answer(engine, settings, caller, options, body.handle)


@_route("/handle/analytics/", "Analytics and audience for a handle (0.8 credits)")
async def handle_analytics(
    body: HandleAnalytics, caller: WriterDep, engine: EngineDep, settings: SettingsDep
) -> Response:
    options = EnrichOptions(
        mode="analytics",
        platform=body.platform,
        include_lookalikes=_or(body.include_lookalikes, settings.single_include_lookalikes),
    )
    return await _answer(engine, settings, caller, options, body.handle)


@_route("/email/", "The creator behind an email: biggest platform (0.05 credits)")
async def email_basic(
    body: EmailBasic, caller: WriterDep, engine: EngineDep, settings: SettingsDep
) -> Response:
    return await _answer(engine, settings, caller, EnrichOptions(mode="basic"), body.email)


@_route("/email/advanced/", "The creator behind an email: every platform (2 credits)")
async def email_advanced(
    body: EmailAdvanced, caller: WriterDep, engine: EngineDep, settings: SettingsDep
) -> Response:
    options = EnrichOptions(
        mode="advanced",
        exclude_platforms=tuple(dict.fromkeys(body.exclude_platforms)),
        min_followers=body.min_followers,
    )
    return await _answer(engine, settings, caller, options, body.email)
