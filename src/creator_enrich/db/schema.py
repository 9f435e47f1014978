"""The relational schema. Alembic migrations create it; nothing calls ``create_all`` in production.

Money lives in ``accounts.balance`` and the append-only ``credit_ledger``; batches are split into
``batch_rows`` (one per input row), ``batch_chunks`` (units of work, with leases) and
``batch_results`` (one per distinct looked-up row; duplicates point at their first occurrence).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from creator_enrich.db.types import Credits, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    balance: Mapped[Decimal] = mapped_column(Credits, default=Decimal(0))
    credits_used: Mapped[Decimal] = mapped_column(Credits, default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(100))
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the key was rotated: it keeps working until then (the overlap period).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LedgerEntry(Base):
    """Append-only: one row per grant, and one per charge.

    A batch chunk's commit is one charge of ``row_count`` records at the batch's rate; ``row_no``
    is the first row it charged, unique per batch: the rows each commit charges are disjoint, so
    a second charge of the same rows breaks the key. Each row's own charge is its result's
    ``credits``. (Before migration 0008 every charged row had an entry of its own.)
    """

    __tablename__ = "credit_ledger"
    __table_args__ = (UniqueConstraint("batch_id", "row_no", name="uq_credit_ledger_batch_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Credits)
    kind: Mapped[str] = mapped_column(String(20))
    batch_id: Mapped[str | None] = mapped_column(String(36))
    row_no: Mapped[int | None] = mapped_column(Integer)
    row_count: Mapped[int | None] = mapped_column(Integer)  # records charged; NULL for grants
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    status: Mapped[str] = mapped_column(String(40), index=True)
    status_message: Mapped[str | None] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(20))
    platform: Mapped[str | None] = mapped_column(String(20))
    type_report: Mapped[str] = mapped_column(String(20))
    options: Mapped[str] = mapped_column(Text)
    metadata_json: Mapped[str | None] = mapped_column(Text)
    input_column: Mapped[str | None] = mapped_column(String(200))
    rate: Mapped[Decimal] = mapped_column(Credits)
    og_input_number: Mapped[int] = mapped_column(Integer)
    invalid_count: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    success_count: Mapped[int] = mapped_column(Integer, default=0)
    not_found_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    credits_used: Mapped[Decimal] = mapped_column(Credits, default=Decimal(0))
    chunks_total: Mapped[int] = mapped_column(Integer, default=0)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    processing_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the retention period deleted the rows and results; the status stays readable.
    results_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The platform's profile revision at creation (raw and full): its results were stored at
    # this revision or later, so older ProfileHistory rows are no longer needed for them.
    profile_revision: Mapped[int | None] = mapped_column(BigInteger)


class IdempotencyKey(Base):
    """A create request's ``Idempotency-Key``: a retry with the same body gets the same batch."""

    __tablename__ = "idempotency_keys"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str] = mapped_column(String(36), index=True)
    response_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class BatchRow(Base):
    """One input row. ``dup_of`` points a duplicate at the first row with the same key."""

    __tablename__ = "batch_rows"
    # row_no too: a chunk is read in row order, and without it SQLite walks the primary key
    # through the whole batch for each chunk (migration 0004).
    __table_args__ = (Index("ix_batch_rows_chunk", "batch_id", "chunk_no", "row_no"),)

    batch_id: Mapped[str] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True
    )
    row_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    input_value: Mapped[str] = mapped_column(Text)
    lookup_key: Mapped[str | None] = mapped_column(Text)
    dup_of: Mapped[int | None] = mapped_column(Integer)
    chunk_no: Mapped[int | None] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    invalid_reason: Mapped[str | None] = mapped_column(Text)


class BatchChunk(Base):
    """A unit of work: claimed under a lease (``lease_token`` fences a late, expired worker)."""

    __tablename__ = "batch_chunks"
    __table_args__ = (Index("ix_batch_chunks_status", "status"),)

    batch_id: Mapped[str] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True
    )
    chunk_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    row_count: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class BatchResult(Base):
    """The outcome of one distinct row; ``credits`` is what that row was charged.

    A found ``raw`` or ``full`` record does not copy its primary profile's block (2 KB raw,
    ~10 KB full with audience): ``profile_id`` names the profile and ``profile_revision`` the
    platform's revision when the result was stored; ``data`` holds only what follows the block.
    The block is read when the record is sent: from the profile, or from ``ProfileHistory`` if
    an import has changed the profile since (``creators/history.py``).
    """

    __tablename__ = "batch_results"

    batch_id: Mapped[str] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True
    )
    row_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    data: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    credits: Mapped[Decimal] = mapped_column(Credits, default=Decimal(0))
    profile_id: Mapped[int | None] = mapped_column(Integer)
    profile_revision: Mapped[int | None] = mapped_column(BigInteger)


class Creator(Base):
    """A person across platforms; ``data`` holds the creator-level fields of the full record."""

    __tablename__ = "creators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    email_type: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[str] = mapped_column(Text)


class Profile(Base):
    """A creator's account on one platform, with its record blocks stored ready to send.

    ``raw_json`` and ``full_json`` are the block projected on the raw and full key lists;
    ``audience_json`` the audience block (Instagram, TikTok, YouTube); ``extra_json`` any keys an
    import carried beyond both lists, kept so that export gives back what was imported.
    ``niche``, ``country`` and ``audience_countries`` (the audience's country weights, a small
    JSON object) feed the lookalike index without decoding the audience block.
    """

    __tablename__ = "profiles"
    __table_args__ = (
        UniqueConstraint("platform", "handle_key", name="uq_profiles_platform_handle"),
        Index("ix_profiles_platform_user_id", "platform", "platform_user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("creators.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    handle_key: Mapped[str] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(String(200))
    platform_user_id: Mapped[str | None] = mapped_column(String(100))
    full_name: Mapped[str | None] = mapped_column(String(200))
    followers: Mapped[int] = mapped_column(BigInteger, default=0)
    engagement_percent: Mapped[float | None] = mapped_column(Float)
    profile_url: Mapped[str | None] = mapped_column(Text)
    picture: Mapped[str | None] = mapped_column(Text)
    niche: Mapped[str | None] = mapped_column(String(50))
    country: Mapped[str | None] = mapped_column(String(2))
    audience_countries: Mapped[str | None] = mapped_column(Text)
    raw_json: Mapped[str] = mapped_column(Text)
    full_json: Mapped[str | None] = mapped_column(Text)
    audience_json: Mapped[str | None] = mapped_column(Text)
    extra_json: Mapped[str | None] = mapped_column(Text)
    # The full block's ``is_verified`` as JSON text, for the secondaries of a full record.
    verified_json: Mapped[str | None] = mapped_column(Text)


class ProfileRevision(Base):
    """A counter per platform, bumped whenever a stored profile changes in place.

    Inserts show in the profiles' count and highest id; an update in place shows nowhere else,
    so whatever is built from profiles (the lookalike index and its neighbour details) compares
    this counter to tell that it is out of date.
    """

    __tablename__ = "profile_revisions"

    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class ProfileHistory(Base):
    """A profile's blocks as they were before an import changed them in place.

    ``replaced_at`` is the platform revision the change brought: the row holds the blocks for
    results stored at a lower revision (back to the previous row of the profile). Rows no live
    batch can need are deleted by the sweeper (``retention.forget_profile_history``).
    """

    __tablename__ = "profile_history"
    __table_args__ = (Index("ix_profile_history_platform", "platform", "replaced_at"),)

    profile_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    replaced_at: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    raw_json: Mapped[str] = mapped_column(Text)
    full_json: Mapped[str | None] = mapped_column(Text)
    audience_json: Mapped[str | None] = mapped_column(Text)
