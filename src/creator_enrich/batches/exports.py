"""Stream a batch's results as CSV or JSON, page by page, in input order.

Neither format is built whole in memory: each page of rows is read in its own short transaction
(keyset pagination on row_no) and written out before the next is read. Stored records are JSON
text, so the JSON export embeds them without decoding. A result that refers to its profile
(``BatchResult.profile_id``) gets its block joined in by the page query: the profile's, or the
one it had at the result's revision if an import has changed it since (``creators/history``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import Engine, and_, func, select

from creator_enrich.batches import states
from creator_enrich.creators import history
from creator_enrich.db.engine import read_connection
from creator_enrich.db.schema import BatchResult, BatchRow
from creator_enrich.enrichment.columns import column_names, column_paths
from creator_enrich.enrichment.options import EnrichOptions
from creator_enrich.enrichment.records import assemble, referenced_block

PAGE = 2000
# Rows a page for modes whose records are big (full: ~13 KB, advanced: every platform's block),
# so that a page stays a few MB in the API process, as 2,000 raw records (~2 KB) do.
BIG_RECORD_PAGE = 500
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Stop spreadsheet apps from running a cell as a formula (OWASP CSV injection)."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


class _Records:
    """How one batch's stored results become records: read as stored, or assembled with the
    block of the profile they refer to (raw and full)."""

    def __init__(self, batch: Any) -> None:
        self.batch_id: str = batch.id
        self.platform: str = batch.platform or ""
        self.page = BIG_RECORD_PAGE if batch.mode in ("full", "advanced") else PAGE
        try:
            self.block = referenced_block(EnrichOptions.from_dict(orjson.loads(batch.options)))
        except (TypeError, ValueError):  # its chunks failed before any lookup: nothing refers
            self.block = None

    def pages(self, engine: Engine) -> Iterator[Sequence[Any]]:
        result_row = func.coalesce(BatchRow.dup_of, BatchRow.row_no)
        columns: list[Any] = [
            BatchRow.row_no,
            BatchRow.input_value,
            BatchRow.invalid_reason,
            BatchRow.dup_of,
            BatchResult.status,
            BatchResult.data,
            BatchResult.reason,
            BatchResult.profile_id,
        ]
        query = select(*columns).outerjoin(
            BatchResult,
            and_(BatchResult.batch_id == BatchRow.batch_id, BatchResult.row_no == result_row),
        )
        if self.block is not None:
            query, block, audience = history.join_as_stored(
                query, BatchResult.profile_id, BatchResult.profile_revision, self.block[0].key
            )
            query = query.add_columns(block.label("ref_block"), audience.label("ref_audience"))
        after = 0
        while True:
            with read_connection(engine) as conn:
                page = conn.execute(
                    query.where(BatchRow.batch_id == self.batch_id, BatchRow.row_no > after)
                    .order_by(BatchRow.row_no)
                    .limit(self.page)
                ).all()
            if not page:
                return
            yield page
            after = page[-1].row_no

    def view(self, row: Any) -> tuple[str, str | None, str | None]:
        """(status, data, reason) as the row should be reported."""
        if row.invalid_reason is not None:
            return states.ROW_INVALID, None, row.invalid_reason
        if row.status is None:
            return states.ROW_PENDING, None, "not processed yet"
        reason = row.reason
        if row.dup_of is not None:
            note = f"duplicate of row {row.dup_of}; enriched and charged once"
            reason = f"{reason}; {note}" if reason else note
        data = row.data
        if row.profile_id is not None and self.block is not None:
            data = assemble(self.platform, row.ref_block, row.ref_audience, self.block[1], data)
        return row.status, data, reason


def stream_json(engine: Engine, batch: Any) -> Iterator[bytes]:
    """``batch``: its row (id, mode, platform, options)."""
    records = _Records(batch)
    yield b"["
    first = True
    for page in records.pages(engine):
        parts = []
        for row in page:
            status, data, reason = records.view(row)
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


def stream_csv(engine: Engine, batch: Any) -> Iterator[bytes]:
    """``batch``: its row (id, mode, platform, options)."""
    records = _Records(batch)
    paths = column_paths(batch.mode, batch.platform)
    buffer = io.StringIO()
    # Every cell quoted (OWASP): a spreadsheet that splits on ";" or tab (other locales) cannot
    # cut a value such as "x;=cmd|..." into a cell that starts a formula.
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(["input_value", "status", *column_names(batch.mode, batch.platform), "reason"])
    for page in records.pages(engine):
        for row in page:
            status, data, reason = records.view(row)
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
