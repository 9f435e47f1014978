"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.types import TypeDecorator

MICROS = Decimal(1_000_000)


def to_micros(amount: Decimal) -> int:
    """Credits are stored as integer millionths: exact on both dialects (SQLite has no DECIMAL)."""
    micros = amount * MICROS
    if micros != micros.to_integral_value():
        raise ValueError(f"credit amount {amount} has more than 6 decimal places")
    return int(micros)


def plain_decimal(amount: Decimal) -> str:
    """An amount as exact plain text ("627.13", "0", "10"): never an exponent, never a float."""
    return format(amount.normalize(), "f") if amount else "0"


def from_micros(micros: int) -> Decimal:
    return (Decimal(micros) / MICROS).normalize() if micros else Decimal(0)


class Credits(TypeDecorator[Decimal]):
    """A `Decimal` amount of credits, stored as a 64-bit integer of millionths."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return to_micros(Decimal(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else from_micros(int(value))


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both dialects (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
