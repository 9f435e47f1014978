"""Handle and email normalisation: every accepted form maps to one key, every rejection says why."""

from __future__ import annotations

import pytest

from creator_enrich.creators.handles import (
    PLATFORMS,
    InvalidValue,
    is_youtube_channel_id,
    looks_like_email,
    normalise_email,
    normalise_handle,
    profile_url,
)

CHANNEL_ID = "UCaBcDeFgHiJkLmNoPqRs_-9"  # UC + 22 id characters, mixed case


def _reason(platform: str, value: str) -> str:
    with pytest.raises(InvalidValue) as info:
        normalise_handle(platform, value)
    assert str(info.value) == info.value.reason
    return info.value.reason


def test_platforms() -> None:
    assert PLATFORMS == ("instagram", "youtube", "tiktok", "twitter", "twitch", "onlyfans")


def test_invalid_value_is_a_value_error() -> None:
    assert issubclass(InvalidValue, ValueError)
    assert InvalidValue("empty value").reason == "empty value"


@pytest.mark.parametrize(
    ("platform", "value", "key"),
    [
        # trimming, leading @, case folding
        ("instagram", "john.doe", "john.doe"),
        ("instagram", "  John.Doe \t", "john.doe"),
        ("instagram", "@John_Doe", "john_doe"),
        ("instagram", " @x ", "x"),
        ("tiktok", "@Charli.D_Amelio", "charli.d_amelio"),
        ("twitter", "@Jack", "jack"),
        ("twitch", "Ninja_123", "ninja_123"),
        ("youtube", "@MrBeast", "mrbeast"),
        ("youtube", "some-channel.name", "some-channel.name"),
        ("onlyfans", "Some.Creator-1", "some.creator-1"),
        # boundaries of the allowed lengths
        ("instagram", "a" * 30, "a" * 30),
        ("tiktok", "ab", "ab"),
        ("tiktok", "a" * 24, "a" * 24),
        ("twitter", "a" * 15, "a" * 15),
        ("twitch", "abc", "abc"),
        ("twitch", "a" * 25, "a" * 25),
        ("youtube", "abc", "abc"),
        ("youtube", "a" * 30, "a" * 30),
        ("onlyfans", "a" * 50, "a" * 50),
        # a channel id that is not upper-case UC is just a (lower-cased) handle
        ("youtube", CHANNEL_ID.lower(), CHANNEL_ID.lower()),
        # a dotted handle is not mistaken for a URL
        ("instagram", "john.com", "john.com"),
    ],
)
def test_plain_handles(platform: str, value: str, key: str) -> None:
    assert normalise_handle(platform, value) == key


def test_youtube_channel_id_keeps_case() -> None:
    assert normalise_handle("youtube", CHANNEL_ID) == CHANNEL_ID
    assert normalise_handle("youtube", f"  {CHANNEL_ID} ") == CHANNEL_ID
    assert normalise_handle("youtube", f"@{CHANNEL_ID}") == CHANNEL_ID


def test_channel_id_on_other_platforms_is_folded() -> None:
    assert normalise_handle("onlyfans", CHANNEL_ID) == CHANNEL_ID.lower()


@pytest.mark.parametrize(
    ("platform", "value", "key"),
    [
        ("instagram", "https://www.instagram.com/John.Doe/", "john.doe"),
        ("instagram", "http://instagram.com/john.doe", "john.doe"),
        ("instagram", "instagram.com/john.doe", "john.doe"),
        ("instagram", "www.instagram.com/john.doe/?hl=en", "john.doe"),
        ("instagram", "https://m.instagram.com/john.doe#top", "john.doe"),
        ("instagram", "HTTPS://WWW.INSTAGRAM.COM/JOHN.DOE", "john.doe"),
        ("instagram", "https://www.instagram.com/john.doe/reels/", "john.doe"),
        ("instagram", "https://instagr.am/john.doe", "john.doe"),
        ("youtube", "https://www.youtube.com/@MrBeast", "mrbeast"),
        ("youtube", "youtube.com/@MrBeast/videos", "mrbeast"),
        ("youtube", "https://m.youtube.com/@mrbeast?si=abc", "mrbeast"),
        ("youtube", "https://www.youtube.com/%40MrBeast", "mrbeast"),
        ("youtube", f"https://www.youtube.com/channel/{CHANNEL_ID}", CHANNEL_ID),
        ("youtube", f"youtube.com/channel/{CHANNEL_ID}/videos/", CHANNEL_ID),
        ("youtube", "https://www.youtube.com/c/SomeName", "somename"),
        ("youtube", "https://www.youtube.com/user/SomeUser/", "someuser"),
        ("tiktok", "https://www.tiktok.com/@Charli.DAmelio", "charli.damelio"),
        ("tiktok", "tiktok.com/@charli?lang=en", "charli"),
        ("tiktok", "https://m.tiktok.com/@charli/", "charli"),
        ("twitter", "https://twitter.com/Jack", "jack"),
        ("twitter", "https://x.com/jack", "jack"),
        ("twitter", "x.com/jack?s=20", "jack"),
        ("twitter", "https://mobile.twitter.com/jack/", "jack"),
        ("twitter", "https://x.com/jack/media", "jack"),
        ("twitch", "https://www.twitch.tv/Ninja", "ninja"),
        ("twitch", "twitch.tv/ninja/videos", "ninja"),
        ("twitch", "https://m.twitch.tv/ninja", "ninja"),
        ("onlyfans", "https://onlyfans.com/Some.Creator", "some.creator"),
        ("onlyfans", "onlyfans.com/some-creator/", "some-creator"),
        ("onlyfans", "https://www.onlyfans.com/some_creator?ref=x", "some_creator"),
    ],
)
def test_profile_urls(platform: str, value: str, key: str) -> None:
    assert normalise_handle(platform, value) == key


@pytest.mark.parametrize(
    ("platform", "value", "reason"),
    [
        # another platform's profile
        ("tiktok", "https://www.instagram.com/john", "URL is not a tiktok profile"),
        ("instagram", "https://www.tiktok.com/@john", "URL is not an instagram profile"),
        ("instagram", "youtube.com/@john", "URL is not an instagram profile"),
        ("youtube", "https://x.com/john", "URL is not a youtube profile"),
        ("twitter", "https://www.twitch.tv/john", "URL is not a twitter profile"),
        ("twitch", "onlyfans.com/john", "URL is not a twitch profile"),
        ("onlyfans", "https://twitter.com/john", "URL is not an onlyfans profile"),
        # unknown sites, bare hosts, and site pages that are not profiles
        ("instagram", "https://example.com/john", "URL is not an instagram profile"),
        ("instagram", "instagram.com", "URL is not an instagram profile"),
        ("instagram", "https://www.instagram.com/", "URL is not an instagram profile"),
        ("instagram", "https://www.instagram.com/p/Cxyz123/", "URL is not an instagram profile"),
        ("instagram", "instagram.com/explore", "URL is not an instagram profile"),
        ("instagram", "instagram.com/reel/abc", "URL is not an instagram profile"),
        ("instagram", "instagram.com/john/p/abc", "URL is not an instagram profile"),
        ("youtube", "https://www.youtube.com/watch?v=abc", "URL is not a youtube profile"),
        ("youtube", "youtube.com/mrbeast", "URL is not a youtube profile"),
        ("youtube", "youtube.com/channel/UCshort", "not a valid youtube channel id"),
        ("youtube", "youtu.be/abc", "URL is not a youtube profile"),
        ("tiktok", "tiktok.com/john", "URL is not a tiktok profile"),
        ("tiktok", "tiktok.com/@john/video/123", "URL is not a tiktok profile"),
        ("twitter", "x.com/home", "URL is not a twitter profile"),
        ("twitter", "x.com/jack/status/123", "URL is not a twitter profile"),
        ("twitter", "x.com", "URL is not a twitter profile"),
        ("twitch", "twitch.tv/directory/game/x", "URL is not a twitch profile"),
        ("onlyfans", "onlyfans.com/my/settings", "URL is not an onlyfans profile"),
        # the path is a profile shape but the name breaks the platform's rules
        (
            "twitter",
            "https://x.com/john.doe",
            "not a valid twitter handle: contains the character '.'",
        ),
        ("twitch", "twitch.tv/ab", "not a valid twitch handle: too short (at least 3 characters)"),
    ],
)
def test_rejected_urls(platform: str, value: str, reason: str) -> None:
    assert _reason(platform, value) == reason


@pytest.mark.parametrize(
    ("platform", "value", "reason"),
    [
        ("instagram", "", "empty value"),
        ("instagram", "   ", "empty value"),
        ("instagram", "@", "empty value"),
        ("instagram", " @ ", "empty value"),
        ("instagram", "john doe", "not a valid instagram handle: contains a space"),
        ("instagram", "john\tdoe", "not a valid instagram handle: contains a control character"),
        ("tiktok", "john\x00", "not a valid tiktok handle: contains a control character"),
        ("tiktok", "jo\x7fhn", "not a valid tiktok handle: contains a control character"),
        ("instagram", "john\u00a0doe", "not a valid instagram handle: contains whitespace"),
        (
            "instagram",
            "john@gmail.com",
            "not a valid instagram handle: looks like an email address",
        ),
        ("twitter", "@john@gmail.com", "not a valid twitter handle: looks like an email address"),
        ("twitter", "jo@hn", "not a valid twitter handle: contains '@'"),
        ("twitter", "@@jack", "not a valid twitter handle: contains '@'"),
        ("instagram", "john-doe", "not a valid instagram handle: contains the character '-'"),
        ("instagram", "café", "not a valid instagram handle: contains the character 'é'"),
        ("instagram", "john/doe", "not a valid instagram handle: contains the character '/'"),
        ("instagram", "#john", "not a valid instagram handle: contains the character '#'"),
        ("twitter", "john.doe", "not a valid twitter handle: contains the character '.'"),
        ("twitch", "john.doe", "not a valid twitch handle: contains the character '.'"),
        ("tiktok", "john-doe", "not a valid tiktok handle: contains the character '-'"),
        ("instagram", "a" * 31, "not a valid instagram handle: too long (at most 30 characters)"),
        ("tiktok", "a", "not a valid tiktok handle: too short (at least 2 characters)"),
        ("tiktok", "a" * 25, "not a valid tiktok handle: too long (at most 24 characters)"),
        ("twitter", "a" * 16, "not a valid twitter handle: too long (at most 15 characters)"),
        ("twitch", "ab", "not a valid twitch handle: too short (at least 3 characters)"),
        ("twitch", "a" * 26, "not a valid twitch handle: too long (at most 25 characters)"),
        ("youtube", "ab", "not a valid youtube handle: too short (at least 3 characters)"),
        ("youtube", "a" * 31, "not a valid youtube handle: too long (at most 30 characters)"),
        ("onlyfans", "a" * 51, "not a valid onlyfans handle: too long (at most 50 characters)"),
        ("instagram", "a" * 256, "too long (256 characters; at most 255)"),
        (
            "instagram",
            " " + "a" * 255 + " ",
            "not a valid instagram handle: too long (at most 30 characters)",
        ),
    ],
)
def test_invalid_handles(platform: str, value: str, reason: str) -> None:
    assert _reason(platform, value) == reason


def test_huge_value_rejected_by_length() -> None:
    value = "https://instagram.com/" + "a" * 1_000_000
    assert _reason("instagram", value) == f"too long ({len(value)} characters; at most 255)"


def test_unknown_platform_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown platform 'facebook'") as info:
        normalise_handle("facebook", "john")
    assert not isinstance(info.value, InvalidValue)


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("john@example.com", "john@example.com"),
        ("  John.Doe@Example.COM ", "john.doe@example.com"),
        ("a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk"),
        ("o'brien_1@my-domain.io", "o'brien_1@my-domain.io"),
        ("x@a.bc", "x@a.bc"),
        ("a" * 64 + "@example.com", "a" * 64 + "@example.com"),
        ("a@" + "b" * 63 + ".com", "a@" + "b" * 63 + ".com"),
    ],
)
def test_valid_emails(value: str, key: str) -> None:
    assert normalise_email(value) == key


_LONG_EMAIL = "a@" + ".".join(["b" * 60] * 5) + ".com"  # 310 characters


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty value"),
        ("   ", "empty value"),
        ("john", "not a valid email address: missing '@'"),
        ("john@@example.com", "not a valid email address: more than one '@'"),
        ("a@b@example.com", "not a valid email address: more than one '@'"),
        ("@example.com", "not a valid email address: empty local part"),
        ("john@", "not a valid email address: empty domain"),
        ("john@localhost", "not a valid email address: domain has no dot"),
        ("john..doe@example.com", "not a valid email address: consecutive dots"),
        ("john@example..com", "not a valid email address: consecutive dots"),
        (".john@example.com", "not a valid email address: local part starts or ends with a dot"),
        ("john.@example.com", "not a valid email address: local part starts or ends with a dot"),
        ("jo(hn)@example.com", "not a valid email address: invalid local part"),
        ("john@-example.com", "not a valid email address: invalid domain"),
        ("john@example-.com", "not a valid email address: invalid domain"),
        ("john@exa_mple.com", "not a valid email address: invalid domain"),
        ("john@example.c", "not a valid email address: invalid top-level domain"),
        ("john@example.c0m", "not a valid email address: invalid top-level domain"),
        ("john@example.com.", "not a valid email address: invalid top-level domain"),
        ("jo hn@example.com", "not a valid email address: contains a space"),
        ("john\t@example.com", "not a valid email address: contains a control character"),
        ("jöhn@example.com", "not a valid email address: contains a non-ASCII character"),
        ("john@exämple.com", "not a valid email address: contains a non-ASCII character"),
        (
            "a" * 65 + "@example.com",
            "not a valid email address: local part longer than 64 characters",
        ),
        (_LONG_EMAIL, f"too long ({len(_LONG_EMAIL)} characters; at most 254)"),
    ],
)
def test_invalid_emails(value: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as info:
        normalise_email(value)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("john@example.com", True),
        (" John@Example.com ", True),
        ("john@localhost", False),
        ("@john", False),
        ("@john.doe", False),
        ("john.doe", False),
        ("john @example.com", False),
        ("", False),
    ],
)
def test_looks_like_email(value: str, expected: bool) -> None:
    assert looks_like_email(value) is expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (CHANNEL_ID, True),
        ("UC" + "a" * 22, True),
        ("UC" + "a" * 21, False),
        ("UC" + "a" * 23, False),
        ("uc" + "a" * 22, False),
        ("UC" + "a" * 21 + "!", False),
        ("mrbeast", False),
    ],
)
def test_is_youtube_channel_id(key: str, expected: bool) -> None:
    assert is_youtube_channel_id(key) is expected


@pytest.mark.parametrize(
    ("platform", "username", "user_id", "url"),
    [
        ("instagram", "john.doe", None, "https://www.instagram.com/john.doe/"),
        ("youtube", "mrbeast", None, "https://www.youtube.com/@mrbeast"),
        ("youtube", "mrbeast", CHANNEL_ID, "https://www.youtube.com/@mrbeast"),
        ("youtube", "", CHANNEL_ID, f"https://www.youtube.com/channel/{CHANNEL_ID}"),
        ("youtube", CHANNEL_ID, None, f"https://www.youtube.com/channel/{CHANNEL_ID}"),
        ("tiktok", "charli", None, "https://www.tiktok.com/@charli"),
        ("twitter", "jack", None, "https://x.com/jack"),
        ("twitter", "", "12", "https://x.com/i/user/12"),
        ("twitch", "ninja", None, "https://www.twitch.tv/ninja"),
        ("onlyfans", "some-creator", None, "https://onlyfans.com/some-creator"),
        ("tiktok", "@charli", None, "https://www.tiktok.com/@charli"),
    ],
)
def test_profile_url(platform: str, username: str, user_id: str | None, url: str) -> None:
    assert profile_url(platform, username, user_id) == url


@pytest.mark.parametrize(
    ("platform", "username", "user_id"),
    [("instagram", "", "123"), ("youtube", "", None), ("facebook", "john", None)],
)
def test_profile_url_refuses(platform: str, username: str, user_id: str | None) -> None:
    with pytest.raises(ValueError, match=r"username is needed|unknown platform"):
        profile_url(platform, username, user_id)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_profile_url_round_trips(platform: str) -> None:
    """The canonical URL of a key normalises back to the same key."""
    assert normalise_handle(platform, profile_url(platform, "abc_1")) == "abc_1"
