"""A deterministic, realistic synthetic creator store, for demos, tests and benchmarks.

Same seed and count give byte-identical data (one ``random.Random``, no clock). Realism where it
matters to enrichment: heavy-tailed follower counts, engagement falling with size, niches and
sub-niches, countries and languages, about a third of creators on several platforms, emails for
~40% of creators. Record blocks are filled from the live shapes (``enrichment/shapes``) so their
key sets, nesting and types match the reference API's.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import string
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any

import orjson
from sqlalchemy import Engine, insert

from creator_enrich.creators.handles import profile_url
from creator_enrich.db.engine import analyze_store, write_transaction
from creator_enrich.db.schema import Creator, Profile
from creator_enrich.enrichment.fields import (
    CREATOR_FIELDS,
    FOLLOWER_KEY,
    FULL_FIELDS,
    FULL_NAME_KEY,
    PICTURE_KEY,
    RAW_FIELDS,
    USER_ID_KEY,
    audience_countries,
    verified_json,
)

EPOCH = date(2026, 1, 1)
INSERT_BATCH = 2000

NICHES: dict[str, tuple[str, ...]] = {
    "fitness": ("bodybuilding", "yoga", "running", "home workouts"),
    "beauty": ("makeup", "skincare", "hair", "nails"),
    "gaming": ("fps", "minecraft", "speedrunning", "esports"),
    "food": ("recipes", "vegan", "street food", "baking"),
    "travel": ("backpacking", "luxury travel", "van life", "city guides"),
    "tech": ("smartphones", "pc building", "ai", "gadgets"),
    "music": ("covers", "hip hop", "producers", "dj"),
    "fashion": ("streetwear", "luxury fashion", "thrifting", "modest fashion"),
    "parenting": ("newborns", "homeschooling", "family vlogs", "pregnancy"),
    "finance": ("investing", "crypto", "personal finance", "real estate"),
    "comedy": ("sketches", "pranks", "stand-up", "memes"),
    "education": ("science", "history", "languages", "math"),
}
# How likely each platform is to be a creator's main one, per niche.
PLATFORM_WEIGHTS: dict[str, dict[str, int]] = {
    "gaming": {"twitch": 5, "youtube": 5, "tiktok": 2, "twitter": 2, "instagram": 1},
    "tech": {"youtube": 6, "twitter": 3, "tiktok": 2, "instagram": 2},
    "education": {"youtube": 6, "tiktok": 3, "instagram": 2, "twitter": 1},
    "finance": {"youtube": 4, "twitter": 4, "tiktok": 2, "instagram": 2},
    "comedy": {"tiktok": 6, "instagram": 3, "youtube": 3, "twitter": 1},
    "music": {"tiktok": 4, "instagram": 4, "youtube": 4, "twitch": 1},
    "fitness": {"instagram": 6, "tiktok": 3, "youtube": 2, "onlyfans": 1},
    "beauty": {"instagram": 6, "tiktok": 4, "youtube": 3},
    "fashion": {"instagram": 7, "tiktok": 4, "youtube": 1, "onlyfans": 1},
}
DEFAULT_WEIGHTS = {"instagram": 5, "tiktok": 3, "youtube": 3, "twitter": 1}
COUNTRIES: tuple[tuple[str, str, str, int], ...] = (
    # code, name, language, weight
    ("US", "United States", "en", 30),
    ("BR", "Brazil", "pt", 10),
    ("GB", "United Kingdom", "en", 8),
    ("IN", "India", "en", 10),
    ("MX", "Mexico", "es", 6),
    ("DE", "Germany", "de", 5),
    ("FR", "France", "fr", 5),
    ("ES", "Spain", "es", 4),
    ("ID", "Indonesia", "id", 5),
    ("PH", "Philippines", "en", 4),
    ("IT", "Italy", "it", 4),
    ("CA", "Canada", "en", 4),
)
FIRST_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # language: (female, male)
    "en": (
        ("emma", "olivia", "ava", "mia", "chloe", "grace", "lily", "zoe"),
        ("liam", "noah", "jack", "ethan", "lucas", "mason", "leo", "owen"),
    ),
    "pt": (
        ("ana", "beatriz", "julia", "larissa", "camila", "fernanda"),
        ("joao", "pedro", "gabriel", "rafael", "thiago", "bruno"),
    ),
    "es": (
        ("sofia", "valentina", "lucia", "camila", "martina", "paula"),
        ("mateo", "santiago", "diego", "alejandro", "pablo", "javier"),
    ),
    "de": (("hanna", "lena", "marie", "lea", "anna"), ("felix", "jonas", "paul", "leon", "max")),
    "fr": (("lea", "manon", "camille", "chloe", "ines"), ("hugo", "louis", "jules", "arthur")),
    "id": (("putri", "dewi", "sari", "ayu"), ("budi", "agus", "rizky", "dimas")),
    "it": (("giulia", "chiara", "sara", "martina"), ("lorenzo", "matteo", "marco", "luca")),
}
LAST_NAMES = (
    "smith",
    "silva",
    "garcia",
    "muller",
    "martin",
    "rossi",
    "santos",
    "johnson",
    "lopez",
    "brown",
    "kumar",
    "wilson",
    "moreau",
    "schmidt",
    "costa",
    "reyes",
    "nguyen",
    "lee",
    "walker",
    "hall",
    "young",
    "king",
    "wright",
    "scott",
    "green",
    "baker",
    "adams",
    "nelson",
)
MAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me")
BRANDS = (
    "nike",
    "adidas",
    "sephora",
    "samsung",
    "apple",
    "gymshark",
    "hellofresh",
    "nordvpn",
    "audible",
    "shein",
    "amazon",
    "red bull",
    "spotify",
    "canva",
)
WORDS = ("daily", "life", "vibes", "official", "studio", "world", "tv", "hq", "club", "lab")
ID_ALPHABET = string.ascii_letters + string.digits + "-_"
# Handle length limits (the intake's rules) minus room for a uniqueness suffix.
MAX_HANDLE = {
    "twitter": 15,
    "tiktok": 24,
    "twitch": 25,
    "instagram": 30,
    "youtube": 30,
    "onlyfans": 30,
}
SEPARATOR = {
    "twitter": "_",
    "twitch": "_",
    "instagram": ".",
    "tiktok": ".",
    "youtube": "",
    "onlyfans": "",
}


@dataclass
class GenerateStats:
    creators: int
    profiles: int
    emails: int
    seconds: float


@cache
def _shape(platform: str) -> dict[str, Any]:
    if platform == "onlyfans":
        return {}
    path = resources.files("creator_enrich.enrichment") / "shapes" / f"{platform}-full.json"
    block: dict[str, Any] = orjson.loads(path.read_bytes())["result"][platform]
    return block


def _shape_block(platform: str) -> dict[str, Any]:
    return {k: v for k, v in _shape(platform).items() if k != "audience"}


def _audience_template(platform: str) -> dict[str, Any] | None:
    audience: dict[str, Any] | None = _shape(platform).get("audience")
    return audience


# Audience gender skew by niche (share of women), so demographics agree with the content.
FEMALE_SHARE = {
    "beauty": 0.8,
    "fashion": 0.72,
    "parenting": 0.75,
    "fitness": 0.55,
    "food": 0.58,
    "travel": 0.55,
    "gaming": 0.22,
    "tech": 0.25,
    "finance": 0.3,
}
AGE_CODES = ("13-17", "18-24", "25-34", "35-44", "45-64")


Fill = Callable[[random.Random, float], Any]


def _text_fill(template: str) -> Fill:
    if template.startswith("https://"):
        return lambda rng, _s: f"https://cdn.example.net/{rng.getrandbits(40):x}.jpg"
    if template == "0000-00-00":
        return lambda rng, _s: (EPOCH - timedelta(days=int(rng.random() * 900))).isoformat()
    if template.startswith("0000-00-00T"):
        return lambda rng, _s: (
            (EPOCH - timedelta(days=int(rng.random() * 400))).isoformat() + "T12:00:00"
        )
    if template == "<email>":
        return lambda rng, _s: f"contact{int(rng.random() * 9999)}@example.com"
    if template == "<string>":
        return lambda rng, _s: WORDS[int(rng.random() * 10)] + " " + WORDS[int(rng.random() * 10)]
    return lambda _r, _s: template  # an enum-like code kept in the shape: reuse it


def _compile(template: Any) -> Fill:
    """Turn a shape value into a function that makes a value of the same type and structure.

    Compiled once per template: the dispatch on types happens here, not once per value made.
    """
    if template is None:
        return lambda _r, _s: None
    if isinstance(template, bool):
        return lambda rng, _s: rng.random() < 0.3
    if isinstance(template, int):
        return lambda rng, scale: int(rng.random() * scale * 0.01)
    if isinstance(template, float):
        return lambda rng, scale: round(rng.random() * scale * 0.01, 2)
    if isinstance(template, str):
        return _text_fill(template)
    if isinstance(template, list):
        if not template:
            return lambda _r, _s: []
        item = _compile(template[0])
        return lambda rng, scale: [item(rng, scale) for _ in range(1 + int(rng.random() * 3))]
    if isinstance(template, dict):
        fields = [(key, _compile(value)) for key, value in template.items()]
        return lambda rng, scale: {key: fill(rng, scale) for key, fill in fields}
    return lambda _r, _s: None


@cache
def _block_fills(platform: str) -> dict[str, Fill]:
    return {key: _compile(value) for key, value in _shape_block(platform).items()}


@cache
def _post_fill(platform: str) -> Fill:
    posts = _shape_block(platform).get("post_data") or [None]
    return _compile(posts[0])


@cache
def _slice_fill(platform: str, name: str) -> Fill:
    template = _audience_template(platform) or {}
    return _compile(template[name]["data"])


class _Generator:
    def __init__(self, seed: int, raw_only: bool = False) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.raw_only = raw_only
        self.emails: set[str] = set()
        self.platform_weights = {
            niche: (tuple(w), tuple(w.values()))
            for niche, w in {n: PLATFORM_WEIGHTS.get(n, DEFAULT_WEIGHTS) for n in NICHES}.items()
        }
        self.country_weights = [c[3] for c in COUNTRIES]

    # -- identities ------------------------------------------------------------------------
    def handle(self, platform: str, first: str, last: str, index: int) -> str:
        rng = self.rng
        style = rng.random()
        sep = SEPARATOR[platform]
        if style < 0.4:
            base = f"{first}{sep}{last}"
        elif style < 0.7:
            base = f"{first}{last[:1]}{rng.randint(1, 99)}"
        else:
            base = f"{first}{sep}{rng.choice(WORDS)}"
        # The creator's index makes the handle unique with no shared state, so batches can be
        # generated in parallel processes and still never collide. The index is the handle's
        # trailing run of digits: a base that ends in a digit ("emma7") is kept apart from it
        # by "_", otherwise "emma7" + "23" and "emma72" + "3" would meet.
        suffix = str(index)
        base = base[: MAX_HANDLE[platform] - len(suffix) - 1]
        joiner = "_" if base[-1:].isdigit() else ""
        return base + joiner + suffix

    def user_id(self, platform: str) -> str:
        if platform == "youtube":
            return "UC" + "".join(self.rng.choices(ID_ALPHABET, k=22))
        return str(self.rng.getrandbits(52))

    # -- records ---------------------------------------------------------------------------
    def values(self, platform: str, p: dict[str, Any]) -> dict[str, Any]:
        """Every value a block of this profile may show: raw and full blocks pick from it."""
        scale = max(p["followers"] * p["engagement"] / 100, 1.0)
        values = {key: fill(self.rng, scale) for key, fill in _block_fills(platform).items()}
        values.update(self.specific(platform, p))
        return values

    def specific(self, platform: str, p: dict[str, Any]) -> dict[str, Any]:
        """Values that must agree across a profile's blocks and with the creator."""
        followers, engagement = p["followers"], p["engagement"]
        avg_likes = round(followers * engagement / 100, 1)
        return {
            FOLLOWER_KEY[platform]: followers,
            USER_ID_KEY[platform]: p["user_id"],
            FULL_NAME_KEY[platform]: p["full_name"],
            PICTURE_KEY[platform]: p["picture"],
            "username": p["username"],
            "custom_url": "@" + p["username"] if platform == "youtube" else None,
            "exists": True,
            "link": p["url"],
            "engagement_percent": engagement,
            "avg_likes": avg_likes,
            "likes_median": round(avg_likes * 0.8, 1),
            "following_count": int(followers**0.5 * 3),
            "media_count": p["posts"],
            "video_count": p["posts"],
            "posts_count": p["posts"],
            "likes_count": int(avg_likes * p["posts"]),
            "tweets_count": p["posts"] * 4,
            "is_verified": followers > 500_000,
            "biography": f"{p['niche']} creator · {p['country']}",
            "description": f"{p['niche']} videos from {p['country']}",
            "category": p["niche"],
            "country": p["country_code"],
            "location": p["country"],
            "region": p["country_code"],
            "language_code": [p["language"]],
            "speaking_language": p["language"],
            "niche_class": [p["niche"]] if platform == "tiktok" else p["niche"],
            "niche_sub_class": [p["subniche"]],
            "profile_picture_hd": p["picture"].replace(".jpg", "_hd.jpg"),
            "profileImageURL": p["picture"],
            "displayName": p["full_name"],
            "isPartner": followers > 50_000,
            "subscription_price": round(4.99 + (followers % 7), 2),
            "links_in_bio": [f"https://linktr.ee/{p['username']}"] if p["has_link"] else [],
            "uses_link_in_bio": p["has_link"],
            "post_data": self.posts(platform, p),
        }

    def audience(self, platform: str, p: dict[str, Any]) -> dict[str, Any] | None:
        """Audience slices in the live shape, consistent with the creator's niche and country."""
        template = _audience_template(platform)
        if template is None:
            return None
        rng = self.rng
        scale = max(p["followers"] * p["engagement"] / 100, 1.0)
        female = min(0.95, max(0.05, FEMALE_SHARE.get(p["niche"], 0.5) + rng.gauss(0, 0.05)))
        home = rng.uniform(0.35, 0.8)
        abroad = rng.sample([c for c in COUNTRIES if c[0] != p["country_code"]], k=3)
        countries = [
            {"id": 1 + COUNTRIES.index(c), "name": c[1], "code": c[0], "weight": round(w, 4)}
            for c, w in zip(
                [next(c for c in COUNTRIES if c[0] == p["country_code"]), *abroad],
                [home, *(((1 - home) * f) for f in (0.5, 0.3, 0.2))],
                strict=True,
            )
        ]
        ages = [rng.random() for _ in AGE_CODES]
        ages = [a / sum(ages) for a in ages]
        out: dict[str, Any] = {}
        for name, slice_template in template.items():
            if not isinstance(slice_template, dict):
                out[name] = _compile(slice_template)(rng, scale)
                continue
            if "data" not in slice_template:
                out[name] = {"success": False, "error": "empty_audience"}
                continue
            data = _slice_fill(platform, name)(rng, scale)
            data["audience_genders"] = [
                {"code": "FEMALE", "weight": round(female, 4)},
                {"code": "MALE", "weight": round(1 - female, 4)},
            ]
            data["audience_ages"] = [
                {"code": code, "weight": round(w, 4)}
                for code, w in zip(AGE_CODES, ages, strict=True)
            ]
            if "audience_geo" in data:
                data["audience_geo"]["countries"] = countries
            if "audience_languages" in data:
                data["audience_languages"] = [
                    {"code": p["language"], "name": p["language"], "weight": round(home, 4)}
                ]
            out[name] = {**{k: True for k in slice_template if k == "success"}, "data": data}
            if "is_hidden" in slice_template:
                out[name]["is_hidden"] = False
        return out

    def posts(self, platform: str, p: dict[str, Any]) -> list[Any]:
        template = _shape_block(platform).get("post_data")
        scale = max(p["followers"] * p["engagement"] / 100, 1.0)
        if not template:  # onlyfans: designed
            return [
                {
                    "post_id": str(self.rng.getrandbits(40)),
                    "created_at": (EPOCH - timedelta(days=d)).isoformat(),
                    "text": f"new {p['niche']} set",
                    "likes_count": int(scale * self.rng.uniform(0.5, 1.5)),
                    "is_paid": self.rng.random() < 0.5,
                }
                for d in (1, 4, 9)
            ]
        fill = _post_fill(platform)
        return [fill(self.rng, scale) for _ in range(3)]

    def creator(self, index: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rng = self.rng
        niche = rng.choice(tuple(NICHES))
        subniche = rng.choice(NICHES[niche])
        code, country, language, _ = rng.choices(COUNTRIES, weights=self.country_weights)[0]
        female, male = FIRST_NAMES.get(language, FIRST_NAMES["en"])
        gender = "female" if rng.random() < 0.55 else "male"
        first = rng.choice(female if gender == "female" else male)
        last = rng.choice(LAST_NAMES)
        full_name = f"{first.title()} {last.title()}"
        # Heavy tail: log-normal, median ~12k, a few in the millions.
        base_followers = int(min(3e8, max(100.0, rng.lognormvariate(9.4, 1.7))))
        names, weights = self.platform_weights[niche]
        primary = rng.choices(names, weights=weights)[0]
        platforms = [primary]
        if rng.random() < 0.34:
            others = [
                p for p in ("instagram", "tiktok", "youtube", "twitter", "twitch") if p != primary
            ]
            platforms += rng.sample(others, k=1 if rng.random() < 0.7 else 2)
        has_link = rng.random() < 0.45
        profiles = []
        for n, platform in enumerate(platforms):
            followers = (
                base_followers if n == 0 else int(base_followers * rng.uniform(0.05, 1.2)) + 50
            )
            # Engagement falls with size (about -1 point per decade of followers).
            engagement = round(max(0.1, 9.0 - 1.25 * math.log10(followers) + rng.gauss(0, 0.6)), 2)
            handle = self.handle(platform, first, last, index)
            user_id = self.user_id(platform)
            username = handle if rng.random() < 0.7 else handle.title()
            p: dict[str, Any] = {
                "platform": platform,
                "username": username,
                "user_id": user_id,
                "full_name": full_name,
                "followers": followers,
                "engagement": engagement,
                "posts": rng.randint(20, 2000),
                "niche": niche,
                "subniche": subniche,
                "country": country,
                "country_code": code,
                "language": language,
                "has_link": has_link,
                "picture": f"https://cdn.example.net/p/{user_id}.jpg",
                "url": profile_url(platform, handle),
            }
            profiles.append(p)
        email = None
        if rng.random() < 0.4:
            email = f"{first}.{last}{index}@{rng.choice(MAIL_DOMAINS)}"
            if rng.random() < 0.25:
                email = f"collabs{index}@{last}media.com"
            self.emails.add(email)
        top_share = rng.randint(55, 90)
        data: dict[str, Any] = {
            "email": email,
            "email_type": None
            if email is None
            else ("role_based_email" if email.startswith("collabs") else "personal"),
            "first_name": first.title(),
            "gender": gender,
            "location": country,
            "speaking_language": language,
            "is_business": rng.random() < 0.2,
            "is_creator": True,
            "has_brand_deals": rng.random() < 0.35,
            "has_link_in_bio": has_link,
            "creator_has": dict.fromkeys(platforms, True),
            "links_in_bio": [f"https://linktr.ee/{profiles[0]['username'].lower()}"]
            if has_link
            else [],
            "other_links": [],
            "ai_niches": [{"percentage": top_share, "niche": niche}],
            "ai_subniches": [{"percentage": top_share - 10, "subniche": subniche}],
            "ai_brand_collaborations": [
                {"percentage": rng.randint(5, 40), "brand": b} for b in rng.sample(BRANDS, k=2)
            ],
        }
        assert tuple(data) == CREATOR_FIELDS
        creator_row = {
            "id": index + 1,
            "external_id": f"gen-{self.seed}-{index}",
            "full_name": full_name,
            "email": email,
            "email_type": data["email_type"],
            "data": orjson.dumps(data).decode(),
        }
        profile_rows = []
        for p in profiles:
            platform = p["platform"]
            values = self.values(platform, p)
            raw = {key: values.get(key) for key in RAW_FIELDS[platform]}
            full = {key: values.get(key) for key in FULL_FIELDS[platform]}
            audience = self.audience(platform, p)
            # What an import of the full record would read: Twitch blocks carry no engagement.
            # (A raw-only store keeps the full store's lookalike columns, this one included.)
            shown = full.get("engagement_percent")
            profile_rows.append(
                {
                    "creator_id": index + 1,
                    "platform": platform,
                    "handle_key": p["username"].lower(),
                    "username": p["username"],
                    "platform_user_id": p["user_id"],
                    "full_name": p["full_name"],
                    "followers": p["followers"],
                    "engagement_percent": shown,
                    "profile_url": p["url"],
                    "picture": p["picture"],
                    "niche": p["niche"],
                    "country": p["country_code"],
                    "raw_json": orjson.dumps(raw).decode(),
                    "full_json": None if self.raw_only else orjson.dumps(full).decode(),
                    "audience_json": None
                    if audience is None or self.raw_only
                    else orjson.dumps(audience).decode(),
                    "audience_countries": _countries_json(audience),
                    "verified_json": None if self.raw_only else verified_json(full),
                }
            )
        return creator_row, profile_rows


def _countries_json(audience: dict[str, Any] | None) -> str | None:
    weights = audience_countries(audience)
    return None if weights is None else orjson.dumps(weights).decode()


def _make_batch(
    seed: int, start: int, stop: int, raw_only: bool = False
) -> tuple[list[Any], list[Any], int]:
    """One batch of creators, from a seed of its own: the result does not depend on which
    process makes it, or in which order batches are made."""
    gen = _Generator(seed, raw_only)
    gen.rng.seed(f"{seed}/{start}")
    creator_rows: list[dict[str, Any]] = []
    profile_rows: list[dict[str, Any]] = []
    for index in range(start, stop):
        creator_row, rows = gen.creator(index)
        creator_rows.append(creator_row)
        profile_rows.extend(rows)
    return creator_rows, profile_rows, len(gen.emails)


def generate_store(
    engine: Engine,
    *,
    creators: int,
    seed: int,
    on_progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    raw_only: bool = False,
) -> GenerateStats:
    """Write ``creators`` synthetic creators (and their profiles) into an empty store.

    Large stores are made by ``workers`` processes (default: one per core) while this process
    writes; small ones in-process, where starting processes would cost more than it saves.
    ``raw_only`` leaves out the full and audience blocks (~40% of the disk), as a store imported
    from raw records would hold: the same creators, handles and lookalike columns, for measuring
    growth at sizes whose full store would not fit on the disk.
    """
    started = time.perf_counter()
    bounds = [(s, min(creators, s + INSERT_BATCH)) for s in range(0, creators, INSERT_BATCH)]
    if workers is None:
        workers = (os.cpu_count() or 1) if creators >= 20 * INSERT_BATCH else 1
    profiles_total = emails_total = 0

    def write(batch: tuple[list[Any], list[Any], int], stop: int) -> None:
        nonlocal profiles_total, emails_total
        creator_rows, profile_rows, emails = batch
        with write_transaction(engine) as conn:
            conn.execute(insert(Creator), creator_rows)
            conn.execute(insert(Profile), profile_rows)
        profiles_total += len(profile_rows)
        emails_total += emails
        if on_progress:
            on_progress(stop)

    if workers <= 1:
        for start, stop in bounds:
            write(_make_batch(seed, start, stop, raw_only), stop)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            batches = pool.map(
                _make_batch,
                [seed] * len(bounds),
                [b[0] for b in bounds],
                [b[1] for b in bounds],
                [raw_only] * len(bounds),
            )
            for (_start, stop), batch in zip(bounds, batches, strict=True):
                write(batch, stop)
    if engine.dialect.name == "postgresql":
        # Creator ids were given explicitly: move the id sequence past them, or the next
        # imported creator would be handed an id that is already taken.
        with write_transaction(engine) as conn:
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('creators', 'id'), "
                "(SELECT COALESCE(MAX(id), 1) FROM creators))"
            )
    analyze_store(engine)
    return GenerateStats(
        creators=creators,
        profiles=profiles_total,
        emails=emails_total,
        seconds=time.perf_counter() - started,
    )
