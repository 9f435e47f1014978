"""Single enrichment calls: one value, the same record builders as the batch path, one charge.

A hit is charged at the mode's rate through the same ledger as batches; a miss costs nothing and
answers 404 "No data found" (what the reference says for an unknown creator).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine

from creator_enrich.accounts.service import Caller
from creator_enrich.config import Settings
from creator_enrich.creators.handles import InvalidValue, normalise_email, normalise_handle
from creator_enrich.credits.ledger import charge, locked_balance
from creator_enrich.db.engine import read_connection, write_transaction
from creator_enrich.enrichment.options import EnrichOptions
from creator_enrich.enrichment.records import SUCCESS, EnrichContext, enrich
from creator_enrich.errors import NotFound, PaymentRequired, ValidationFailed


@dataclass(frozen=True, slots=True)
class SingleResult:
    result: str  # the record, JSON text
    credits_cost: Decimal


def _key(options: EnrichOptions, value: str) -> tuple[str, str]:
    field = "handle" if options.kind == "handle" else "email"
    try:
        if options.kind == "handle":
            assert options.platform is not None
            return field, normalise_handle(options.platform, value)
        return field, normalise_email(value)
    except InvalidValue as exc:
        raise ValidationFailed.on(field, exc.reason) from exc


def enrich_one(
    engine: Engine, settings: Settings, caller: Caller, options: EnrichOptions, value: str
) -> SingleResult:
    _field, key = _key(options, value)
    with read_connection(engine) as conn:
        outcome = enrich(EnrichContext(conn, engine, settings.data_dir), options, [key])[key]
    if outcome.status != SUCCESS or outcome.data is None:
        raise NotFound(outcome.reason or "No data found", extra={"credits_cost": 0})
    rate = settings.rate_for(options.mode)
    with write_transaction(engine) as conn:
        available = locked_balance(conn, caller.account_id)
        if available < rate:
            raise PaymentRequired(
                f"Insufficient credits: this call costs {rate}, the balance is {available}.",
                extra={"credits_cost": 0},
            )
        charge(conn, caller.account_id, rate, 1, note=f"single {options.mode}")
    return SingleResult(result=outcome.data, credits_cost=rate)
