"""A deterministic, realistic synthetic creator store, for demos, tests and benchmarks.

Same seed and count give byte-identical data (one ``random.Random``, no clock). Realism where it
matters to enrichment: heavy-tailed follower counts, engagement falling with size, niches and
sub-niches, countries and languages, about a third of creators on several platforms, emails for
~40% of creators. Record blocks are filled from the live shapes (``enrichment/shapes``) so their
key sets, nesting and types match the reference API's.
"""

from __future__ import annotations

import math
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any

import orjson
from sqlalchemy import Engine, insert

from creator_enrich.creators.handles import profile_url
from creator_enrich.db.engine import write_transaction
from creator_enrich.db.schema import Creator, Profile
from creator_enrich.enrichment.fields import (
    CREATOR_FIELDS,
    FOLLOWER_KEY,
    FULL_FIELDS,
    FULL_NAME_KEY,
    PICTURE_KEY,
    RAW_FIELDS,
    USER_ID_KEY,
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
def _shape_block(platform: str) -> dict[str, Any]:
    if platform == "onlyfans":
        return {}
    path = resources.files("creator_enrich.enrichment") / "shapes" / f"{platform}-full.json"
    block: dict[str, Any] = orjson.loads(path.read_bytes())["result"][platform]
    block.pop("audience", None)
    return block


class _Filler:
    """Fills a value of the same JSON type and structure as a template value."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def like(self, template: Any, scale: float) -> Any:
        rng = self.rng
        if template is None:
            return None
        if isinstance(template, bool):
            return rng.random() < 0.3
        if isinstance(template, int):
            return int(rng.random() * scale * 0.01)
        if isinstance(template, float):
            return round(rng.random() * scale * 0.01, 2)
        if isinstance(template, str):
            return self.text(template)
        if isinstance(template, list):
            if not template:
                return []
            return [self.like(template[0], scale) for _ in range(rng.randint(1, 3))]
        if isinstance(template, dict):
            return {k: self.like(v, scale) for k, v in template.items()}
        return None

    def text(self, template: str) -> str:
        rng = self.rng
        if template.startswith("https://"):
            return f"https://cdn.example.net/{rng.getrandbits(40):x}.jpg"
        if template == "0000-00-00":
            return (EPOCH - timedelta(days=rng.randint(0, 900))).isoformat()
        if template.startswith("0000-00-00T"):
            return (EPOCH - timedelta(days=rng.randint(0, 400))).isoformat() + "T12:00:00"
        if template == "<email>":
            return f"contact{rng.randint(1, 9999)}@example.com"
        if template == "<string>":
            return rng.choice(WORDS) + " " + rng.choice(WORDS)
        return template  # an enum-like code kept in the shape: reuse it


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fill = _Filler(self.rng)
        self.seed = seed
        self.handles: dict[str, set[str]] = {p: set() for p in MAX_HANDLE}
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
        base = base[: MAX_HANDLE[platform] - 6]
        taken = self.handles[platform]
        handle = base
        if handle in taken or len(handle) < 4:
            handle = f"{base}{index:x}"
        taken.add(handle)
        return handle

    def user_id(self, platform: str) -> str:
        if platform == "youtube":
            return "UC" + "".join(self.rng.choices(ID_ALPHABET, k=22))
        return str(self.rng.getrandbits(52))

    # -- records ---------------------------------------------------------------------------
    def block(self, platform: str, p: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        shape = _shape_block(platform)
        scale = max(p["followers"] * p["engagement"] / 100, 1.0)
        specific = self.specific(platform, p)
        out: dict[str, Any] = {}
        for key in keys:
            if key in specific:
                out[key] = specific[key]
            elif key in shape:
                out[key] = self.fill.like(shape[key], scale)
            else:
                out[key] = None
        return out

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
        return [self.fill.like(template[0], scale) for _ in range(3)]

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
            raw = self.block(platform, p, RAW_FIELDS[platform])
            full = self.block(platform, p, FULL_FIELDS[platform])
            profile_rows.append(
                {
                    "creator_id": index + 1,
                    "platform": platform,
                    "handle_key": p["username"].lower(),
                    "username": p["username"],
                    "platform_user_id": p["user_id"],
                    "full_name": p["full_name"],
                    "followers": p["followers"],
                    "engagement_percent": p["engagement"],
                    "profile_url": p["url"],
                    "picture": p["picture"],
                    "niche": p["niche"],
                    "country": p["country_code"],
                    "raw_json": orjson.dumps(raw).decode(),
                    "full_json": orjson.dumps(full).decode(),
                }
            )
        return creator_row, profile_rows


def generate_store(
    engine: Engine,
    *,
    creators: int,
    seed: int,
    on_progress: Callable[[int], None] | None = None,
) -> GenerateStats:
    """Write ``creators`` synthetic creators (and their profiles) into an empty store."""
    started = time.perf_counter()
    gen = _Generator(seed)
    profiles_total = 0
    for start in range(0, creators, INSERT_BATCH):
        creator_rows: list[dict[str, Any]] = []
        profile_rows: list[dict[str, Any]] = []
        for index in range(start, min(creators, start + INSERT_BATCH)):
            creator_row, rows = gen.creator(index)
            creator_rows.append(creator_row)
            profile_rows.extend(rows)
        with write_transaction(engine) as conn:
            conn.execute(insert(Creator), creator_rows)
            conn.execute(insert(Profile), profile_rows)
        profiles_total += len(profile_rows)
        if on_progress:
            on_progress(min(creators, start + INSERT_BATCH))
    return GenerateStats(
        creators=creators,
        profiles=profiles_total,
        emails=len(gen.emails),
        seconds=time.perf_counter() - started,
    )
