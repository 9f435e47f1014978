"""With the database unreachable the API answers 503 with Retry-After, never 500."""

from __future__ import annotations

import socket
from pathlib import Path

from fastapi.testclient import TestClient

from creator_enrich.app import create_app
from creator_enrich.config import Settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens there once the socket closes


def test_unreachable_database_is_503_not_500(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"postgresql://nobody@127.0.0.1:{_closed_port()}/none?connect_timeout=2",
        embedded_worker=False,
    )
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": "Bearer ce_abcdef123456_secret"}
        for method, path in (
            ("GET", "/public/v1/accounts/credits/"),
            ("GET", "/public/v1/enrichment/batch/bch_" + "0" * 32 + "/status/"),
            ("POST", "/public/v1/creators/enrich/handle/raw/"),
        ):
            body = {"handle": "someone", "platform": "instagram"} if method == "POST" else None
            response = client.request(method, path, headers=headers, json=body)
            assert response.status_code == 503, (path, response.text)
            assert response.headers["retry-after"] == "5"
            assert "database is unavailable" in response.json()["message"]
        assert client.get("/healthz").status_code == 200
