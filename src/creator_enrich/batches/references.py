"""Results that refer to a stored profile, and how they keep what was charged for.

A found ``raw`` or ``full`` result names its primary profile (``BatchResult.profile_id``) and
stores only what follows that profile's block; the block is read when the record is sent. Two
orders of events could make a sent record differ from the one looked up:

- an import changes the profile after the result was stored: ``write_out`` copies the old
  block into every result that refers to it, in the import's transaction, before the change;
- an import changes it between a chunk's read and its commit: the commit compares the
  platform's revision (``processing``) and reads the chunk again under its write lock.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, select, update

from creator_enrich.db.schema import Batch, BatchResult, Profile
from creator_enrich.enrichment.options import EnrichOptions
from creator_enrich.enrichment.records import assemble, referenced_block

_WRITE_OUT = (
    update(BatchResult)
    .where(BatchResult.batch_id == bindparam("b_batch"), BatchResult.row_no == bindparam("b_row"))
    .values(data=bindparam("b_data"), profile_id=None)
)


def write_out(conn: Connection, profile_ids: Collection[int]) -> int:
    """Copy these profiles' current blocks into the results that refer to them (call it
    before changing the profiles, in the same transaction). Returns how many were written."""
    if not profile_ids:
        return 0
    refs = conn.execute(
        select(
            BatchResult.batch_id, BatchResult.row_no, BatchResult.data, BatchResult.profile_id
        ).where(BatchResult.profile_id.in_(profile_ids))
    ).all()
    if not refs:
        return 0
    profiles = {
        row.id: row
        for row in conn.execute(
            select(Profile.id, Profile.raw_json, Profile.full_json, Profile.audience_json).where(
                Profile.id.in_({r.profile_id for r in refs})
            )
        )
    }
    options = _options_of(conn, {r.batch_id for r in refs})
    written = []
    for ref in refs:
        batch_options = options[ref.batch_id]
        column, audience = _block_of(batch_options)
        profile = profiles.get(ref.profile_id)
        block = getattr(profile, column.key) if profile is not None else None
        audience_json = profile.audience_json if profile is not None else None
        record = assemble(batch_options.platform or "", block, audience_json, audience, ref.data)
        written.append({"b_batch": ref.batch_id, "b_row": ref.row_no, "b_data": record})
    conn.execute(_WRITE_OUT, written)
    return len(written)


def _options_of(conn: Connection, batch_ids: set[str]) -> dict[str, EnrichOptions]:
    rows = conn.execute(select(Batch.id, Batch.options).where(Batch.id.in_(batch_ids)))
    return {row.id: EnrichOptions.from_dict(orjson.loads(row.options)) for row in rows}


def _block_of(options: EnrichOptions) -> tuple[Any, bool]:
    block = referenced_block(options)
    assert block is not None, f"a {options.mode} result cannot refer to a profile"
    return block
