"""Stream a batch's results as CSV or JSON, page by page, in input order.

Neither format is built whole in memory: each page of rows is read in its own short transaction
(keyset pagination on row_no) and written out before the next is read. Stored records are JSON
text, so the JSON export embeds them without decoding.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import Engine, and_, func, select

from creator_enrich.batches import states
from creator_enrich.db.engine import read_connection
from creator_enrich.db.schema import BatchResult, BatchRow
from creator_enrich.enrichment.columns import column_names, column_paths

PAGE = 2000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Stop spreadsheet apps from running a cell as a formula (OWASP CSV injection)."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def _pages(engine: Engine, batch_id: str) -> Iterator[Sequence[Any]]:
    result_row = func.coalesce(BatchRow.dup_of, BatchRow.row_no)
    after = 0
    while True:
        with read_connection(engine) as conn:
            page = conn.execute(
                select(
                    BatchRow.row_no,
                    BatchRow.input_value,
                    BatchRow.invalid_reason,
                    BatchRow.dup_of,
                    BatchResult.status,
                    BatchResult.data,
                    BatchResult.reason,
                )
                .outerjoin(
                    BatchResult,
                    and_(
                        BatchResult.batch_id == BatchRow.batch_id, BatchResult.row_no == result_row
                    ),
                )
                .where(BatchRow.batch_id == batch_id, BatchRow.row_no > after)
                .order_by(BatchRow.row_no)
                .limit(PAGE)
            ).all()
        if not page:
            return
        yield page
        after = page[-1].row_no


def _row_view(row: Any) -> tuple[str, str | None, str | None]:
    """(status, data, reason) as the row should be reported."""
    if row.invalid_reason is not None:
        return states.ROW_INVALID, None, row.invalid_reason
    if row.status is None:
        return states.ROW_PENDING, None, "not processed yet"
    reason = row.reason
    if row.dup_of is not None:
        note = f"duplicate of row {row.dup_of}; enriched and charged once"
        reason = f"{reason}; {note}" if reason else note
    return row.status, row.data, reason


def stream_json(engine: Engine, batch_id: str) -> Iterator[bytes]:
    yield b"["
    first = True
    for page in _pages(engine, batch_id):
        parts = []
        for row in page:
            status, data, reason = _row_view(row)
            parts.append(
                b'{"input_value":'
                + orjson.dumps(row.input_value)
                + b',"status":"'
                + status.encode()
                + b'","enrichment_data":'
                + (data.encode() if data is not None else b"null")
                + b',"reason":'
                + orjson.dumps(reason)
                + b"}"
            )
        chunk = b",\n".join(parts)
        yield chunk if first else b",\n" + chunk
        first = False
    yield b"]\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return neutralise(value)
    return orjson.dumps(value).decode()


def _lookup(record: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def stream_csv(engine: Engine, batch_id: str, mode: str, platform: str | None) -> Iterator[bytes]:
    paths = column_paths(mode, platform)
    buffer = io.StringIO()
    # Every cell quoted (OWASP): a spreadsheet that splits on ";" or tab (other locales) cannot
    # cut a value such as "x;=cmd|..." into a cell that starts a formula.
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(["input_value", "status", *column_names(mode, platform), "reason"])
    for page in _pages(engine, batch_id):
        for row in page:
            status, data, reason = _row_view(row)
            record = orjson.loads(data) if data is not None else None
            cells = (
                [_cell(_lookup(record, p)) for p in paths]
                if record is not None
                else [""] * len(paths)
            )
            writer.writerow([neutralise(row.input_value), status, *cells, neutralise(reason or "")])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()
