"""The batch service: create (intake into the database), status, resume. No HTTP here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, TypeAlias

import orjson
from sqlalchemy import Connection, Engine, Row, bindparam, delete, insert, select, update

from creator_enrich.accounts.service import Caller, active_key_query, caller_of, key_id_of
from creator_enrich.batches import idempotency, retention, states
from creator_enrich.batches.create_form import CreateRequest
from creator_enrich.batches.intake import IntakeError, ParsedRow, parse_upload
from creator_enrich.batches.tasks import enqueue_chunks
from creator_enrich.config import Settings
from creator_enrich.creators import revisions
from creator_enrich.db.engine import read_connection, write_transaction
from creator_enrich.db.schema import Batch, BatchChunk, BatchRow
from creator_enrich.db.types import plain_decimal, utcnow
from creator_enrich.enrichment.records import REFERRING_MODES
from creator_enrich.errors import Conflict, NotFound, ValidationFailed

INSERT_SLICE = 5000
NOT_FOUND_MESSAGE = "Batch not found."
BATCHES = Batch.__table__
# A row of the batches table (read with Core: no ORM identity map to go stale).
BatchRecord: TypeAlias = Row[Any]


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def format_credits(value: Any) -> str:
    """Credits as a decimal string with at least two places ("310.00", "0.03", "1.125")."""
    text = plain_decimal(value)
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _new_batch_id() -> str:
    return "bch_" + uuid.uuid4().hex


# Input rows go through the driver's executemany with positional parameters: for a 10 MB file
# (~450,000 rows) SQLAlchemy's per-row parameter processing cost more than the inserts did.
# Every input row starts with weight 1, written as a constant rather than bound per row.
_INSERT_ROWS = {  # by the driver's parameter style: sqlite3, psycopg
    "qmark": "INSERT INTO batch_rows (batch_id, row_no, input_value, lookup_key, dup_of, "
    "chunk_no, weight, invalid_reason) VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
    "pyformat": "INSERT INTO batch_rows (batch_id, row_no, input_value, lookup_key, dup_of, "
    "chunk_no, weight, invalid_reason) VALUES (%s, %s, %s, %s, %s, %s, 1, %s)",
}


def _store_rows(
    conn: Connection, batch_id: str, rows: Iterator[ParsedRow], chunk_size: int
) -> dict[str, int]:
    """Insert every input row; assign distinct keys to chunks; point duplicates at the first.

    The loop runs once per input row (~450,000 for a 10 MB file): counters are locals and a
    key's first row is found and recorded with one ``setdefault``.
    """
    first_row_of: dict[str, int] = {}
    extra_weight: dict[int, int] = {}
    total = invalid = unique = 0
    pending: list[tuple[Any, ...]] = []
    first_reasons: list[str] = []
    insert_rows = _INSERT_ROWS[conn.dialect.paramstyle]
    for row_no, input_value, key, reason in rows:
        total += 1
        dup_of = chunk_no = None
        if key is None:
            invalid += 1
            if len(first_reasons) < 3:
                first_reasons.append(f"row {row_no}: {reason}")
        else:
            first = first_row_of.setdefault(key, row_no)
            if first != row_no:
                dup_of = first
                extra_weight[first] = extra_weight.get(first, 0) + 1
            else:
                chunk_no = unique // chunk_size
                unique += 1
        pending.append((batch_id, row_no, input_value, key, dup_of, chunk_no, reason))
        if len(pending) >= INSERT_SLICE:
            conn.exec_driver_sql(insert_rows, pending)
            pending = []
    if pending:
        conn.exec_driver_sql(insert_rows, pending)
    counts = {
        "rows": total,
        "invalid": invalid,
        "duplicates": total - invalid - unique,
        "unique": unique,
    }
    if unique == 0:
        detail = "; ".join(first_reasons)
        raise ValidationFailed(
            f"the file has no valid row ({detail})", errors={"file": [f"no valid row: {detail}"]}
        )
    if extra_weight:
        conn.execute(
            update(BatchRow)
            .where(BatchRow.batch_id == batch_id, BatchRow.row_no == bindparam("b_row_no"))
            .values(weight=1 + bindparam("b_extra")),
            [{"b_row_no": r, "b_extra": w} for r, w in extra_weight.items()],
        )
    return counts


def create_batch(
    engine: Engine,
    settings: Settings,
    caller: Caller,
    request: CreateRequest,
    upload: bytes,
    idempotent: idempotency.IdempotentRequest | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store the batch and queue its chunks: (the create answer, whether it is a replay)."""
    options = request.options
    try:
        parsed = parse_upload(
            upload,
            expected_kind=options.kind,
            platform=options.platform,
            max_rows=settings.max_rows,
        )
        batch_id = _new_batch_id()
        now = utcnow()
        with write_transaction(engine) as conn:
            if idempotent is not None:
                replayed = idempotency.claim(conn, caller.account_id, idempotent)
                if replayed is not None:
                    return replayed, True
            conn.execute(
                insert(Batch).values(
                    id=batch_id,
                    account_id=caller.account_id,
                    status=states.VALIDATING,
                    mode=options.mode,
                    platform=options.platform,
                    type_report="ENRICH_BY_HANDLE"
                    if options.kind == "handle"
                    else "ENRICH_BY_EMAIL",
                    options=orjson.dumps(options.to_dict()).decode(),
                    metadata_json=None
                    if request.metadata is None
                    else orjson.dumps(request.metadata).decode(),
                    input_column=parsed.column,
                    rate=settings.rate_for(options.mode),
                    og_input_number=0,
                    created_at=now,
                    profile_revision=(
                        revisions.current(conn, options.platform)
                        if options.mode in REFERRING_MODES and options.platform
                        else None
                    ),
                )
            )
            counts = _store_rows(conn, batch_id, parsed.rows, settings.chunk_size)
            chunks = (counts["unique"] + settings.chunk_size - 1) // settings.chunk_size
            chunk_rows = [
                {
                    "batch_id": batch_id,
                    "chunk_no": n,
                    "status": states.CHUNK_QUEUED,
                    "row_count": min(
                        settings.chunk_size, counts["unique"] - n * settings.chunk_size
                    ),
                    "attempts": 0,
                    "enqueued_at": now,
                }
                for n in range(chunks)
            ]
            conn.execute(insert(BatchChunk), chunk_rows)
            conn.execute(
                update(Batch)
                .where(Batch.id == batch_id)
                .values(
                    status=states.QUEUED,
                    og_input_number=counts["rows"],
                    invalid_count=counts["invalid"],
                    duplicate_count=counts["duplicates"],
                    processed_rows=counts["invalid"],
                    chunks_total=chunks,
                )
            )
            answer = {
                "batch_id": batch_id,
                "status": states.QUEUED,
                "created_at": iso(now),
                "platform": options.platform,
                "metadata": request.metadata,
                "og_input_number": counts["rows"],
                "type_report": "ENRICH_BY_HANDLE"
                if options.kind == "handle"
                else "ENRICH_BY_EMAIL",
                "enrichment_mode": options.mode,
                "message": _create_message(request, parsed.column, parsed.columns_found, counts),
            }
            if idempotent is not None:
                idempotency.remember(conn, caller.account_id, idempotent.key, batch_id, answer)
    except IntakeError as exc:
        raise ValidationFailed(exc.message, errors={exc.field: [exc.message]}) from exc
    enqueue_chunks(batch_id, range(chunks))
    return answer, False


def _create_message(
    request: CreateRequest, column: str | None, columns: list[str], counts: dict[str, int]
) -> str:
    parts = [
        f"Batch accepted with {counts['rows']} rows: {counts['unique']} to enrich, "
        f"{counts['duplicates']} duplicates (enriched and charged once), "
        f"{counts['invalid']} invalid (free)."
    ]
    if column and len(columns) > 1:
        parts.append(f"Used column {column!r} of {len(columns)}.")
    if request.ignored:
        parts.append(f"Ignored for {request.options.mode} mode: {', '.join(request.ignored)}.")
    parts.append("Poll the status endpoint; results are available when it is finished.")
    return " ".join(parts)


def _owned_batch(
    conn: Connection, caller: Caller, batch_id: str, *, lock: bool = False
) -> BatchRecord:
    """The caller's batch; another account's batch is indistinguishable from a missing one.

    ``lock`` takes the batch row, so that a worker committing a chunk of it (which holds the row
    through its results' foreign key) finishes before, or waits and then finds it gone.
    """
    query = select(BATCHES).where(Batch.id == batch_id, Batch.account_id == caller.account_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    return row


def get_batch(engine: Engine, caller: Caller, batch_id: str) -> BatchRecord:
    with read_connection(engine) as conn:
        return _owned_batch(conn, caller, batch_id)


def get_batch_unchecked(engine: Engine, batch_id: str) -> BatchRecord:
    """A batch by id alone: only for callers holding a signed link, which proves ownership."""
    with read_connection(engine) as conn:
        row = conn.execute(select(BATCHES).where(Batch.id == batch_id)).first()
    if row is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    return row


def _estimated_completion(batch: BatchRecord) -> str | None:
    if batch.status == states.FINISHED:
        return iso(batch.finished_at)
    if batch.status != states.PROCESSING or batch.processing_started_at is None:
        return None
    done = batch.processed_rows - batch.invalid_count
    remaining = batch.og_input_number - batch.processed_rows
    elapsed = (utcnow() - batch.processing_started_at).total_seconds()
    if done <= 0 or elapsed <= 0:
        return None
    return iso(utcnow() + timedelta(seconds=remaining * elapsed / done))


def status_body(batch: BatchRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "batch_id": batch.id,
        "status": batch.status,
        "total_rows": batch.og_input_number,
        "processed_rows": batch.processed_rows,
        "success_count": batch.success_count,
        "failed_count": batch.processed_rows - batch.success_count,
        "started_at": iso(batch.created_at),
        "metadata": orjson.loads(batch.metadata_json) if batch.metadata_json else {},
        "credits_used": format_credits(batch.credits_used),
        "estimated_completion": _estimated_completion(batch),
        "status_message": batch.status_message,
        # Additions (unknown to reference clients, which ignore them):
        "not_found_count": batch.not_found_count,
        "invalid_count": batch.invalid_count,
        "error_count": batch.error_count,
        "duplicate_count": batch.duplicate_count,
        "enrichment_mode": batch.mode,
        "platform": batch.platform,
        "finished_at": iso(batch.finished_at),
        "results_deleted_at": iso(batch.results_deleted_at),
    }
    return body


def batch_status(engine: Engine, caller: Caller, batch_id: str) -> dict[str, Any]:
    return status_body(get_batch(engine, caller, batch_id))


# Built once with bound parameters: constructing the join on every poll cost more than running it.
_KEYS = active_key_query().subquery()
_KEY_AND_BATCH = select(_KEYS, BATCHES).select_from(
    _KEYS.outerjoin(
        BATCHES, (Batch.id == bindparam("batch_id")) & (Batch.account_id == _KEYS.c.key_account_id)
    )
)


def caller_and_batch(
    engine: Engine, key: str, batch_id: str
) -> tuple[Caller | None, BatchRecord | None]:
    """Authenticate ``key`` and read its account's batch in one query: the status route is polled
    hundreds of times a second, and two read transactions per poll cost twice the round trips.

    (None, None) for a key that is unknown, malformed, revoked or expired; (caller, None) when the
    batch does not exist or belongs to another account. Revocation still takes effect at once:
    the key's row is read on every call, as ``authenticate`` does.
    """
    key_id = key_id_of(key)
    if key_id is None:
        return None, None
    params = {"key_id": key_id, "now": utcnow(), "batch_id": batch_id}
    with read_connection(engine) as conn:
        row = conn.execute(_KEY_AND_BATCH, params).first()
    caller = caller_of(key, key_id, row)
    if caller is None or row is None or row.id is None:
        return caller, None
    return caller, row


def resume_batch(engine: Engine, caller: Caller, batch_id: str) -> dict[str, Any]:
    """Continue a batch paused for credits: its parked chunks go back on the queue."""
    with write_transaction(engine) as conn:
        batch = _owned_batch(conn, caller, batch_id)
        if batch.status != states.PAUSED:
            raise Conflict(
                f"Only a batch in status {states.PAUSED!r} can be resumed; "
                f"this one is {batch.status!r}.",
                extra={"error": "batch_not_paused", "current_status": batch.status},
            )
        new_status = states.PROCESSING if batch.processing_started_at else states.QUEUED
        conn.execute(
            update(Batch).where(Batch.id == batch_id).values(status=new_status, status_message=None)
        )
        chunk_nos = list(
            conn.execute(
                update(BatchChunk)
                .where(
                    BatchChunk.batch_id == batch_id,
                    BatchChunk.status.in_((states.CHUNK_AWAITING_CREDITS, states.CHUNK_QUEUED)),
                )
                .values(status=states.CHUNK_QUEUED, enqueued_at=utcnow())
                .returning(BatchChunk.chunk_no)
            ).scalars()
        )
    enqueue_chunks(batch_id, sorted(chunk_nos))
    body = batch_status(engine, caller, batch_id)
    body["message"] = f"Batch resumed: {len(chunk_nos)} chunks queued again."
    return body


def delete_batch(engine: Engine, caller: Caller, batch_id: str) -> dict[str, Any]:
    """Remove a batch with its rows and results, in any state (a running one stops: its workers'
    leases are gone, so nothing more is stored or charged). Ledger entries stay."""
    with write_transaction(engine) as conn:
        _owned_batch(conn, caller, batch_id)  # unknown or not the caller's: 404, nothing locked
        # Locks in the order a chunk commit takes them, its chunk row then the batch row, so that
        # on PostgreSQL a delete racing a commit waits for it instead of deadlocking with it.
        conn.execute(
            select(BatchChunk.chunk_no)
            .where(BatchChunk.batch_id == batch_id)
            .order_by(BatchChunk.chunk_no)
            .with_for_update()
        ).all()
        batch = _owned_batch(conn, caller, batch_id, lock=True)
        retention.drop_contents(conn, batch_id)
        idempotency.forget_batch(conn, batch_id)
        conn.execute(delete(Batch).where(Batch.id == batch_id))
    return {
        "batch_id": batch_id,
        "deleted": True,
        "previous_status": batch.status,
        "message": "Batch deleted with its input rows and results; "
        "its credit ledger entries are kept.",
    }
