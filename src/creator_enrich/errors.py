"""One exception hierarchy for the whole service; the API turns each into a JSON answer.

Every error body carries ``detail`` and ``message`` (what clients of the reference API read);
validation errors add per-field ``errors``.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.extra = extra or {}
        self.headers = headers

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.message, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class ValidationFailed(ServiceError):
    status_code = 400

    @classmethod
    def on(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", errors={field: [message]})


class NotAuthenticated(ServiceError):
    status_code = 401


class Forbidden(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class Gone(ServiceError):
    status_code = 410


class PayloadTooLarge(ServiceError):
    status_code = 413


class UnsupportedMediaType(ServiceError):
    status_code = 415


class PaymentRequired(ServiceError):
    status_code = 402


class IdempotencyMismatch(ServiceError):
    """The Idempotency-Key was used before with a different request."""

    status_code = 422


class TooManyRequests(ServiceError):
    status_code = 429
