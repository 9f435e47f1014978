"""A small HTTP client for the batch API, used by ``creator-enrich batch submit`` and the demo."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

TERMINAL = ("finished", "failed", "paused_insufficient_credits")


class ApiError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        try:
            body = response.json()
            message = body.get("message") or body.get("detail") or response.text
        except ValueError:
            body, message = None, response.text
        super().__init__(f"HTTP {response.status_code}: {message}")
        self.status_code = response.status_code
        self.body = body


class BatchClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 60.0) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self.http.close()

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise ApiError(response)
        return response.json()

    def create(self, path: Path, fields: dict[str, str]) -> dict[str, Any]:
        with path.open("rb") as handle:
            response = self.http.post(
                "/public/v1/enrichment/batch/",
                data=fields,
                files={"file": (path.name, handle, "text/csv")},
            )
        return self._json(response)  # type: ignore[no-any-return]

    def status(self, batch_id: str) -> dict[str, Any]:
        return self._json(  # type: ignore[no-any-return]
            self.http.get(f"/public/v1/enrichment/batch/{batch_id}/status/")
        )

    def credits(self) -> dict[str, Any]:
        return self._json(self.http.get("/public/v1/accounts/credits/"))  # type: ignore[no-any-return]

    def wait(
        self,
        batch_id: str,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        interval: float = 0.25,
        timeout: float = 3600,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(batch_id)
            if on_progress:
                on_progress(status)
            if status["status"] in TERMINAL:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch {batch_id} still {status['status']} after {timeout}s")
            time.sleep(interval)

    def download(self, batch_id: str, fmt: str, dest: Path) -> Path:
        """Stream the results to a file (never holding the whole body in memory)."""
        url = f"/public/v1/enrichment/batch/{batch_id}/"
        with self.http.stream("GET", url, params={"format": fmt}) as response:
            if response.status_code >= 400:
                response.read()
                raise ApiError(response)
            with dest.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        return dest
