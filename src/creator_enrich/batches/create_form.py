"""Validate the text fields of a batch-create form into options, collecting every field error.

Clients of the reference API send every field with its default, so an option that does not apply
to the chosen mode is ignored and named in the response message rather than refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from creator_enrich.config import MODES, PLATFORMS, Settings
from creator_enrich.enrichment.options import (
    EMAIL_REQUIRED,
    HANDLE_MODES,
    OPTIONS_BY_MODE,
    EnrichOptions,
)
from creator_enrich.errors import ValidationFailed

FORM_FIELDS = (
    "enrichment_mode",
    "platform",
    "metadata",
    "email_required",
    "include_lookalikes",
    "include_audience_data",
    "exclude_platforms",
    "min_followers",
)
MAX_METADATA_BYTES = 16 * 1024
MAX_FILENAME_BYTES = 255


@dataclass
class CreateRequest:
    options: EnrichOptions
    metadata: dict[str, Any] | None
    ignored: list[str] = field(default_factory=list)


def _enum(value: str, allowed: Sequence[str]) -> str | None:
    value = value.strip().lower()
    return value if value in allowed else None


def _bool(value: str) -> bool | None:
    return {"true": True, "false": False}.get(value.strip().lower())


def parse_create_form(fields: Mapping[str, Sequence[str]], settings: Settings) -> CreateRequest:
    """Turn the form's text fields into a CreateRequest or raise ValidationFailed naming each field.

    Empty strings count as "not sent" (form builders send empty optional fields).
    """
    errors: dict[str, list[str]] = {}
    given: dict[str, str] = {}
    for name in FORM_FIELDS:
        values = [v for v in fields.get(name, ()) if v.strip() != ""]
        if len(values) > 1:
            errors[name] = ["send this field once"]
        elif values:
            given[name] = values[0]

    mode = None
    if "enrichment_mode" not in given:
        errors.setdefault(
            "enrichment_mode", ["this field is required: raw, full, basic or advanced"]
        )
    else:
        mode = _enum(given["enrichment_mode"], MODES)
        if mode is None:
            errors["enrichment_mode"] = [
                f"{given['enrichment_mode'][:50]!r} is not one of: {', '.join(MODES)}"
            ]

    platform = None
    if "platform" in given:
        platform = _enum(given["platform"], PLATFORMS)
        if platform is None:
            errors["platform"] = [
                f"{given['platform'][:50]!r} is not one of: {', '.join(PLATFORMS)}"
            ]
    if mode in HANDLE_MODES and "platform" not in given and "platform" not in errors:
        errors["platform"] = [f"this field is required for enrichment_mode {mode!r}"]

    email_required = "preferred"
    if "email_required" in given:
        parsed = _enum(given["email_required"], EMAIL_REQUIRED)
        if parsed is None:
            errors["email_required"] = [
                f"{given['email_required'][:50]!r} is not one of: {', '.join(EMAIL_REQUIRED)}"
            ]
        else:
            email_required = parsed

    flags = {
        "include_lookalikes": settings.default_include_lookalikes,
        "include_audience_data": settings.default_include_audience_data,
    }
    for name in flags:
        if name in given:
            parsed_bool = _bool(given[name])
            if parsed_bool is None:
                errors[name] = [f"{given[name][:50]!r} is not a boolean: send true or false"]
            else:
                flags[name] = parsed_bool

    exclude: tuple[str, ...] = ()
    if "exclude_platforms" in given:
        parts = [p.strip().lower() for p in given["exclude_platforms"].split(",") if p.strip()]
        bad = [p for p in parts if p not in PLATFORMS]
        if bad:
            errors["exclude_platforms"] = [f"{bad[0][:50]!r} is not one of: {', '.join(PLATFORMS)}"]
        exclude = tuple(dict.fromkeys(parts))

    min_followers = None
    if "min_followers" in given:
        raw = given["min_followers"].strip()
        if not raw.lstrip("-").isdigit() or len(raw) > 18:
            errors["min_followers"] = [f"{raw[:50]!r} is not an integer"]
        elif int(raw) < 0:
            errors["min_followers"] = ["must be zero or more"]
        else:
            min_followers = int(raw)

    metadata = None
    if "metadata" in given:
        text = given["metadata"]
        if len(text.encode()) > MAX_METADATA_BYTES:
            errors["metadata"] = [f"must be at most {MAX_METADATA_BYTES} bytes of JSON"]
        else:
            try:
                metadata = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                errors["metadata"] = [f"is not valid JSON: {exc.msg} at position {exc.pos}"]
            else:
                if metadata is not None and not isinstance(metadata, dict):
                    errors["metadata"] = ['must be a JSON object, e.g. {"campaign": "Q4"}']
                    metadata = None

    if errors:
        names = ", ".join(errors)
        raise ValidationFailed(f"invalid fields: {names}", errors=errors)
    assert mode is not None

    applies = OPTIONS_BY_MODE[mode]
    ignored = [
        name
        for name in FORM_FIELDS[1:]
        if name in given and name not in applies and name != "metadata"
    ]
    options = EnrichOptions(
        mode=mode,
        platform=platform if "platform" in applies else None,
        email_required=email_required if "email_required" in applies else "preferred",
        include_lookalikes=flags["include_lookalikes"]
        if "include_lookalikes" in applies
        else False,
        include_audience_data=(
            flags["include_audience_data"] if "include_audience_data" in applies else False
        ),
        exclude_platforms=exclude if "exclude_platforms" in applies else (),
        min_followers=min_followers if "min_followers" in applies else None,
    )
    return CreateRequest(options=options, metadata=metadata, ignored=ignored)


def check_upload_name(filename: str | None) -> None:
    """Refuse a file name that is not a plain name: directories, control characters, too long.

    The name is never used to store anything; a path in it is still a sign of a hostile or
    broken client, and the name may end up in logs.
    """
    if not filename:
        return
    shown = "".join(c if c.isprintable() else "?" for c in filename[:60])
    if len(filename.encode("utf-8", "surrogatepass")) > MAX_FILENAME_BYTES:
        problem = f"is longer than {MAX_FILENAME_BYTES} bytes"
    elif any(not c.isprintable() for c in filename):
        problem = "contains control characters"
    elif "/" in filename or "\\" in filename or filename in (".", ".."):
        problem = "must be a plain file name, without directories"
    else:
        return
    raise ValidationFailed.on("file", f"the file name {shown!r} {problem}")
