"""The create path's fast paths give exactly what the general code gives.

The handle normaliser's shortcut for values already in normal form, the block-wise line splitter
fed to ``csv``, and the store loop that dedupes and assigns chunks, each checked against the
general or obvious answer on generated input.
"""

from __future__ import annotations

import io
import random
from typing import Any

import pytest
from sqlalchemy import select

from creator_enrich.batches.intake import _lines
from creator_enrich.creators.handles import (
    PLATFORMS,
    InvalidValue,
    handle_normaliser,
    normalise_handle,
)
from creator_enrich.db.engine import read_connection
from creator_enrich.db.schema import BatchRow
from tests.helpers import csv_of, handles

_PIECES = [
    *"abcxyz019._-",
    *"ABCXYZ",
    "@",
    " ",
    "\t",
    "\u00a0",  # no-break space: strip() removes it
    "é",
    "ß",
    "İ",  # lower-cases to two characters
    "\u212a",  # Kelvin sign: lower-cases to an ASCII "k"
    "ｊ",  # fullwidth
    "/",
    "?",
    "#",
    "%40",
    "https://",
    "http://www.",
    "//",
    "instagram.com",
    "youtube.com",
    "tiktok.com/",
    "x.com/",
    "twitch.tv/",
    "onlyfans.com/",
    "m.",
    "www.",
    "channel/",
    "UC",
    "uc",
    "reels",
]


def _corpus(rng: random.Random, count: int) -> list[str]:
    values = []
    for _ in range(count):
        shape = rng.random()
        if shape < 0.4:  # plain handles, mostly valid, of all lengths around the limits
            chars = "abcdefghijklmnopqrstuvwxyz0123456789._-"
            value = "".join(rng.choice(chars) for _ in range(rng.randint(0, 55)))
        elif shape < 0.5:  # YouTube channel ids, some mangled
            chars = "ABCXYZabcxyz0189_-"
            value = rng.choice(["UC", "uc", "Uc", ""]) + "".join(
                rng.choice(chars) for _ in range(rng.choice([21, 22, 23]))
            )
        else:  # anything built from the pieces above
            value = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 8)))
        values.append(value)
    values += ["instagram.com", "www.x.com", "m.youtube.com", "youtu.be", "a" * 300, "", " "]
    return values


def _outcome(normalise: Any, value: str) -> tuple[str, str]:
    try:
        return ("key", normalise(value))
    except InvalidValue as exc:
        return ("invalid", exc.reason)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_handle_fast_path_agrees_with_normalise_handle(platform: str) -> None:
    """Every value, plain or not, gets the same key or the same reason by both paths."""
    fast = handle_normaliser(platform)
    corpus = _corpus(random.Random(f"handles-{platform}"), 20_000)
    shortcut = 0
    for value in corpus:
        expected = _outcome(lambda v: normalise_handle(platform, v), value)
        assert _outcome(fast, value) == expected, value
        shortcut += expected == ("key", value)
    assert shortcut > 1_000  # the corpus exercises the shortcut, not only the general path


def test_handle_normaliser_refuses_an_unknown_platform() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        handle_normaliser("myspace")


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1 << 16])
def test_lines_split_as_stringio_does(block: int) -> None:
    """Lines end at \\n, \\r\\n and \\r only, whatever the block size and whatever other line
    ends (\\x0b, \\x85, U+2028 ...) a block holds."""
    rng = random.Random(f"lines-{block}")
    alphabet = ["a", "b", ",", '"', " ", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x85", "\u2028"]
    for _ in range(3_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert list(_lines(text, block)) == list(io.StringIO(text, newline="")), repr(text)


def test_stored_rows_dedupe_and_chunk(account: Any, engine: Any, settings: Any) -> None:
    """Each distinct key gets the next chunk slot; duplicates point at the first row and add to
    its weight; invalid rows get neither; every row keeps the user's input."""
    known = handles(engine, "instagram", 120)
    values = []
    for n, handle in enumerate(known):
        values.append(handle if n % 2 else f" @{handle.upper()} ")
        if n % 7 == 0:
            values += [handle.upper(), f"https://instagram.com/{handle}/"]  # two duplicates
        if n % 11 == 0:
            values.append("not valid")
    response = account.create(csv_of("handle", values), enrichment_mode="raw", platform="instagram")
    assert response.status_code == 200, response.text
    batch_id = response.json()["batch_id"]
    account.wait(batch_id)

    with read_connection(engine) as conn:
        stored = conn.execute(
            select(
                BatchRow.row_no,
                BatchRow.input_value,
                BatchRow.lookup_key,
                BatchRow.dup_of,
                BatchRow.chunk_no,
                BatchRow.weight,
                BatchRow.invalid_reason,
            )
            .where(BatchRow.batch_id == batch_id)
            .order_by(BatchRow.row_no)
        ).all()
    first_of: dict[str, int] = {}
    weights: dict[int, int] = {}
    expected = []
    for row_no, value in enumerate(values, start=1):
        key = None if value == "not valid" else value.strip().lstrip("@").lower()
        if key is not None and "/" in key:
            key = key.rstrip("/").rsplit("/", 1)[1]
        if key is None:
            expected.append((row_no, value, None, None, None, 1))
        elif key in first_of:
            weights[first_of[key]] += 1
            expected.append((row_no, value.strip(), key, first_of[key], None, 1))
        else:
            chunk_no = len(first_of) // settings.chunk_size
            first_of[key] = row_no
            weights[row_no] = 1
            expected.append((row_no, value.strip(), key, None, chunk_no, 1))
    expected = [
        (r, v, k, d, c, weights.get(r, 1) if k is not None and d is None else 1)
        for r, v, k, d, c, _ in expected
    ]
    assert [tuple(row[:6]) for row in stored] == expected
    assert all((row.invalid_reason is None) == (row.lookup_key is not None) for row in stored)
    assert max(c for *_, c, _w in expected if c is not None) >= 2  # several chunks
