"""What a lookalike index keeps beside its vectors: each profile's nearest neighbours, searched
once when the index is built, and what a lookalike entry shows of each profile (username, URL,
engagement, followers) as ready JSON.

A full chunk then needs neither a search nor a query of the store for its lookalikes: the search
was a fifth of a chunk, and reading the neighbours' rows (ten a profile, on random pages of the
store) as much again. Everything is held in arrays and one byte string, not Python objects: about
200 bytes a profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

K = 10  # neighbours kept per profile: what a record shows
SLICE = 10_000  # vectors searched at once


def entry_json(username: str, url: str | None, engagement: float | None, followers: int) -> bytes:
    """A lookalike entry, exactly as the records have always shown it. Copied out of orjson's
    result, which keeps a 4 KB buffer however short the JSON: 39,411 entries held 154 MB."""
    entry = orjson.dumps(
        {
            "username": username,
            "profile_url": url,
            "engagement_percent": float(engagement or 0.0),
            "follower_count": int(followers),
        }
    )
    return bytes(memoryview(entry))


def nearest(index: Any, keys: np.ndarray[Any, Any], k: int) -> np.ndarray[Any, Any]:
    """The k nearest keys of each of these keys (all in the index), never itself, most similar
    first; 0 pads a row with fewer (an index smaller than k + 1). Searched with the index's own
    vectors, SLICE keys at a time (a build searches all of a platform's)."""
    rows = [np.zeros((0, k), dtype=np.uint64)]
    for start in range(0, len(keys), SLICE):
        part = keys[start : start + SLICE]
        matches = index.search(np.vstack(index.get(part, dtype=np.float32)), k + 1)
        found = np.atleast_2d(matches.keys)  # one query: its keys, already trimmed
        counts = matches.counts if hasattr(matches, "counts") else np.array([len(matches.keys)])
        valid = (np.arange(found.shape[1]) < counts[:, None]) & (found != part[:, None])
        first = np.argsort(~valid, axis=1, kind="stable")[:, :k]  # the valid ones, in order
        chosen = np.take_along_axis(found, first, axis=1)
        chosen[~np.take_along_axis(valid, first, axis=1)] = 0
        rows.append(np.pad(chosen, ((0, 0), (0, k - chosen.shape[1]))).astype(np.uint64))
    return np.vstack(rows)


class Sidecar:
    """Profiles in id order: ``ids``, their entries (``blob`` cut at ``offsets``) and their
    neighbours as positions in ``ids`` (-1 pads)."""

    def __init__(
        self,
        ids: np.ndarray[Any, Any],
        offsets: np.ndarray[Any, Any],
        blob: bytes,
        neighbours: np.ndarray[Any, Any],
    ) -> None:
        self.ids = ids
        self.offsets = offsets
        self.blob = blob
        self.neighbours = neighbours
        self.k = neighbours.shape[1]

    @classmethod
    def build(
        cls, ids: np.ndarray[Any, Any], entries: Sequence[bytes], neighbours: np.ndarray[Any, Any]
    ) -> Sidecar:
        """From ids in ascending order, their entries, and their neighbours' keys (0 pads)."""
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, entries), np.int64, len(entries)), out=offsets[1:])
        side = cls(ids, offsets, b"".join(entries), np.zeros((0, neighbours.shape[1]), np.int32))
        positions = side.positions(neighbours.reshape(-1)).reshape(neighbours.shape)
        side.neighbours = positions.astype(np.int32)
        return side

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp.npz")
        blob = np.frombuffer(self.blob, dtype=np.uint8)
        np.savez(tmp, ids=self.ids, offsets=self.offsets, blob=blob, neighbours=self.neighbours)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Sidecar:
        with np.load(path) as saved:
            return cls(saved["ids"], saved["offsets"], saved["blob"].tobytes(), saved["neighbours"])

    def positions(self, keys: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Where each key is in ``ids``; -1 for a key that is not there."""
        if not len(self.ids):
            return np.full(len(keys), -1, dtype=np.int64)
        at = np.searchsorted(self.ids, keys)
        at[at == len(self.ids)] = 0
        return np.where(self.ids[at] == keys, at, -1)

    def neighbour_ids(self, positions: Sequence[int]) -> list[list[int]]:
        """The neighbours' ids of the profiles at these positions (-1: none)."""
        return [
            self.ids[row[row >= 0]].tolist() if at >= 0 else []
            for at, row in zip(positions, self.neighbours[positions], strict=True)
        ]

    def lists(self, positions: Sequence[int]) -> list[str]:
        """The JSON list of neighbour entries of the profiles at these positions (-1: none)."""
        rows = self.neighbours[positions]
        starts, ends = self.offsets[rows].tolist(), self.offsets[rows + 1].tolist()
        blob = self.blob
        out = []
        for at, row, row_starts, row_ends in zip(
            positions, rows.tolist(), starts, ends, strict=True
        ):
            items = [blob[s:e] for j, s, e in zip(row, row_starts, row_ends, strict=True) if j >= 0]
            out.append((b"[" + b",".join(items) + b"]").decode() if at >= 0 else "[]")
        return out

    def entries(self, wanted: Sequence[int]) -> dict[int, bytes]:
        """The entry of each wanted id that is here."""
        at = self.positions(np.asarray(wanted, dtype=np.uint64)).tolist()
        offsets, blob = self.offsets, self.blob
        return {
            key: blob[offsets[p] : offsets[p + 1]]
            for key, p in zip(wanted, at, strict=True)
            if p >= 0
        }
