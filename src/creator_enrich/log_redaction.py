"""Keep secrets out of logs: API keys and signed-link signatures are redacted in every record.

uvicorn's access log prints each request's path with its query string, and a signed download
link's signature is a bearer credential until it expires; an API key could reach a log through a
client that puts it in a URL. The filter rewrites the record's message and arguments.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

SECRETS = re.compile(r"(signature=)[^&\s\"']+|(ce_[0-9a-f]+_)[A-Za-z0-9_\-]+")


def redact(text: str) -> str:
    return SECRETS.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, with the filter on its handlers, which also carry the
    application's own records (the root logger)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": RedactSecrets}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact")
    config["root"] = {"handlers": ["default"], "level": "INFO"}
    return config
