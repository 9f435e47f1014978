"""A profile's country as an ISO 3166-1 alpha-2 code, from whatever a record says.

The lookalike features compare a profile's country with its audience's countries, which the
reference API gives as codes. Its records name the creator's own country in words: YouTube's
`country` and TikTok's `region` say "United States", the creator's `location` says "Brazil" or
"Los Angeles, California, United States". Without this table an imported store had no countries
at all, and a generated store's re-import cleared the ones it had.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

# A country's name that is also a US state's: "Atlanta, Georgia" is not in the Caucasus.
_NOT_AFTER_A_COMMA = frozenset({"georgia"})


@cache
def _table() -> tuple[frozenset[str], dict[str, str]]:
    """(the codes, casefolded name -> code) from the packaged ``countries.tsv``."""
    text = (resources.files("creator_enrich.creators") / "countries.tsv").read_text("utf-8")
    codes: set[str] = set()
    names: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        code, *spelled = line.split("\t")
        codes.add(code)
        for name in spelled:
            names[name.casefold()] = code
    return frozenset(codes), names


def country_code(value: object) -> str | None:
    """The code that ``value`` names: a code ("us"), a country's name ("Viet Nam", "Vietnam"),
    or a place whose last comma-separated part is one ("Austin, Texas, USA"). None otherwise:
    a guess would mislead the lookalike search more than no country does."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    codes, names = _table()
    if len(text) == 2 and text.upper() in codes:
        return text.upper()
    code = names.get(text.casefold())
    if code is None and "," in text:
        last = text.rpartition(",")[2].strip().casefold()
        code = None if last in _NOT_AFTER_A_COMMA else names.get(last)
    return code
