"""Request body limits enforced while the body streams in, before anything is buffered.

A declared Content-Length over the limit is refused at once; a chunked body is counted as it
arrives and cut off at the limit. Either way the client gets 413 and the rest is never read.
"""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, upload_path: str, upload_limit: int, default_limit: int):
        self.app = app
        self.upload_path = upload_path
        self.upload_limit = upload_limit
        self.default_limit = default_limit

    def _limit(self, scope: Scope) -> int:
        path = scope.get("path", "").rstrip("/") + "/"
        return self.upload_limit if path == self.upload_path else self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        message = (
            f"The request body is larger than {limit // (1024 * 1024) or 1} MB"
            if limit >= 1024 * 1024
            else f"The request body is larger than {limit} bytes"
        )
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit():
                    await _send_error(send, 400, "Invalid Content-Length header.")
                    return
                if int(value) > limit:
                    await _send_error(send, 413, message + ".")
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > limit:
                    # HTTPException passes through FastAPI's body parsing untouched.
                    raise HTTPException(413, message + "; the upload was stopped there.")
            return msg

        await self.app(scope, limited_receive, send)


async def _send_error(send: Send, status: int, message: str) -> None:
    body = orjson.dumps({"detail": message, "message": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
