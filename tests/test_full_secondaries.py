"""The secondary platforms of a full record: ``is_verified`` comes from a column beside the
profile (not from decoding its block) and must say exactly what the full block says, whether the
column was written with the profile or backfilled by migration 0007."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import select, update

from creator_enrich.creators.generate import generate_store
from creator_enrich.db.engine import create_db_engine, read_connection, write_transaction
from creator_enrich.db.migrate import downgrade, upgrade
from creator_enrich.db.schema import Profile
from creator_enrich.enrichment.fields import PLATFORMS, verified_json
from creator_enrich.enrichment.options import EnrichOptions
from creator_enrich.enrichment.records import EnrichContext, enrich
from tests.databases import fresh_database_url

PLATFORM = "instagram"


@pytest.mark.parametrize("written", ["with_the_profile", "by_the_upgrade"])
def test_secondary_is_verified_is_the_stored_blocks_value(tmp_path: Path, written: str) -> None:
    engine = create_db_engine(url := fresh_database_url(f"full_secondaries_{written}"))
    upgrade(url)
    generate_store(engine, creators=300, seed=5)
    with read_connection(engine) as conn:
        creators = [
            r.creator_id
            for r in conn.execute(
                select(Profile.creator_id).where(Profile.platform != PLATFORM).distinct()
            )
        ]
        mains = dict(
            conn.execute(
                select(Profile.creator_id, Profile.handle_key).where(
                    Profile.platform == PLATFORM, Profile.creator_id.in_(creators)
                )
            ).all()
        )
    assert len(mains) >= 8
    # Blocks the generator does not write: the key absent, null, not a boolean, no block.
    odd = list(mains)[:4]
    with write_transaction(engine) as conn:
        for creator_id, block in zip(
            odd, ['{"a":1}', '{"is_verified":null}', '{"is_verified":"yes"}', None], strict=True
        ):
            conn.execute(  # as an import stores such a block
                update(Profile)
                .where(Profile.creator_id == creator_id, Profile.platform != PLATFORM)
                .values(
                    full_json=block,
                    verified_json=verified_json(orjson.loads(block)) if block else None,
                )
            )
    if written == "by_the_upgrade":  # a store from before 0007: the column is computed in SQL
        downgrade(url, "0006")
        upgrade(url)
    with read_connection(engine) as conn:
        blocks = {
            (r.creator_id, r.platform): r.full_json
            for r in conn.execute(select(Profile.creator_id, Profile.platform, Profile.full_json))
        }
        options = EnrichOptions("full", PLATFORM)
        outcomes = enrich(EnrichContext(conn, engine, tmp_path), options, list(mains.values()))
    seen = set()
    for creator_id, key in mains.items():
        record = orjson.loads(outcomes[key].data or "")
        for platform in set(record) & set(PLATFORMS) - {PLATFORM}:
            block = blocks[(creator_id, platform)]
            expected = orjson.loads(block).get("is_verified") if block else None
            assert record[platform]["is_verified"] == expected
            assert type(record[platform]["is_verified"]) is type(expected)
            seen.add(repr(expected))
    assert {"True", "False", "None", "'yes'"} <= seen
    engine.dispose()
