"""Build the reference API's records for a set of lookup keys, one bulk lookup per call.

Each mode has one builder: ``keys -> {key: Outcome}``. The batch worker and the single-enrichment
endpoints call the same builders, so a creator gets the same record either way. Stored blocks are
already serialised, so a raw record is assembled by joining bytes, not by decoding and re-encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection

from creator_enrich.creators import store
from creator_enrich.enrichment.options import EnrichOptions

SUCCESS = "success"
NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    data: str | None = None
    reason: str | None = None


NOT_FOUND_OUTCOME = Outcome(NOT_FOUND, None, "No data found")

Builder = Callable[[Connection, EnrichOptions, Sequence[str]], dict[str, Outcome]]


def build_raw(conn: Connection, options: EnrichOptions, keys: Sequence[str]) -> dict[str, Outcome]:
    """``raw``: the platform block as the platform reports it, grouped under the platform name."""
    platform = options.platform
    assert platform is not None
    found = store.raw_blocks(conn, platform, keys)
    prefix = '{"' + platform + '":'
    return {
        key: Outcome(SUCCESS, prefix + found[key] + "}") if key in found else NOT_FOUND_OUTCOME
        for key in keys
    }


def _allowed(options: EnrichOptions, platform: str, followers: int) -> bool:
    if platform in options.exclude_platforms:
        return False
    return options.min_followers is None or followers >= options.min_followers


def build_basic(
    conn: Connection, options: EnrichOptions, keys: Sequence[str]
) -> dict[str, Outcome]:
    """``basic``: the creator's biggest platform that passes the filters, in the 3.3 shape."""
    profiles = store.profiles_by_email(conn, keys)
    outcomes: dict[str, Outcome] = {}
    for email in keys:
        candidates = [
            p for p in profiles.get(email, ()) if _allowed(options, p.platform, p.followers)
        ]
        if not candidates:
            reason = "No data found" if email not in profiles else "No platform passes the filters"
            outcomes[email] = Outcome(NOT_FOUND, None, reason)
            continue
        best = max(candidates, key=lambda p: (p.followers, p.platform))
        record = {
            "platform": best.platform,
            "userId": best.platform_user_id,
            "url": best.profile_url,
            "username": best.username,
            "fullname": best.full_name,
            "picture": best.picture,
            "followers": best.followers,
        }
        outcomes[email] = Outcome(SUCCESS, orjson.dumps(record).decode())
    return outcomes


BUILDERS: dict[str, Builder] = {"raw": build_raw, "basic": build_basic}
SUPPORTED_MODES = tuple(BUILDERS)


def enrich(conn: Connection, options: EnrichOptions, keys: Sequence[str]) -> dict[str, Outcome]:
    return BUILDERS[options.mode](conn, options, keys)
