"""The ``creator-enrich`` command line: server, administration, data, and a batch client."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine

from creator_enrich.config import MODES, PLATFORMS, get_settings
from creator_enrich.errors import ServiceError

app = typer.Typer(
    help="creator-enrich: self-hosted creator enrichment server.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
credits_app = typer.Typer(help="Credits.", no_args_is_help=True)
data_app = typer.Typer(help="The creator store.", no_args_is_help=True)
batch_app = typer.Typer(help="Submit batches to a running server.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (accounts_app, "accounts"),
    (keys_app, "keys"),
    (credits_app, "credits"),
    (data_app, "data"),
    (batch_app, "batch"),
):
    app.add_typer(sub, name=name)

err = Console(stderr=True)
out = Console()


def _engine() -> Engine:
    """The configured database, refusing one whose schema is behind this version."""
    from creator_enrich.db.engine import get_engine
    from creator_enrich.db.migrate import pending

    engine = get_engine(get_settings().resolved_database_url)
    if pending(engine):
        raise _fail("the database schema is not up to date: run `creator-enrich db upgrade`")
    return engine


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise _fail(f"{text!r} is not a number") from exc
    if not value.is_finite() or value < 0:
        raise _fail(f"{text!r} must be a non-negative number")
    return value


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (safe to run repeatedly)."""
    from creator_enrich.db.migrate import upgrade

    upgrade(get_settings().resolved_database_url)
    err.print("database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    migrate: Annotated[bool, typer.Option(help="Apply migrations first")] = True,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Run the API server (and, with the in-memory broker, the job worker inside it)."""
    import uvicorn

    from creator_enrich.app import create_app
    from creator_enrich.db.migrate import upgrade
    from creator_enrich.log_redaction import uvicorn_log_config

    settings = get_settings()
    if migrate:
        upgrade(settings.resolved_database_url)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        log_config=uvicorn_log_config(),
    )


@app.command()
def worker(
    processes: Annotated[int, typer.Option(min=1, help="Worker processes")] = 2,
    threads: Annotated[int, typer.Option(min=1, help="Threads per process")] = 8,
) -> None:
    """Run Dramatiq worker processes (and a sweeper) for a Redis broker: the scale-out mode."""
    import os

    settings = get_settings()
    if settings.is_memory_broker:
        raise _fail(
            "the in-memory broker lives inside `creator-enrich serve`; set "
            "CREATOR_ENRICH_BROKER_URL=redis://... to run separate workers"
        )
    # Dramatiq hands back prefetch slots only between polls; poll every 50 ms, not every second.
    os.environ.setdefault("dramatiq_worker_timeout", "50")
    os.nice(settings.worker_nice)  # inherited by Dramatiq's processes (see Settings.worker_nice)
    argv = [
        sys.executable,
        "-m",
        "dramatiq",
        "creator_enrich.batches.tasks",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--fork-function",
        "creator_enrich.worker.sweeper:run_forever",
        "--worker-shutdown-timeout",
        str(settings.worker_shutdown_seconds * 1000),
    ]
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process with the workers


@accounts_app.command("create")
def accounts_create(
    name: str,
    credits: Annotated[str, typer.Option(help="Initial credits")] = "0",
) -> None:
    """Create an account, optionally with initial credits."""
    from creator_enrich.accounts.service import create_account

    try:
        account_id = create_account(_engine(), name, _amount(credits))
    except ServiceError as exc:
        raise _fail(exc.message) from exc
    err.print(f"account {name!r} created (id {account_id})")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Account name")],
    label: Annotated[str | None, typer.Option(help="A note to recognise the key by")] = None,
    read_only: Annotated[bool, typer.Option(help="Key may only read")] = False,
) -> None:
    """Create an API key and print it (only the key, on stdout; it is never shown again)."""
    from creator_enrich.accounts.service import create_api_key

    try:
        key = create_api_key(_engine(), name, label=label, read_only=read_only)
    except ServiceError as exc:
        raise _fail(exc.message) from exc
    sys.stdout.write(key + "\n")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id (after 'ce_')")]) -> None:
    """Revoke a key at once."""
    from creator_enrich.accounts.service import revoke_api_key

    try:
        revoke_api_key(_engine(), key_id)
    except ServiceError as exc:
        raise _fail(exc.message) from exc
    err.print(f"key {key_id} revoked")


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[str, typer.Argument(help="The key id (after 'ce_')")],
    overlap_hours: Annotated[
        float, typer.Option(help="How long the old key keeps working", min=0)
    ] = 24.0,
) -> None:
    """Issue a new key for the same account and rights; the old one expires after the overlap."""
    from creator_enrich.accounts.service import rotate_api_key

    try:
        key, ends = rotate_api_key(_engine(), key_id, timedelta(hours=overlap_hours))
    except ServiceError as exc:
        raise _fail(exc.message) from exc
    sys.stdout.write(key + "\n")
    err.print(f"key {key_id} keeps working until {ends.isoformat(timespec='seconds')}")


@keys_app.command("list")
def keys_list(name: Annotated[str, typer.Argument(help="Account name")]) -> None:
    """List an account's keys by their visible prefix (secrets are never stored or shown)."""
    from creator_enrich.accounts.service import list_api_keys

    try:
        keys = list_api_keys(_engine(), name)
    except ServiceError as exc:
        raise _fail(exc.message) from exc
    table = Table("prefix", "label", "rights", "created", "expires", "revoked")
    for info in keys:
        table.add_row(
            info.prefix,
            info.label or "",
            "read-only" if info.read_only else "read-write",
            _when(info.created_at),
            _when(info.expires_at),
            _when(info.revoked_at),
        )
    out.print(table)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="seconds")


@credits_app.command("grant")
def credits_grant(name: str, amount: str) -> None:
    """Add credits to an account (recorded in the ledger)."""
    from creator_enrich.accounts.service import account_id_by_name
    from creator_enrich.credits.ledger import grant

    try:
        engine = _engine()
        value = _amount(amount)
        current = grant(engine, account_id_by_name(engine, name), value, note="granted by CLI")
    except ServiceError as exc:
        raise _fail(exc.message) from exc
    err.print(f"granted {value} credits to {name!r}; balance {current.available}")


@credits_app.command("show")
def credits_show(name: str) -> None:
    """Print an account's balance and credits used."""
    from creator_enrich.accounts.service import account_id_by_name
    from creator_enrich.credits.ledger import balance

    try:
        engine = _engine()
        current = balance(engine, account_id_by_name(engine, name))
    except ServiceError as exc:
        raise _fail(exc.message) from exc
    out.print(f"available {current.available}  used {current.used}")


@data_app.command("generate")
def data_generate(
    creators: Annotated[int, typer.Option(min=1, help="How many creators")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data)")] = 42,
    raw_only: Annotated[
        bool,
        typer.Option(
            "--raw-only",
            help="Store only each profile's raw block (about 40% of the disk; full mode then "
            "has no full or audience blocks to send)",
        ),
    ] = False,
) -> None:
    """Fill an empty creator store with deterministic synthetic creators."""
    from creator_enrich.creators.generate import generate_store
    from creator_enrich.creators.store import count_creators
    from creator_enrich.db.engine import read_connection
    from creator_enrich.db.migrate import upgrade

    settings = get_settings()
    upgrade(settings.resolved_database_url)
    engine = _engine()
    with read_connection(engine) as conn:
        existing = count_creators(conn)
    if existing:
        raise _fail(f"the creator store already holds {existing} creators; use a fresh database")
    with Progress(
        TextColumn("generating"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        task = progress.add_task("creators", total=creators)
        stats = generate_store(
            engine,
            creators=creators,
            seed=seed,
            on_progress=lambda n: progress.update(task, completed=n),
            raw_only=raw_only,
        )
    err.print(
        f"generated {stats.creators} creators, {stats.profiles} profiles, "
        f"{stats.emails} emails in {stats.seconds:.1f}s"
    )


@data_app.command("sample")
def data_sample(
    platform: Annotated[str | None, typer.Option(help="Platform of the handles")] = None,
    count: Annotated[int, typer.Option(min=1, help="How many")] = 10,
    emails: Annotated[bool, typer.Option("--emails", help="Print emails instead")] = False,
) -> None:
    """Print existing handles (or emails) from the store, one a line."""
    from creator_enrich.creators.store import sample_emails, sample_handles
    from creator_enrich.db.engine import read_connection

    if not emails and platform not in PLATFORMS:
        raise _fail(f"--platform must be one of {', '.join(PLATFORMS)} (or pass --emails)")
    with read_connection(_engine()) as conn:
        values = (
            sample_emails(conn, count) if emails else sample_handles(conn, platform or "", count)
        )
    sys.stdout.write("".join(v + "\n" for v in values))


@data_app.command("import")
def data_import(
    file: Annotated[Path, typer.Argument(help="JSONL, one creator a line (gzip accepted)")],
) -> None:
    """Load creators from JSONL (the full-record shape); an idempotent upsert."""
    from creator_enrich.creators.importer import import_jsonl
    from creator_enrich.db.migrate import upgrade

    if not file.is_file():
        raise _fail(f"cannot read {file}")
    upgrade(get_settings().resolved_database_url)
    with Progress(
        TextColumn("importing"), BarColumn(), DownloadColumn(), TimeElapsedColumn(), console=err
    ) as progress:
        task = progress.add_task("import", total=file.stat().st_size)
        report = import_jsonl(
            _engine(), file, on_progress=lambda done, total: progress.update(task, completed=done)
        )
    out.print(
        f"{report.lines} lines: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.bad_count} bad"
    )
    for line in report.bad[:20]:
        err.print(f"  {line}")
    if report.bad_count > 20:
        err.print(f"  … and {report.bad_count - 20} more")


@data_app.command("export")
def data_export(
    out_path: Annotated[
        Path | None, typer.Option("--out", help="File to write (.gz compresses); default stdout")
    ] = None,
) -> None:
    """Write the creator store as JSONL, in the format `data import` reads."""
    from creator_enrich.creators.importer import export_jsonl, open_export

    sink = open_export(out_path)
    try:
        count = export_jsonl(_engine(), sink)
    finally:
        if out_path is not None:
            sink.close()
        else:
            sink.flush()
    err.print(f"exported {count} creators")


@data_app.command("index")
def data_index(
    platform: Annotated[
        list[str] | None,
        typer.Option(help="Only this platform's index (repeatable); all platforms by default"),
    ] = None,
) -> None:
    """Build (or rebuild) the lookalike indexes now, rather than on the first `full` request."""
    import time

    from creator_enrich.enrichment.fields import PLATFORMS
    from creator_enrich.enrichment.lookalike_index import build_indexes

    unknown = sorted(set(platform or ()) - set(PLATFORMS))
    if unknown:
        raise _fail(f"unknown platform {', '.join(unknown)}; one of {', '.join(PLATFORMS)}")
    started = time.perf_counter()
    with Progress(
        TextColumn("indexing {task.fields[platform]:<9}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        task = progress.add_task("index", total=None, platform="")

        def on_progress(name: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=max(total, 1), platform=name)

        counts = build_indexes(
            _engine(), get_settings().data_dir, on_progress, platform or PLATFORMS
        )
    for name, count in counts.items():
        out.print(f"{name:<10} {count:>9} vectors")
    out.print(f"indexed {sum(counts.values())} profiles in {time.perf_counter() - started:.1f}s")


@batch_app.command("submit")
def batch_submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV to enrich")],
    mode: Annotated[str, typer.Option(help="raw, full, basic or advanced")],
    platform: Annotated[str | None, typer.Option(help="Platform (handle modes)")] = None,
    wait: Annotated[bool, typer.Option(help="Wait with a progress bar, then save results")] = False,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for results")] = Path("results"),
    url: Annotated[str, typer.Option(envvar="CREATOR_ENRICH_URL")] = "http://127.0.0.1:8000",
    api_key: Annotated[str, typer.Option(envvar="CREATOR_ENRICH_API_KEY")] = "",
    metadata: Annotated[str | None, typer.Option(help="JSON object echoed back")] = None,
) -> None:
    """Upload a CSV to a running server; with --wait, follow it and download the results."""
    from creator_enrich.client import ApiError, BatchClient

    if mode not in MODES:
        raise _fail(f"--mode must be one of {', '.join(MODES)}")
    if not api_key:
        raise _fail("pass --api-key or set CREATOR_ENRICH_API_KEY")
    fields = {"enrichment_mode": mode}
    if platform:
        fields["platform"] = platform
    if metadata:
        fields["metadata"] = metadata
    client = BatchClient(url, api_key)
    try:
        created = client.create(file, fields)
        err.print(f"batch {created['batch_id']}: {created['message']}")
        if not wait:
            sys.stdout.write(created["batch_id"] + "\n")
            return
        with Progress(
            TextColumn("[bold]{task.fields[state]}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} rows"),
            TimeElapsedColumn(),
            console=err,
        ) as progress:
            task = progress.add_task("batch", total=created["og_input_number"], state="queued")
            final = client.wait(
                created["batch_id"],
                lambda s: progress.update(task, completed=s["processed_rows"], state=s["status"]),
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        saved = [
            client.download(final["batch_id"], fmt, out_dir / f"{final['batch_id']}.{fmt}")
            for fmt in ("csv", "json")
        ]
        balance = client.credits()
    except ApiError as exc:
        raise _fail(str(exc)) from exc
    finally:
        client.close()
    out.print(f"[bold]batch {final['batch_id']}: {final['status']}[/bold]")
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for label, value in (
        ("rows", final["total_rows"]),
        ("enriched", final["success_count"]),
        ("not found", final["not_found_count"]),
        ("invalid", final["invalid_count"]),
        ("failed", final["error_count"]),
        ("duplicates", final["duplicate_count"]),
        ("credits charged", final["credits_used"]),
        ("balance left", balance["credits_available"]),
    ):
        table.add_row(label, str(value))
    out.print(table)
    for path in saved:
        out.print(f"saved {path}")
    if final["status"] != "finished":
        err.print(f"[yellow]{final.get('status_message') or final['status']}[/yellow]")
