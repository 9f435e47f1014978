"""Turn an uploaded batch CSV into normalised rows.

File-level problems (wrong encoding, binary data, broken quoting, wrong column, wrong kind of
value, a spreadsheet formula, too many rows) raise :class:`IntakeError` so the upload is refused
with a message the user can act on. Row-level problems never raise: the row is kept with
``key=None`` and a reason, so it is reported back as invalid instead of sinking the whole batch.

Rows are produced lazily: a 10 MB file can hold ~400k handles, and the caller streams them into
the database inside a transaction rather than holding them all in memory.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, NamedTuple

from creator_enrich.creators.handles import (
    PLATFORMS,
    InvalidValue,
    handle_normaliser,
    looks_like_email,
    normalise_email,
)

if TYPE_CHECKING:
    from _csv import Reader as _CsvReader

__all__ = ["KINDS", "IntakeError", "ParsedRow", "ParsedUpload", "parse_upload"]

KINDS = ("handle", "email")
_HEADER_KINDS = {"handle": "handle", "handles": "handle", "email": "email", "emails": "email"}
#: How many leading values decide whether a header-less file holds emails or handles.
_DETECT_SAMPLE = 200
#: A value a spreadsheet would run as a formula: it starts with =, + or -, or with @ followed by
#: an operator, a function call (``@SUM(``) or a DDE link (``|``). A plain ``@handle`` is fine.
_FORMULA_RE = re.compile(r"[=+\-]|@(?:[=+\-@]|\w*\()|@.*\|")
#: The first characters _FORMULA_RE can match: other values skip the regex.
_FORMULA_FIRST = frozenset("=+-@")
#: Signatures of common non-text files, so the refusal says what was uploaded.
_BINARY_SIGNATURES: tuple[tuple[tuple[bytes, ...], str], ...] = (
    (
        (b"PK\x03\x04", b"PK\x05\x06"),
        "a ZIP archive (an .xlsx or .ods workbook is one); export the sheet as CSV",
    ),
    ((b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",), "an Excel 97-2003 workbook; export the sheet as CSV"),
    ((b"\x89PNG\r\n\x1a\n",), "a PNG image, not a CSV"),
    ((b"\xff\xd8\xff",), "a JPEG image, not a CSV"),
    ((b"GIF87a", b"GIF89a"), "a GIF image, not a CSV"),
    ((b"%PDF-",), "a PDF document, not a CSV"),
    ((b"\x1f\x8b",), "gzip-compressed; upload the CSV itself"),
)
#: One well-formed multi-byte UTF-8 character: a file holding one is UTF-8, not Windows-1252.
_UTF8_MULTIBYTE_RE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)


class IntakeError(Exception):
    """The upload as a whole is unusable; ``field`` names the form field to blame."""

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ParsedRow(NamedTuple):
    """One data row: ``key`` is the lookup key, or None with ``reason`` saying why.

    A named tuple, not a frozen dataclass: a 10 MB file makes ~450,000 of them, and a frozen
    dataclass's ``__init__`` (one ``object.__setattr__`` per field) cost 1 s of them.
    """

    row_no: int
    input_value: str
    key: str | None
    reason: str | None


@dataclass(slots=True)
class ParsedUpload:
    """What the file holds; ``rows`` is a one-shot iterator that may raise IntakeError."""

    kind: str
    column: str | None
    columns_found: list[str]
    encoding: str
    rows: Iterator[ParsedRow]


def parse_upload(
    data: bytes, *, expected_kind: str, platform: str | None, max_rows: int | None = None
) -> ParsedUpload:
    """Decode and check ``data``, returning the upload with its rows still to be read.

    Everything needed to accept or refuse the file up front (encoding, header, kind, at least
    one row) is settled here; only ``max_rows`` and late CSV syntax errors surface while
    iterating ``rows``.
    """
    if expected_kind not in KINDS:
        raise ValueError(f"expected_kind must be one of {KINDS}, not {expected_kind!r}")
    normalise: Callable[[str], str]
    if expected_kind == "handle":
        if not platform:
            raise IntakeError("platform is required to enrich handles", field="platform")
        if platform not in PLATFORMS:
            raise IntakeError(
                f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}",
                field="platform",
            )
        normalise = handle_normaliser(platform)
    else:
        normalise = normalise_email

    text, encoding = _decode(data)
    reader = _Reader(text)
    del text

    first = reader.next_nonblank()
    if first is None:
        raise IntakeError("the file is empty")
    first[0] = first[0].lstrip("\ufeff")
    while len(first) > 1 and not first[-1].strip():
        first.pop()  # trailing empty cells: "handle," as saved by spreadsheets

    pending: list[list[str]]
    if len(first) > 1:
        columns_found = [c.strip() for c in first]
        matches = [i for i, c in enumerate(columns_found) if c.lower() in _HEADER_KINDS]
        if len(matches) != 1:
            raise IntakeError(
                f"found columns {_list_columns(columns_found)}; "
                "expected exactly one column named handle or email"
            )
        col = matches[0]
        column: str | None = columns_found[col]
        kind = _HEADER_KINDS[columns_found[col].lower()]
        pending = []
    elif first[0].strip().lower() in _HEADER_KINDS:
        col = 0
        column = first[0].strip()
        columns_found = [column]
        kind = _HEADER_KINDS[column.lower()]
        pending = []
    else:
        col = 0
        column = None
        columns_found = []
        pending = [first]
        while len(pending) < _DETECT_SAMPLE and (cells := reader.next_nonblank()) is not None:
            pending.append(cells)
        emails = sum(1 for cells in pending if looks_like_email(cells[0]))
        kind = "email" if emails * 2 > len(pending) else "handle"

    if kind != expected_kind:
        where = f" (column {column!r})" if column is not None else ""
        raise IntakeError(
            f"the file holds {kind}s{where} but this enrichment mode needs {expected_kind}s"
        )

    if not pending:
        cells = reader.next_nonblank()
        if cells is None:
            raise IntakeError("the file has a header but no rows")
        pending.append(cells)

    label = repr(column) if column is not None else f"{col + 1}"
    rows = _rows(pending, reader.csv, col, label, normalise, max_rows)
    return ParsedUpload(
        kind=kind, column=column, columns_found=columns_found, encoding=encoding, rows=rows
    )


def _rows(
    pending: list[list[str]],
    reader: _CsvReader,
    col: int,
    column_label: str,
    normalise: Callable[[str], str],
    max_rows: int | None,
) -> Iterator[ParsedRow]:
    """Yield the rows: ``pending`` (already read while sniffing), then the rest of ``reader``.

    A value that a spreadsheet would run as a formula refuses the whole file: it is not a
    mistyped handle but a hostile or corrupted upload.
    """
    row_no = 0
    limit = max_rows if max_rows is not None else -1
    last_end = reader.line_num
    try:
        for cells in chain(pending, reader):
            last_end = reader.line_num
            if not cells:
                continue
            value = cells[col].strip() if col < len(cells) else ""
            if not value and not any(c.strip() for c in cells):
                continue  # blank line
            row_no += 1
            if row_no == limit + 1:
                raise IntakeError(f"the file has more than {max_rows} rows")
            if value[:1] in _FORMULA_FIRST and _FORMULA_RE.match(value):
                shown = _printable(value if len(value) <= 40 else value[:39] + "…")
                raise IntakeError(
                    f"row {row_no}, column {column_label}: {shown!r} is a spreadsheet formula, "
                    "not a handle or email (values may not start with =, + or -, "
                    "or with @ followed by a formula)"
                )
            try:
                key = normalise(value)
            except InvalidValue as exc:
                yield ParsedRow(row_no, value, None, exc.reason)
            else:
                yield ParsedRow(row_no, value, key, None)
    except csv.Error as exc:
        raise _csv_error(exc, last_end + 1) from exc
    if row_no == 0:  # parse_upload already saw a row; kept so the invariant cannot drift
        raise IntakeError("the file has a header but no rows")


# One line with its end kept (csv needs it for quoted newlines); ends are \n, \r\n and \r, as
# io.StringIO(text, newline="") splits them (str.splitlines would also split on \x0b, \x85, …).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
#: The line ends of str.splitlines other than \n and \r.
_OTHER_LINE_ENDS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
#: Characters per block of lines; a block ends after a \n, so a \r\n is never cut in two.
_LINE_BLOCK = 1 << 16


def _lines(text: str, block: int = _LINE_BLOCK) -> Iterator[str]:
    """The lines of ``text``, one at a time: StringIO would first copy a 10 MB upload into a
    buffer of 4 bytes per character (42 MB), and a list of all lines would cost ~30 MB."""
    return chain.from_iterable(_line_blocks(text, block))


def _line_blocks(text: str, block: int) -> Iterator[Iterable[str]]:
    """``text`` split into lines, a block of ~``block`` characters at a time: ``splitlines`` in
    C where the block has no other line end it would split on (3x faster than the regex)."""
    pos, size = 0, len(text)
    while pos < size:
        end = text.find("\n", pos + block)
        end = size if end < 0 else end + 1
        part = text[pos:end]
        if _OTHER_LINE_ENDS.search(part) is None:
            yield part.splitlines(keepends=True)
        else:
            yield (match.group() for match in _LINE.finditer(part))
        pos = end


class _Reader:
    """``csv.reader`` over the decoded text, for the look-ahead done before rows are yielded."""

    __slots__ = ("csv",)

    def __init__(self, text: str) -> None:
        self.csv = csv.reader(_lines(text), strict=True)

    def next_nonblank(self) -> list[str] | None:
        """Next record with a non-blank cell, None at the end; csv errors become IntakeError."""
        reader = self.csv
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return None
            except csv.Error as exc:
                raise _csv_error(exc, start) from exc
            if any(c.strip() for c in cells):
                return cells


def _csv_error(exc: csv.Error, line: int) -> IntakeError:
    detail = str(exc)
    if "unexpected end of data" in detail:
        return IntakeError(f"unmatched quote in the row starting on line {line}")
    if "field larger than field limit" in detail:
        return IntakeError(
            f"line {line}: a value is longer than {csv.field_size_limit()} characters"
        )
    return IntakeError(f"line {line}: malformed CSV ({detail})")


def _decode(data: bytes) -> tuple[str, str]:
    """Decode the whole upload once, refusing binary data and text we cannot read faithfully."""
    for signatures, what in _BINARY_SIGNATURES:
        if data.startswith(signatures):
            raise IntakeError(f"the file is {what}")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise IntakeError(
                f"the file starts with a UTF-16 byte-order mark but is not valid UTF-16 "
                f"(byte offset {exc.start})"
            ) from None
        nul = text.find("\x00")
        if nul >= 0:
            raise _nul_error(_line_of(text, nul))
        return text, "utf-16"

    nul = data.find(b"\x00")
    if nul >= 0:
        if _looks_like_utf16(data):
            raise IntakeError(
                "the file looks like UTF-16 text without a byte-order mark; "
                "save it as UTF-8 (or as UTF-16 with a byte-order mark)"
            )
        raise _nul_error(_line_of_bytes(data, nul))
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            offset = exc.start + len(codecs.BOM_UTF8)
            raise IntakeError(
                f"the file starts with a UTF-8 byte-order mark but is not valid UTF-8 "
                f"(line {_line_of_bytes(data, offset)}, byte offset {offset})"
            ) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if _UTF8_MULTIBYTE_RE.search(data):  # UTF-8 with broken bytes: not Windows-1252 text
            raise IntakeError(
                f"the file is UTF-8 but line {_line_of_bytes(data, exc.start)} is not valid "
                f"UTF-8 (byte 0x{data[exc.start]:02x} at byte offset {exc.start}); "
                "save it as a UTF-8 CSV"
            ) from None
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise IntakeError(
            f"the file is neither UTF-8 nor Windows-1252 text (byte 0x{data[exc.start]:02x} "
            f"on line {_line_of_bytes(data, exc.start)}); save it as a UTF-8 CSV"
        ) from None


def _looks_like_utf16(data: bytes) -> bool:
    """Most of every other byte of the start is NUL: ASCII text saved as UTF-16 (LE or BE)."""
    sample = data[:400]
    half = len(sample) // 2
    return half >= 2 and max(sample[0::2].count(0), sample[1::2].count(0)) >= half * 0.9


def _nul_error(line: int) -> IntakeError:
    return IntakeError(f"the file contains NUL bytes (line {line}); upload a text CSV")


def _line_of(text: str, pos: int) -> int:
    """1-based line of ``pos`` counting \\n, \\r\\n and \\r as one line end each."""
    return text.count("\n", 0, pos) + text.count("\r", 0, pos) - text.count("\r\n", 0, pos) + 1


def _line_of_bytes(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + data.count(b"\r", 0, pos) - data.count(b"\r\n", 0, pos) + 1


def _list_columns(names: list[str], limit: int = 20, width: int = 40) -> str:
    """Render header names for an error message without echoing a huge or hostile header."""
    shown = [_printable(n if len(n) <= width else n[: width - 1] + "…") for n in names[:limit]]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(shown) + more


def _printable(name: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in name) or '""'
