"""CSV intake: file-level problems refuse the upload, row-level problems only mark the row."""

from __future__ import annotations

import codecs
import csv
import io

import pytest

from creator_enrich.batches.intake import IntakeError, ParsedRow, ParsedUpload, parse_upload


def _handles(data: bytes, platform: str = "instagram", **kw: int) -> ParsedUpload:
    return parse_upload(data, expected_kind="handle", platform=platform, **kw)


def _emails(data: bytes, **kw: int) -> ParsedUpload:
    return parse_upload(data, expected_kind="email", platform=None, **kw)


def _keys(upload: ParsedUpload) -> list[str | None]:
    return [row.key for row in upload.rows]


def _read_all(data: bytes, kind: str, platform: str | None) -> list[ParsedRow]:
    return list(parse_upload(data, expected_kind=kind, platform=platform).rows)


def _error(data: bytes, kind: str = "handle", platform: str | None = "instagram") -> IntakeError:
    with pytest.raises(IntakeError) as info:
        _read_all(data, kind, platform)
    assert str(info.value) == info.value.message
    return info.value


# --- encodings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("handle\nJohn\ncafé_x\n".encode(), "utf-8"),
        (codecs.BOM_UTF8 + "handle\nJohn\ncafé_x\n".encode(), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + "handle\nJohn\ncafé_x\n".encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + "handle\nJohn\ncafé_x\n".encode("utf-16-be"), "utf-16"),
        ("handle\nJohn\ncafé_x\n".encode("cp1252"), "cp1252"),
    ],
)
def test_encodings(data: bytes, encoding: str) -> None:
    upload = _handles(data)
    assert upload.encoding == encoding
    assert upload.column == "handle"
    rows = list(upload.rows)
    assert [(r.input_value, r.key) for r in rows] == [("John", "john"), ("café_x", None)]
    assert rows[1].reason == "not a valid instagram handle: contains the character 'é'"


def test_utf8_bom_is_not_part_of_the_first_value() -> None:
    """Without a header the BOM would otherwise glue itself onto the first handle."""
    upload = _handles(codecs.BOM_UTF8 + b"john\nmary\n")
    assert upload.column is None
    assert _keys(upload) == ["john", "mary"]


def test_utf8_bom_with_email_header() -> None:
    upload = _emails(codecs.BOM_UTF8 + b"email\r\nJohn@Example.com\r\n")
    assert (upload.kind, upload.column, upload.encoding) == ("email", "email", "utf-8-sig")
    assert [(r.input_value, r.key) for r in upload.rows] == [
        ("John@Example.com", "john@example.com")
    ]


def test_cp1252_with_undefined_byte_is_refused() -> None:
    err = _error(b"handle\njohn\nab\x81c\n")
    assert err.field == "file"
    assert err.message == (
        "the file is neither UTF-8 nor Windows-1252 text (byte 0x81 on line 3); "
        "save it as a UTF-8 CSV"
    )


def test_utf8_bom_with_invalid_utf8_is_refused() -> None:
    err = _error(codecs.BOM_UTF8 + b"handle\nab\xffc\n")
    assert err.message == (
        "the file starts with a UTF-8 byte-order mark but is not valid UTF-8 "
        "(line 2, byte offset 12)"
    )


def test_truncated_utf16_is_refused() -> None:
    err = _error(codecs.BOM_UTF16_LE + "handle\njohn\n".encode("utf-16-le") + b"x")
    assert err.message.startswith(
        "the file starts with a UTF-16 byte-order mark but is not valid UTF-16"
    )


# --- newlines, blank lines, quoting ----------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_newlines(newline: str) -> None:
    text = newline.join(["handle", "alpha", "", "beta", "gamma", ""])
    upload = _handles(text.encode())
    rows = list(upload.rows)
    assert [(r.row_no, r.key) for r in rows] == [(1, "alpha"), (2, "beta"), (3, "gamma")]


def test_mixed_newlines() -> None:
    assert _keys(_handles(b"handle\r\nalpha\rbeta\ngamma")) == ["alpha", "beta", "gamma"]


def test_blank_lines_are_skipped_and_not_counted() -> None:
    data = b"\n\n  \nhandle\n\nalpha\n   \n\t\n\nbeta\n\n"
    rows = list(_handles(data).rows)
    assert rows == [
        ParsedRow(row_no=1, input_value="alpha", key="alpha", reason=None),
        ParsedRow(row_no=2, input_value="beta", key="beta", reason=None),
    ]


def test_values_are_stripped_and_quotes_removed() -> None:
    rows = list(_handles(b'handle\n  "  @John  " \n"a,b"\n"multi\nline"\n').rows)
    assert [(r.input_value, r.key, r.reason) for r in rows] == [
        ('"  @John  "', None, "not a valid instagram handle: contains a space"),
        ("a,b", None, "not a valid instagram handle: contains the character ','"),
        ("multi\nline", None, "not a valid instagram handle: contains a control character"),
    ]


def test_quoted_value_is_unwrapped() -> None:
    rows = list(_handles(b'handle\n"@John"\n').rows)
    assert (rows[0].input_value, rows[0].key) == ("@John", "john")


def test_unmatched_quote_names_the_line() -> None:
    err = _error(b'handle\njohn\n"mary\nbob\n')
    assert err.message == "unmatched quote in the row starting on line 3"


def test_unmatched_quote_on_the_first_data_row() -> None:
    err = _error(b'handle\n"mary\nbob\n')
    assert err.message == "unmatched quote in the row starting on line 2"


def test_text_after_closing_quote_is_malformed() -> None:
    err = _error(b'handle\njohn\n"mary"x\n')
    assert err.message == "line 3: malformed CSV (',' expected after '\"')"


def test_field_over_the_csv_limit() -> None:
    huge = b"a" * (csv.field_size_limit() + 1)
    err = _error(b"handle\njohn\n" + huge + b"\n")
    assert err.field == "file"
    assert err.message == f"line 3: a value is longer than {csv.field_size_limit()} characters"


def test_field_over_the_csv_limit_in_the_header() -> None:
    err = _error(b"a" * (csv.field_size_limit() + 1))
    assert err.message == f"line 1: a value is longer than {csv.field_size_limit()} characters"


# --- binary and empty files ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"handle\njohn\nma\x00ry\n", 3),
        (b"\x00handle\n", 1),
        (b"handle\r\njohn\r\nmary\r\x00", 4),
        (codecs.BOM_UTF16_LE + "handle\njohn\x00\n".encode("utf-16-le"), 2),
    ],
)
def test_nul_bytes_are_refused(data: bytes, line: int) -> None:
    err = _error(data)
    assert err.message == f"the file contains NUL bytes (line {line}); upload a text CSV"


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image, not a CSV"),
        (
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
            "a ZIP archive (an .xlsx or .ods workbook is one); export the sheet as CSV",
        ),
        (b"%PDF-1.7\n", "a PDF document, not a CSV"),
        (b"\x1f\x8b\x08\x00", "gzip-compressed; upload the CSV itself"),
    ],
)
def test_known_binary_formats_are_named(data: bytes, what: str) -> None:
    assert _error(data).message == f"the file is {what}"


@pytest.mark.parametrize("data", ["handle\njohn\n".encode(e) for e in ("utf-16-le", "utf-16-be")])
def test_utf16_without_bom_is_named(data: bytes) -> None:
    assert _error(data).message == (
        "the file looks like UTF-16 text without a byte-order mark; "
        "save it as UTF-8 (or as UTF-16 with a byte-order mark)"
    )


def test_utf8_with_a_broken_byte_is_not_read_as_cp1252() -> None:
    err = _error("handle\njosé\n".encode() + b"ab\xe9c\n")
    assert err.message == (
        "the file is UTF-8 but line 3 is not valid UTF-8 (byte 0xe9 at byte offset 15); "
        "save it as a UTF-8 CSV"
    )


@pytest.mark.parametrize(
    ("value", "formula"),
    [
        ("=1+1", True),
        ("+1", True),
        ("-x", True),
        ("@=1", True),
        ("@SUM(A1)", True),
        ("@cmd|' /C calc'!A0", True),
        ("@@x", True),
        ("@john", False),
        ("@", False),
        ("jo=hn", False),
        ("john-", False),
    ],
)
def test_formula_values_refuse_the_file(value: str, formula: bool) -> None:
    """Refused with the row and column; a plain ``@handle`` stays a handle."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["handle"], ["mary"], [value]])
    data = buffer.getvalue().encode()
    if formula:
        assert _error(data).message.startswith(f"row 2, column 'handle': {value!r} is a ")
    else:
        assert len(list(_handles(data).rows)) == 2


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", b"\r\n\r\n", b"  \n\t\n", b",,\n,\n", codecs.BOM_UTF8, b"\n" * 1_000_000],
)
def test_empty_file(data: bytes) -> None:
    assert _error(data).message == "the file is empty"


@pytest.mark.parametrize(
    "data", [b"handle", b"handle\n", b"handle\n\n\n", b"Emails\r\n  \r\n", b"name,handle\n,\n"]
)
def test_header_without_rows(data: bytes) -> None:
    kind = "email" if data.lower().startswith(b"email") else "handle"
    assert _error(data, kind=kind).message == "the file has a header but no rows"


# --- headers and columns ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["handle", "Handle", "HANDLE", "handles", " Handles ", "handle,"]
)
def test_handle_headers(header: str) -> None:
    upload = _handles(f"{header}\njohn\n".encode())
    assert upload.kind == "handle"
    assert upload.column == header.strip().rstrip(",")
    assert upload.columns_found == [upload.column]
    assert _keys(upload) == ["john"]


@pytest.mark.parametrize("header", ["email", "Email", "EMAILS", '"email"', "emails"])
def test_email_headers(header: str) -> None:
    upload = _emails(f"{header}\njohn@example.com\n".encode())
    assert upload.kind == "email"
    assert upload.column == header.strip('"')
    assert _keys(upload) == ["john@example.com"]


def test_multi_column_with_one_handle_column() -> None:
    data = b"name,Handle,followers\nJohn,@John,10\nShort\n,,\nMary,mary.x,5,extra\n"
    upload = _handles(data, platform="tiktok")
    assert upload.kind == "handle"
    assert upload.column == "Handle"
    assert upload.columns_found == ["name", "Handle", "followers"]
    rows = list(upload.rows)
    assert [(r.row_no, r.input_value, r.key, r.reason) for r in rows] == [
        (1, "@John", "john", None),
        (2, "", None, "empty value"),
        (3, "mary.x", "mary.x", None),
    ]


def test_multi_column_with_one_email_column() -> None:
    upload = _emails(b"first name , Emails ,company\nJo,JO@EXAMPLE.COM,Acme\n")
    assert upload.column == "Emails"
    assert upload.columns_found == ["first name", "Emails", "company"]
    assert _keys(upload) == ["jo@example.com"]


@pytest.mark.parametrize(
    ("header", "listed"),
    [
        (b"name,followers\n", "name, followers"),
        (b"username,url,bio\n", "username, url, bio"),
        (b"handle,email\n", "handle, email"),
        (b"Handle,handles\n", "Handle, handles"),
        (b"name,,email,Email\n", 'name, "", email, Email'),
    ],
)
def test_multi_column_needs_exactly_one_named_column(header: bytes, listed: str) -> None:
    err = _error(header + b"a,b,c,d\n")
    assert err.field == "file"
    assert err.message == (
        f"found columns {listed}; expected exactly one column named handle or email"
    )


def test_multi_column_message_is_bounded() -> None:
    header = ",".join(["x" * 100] + [f"c{i}" for i in range(30)]).encode()
    err = _error(header + b"\n")
    assert err.message.startswith("found columns " + "x" * 39 + "…, c0, c1,")
    assert " and 11 more; expected exactly one column" in err.message


# --- kind detection without a header ---------------------------------------------------------


def test_no_header_handles() -> None:
    upload = _handles(b"@John\njohn@example.com\nmary\n")
    assert (upload.kind, upload.column, upload.columns_found) == ("handle", None, [])
    rows = list(upload.rows)
    assert [(r.row_no, r.key, r.reason) for r in rows] == [
        (1, "john", None),
        (2, None, "not a valid instagram handle: looks like an email address"),
        (3, "mary", None),
    ]


def test_no_header_emails() -> None:
    upload = _emails(b"John@Example.com\nnot-an-email\n\nmary@example.org\n")
    assert (upload.kind, upload.column, upload.columns_found) == ("email", None, [])
    rows = list(upload.rows)
    assert [(r.row_no, r.key, r.reason) for r in rows] == [
        (1, "john@example.com", None),
        (2, None, "not a valid email address: missing '@'"),
        (3, "mary@example.org", None),
    ]


def test_detection_tie_is_handles() -> None:
    assert _handles(b"a@example.com\njohn\n").kind == "handle"


def test_detection_uses_only_the_first_200_values() -> None:
    data = b"john\n" * 200 + b"x@example.com\n" * 300
    upload = _handles(data)
    assert upload.kind == "handle"
    rows = list(upload.rows)
    assert len(rows) == 500
    assert (rows[0].row_no, rows[-1].row_no) == (1, 500)
    assert rows[-1].reason == "not a valid instagram handle: looks like an email address"


def test_detection_skips_blank_lines() -> None:
    data = b"\n".join([b"", b"john", b"", b"a@example.com", b"b@example.com", b""])
    upload = _emails(data)
    assert upload.kind == "email"
    assert _keys(upload) == [None, "a@example.com", "b@example.com"]


def test_header_word_without_header_position_is_a_value() -> None:
    rows = list(_handles(b"john\nhandle\n").rows)
    assert [r.key for r in rows] == ["john", "handle"]


# --- kind mismatch ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected", "message"),
    [
        (
            b"a@example.com\nb@example.com\n",
            "handle",
            "the file holds emails but this enrichment mode needs handles",
        ),
        (b"john\nmary\n", "email", "the file holds handles but this enrichment mode needs emails"),
        (
            b"handle\na@example.com\n",
            "email",
            "the file holds handles (column 'handle') but this enrichment mode needs emails",
        ),
        (
            b"name,Emails\nx,john\n",
            "handle",
            "the file holds emails (column 'Emails') but this enrichment mode needs handles",
        ),
    ],
)
def test_kind_mismatch(data: bytes, expected: str, message: str) -> None:
    with pytest.raises(IntakeError) as info:
        parse_upload(data, expected_kind=expected, platform="twitch")
    assert (info.value.field, info.value.message) == ("file", message)


# --- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "message"),
    [
        (None, "platform is required to enrich handles"),
        ("", "platform is required to enrich handles"),
        (
            "facebook",
            "unknown platform 'facebook'; expected one of "
            "instagram, youtube, tiktok, twitter, twitch, onlyfans",
        ),
    ],
)
def test_handles_need_a_platform(platform: str | None, message: str) -> None:
    with pytest.raises(IntakeError) as info:
        parse_upload(b"handle\njohn\n", expected_kind="handle", platform=platform)
    assert (info.value.field, info.value.message) == ("platform", message)


def test_emails_ignore_platform() -> None:
    upload = parse_upload(b"email\na@b.co\n", expected_kind="email", platform="tiktok")
    assert _keys(upload) == ["a@b.co"]


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="expected_kind"):
        parse_upload(b"handle\njohn\n", expected_kind="phone", platform="tiktok")


def test_intake_error_defaults_to_file_field() -> None:
    err = IntakeError("boom")
    assert (err.message, err.field, str(err)) == ("boom", "file", "boom")


# --- row limits, laziness, invalid rows ------------------------------------------------------


def test_max_rows_exactly_reached_is_fine() -> None:
    upload = _handles(b"handle\na1\n\na2\na3\n\n", max_rows=3)
    assert _keys(upload) == ["a1", "a2", "a3"]


def test_more_than_max_rows_fails_while_iterating() -> None:
    upload = _handles(b"handle\na1\na2\na3\na4\n", max_rows=3)  # accepted up front
    seen = [next(upload.rows).key for _ in range(3)]
    with pytest.raises(IntakeError) as info:
        next(upload.rows)
    assert seen == ["a1", "a2", "a3"]
    assert (info.value.field, info.value.message) == ("file", "the file has more than 3 rows")


def test_max_rows_applies_without_header() -> None:
    upload = _handles(b"a1\na2\na3\n", max_rows=2)
    with pytest.raises(IntakeError, match="the file has more than 2 rows"):
        list(upload.rows)


def test_rows_are_lazy() -> None:
    """A CSV error late in the file only shows up once iteration reaches it."""
    upload = _handles(b'handle\njohn\nmary\n"bob\n')
    assert iter(upload.rows) is upload.rows
    assert next(upload.rows).key == "john"
    assert next(upload.rows).key == "mary"
    with pytest.raises(IntakeError, match="unmatched quote in the row starting on line 4"):
        next(upload.rows)


def test_invalid_rows_do_not_stop_the_file() -> None:
    data = b"handle\n@ok_1\nbad handle\nx.com/jack\nname@example.com\n" + b"z" * 300 + b"\nok_2\n"
    rows = list(_handles(data, platform="twitter").rows)
    assert [(r.row_no, r.key, r.reason) for r in rows] == [
        (1, "ok_1", None),
        (2, None, "not a valid twitter handle: contains a space"),
        (3, "jack", None),
        (4, None, "not a valid twitter handle: looks like an email address"),
        (5, None, "too long (300 characters; at most 255)"),
        (6, "ok_2", None),
    ]


def test_all_rows_invalid_still_parses() -> None:
    rows = list(_handles(b"handle\na b\nc d\n").rows)
    assert [r.key for r in rows] == [None, None]
    assert all(r.reason for r in rows)


def test_profile_urls_in_a_file() -> None:
    data = (
        b"handle\nhttps://www.youtube.com/@MrBeast\n"
        b"https://www.youtube.com/channel/UCX6OQ3DkcsbYNE6H8uQQuVA\n"
        b"UCX6OQ3DkcsbYNE6H8uQQuVA\nhttps://www.tiktok.com/@mrbeast\n"
    )
    rows = list(_handles(data, platform="youtube").rows)
    assert [(r.key, r.reason) for r in rows] == [
        ("mrbeast", None),
        ("UCX6OQ3DkcsbYNE6H8uQQuVA", None),
        ("UCX6OQ3DkcsbYNE6H8uQQuVA", None),
        (None, "URL is not a youtube profile"),
    ]


def test_parsed_row_is_frozen() -> None:
    row = ParsedRow(1, "john", "john", None)
    with pytest.raises(AttributeError):
        row.key = "mary"  # type: ignore[misc]


def test_multi_column_message_hides_control_characters() -> None:
    err = _error(b'"a\nb",c\n')
    assert err.message == "found columns a?b, c; expected exactly one column named handle or email"
