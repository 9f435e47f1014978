"""Build the reference API's records for a set of lookup keys, one bulk lookup per call.

Each mode has one builder: ``keys -> {key: Outcome}``. The batch worker and the single-enrichment
endpoints call the same builders, so a creator gets the same record either way. Stored blocks are
already serialised, so a record is assembled by joining JSON text, not by decoding and re-encoding
the large parts (platform blocks, audience).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine

from creator_enrich.creators import store
from creator_enrich.db.schema import Profile
from creator_enrich.enrichment.fields import CREATOR_FIELDS, SECONDARY_FIELDS
from creator_enrich.enrichment.options import EnrichOptions

SUCCESS = "success"
NOT_FOUND = "not_found"
AUDIENCE_PLATFORMS = ("instagram", "tiktok", "youtube")
LOOKALIKES = 10
# What the reference answers for a profile that has no audience data (live captures).
EMPTY_AUDIENCE = orjson.dumps(
    {
        "audience_followers": {"success": False, "error": "empty_audience"},
        "audience_commenters": {"success": False, "error": "empty_audience"},
        "audience_likers": {"success": False, "error": "empty_audience"},
        "audience_credibility_followers_histogram": None,
        "audience_credibility_likers_histogram": None,
    }
).decode()


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    data: str | None = None
    reason: str | None = None
    # Set (batches only) when the record's primary block is left in the store: the record is
    # assemble(block of this profile, data), built when it is sent.
    profile_id: int | None = None


NOT_FOUND_OUTCOME = Outcome(NOT_FOUND, None, "No data found")
NO_EMAIL = Outcome(NOT_FOUND, None, "No email found for this creator (email_required=must_have)")
FILTERED_OUT = Outcome(NOT_FOUND, None, "No platform passes exclude_platforms / min_followers")


@dataclass(frozen=True, slots=True)
class EnrichContext:
    """What builders read from: a connection for the store, and the lookalike index's home."""

    conn: Connection
    engine: Engine
    data_dir: Path
    # A batch stores results that refer to the primary profile rather than copy its block
    # (``BatchResult``); a single enrichment answers with the whole record.
    refer: bool = False


Builder = Callable[[EnrichContext, EnrichOptions, Sequence[str]], dict[str, Outcome]]


def assemble(
    platform: str, block: str | None, audience_json: str | None, audience: bool, rest: str | None
) -> str:
    """A record that starts with the primary profile's block: ``rest`` is what follows it
    (``,"youtube":{...},...``), empty for raw."""
    block = block or "{}"
    if audience:
        block = _with_audience(block, audience_json or EMPTY_AUDIENCE)
    return '{"' + platform + '":' + block + (rest or "") + "}"


def _with_audience(block: str, audience: str) -> str:
    """Add ``audience`` as the block's last key, by text (the block is never decoded)."""
    if block.strip() == "{}":
        return '{"audience":' + audience + "}"
    return block.rstrip()[:-1] + ',"audience":' + audience + "}"


def _creator_fields(data: str) -> str:
    """The creator-level keys of the full record (without braces, for joining)."""
    stored = orjson.loads(data)
    return orjson.dumps({key: stored.get(key) for key in CREATOR_FIELDS}).decode()[1:-1]


def _secondary(row: Any) -> str:
    """A secondary platform as the reference shows it: a handful of identity and size fields."""
    verified = orjson.loads(row.verified_json) if row.verified_json is not None else None
    values = (
        row.platform_user_id,
        row.username,
        row.full_name,
        row.followers,
        row.engagement_percent,
        verified,
        row.picture,
    )
    return orjson.dumps(dict(zip(SECONDARY_FIELDS, values, strict=True))).decode()


def _lookalikes(ctx: EnrichContext, platform: str, profile_ids: list[int]) -> dict[int, str]:
    from creator_enrich.enrichment.lookalike_index import lookalikes_json

    return lookalikes_json(ctx.engine, ctx.data_dir, platform, profile_ids, LOOKALIKES)


def build_raw(
    ctx: EnrichContext, options: EnrichOptions, keys: Sequence[str]
) -> dict[str, Outcome]:
    """``raw``: the platform block as the platform reports it, grouped under the platform name."""
    platform = options.platform
    assert platform is not None
    if ctx.refer:  # the index alone answers: no block is read
        ids = store.find_profiles(ctx.conn, platform, keys, Profile.id)
        return {
            key: Outcome(SUCCESS, profile_id=ids[key].id) if key in ids else NOT_FOUND_OUTCOME
            for key in keys
        }
    found = store.raw_blocks(ctx.conn, platform, keys)
    return {
        key: Outcome(SUCCESS, assemble(platform, found[key], None, False, None))
        if key in found
        else NOT_FOUND_OUTCOME
        for key in keys
    }


@dataclass(frozen=True, slots=True)
class HandleParts:
    """What a handle mode beyond raw puts in its record; full, profile and analytics differ
    only in these."""

    block_column: Any
    creator_fields: bool
    secondaries: bool
    audience: Callable[[EnrichOptions], bool]
    lookalikes: Callable[[EnrichOptions], bool]


FULL = HandleParts(
    Profile.full_json, True, True, lambda o: o.include_audience_data, lambda o: o.include_lookalikes
)
# Single only: who the creator is and how to reach them, without analytics.
PROFILE = HandleParts(Profile.raw_json, True, True, lambda _o: False, lambda _o: False)
# Single only: performance and audience of one platform, without contact data.
ANALYTICS = HandleParts(
    Profile.full_json, False, False, lambda _o: True, lambda o: o.include_lookalikes
)


def _handle_builder(parts: HandleParts) -> Builder:
    def build(
        ctx: EnrichContext, options: EnrichOptions, keys: Sequence[str]
    ) -> dict[str, Outcome]:
        return _handle_records(ctx, options, keys, parts)

    return build


def _handle_records(
    ctx: EnrichContext, options: EnrichOptions, keys: Sequence[str], parts: HandleParts
) -> dict[str, Outcome]:
    platform = options.platform
    assert platform is not None
    audience = _audience(parts, options)
    lookalikes = parts.lookalikes(options)
    refer = ctx.refer and options.mode in REFERRING_MODES
    columns: list[Any] = [Profile.id, Profile.creator_id]
    if not refer:
        columns.append(parts.block_column.label("block"))
        if audience:
            columns.append(Profile.audience_json)
    primary = store.find_profiles(ctx.conn, platform, keys, *columns)
    creator_ids = {row.creator_id for row in primary.values()}
    creators = store.creators_by_id(ctx.conn, creator_ids)
    others = (
        store.profiles_of_creators(
            ctx.conn,
            creator_ids,
            Profile.platform_user_id,
            Profile.username,
            Profile.full_name,
            Profile.engagement_percent,
            Profile.picture,
            Profile.verified_json,
            except_platform=platform,  # a creator has one profile per platform: the primary
        )
        if parts.secondaries
        else {}
    )
    similar = _lookalikes(ctx, platform, [r.id for r in primary.values()]) if lookalikes else {}
    outcomes: dict[str, Outcome] = {}
    for key in keys:
        row = primary.get(key)
        if row is None:
            outcomes[key] = NOT_FOUND_OUTCOME
            continue
        creator = creators[row.creator_id]
        if options.email_required == "must_have" and not creator.email:
            outcomes[key] = NO_EMAIL
            continue
        items = [""]  # the block's place: what follows it starts with a comma
        for other in others.get(row.creator_id, ()):
            items.append('"' + other.platform + '":' + _secondary(other))
        if parts.creator_fields:
            items.append(_creator_fields(creator.data))
        if lookalikes:
            items.append('"lookalikes":' + similar[row.id])
        rest = ",".join(items)
        if refer:
            outcomes[key] = Outcome(SUCCESS, rest or None, profile_id=row.id)
        else:
            record = assemble(
                platform, row.block, row.audience_json if audience else None, audience, rest
            )
            outcomes[key] = Outcome(SUCCESS, record)
    return outcomes


def _audience(parts: HandleParts, options: EnrichOptions) -> bool:
    return parts.audience(options) and options.platform in AUDIENCE_PLATFORMS


# The batch modes whose found results refer to the primary profile (see referenced_block).
_REFERRED: dict[str, Callable[[EnrichOptions], tuple[Any, bool]]] = {
    "raw": lambda _o: (Profile.raw_json, False),
    "full": lambda o: (FULL.block_column, _audience(FULL, o)),
}
REFERRING_MODES = tuple(_REFERRED)


def referenced_block(options: EnrichOptions) -> tuple[Any, bool] | None:
    """The profile column a stored batch result of these options refers to, and whether the
    audience block is merged into it; None for modes whose results hold their whole record."""
    block = _REFERRED.get(options.mode)
    return block(options) if block is not None else None


def _allowed(options: EnrichOptions, platform: str, followers: int) -> bool:
    if platform in options.exclude_platforms:
        return False
    return options.min_followers is None or followers >= options.min_followers


def build_basic(
    ctx: EnrichContext, options: EnrichOptions, keys: Sequence[str]
) -> dict[str, Outcome]:
    """``basic``: the creator's biggest platform that passes the filters, in the 3.3 shape."""
    profiles = store.profiles_by_email(ctx.conn, keys)
    outcomes: dict[str, Outcome] = {}
    for email in keys:
        if email not in profiles:
            outcomes[email] = NOT_FOUND_OUTCOME
            continue
        candidates = [p for p in profiles[email] if _allowed(options, p.platform, p.followers)]
        if not candidates:
            outcomes[email] = FILTERED_OUT
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


def build_advanced(
    ctx: EnrichContext, options: EnrichOptions, keys: Sequence[str]
) -> dict[str, Outcome]:
    """``advanced``: every platform of the creator with its full block (biggest first), filtered
    by ``exclude_platforms`` and ``min_followers``, then the creator-level fields."""
    creators = store.creators_by_email(ctx.conn, keys)
    profiles = store.profiles_of_creators(
        ctx.conn, (c.id for c in creators.values()), Profile.full_json
    )
    outcomes: dict[str, Outcome] = {}
    for email in keys:
        creator = creators.get(email)
        if creator is None:
            outcomes[email] = NOT_FOUND_OUTCOME
            continue
        blocks = [
            '"' + p.platform + '":' + (p.full_json or "{}")
            for p in profiles.get(creator.id, ())
            if _allowed(options, p.platform, p.followers)
        ]
        if not blocks:
            outcomes[email] = FILTERED_OUT
            continue
        fields = _creator_fields(creator.data)
        outcomes[email] = Outcome(SUCCESS, "{" + ",".join([*blocks, fields]) + "}")
    return outcomes


BUILDERS: dict[str, Builder] = {
    "raw": build_raw,
    "full": _handle_builder(FULL),
    "basic": build_basic,
    "advanced": build_advanced,
    "profile": _handle_builder(PROFILE),
    "analytics": _handle_builder(ANALYTICS),
}
BATCH_MODES = ("raw", "full", "basic", "advanced")


def enrich(ctx: EnrichContext, options: EnrichOptions, keys: Sequence[str]) -> dict[str, Outcome]:
    return BUILDERS[options.mode](ctx, options, keys)
