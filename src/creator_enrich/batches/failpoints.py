"""Crash points for fault tests: a process kills itself (SIGKILL) at a defined point of a commit.

``CREATOR_ENRICH_CRASH_AT=before_commit:N`` kills the process inside its Nth chunk commit, after
every statement of it ran and before COMMIT (the transaction is open; the database rolls it
back). ``after_commit:N`` kills it right after its Nth chunk commit, before the message is
acknowledged (the work is stored; the broker redelivers the message). N counts the chunk commits
of this process, all threads together. Unset (the default), ``reach`` returns at once.

For tests only: the fault tests start workers with it, watch them die, and start new ones.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass
from functools import lru_cache

from creator_enrich.config import get_settings

log = logging.getLogger(__name__)
POINTS = ("before_commit", "after_commit")


@dataclass(frozen=True, slots=True)
class CrashAt:
    point: str
    nth: int


def parse(spec: str) -> CrashAt:
    """``point:N``, for instance ``before_commit:3``."""
    point, _, nth = spec.partition(":")
    if point not in POINTS or not nth.isdigit() or int(nth) < 1:
        raise ValueError(f"crash point must be one of {', '.join(POINTS)} then ':N' (N >= 1)")
    return CrashAt(point, int(nth))


@lru_cache(maxsize=1)
def _planned() -> CrashAt | None:
    spec = get_settings().crash_at
    return parse(spec) if spec else None


_lock = threading.Lock()
_reached: dict[str, int] = {}


def reach(point: str) -> None:
    """Mark ``point`` as reached; kill this process if it is the planned crash."""
    planned = _planned()
    if planned is None or planned.point != point:
        return
    with _lock:
        _reached[point] = count = _reached.get(point, 0) + 1
        if count == planned.nth:
            log.critical("crash point %s:%d reached; killing process %d", point, count, os.getpid())
            os.kill(os.getpid(), signal.SIGKILL)
