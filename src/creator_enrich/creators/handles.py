"""Normalise creator handles and emails into the keys the creator store is looked up by.

Users paste whatever they have: ``@name``, ``NAME``, a profile URL copied from the browser, an
email in the handle column. Each accepted form must reduce to one key per creator, so that
duplicates collapse and lookups hit; everything else must be rejected with a reason a user can
act on. Batch intake runs this for up to hundreds of thousands of rows, so
:func:`handle_normaliser` gives it a function whose hot path (a plain handle already in normal
form) is one precompiled ``fullmatch`` and one set lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote, unquote

__all__ = [
    "MAX_EMAIL_LENGTH",
    "MAX_VALUE_LENGTH",
    "PLATFORMS",
    "InvalidValue",
    "handle_normaliser",
    "is_youtube_channel_id",
    "looks_like_email",
    "normalise_email",
    "normalise_handle",
    "profile_url",
]

PLATFORMS = ("instagram", "youtube", "tiktok", "twitter", "twitch", "onlyfans")

#: Longest raw value looked at; longer ones are rejected before any regex runs on them.
MAX_VALUE_LENGTH = 255
MAX_EMAIL_LENGTH = 254
_MAX_LOCAL_LENGTH = 64


class InvalidValue(ValueError):
    """A value that cannot be a handle or email; ``reason`` is short and meant for users."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# (allowed characters, min length, max length) per platform, as the platforms document them.
_HANDLE_RULES: dict[str, tuple[str, int, int]] = {
    "instagram": ("a-z0-9._", 1, 30),
    "youtube": ("a-z0-9._-", 3, 30),
    "tiktok": ("a-z0-9._", 2, 24),
    "twitter": ("a-z0-9_", 1, 15),
    "twitch": ("a-z0-9_", 3, 25),
    "onlyfans": ("a-z0-9._-", 1, 50),
}
_HANDLE_RES: dict[str, re.Pattern[str]] = {
    p: re.compile(f"[{chars}]{{{lo},{hi}}}") for p, (chars, lo, hi) in _HANDLE_RULES.items()
}
_HANDLE_CHARS: dict[str, re.Pattern[str]] = {
    p: re.compile(f"[^{chars}]") for p, (chars, _, _) in _HANDLE_RULES.items()
}

_CHANNEL_ID_RE = re.compile(r"UC[A-Za-z0-9_-]{22}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACE_OR_CONTROL_RE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_LOOKS_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

_EMAIL_LOCAL_RE = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_EMAIL_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_EMAIL_TLD_RE = re.compile(r"[a-z]{2,63}")
_EMAIL_RE = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)

# Hosts (after dropping www./m./mobile.) that serve each platform's profiles.
_PLATFORM_HOSTS: dict[str, frozenset[str]] = {
    "instagram": frozenset({"instagram.com", "instagr.am"}),
    "youtube": frozenset({"youtube.com"}),
    "tiktok": frozenset({"tiktok.com"}),
    "twitter": frozenset({"twitter.com", "x.com"}),
    "twitch": frozenset({"twitch.tv"}),
    "onlyfans": frozenset({"onlyfans.com"}),
}
_KNOWN_HOSTS: frozenset[str] = frozenset(
    {"youtu.be", "facebook.com"}.union(*_PLATFORM_HOSTS.values())
)
_HOST_PREFIXES = ("www.", "m.", "mobile.")
# A bare known host ("instagram.com") would otherwise pass the handle regex of dotted platforms.
_BARE_HOSTS = _KNOWN_HOSTS | {p + h for h in _KNOWN_HOSTS for p in _HOST_PREFIXES}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# First path segments that are site pages, not usernames.
_RESERVED: dict[str, frozenset[str]] = {
    "instagram": _words(
        "p reel reels tv explore stories accounts direct about developer legal web emails "
        "challenge session privacy terms directory api graphql static oauth create lite "
        "your_activity"
    ),
    "twitter": _words(
        "i home explore search intent share settings messages notifications hashtag login "
        "logout signup tos privacy compose account"
    ),
    "twitch": _words(
        "directory videos p settings search downloads jobs turbo subscriptions inventory "
        "wallet drops friends messages login signup prime store"
    ),
    "onlyfans": _words("my help terms privacy legal login signup"),
}
# Second path segments that are tabs of a profile page (the profile is still identified).
_TABS: dict[str, frozenset[str]] = {
    "instagram": _words("reels tagged feed guides"),
    "youtube": _words(
        "videos shorts streams featured about playlists community channels live podcasts "
        "releases store search"
    ),
    "twitter": _words(
        "with_replies media likes highlights articles followers following verified_followers"
    ),
    "twitch": _words("videos about schedule clips"),
    "onlyfans": _words("media photos videos"),
    "tiktok": frozenset(),
}


def _article(platform: str) -> str:
    return "an" if platform[0] in "aeiou" else "a"


def _not_profile(platform: str) -> InvalidValue:
    return InvalidValue(f"URL is not {_article(platform)} {platform} profile")


def normalise_handle(platform: str, value: str) -> str:
    """Return the lookup key for ``value`` on ``platform`` or raise :class:`InvalidValue`.

    Handles are case-folded (no platform distinguishes case); YouTube channel ids keep their
    case because they are case-sensitive. Profile URLs of ``platform`` reduce to the handle.
    """
    pattern = _HANDLE_RES.get(platform)
    if pattern is None:
        raise ValueError(f"unknown platform {platform!r}")
    v = value.strip()
    if len(v) > MAX_VALUE_LENGTH:
        raise InvalidValue(f"too long ({len(v)} characters; at most {MAX_VALUE_LENGTH})")
    if v[:1] == "@":
        v = v[1:]
    if not v:
        raise InvalidValue("empty value")
    if platform == "youtube" and len(v) == 24 and _CHANNEL_ID_RE.fullmatch(v):
        return v
    h = v.lower()
    if pattern.fullmatch(h) and h not in _BARE_HOSTS:
        return h
    return _normalise_slow(platform, v, h)


def handle_normaliser(platform: str) -> Callable[[str], str]:
    """``normalise_handle`` for one platform, with a fast path for values already normal.

    A value that fully matches the platform's lower-case handle pattern has no space to strip, no
    ``@``, no upper case and a valid length, and cannot be a YouTube channel id (``UC`` is upper
    case): ``normalise_handle`` would return it unchanged unless it is a bare site host.
    """
    pattern = _HANDLE_RES.get(platform)
    if pattern is None:
        raise ValueError(f"unknown platform {platform!r}")
    fullmatch = pattern.fullmatch
    bare_hosts = _BARE_HOSTS

    def normalise(value: str) -> str:
        if fullmatch(value) is not None and value not in bare_hosts:
            return value
        return normalise_handle(platform, value)

    return normalise


def _normalise_slow(platform: str, v: str, h: str) -> str:
    """Handle the rare cases: profile URLs, and diagnosing why a value is invalid."""
    url = _split_url(v)
    if url is None:
        raise InvalidValue(_diagnose(platform, h))
    host, segments = url
    name = _profile_name(platform, host, segments)
    if platform == "youtube" and segments[0].lower() == "channel":
        return name  # already checked as a case-sensitive channel id
    key = name.lower()
    if _HANDLE_RES[platform].fullmatch(key):
        return key
    raise InvalidValue(_diagnose(platform, key))


def _split_url(v: str) -> tuple[str, list[str]] | None:
    """Split ``v`` into (host without www./m., path segments) if it looks like a URL at all."""
    if "/" not in v:
        # Without a slash (so without a scheme) only a bare platform host is taken as a URL.
        host = v.lower().partition("?")[0].partition("#")[0]
        return (_strip_host_prefix(host), []) if host in _BARE_HOSTS else None
    low = v.lower()
    has_scheme = True
    if low.startswith("https://"):
        rest = v[8:]
    elif low.startswith("http://"):
        rest = v[7:]
    elif low.startswith("//"):
        rest = v[2:]
    else:
        rest = v
        has_scheme = False
    for sep in "?#":
        cut = rest.find(sep)
        if cut >= 0:
            rest = rest[:cut]
    host, _, path = rest.partition("/")
    host = _strip_host_prefix(host.lower())
    if not has_scheme and "." not in host:
        return None  # "john/doe" is a bad handle, not a URL
    segments = [unquote(s) for s in path.split("/") if s]
    return host, segments


def _strip_host_prefix(host: str) -> str:
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix):
            return host[len(prefix) :]
    return host


def _profile_name(platform: str, host: str, segments: list[str]) -> str:
    """Pick the username out of a profile URL's path, or refuse the URL."""
    if host not in _PLATFORM_HOSTS[platform] or not segments:
        raise _not_profile(platform)
    first = segments[0]
    tabs = _TABS[platform]
    if platform == "youtube":
        kind = first.lower()
        if first.startswith("@"):
            name, rest = first[1:], segments[1:]
        elif kind in ("channel", "c", "user") and len(segments) >= 2:
            name, rest = segments[1], segments[2:]
            if kind == "channel" and not _CHANNEL_ID_RE.fullmatch(name):
                raise InvalidValue("not a valid youtube channel id")
        else:
            raise _not_profile(platform)
    elif platform == "tiktok":
        if not first.startswith("@"):
            raise _not_profile(platform)
        name, rest = first[1:], segments[1:]
    else:
        if first.lower() in _RESERVED[platform]:
            raise _not_profile(platform)
        name, rest = first.removeprefix("@"), segments[1:]
    if len(rest) > 1 or (rest and rest[0].lower() not in tabs) or not name:
        raise _not_profile(platform)
    return name


def _diagnose(platform: str, h: str) -> str:
    """Explain why ``h`` (lower-cased, non-empty) is not a valid handle on ``platform``."""
    _, lo, hi = _HANDLE_RULES[platform]
    if _SPACE_OR_CONTROL_RE.search(h):
        if " " in h:
            detail = "contains a space"
        elif _CONTROL_RE.search(h):
            detail = "contains a control character"
        else:
            detail = "contains whitespace"
    elif "@" in h:
        detail = "looks like an email address" if looks_like_email(h) else "contains '@'"
    elif bad := _HANDLE_CHARS[platform].search(h):
        detail = f"contains the character {bad.group()!r}"
    elif len(h) < lo:
        detail = f"too short (at least {lo} characters)"
    elif len(h) > hi:
        detail = f"too long (at most {hi} characters)"
    else:
        return f"not a valid {platform} handle"
    return f"not a valid {platform} handle: {detail}"


def normalise_email(value: str) -> str:
    """Return the lower-cased email or raise :class:`InvalidValue`.

    Only plain ASCII addresses are accepted (no quoted local parts, no IDN) because those are
    what the creator store holds; the check is syntax only, no DNS.
    """
    v = value.strip()
    if not v:
        raise InvalidValue("empty value")
    if len(v) > MAX_EMAIL_LENGTH:
        raise InvalidValue(f"too long ({len(v)} characters; at most {MAX_EMAIL_LENGTH})")
    e = v.lower()
    at = e.find("@")
    if 0 < at <= _MAX_LOCAL_LENGTH and _EMAIL_RE.fullmatch(e):
        return e
    raise InvalidValue(f"not a valid email address: {_diagnose_email(e)}")


def _diagnose_email(e: str) -> str:
    if not e.isascii():
        return "contains a non-ASCII character"
    if " " in e:
        return "contains a space"
    if _CONTROL_RE.search(e):
        return "contains a control character"
    n_at = e.count("@")
    if n_at == 0:
        return "missing '@'"
    if n_at > 1:
        return "more than one '@'"
    local, _, domain = e.partition("@")
    if not local:
        return "empty local part"
    if len(local) > _MAX_LOCAL_LENGTH:
        return f"local part longer than {_MAX_LOCAL_LENGTH} characters"
    if ".." in e:
        return "consecutive dots"
    if local[0] == "." or local[-1] == ".":
        return "local part starts or ends with a dot"
    if not _EMAIL_LOCAL_RE.fullmatch(local):
        return "invalid local part"
    if not domain:
        return "empty domain"
    labels = domain.split(".")
    if len(labels) < 2:
        return "domain has no dot"
    if not all(_EMAIL_LABEL_RE.fullmatch(label) for label in labels[:-1]):
        return "invalid domain"
    if not _EMAIL_TLD_RE.fullmatch(labels[-1]):
        return "invalid top-level domain"
    return "invalid syntax"  # pragma: no cover - the checks above mirror _EMAIL_RE


def looks_like_email(value: str) -> bool:
    """Cheap guess used to detect whether a header-less column holds emails or handles."""
    return _LOOKS_EMAIL_RE.fullmatch(value.strip()) is not None


def is_youtube_channel_id(key: str) -> bool:
    """True for ``UC`` + 22 id characters: such keys are case-sensitive and not handles."""
    return _CHANNEL_ID_RE.fullmatch(key) is not None


def profile_url(platform: str, username: str, user_id: str | None = None) -> str:
    """Canonical public profile URL; ``user_id`` is only used where a site links by id."""
    name = username.strip().removeprefix("@")
    if not name:
        if platform == "youtube" and user_id:
            return f"https://www.youtube.com/channel/{quote(user_id, safe='')}"
        if platform == "twitter" and user_id:
            return f"https://x.com/i/user/{quote(user_id, safe='')}"
        raise ValueError(f"a username is needed to build a {platform} profile URL")
    u = quote(name, safe="._-")
    if platform == "instagram":
        return f"https://www.instagram.com/{u}/"
    if platform == "youtube":
        if is_youtube_channel_id(name):
            return f"https://www.youtube.com/channel/{u}"
        return f"https://www.youtube.com/@{u}"
    if platform == "tiktok":
        return f"https://www.tiktok.com/@{u}"
    if platform == "twitter":
        return f"https://x.com/{u}"
    if platform == "twitch":
        return f"https://www.twitch.tv/{u}"
    if platform == "onlyfans":
        return f"https://onlyfans.com/{u}"
    raise ValueError(f"unknown platform {platform!r}")
