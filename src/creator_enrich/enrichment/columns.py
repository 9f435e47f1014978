"""Stable CSV columns per mode and platform: the record's fields flattened with dotted names.

Nested objects are flattened using the reference API's live shapes (bundled in ``shapes/``), so
the header is known before the first row and never depends on the data; lists stay JSON cells.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import orjson

from creator_enrich.enrichment.fields import (
    BASIC_FIELDS,
    CREATOR_FIELDS,
    FULL_FIELDS,
    PLATFORMS,
    RAW_FIELDS,
    SECONDARY_FIELDS,
)

Path = tuple[str, ...]


@cache
def _shape(platform: str) -> dict[str, Any]:
    """The ``result`` object of the platform's live full response ({} when there is no sample)."""
    name = f"{platform}-full.json"
    files = resources.files("creator_enrich.enrichment") / "shapes" / name
    if not files.is_file():
        return {}
    return orjson.loads(files.read_bytes())["result"]  # type: ignore[no-any-return]


def _flatten(prefix: Path, template: Any) -> list[Path]:
    if isinstance(template, dict) and template:
        paths: list[Path] = []
        for key, value in template.items():
            paths.extend(_flatten((*prefix, key), value))
        return paths
    return [prefix]


def _block_paths(platform: str, keys: tuple[str, ...]) -> list[Path]:
    block = _shape(platform).get(platform, {})
    paths: list[Path] = []
    for key in keys:
        paths.extend(_flatten((platform, key), block.get(key)))
    return paths


@cache
def column_paths(mode: str, platform: str | None) -> tuple[Path, ...]:
    if mode == "raw":
        assert platform is not None
        return tuple(_block_paths(platform, RAW_FIELDS[platform]))
    if mode == "basic":
        return tuple((key,) for key in BASIC_FIELDS)
    creator = [
        path
        for key in CREATOR_FIELDS
        for path in ([(key, p) for p in PLATFORMS] if key == "creator_has" else [(key,)])
    ]
    if mode == "full":
        assert platform is not None
        others = [(p, key) for p in PLATFORMS if p != platform for key in SECONDARY_FIELDS]
        primary = _block_paths(platform, FULL_FIELDS[platform])
        # The audience is one JSON cell: flattened, it would be hundreds of list-valued columns.
        return (*primary, (platform, "audience"), *others, *creator, ("lookalikes",))
    if mode == "advanced":
        blocks = [path for p in PLATFORMS for path in _block_paths(p, FULL_FIELDS[p])]
        return (*blocks, *creator)
    raise KeyError(f"no CSV layout for mode {mode!r}")


def column_names(mode: str, platform: str | None) -> list[str]:
    return [".".join(path) for path in column_paths(mode, platform)]
