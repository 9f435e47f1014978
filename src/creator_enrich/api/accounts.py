"""Account routes: the credit balance (at the real path and the path the guides print)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from creator_enrich.api.deps import CallerDep, EngineDep
from creator_enrich.api.schemas import Credits, ErrorBody
from creator_enrich.credits.ledger import balance
from creator_enrich.db.types import plain_decimal

router = APIRouter(prefix="/public/v1", tags=["Account"])


def credits(caller: CallerDep, engine: EngineDep) -> Response:
    current = balance(engine, caller.account_id)
    # JSON numbers written from the Decimals themselves, so no float rounding ever shows.
    body = (
        f'{{"credits_available":{plain_decimal(current.available)},'
        f'"credits_used":{plain_decimal(current.used)}}}'
    )
    return Response(body, media_type="application/json")


_DOC = {
    "response_model": Credits,
    "responses": {401: {"model": ErrorBody, "description": "Missing or invalid API key"}},
    "summary": "Credits available and used",
}
router.add_api_route("/accounts/credits/", credits, methods=["GET"], **_DOC)  # type: ignore[arg-type]
router.add_api_route(
    "/account/credits",
    credits,
    methods=["GET"],
    include_in_schema=False,  # alias the docs print
)
router.add_api_route("/account/credits/", credits, methods=["GET"], include_in_schema=False)
