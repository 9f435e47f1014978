"""What a caller asked for: the mode and the options that shape a record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

HANDLE_MODES = ("raw", "full", "profile", "analytics")  # the last two: single calls only
EMAIL_MODES = ("basic", "advanced")
EMAIL_REQUIRED = ("must_have", "preferred")

# Which request options each mode reads; anything else sent is ignored (and said so).
OPTIONS_BY_MODE: dict[str, tuple[str, ...]] = {
    "raw": ("platform",),
    "full": ("platform", "email_required", "include_lookalikes", "include_audience_data"),
    "basic": ("exclude_platforms", "min_followers"),
    "advanced": ("exclude_platforms", "min_followers"),
}


@dataclass(frozen=True, slots=True)
class EnrichOptions:
    mode: str
    platform: str | None = None
    email_required: str = "preferred"
    include_lookalikes: bool = False
    include_audience_data: bool = False
    exclude_platforms: tuple[str, ...] = field(default_factory=tuple)
    min_followers: int | None = None

    @property
    def kind(self) -> str:
        return "handle" if self.mode in HANDLE_MODES else "email"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exclude_platforms"] = list(self.exclude_platforms)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnrichOptions:
        data = dict(data)
        data["exclude_platforms"] = tuple(data.get("exclude_platforms") or ())
        return cls(**data)
