"""Lease renewal: a live worker keeps its chunk, a dead one loses it when the lease runs out.

One thread per process renews the leases of every chunk in flight. A thread per chunk was
started and joined for each chunk, which cost more than the renewals themselves.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, update

from creator_enrich.batches import states
from creator_enrich.db.engine import write_transaction
from creator_enrich.db.schema import BatchChunk
from creator_enrich.db.types import utcnow

if TYPE_CHECKING:
    from creator_enrich.batches.processing import Claim

log = logging.getLogger(__name__)


def renew_lease(engine: Engine, claim: Claim, lease_seconds: float) -> bool:
    """Push the lease ``lease_seconds`` from now, if this claim still holds it (fenced)."""
    with write_transaction(engine) as conn:
        renewed = conn.execute(
            update(BatchChunk)
            .where(
                BatchChunk.batch_id == claim.batch_id,
                BatchChunk.chunk_no == claim.chunk_no,
                BatchChunk.status == states.CHUNK_RUNNING,
                BatchChunk.lease_token == claim.token,
            )
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
        ).rowcount
    return bool(renewed)


class LeaseKeeper:
    """While a worker is on a chunk, renew its lease every ``every`` seconds (a third of the
    lease by default): work that outlasts one lease is not taken over while its worker lives.
    A worker that dies stops renewing, so the lease still expires and the sweeper re-sends."""

    def __init__(
        self, engine: Engine, claim: Claim, lease_seconds: float, every: float | None = None
    ) -> None:
        self._engine, self._claim, self._lease_seconds = engine, claim, lease_seconds
        self._every = every if every is not None else lease_seconds / 3
        self.due = time.monotonic() + self._every

    def __enter__(self) -> LeaseKeeper:
        _renewals.add(self)
        return self

    def __exit__(self, *_: object) -> None:
        _renewals.discard(self)

    def renew(self) -> bool:
        """Renew now; False once the lease is no longer this claim's (taken over or finished:
        the fence decides the commit)."""
        try:
            if not renew_lease(self._engine, self._claim, self._lease_seconds):
                return False
        except Exception:  # the database is down: keep trying while the work goes on
            claim = self._claim
            log.warning("could not renew the lease of %s/%s", claim.batch_id, claim.chunk_no)
        self.due = time.monotonic() + self._every
        return True


class _Renewals:
    """The process's renewal thread, started with the first chunk, and the keepers it serves."""

    def __init__(self) -> None:
        self._keepers: set[LeaseKeeper] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, keeper: LeaseKeeper) -> None:
        with self._changed:
            self._keepers.add(keeper)
            if self._thread is None or not self._thread.is_alive():  # first use, or forked
                self._thread = threading.Thread(
                    target=self._run, name="lease-renewals", daemon=True
                )
                self._thread.start()
            self._changed.notify()

    def discard(self, keeper: LeaseKeeper) -> None:
        with self._changed:
            self._keepers.discard(keeper)

    def _due(self) -> list[LeaseKeeper]:
        """Wait until some keeper is due (or the set changes); return those due."""
        with self._changed:
            now = time.monotonic()
            due = [k for k in self._keepers if k.due <= now]
            if not due:
                wake = min((k.due for k in self._keepers), default=now + 60)
                self._changed.wait(wake - now)
            return due

    def _run(self) -> None:
        while True:
            for keeper in self._due():
                if not keeper.renew():
                    self.discard(keeper)


_renewals = _Renewals()
