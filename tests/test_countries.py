"""A profile's country from what a record says: codes, names, and places ending in a country."""

from __future__ import annotations

import pytest

from creator_enrich.creators.countries import country_code


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("US", "US"),
        ("br", "BR"),
        ("United States", "US"),  # YouTube's `country`, TikTok's `region` in the live shapes
        ("united states of america", "US"),
        ("Viet Nam", "VN"),
        ("Vietnam", "VN"),
        ("South Korea", "KR"),
        ("UK", "GB"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("  Brazil ", "BR"),
        ("Los Angeles, California, United States", "US"),
        ("Lisbon, Portugal", "PT"),
        ("Georgia", "GE"),
    ],
)
def test_a_code_or_a_name_gives_the_code(said: str, code: str) -> None:
    assert country_code(said) == code


@pytest.mark.parametrize(
    "said",
    [
        "XX",  # two letters, but no country's code
        "Atlanta, Georgia",  # the US state, not the country
        "somewhere on Mars",
        "Korea",  # which one?
        "",
        None,
        42,
        ["US"],
    ],
)
def test_anything_else_gives_no_country(said: object) -> None:
    assert country_code(said) is None
