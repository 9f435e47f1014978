"""Batch enrichment routes: create, status, resume, results, download link, signed file."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from creator_enrich.api.deps import (
    CallerDep,
    CredentialsDep,
    EngineDep,
    SettingsDep,
    WriterDep,
    admit,
    count_request,
    presented_key,
)
from creator_enrich.api.schemas import (
    BatchCreated,
    BatchDeleted,
    BatchResumed,
    BatchStatus,
    ConflictBody,
    DownloadLink,
    ErrorBody,
    ResultRow,
)
from creator_enrich.batches import idempotency, links, retention, service, states
from creator_enrich.batches.create_form import FORM_FIELDS, check_upload_name, parse_create_form
from creator_enrich.batches.exports import stream_csv, stream_json
from creator_enrich.config import MODES, PLATFORMS
from creator_enrich.errors import NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

PREFIX = "/public/v1/enrichment/batch"
router = APIRouter(prefix=PREFIX, tags=["Batch enrichment"])

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid request; `errors` names each field"},
    401: {"model": ErrorBody, "description": "Missing or invalid API key"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such batch for this account"},
}
READ_ONLY: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "The API key is read-only"},
}
NOT_READY: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "The batch is still queued or processing (the reference API's answer; "
        "results are served once it is finished or paused), or an invalid parameter",
    },
}
EXPIRED: dict[int | str, dict[str, Any]] = {
    410: {"model": ErrorBody, "description": "Results deleted after the retention period"},
}

CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "enrichment_mode"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV, max 10 MB, one column of handles or emails",
                        },
                        "enrichment_mode": {"type": "string", "enum": list(MODES)},
                        "platform": {"type": "string", "enum": list(PLATFORMS)},
                        "metadata": {"type": "string", "description": "a JSON object"},
                        "email_required": {"type": "string", "enum": ["must_have", "preferred"]},
                        "include_lookalikes": {"type": "string", "enum": ["true", "false"]},
                        "include_audience_data": {"type": "string", "enum": ["true", "false"]},
                        "exclude_platforms": {"type": "string", "enum": list(PLATFORMS)},
                        "min_followers": {"type": "integer", "minimum": 0},
                    },
                }
            }
        },
    }
}


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
FORM_LIMITS = {"max_files": 3, "max_fields": 50, "max_part_size": 64 * 1024}


async def _read_form(request: Request) -> FormData:
    """The parsed form; a body that is not a form is 415, a malformed one 400 saying why."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() not in FORM_TYPES:
        got = f"{content_type[:60]!r}" if content_type else "no Content-Type"
        raise UnsupportedMediaType(
            f"The request body must be multipart/form-data with the CSV in the 'file' field "
            f"(got {got})."
        )
    try:
        return await request.form(**FORM_LIMITS)
    except HTTPException as exc:
        if exc.status_code != 400:
            raise  # 413 from the body size limit
        cause = exc.__context__.__cause__ if exc.__context__ is not None else None
        detail = str(exc.detail).rstrip(".")
        if cause is not None:  # python-multipart's reason, e.g. "Maximum header size exceeded"
            detail = f"{detail}: {cause}"
        message = f"The multipart form cannot be read: {detail}."
        raise ValidationFailed(message, errors={"body": [message]}) from exc


@router.post(
    "/",
    response_model=BatchCreated,
    openapi_extra=CREATE_BODY,
    responses={
        **AUTH_ERRORS,
        **READ_ONLY,
        413: {"model": ErrorBody, "description": "The file is larger than the limit"},
        415: {"model": ErrorBody, "description": "The body is not multipart/form-data"},
        422: {
            "model": ErrorBody,
            "description": "The Idempotency-Key was already used with a different request",
        },
    },
    summary="Create a batch enrichment job from a CSV upload",
)
async def create_batch(
    request: Request,
    response: Response,
    caller: WriterDep,
    engine: EngineDep,
    settings: SettingsDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Optional: a retry with the same key and request returns the same batch "
            "instead of creating another (keys are per account and expire).",
        ),
    ] = None,
) -> dict[str, Any]:
    key = idempotency.parse_key(idempotency_key)
    form = await _read_form(request)
    try:
        files = [v for v in form.getlist("file") if isinstance(v, UploadFile)]
        if any(isinstance(v, str) for v in form.getlist("file")):
            raise ValidationFailed.on("file", "must be a file upload, not a text field")
        if not files:
            raise ValidationFailed.on("file", "this field is required: attach the CSV as 'file'")
        if len(files) > 1:
            raise ValidationFailed.on("file", "send exactly one file")
        check_upload_name(files[0].filename)
        upload = await files[0].read(settings.max_upload_bytes + 1)
        if len(upload) > settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"The file is larger than {settings.max_upload_bytes} bytes.",
                errors={"file": [f"larger than {settings.max_upload_bytes} bytes"]},
            )
        fields = {
            name: [v for v in form.getlist(name) if isinstance(v, str)] for name in FORM_FIELDS
        }
    finally:
        await form.close()  # spooled temporary files go now, refused or not
    create = parse_create_form(fields, settings)
    idempotent = None
    if key is not None:
        idempotent = idempotency.IdempotentRequest(
            key=key,
            fingerprint=idempotency.fingerprint(upload, fields),
            lifetime=timedelta(hours=settings.idempotency_key_hours),
        )
    answer, replayed = await run_in_threadpool(
        service.create_batch, engine, settings, caller, create, upload, idempotent
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return answer


# Status reads get a few threads of their own rather than the shared pool of 40: a backlog of
# polls there held more database connections at once than the engine pools, so each poll past
# the pool opened (and ran the PRAGMAs of) a new one; and a burst of slow downloads cannot hold
# up the polled route.
STATUS_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="status")


@router.get(
    "/{batch_id}/status/",
    response_model=BatchStatus,
    responses={**AUTH_ERRORS, **NOT_FOUND},
    summary="Batch status and progress",
)
async def batch_status(batch_id: str, request: Request, credentials: CredentialsDep) -> Response:
    """The polled route, kept cheap: one thread hop and one query (key and batch together), and
    the body serialised by orjson without a second validation pass (it is built to the model).
    """
    key = presented_key(credentials)
    loop = asyncio.get_running_loop()
    body = await loop.run_in_executor(STATUS_THREADS, _status_body, request, key, batch_id)
    return Response(orjson.dumps(body), media_type="application/json")


def _status_body(request: Request, key: str, batch_id: str) -> dict[str, Any]:
    caller, batch = service.caller_and_batch(request.app.state.engine, key, batch_id)
    admit(request, caller)
    if batch is None:
        raise NotFound(service.NOT_FOUND_MESSAGE)
    return service.status_body(batch)


@router.post(
    "/{batch_id}/resume/",
    response_model=BatchResumed,
    responses={
        **AUTH_ERRORS,
        **READ_ONLY,
        **NOT_FOUND,
        409: {"model": ConflictBody, "description": "The batch is not paused"},
    },
    summary="Resume a batch paused for insufficient credits",
)
def resume_batch(batch_id: str, caller: WriterDep, engine: EngineDep) -> dict[str, Any]:
    return service.resume_batch(engine, caller, batch_id)


@router.delete(
    "/{batch_id}/",
    response_model=BatchDeleted,
    responses={**AUTH_ERRORS, **READ_ONLY, **NOT_FOUND},
    summary="Delete a batch with its input rows and results (credit history is kept)",
)
def delete_batch(batch_id: str, caller: WriterDep, engine: EngineDep) -> dict[str, Any]:
    return service.delete_batch(engine, caller, batch_id)


def _require_results(batch: service.BatchRecord, settings: Any) -> bool:
    """Results exist once a batch is done; a paused batch serves its partial results."""
    retention.ensure_results_kept(batch, settings.results_retention_days)
    if batch.status in states.DONE:
        return False
    if batch.status == states.PAUSED:
        return True
    raise ValidationFailed(
        f"Batch {batch.id} is {batch.status}; results are available once it is finished.",
        errors={"batch_id": [f"batch is {batch.status}"]},
    )


def _results_response(
    engine: Any, batch: service.BatchRecord, fmt: str, partial: bool
) -> StreamingResponse:
    headers = {
        "Content-Disposition": f'attachment; filename="{batch.id}.{fmt}"',
        "X-Results-Partial": "true" if partial else "false",
        "Cache-Control": "no-store",
    }
    if fmt == "json":
        return StreamingResponse(
            stream_json(engine, batch), media_type="application/json", headers=headers
        )
    return StreamingResponse(
        stream_csv(engine, batch),
        media_type="text/csv; charset=utf-8",
        headers=headers,
    )


RESULTS_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Results in input order (CSV by default). Header `X-Results-Partial: "
        "true` marks the partial results of a paused batch.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {"type": "array", "items": ResultRow.model_json_schema()}
            },
        },
    }
}


@router.get(
    "/{batch_id}/",
    response_class=StreamingResponse,
    responses={**RESULTS_DOC, **AUTH_ERRORS, **NOT_READY, **NOT_FOUND, **EXPIRED},
    summary="Download results directly (CSV or JSON)",
)
def batch_results(
    batch_id: str,
    caller: CallerDep,
    engine: EngineDep,
    settings: SettingsDep,
    format: Literal["csv", "json"] = "csv",
) -> StreamingResponse:
    batch = service.get_batch(engine, caller, batch_id)
    partial = _require_results(batch, settings)
    return _results_response(engine, batch, format, partial)


@router.get(
    "/{batch_id}/download/",
    response_model=DownloadLink,
    responses={**AUTH_ERRORS, **NOT_READY, **NOT_FOUND, **EXPIRED},
    summary="A time-limited signed link to the results CSV",
)
def download_link(
    batch_id: str,
    request: Request,
    caller: CallerDep,
    engine: EngineDep,
    settings: SettingsDep,
    format: Literal["csv", "json"] = "csv",
) -> dict[str, Any]:
    batch = service.get_batch(engine, caller, batch_id)
    partial = _require_results(batch, settings)
    ttl = settings.download_link_ttl_seconds
    expires, signature = links.sign(settings.signing_key(), batch.id, ttl, format)
    base = settings.public_base_url or str(request.base_url)
    url = (
        f"{base.rstrip('/')}{PREFIX}/{batch.id}/file/"
        f"?format={format}&expires={expires}&signature={signature}"
    )
    return {
        "download_url": url,
        "filename": f"{batch.id}.{format}",
        "expires_in": ttl,
        "expires_at": service.iso(datetime.fromtimestamp(expires, UTC)),
        "batch_id": batch.id,
        "total_results": batch.success_count,
        "invalid_records": batch.invalid_count,
        "partial": partial,
    }


@router.get(
    "/{batch_id}/file/",
    response_class=StreamingResponse,
    responses={
        **RESULTS_DOC,
        400: {
            "model": ErrorBody,
            "description": "Missing link parameters, or the batch is processing again",
        },
        403: {"model": ErrorBody, "description": "The link was altered or not issued here"},
        404: {"model": ErrorBody, "description": "The batch no longer exists"},
        410: {"model": ErrorBody, "description": "The link or the results have expired"},
    },
    summary="Signed results file (no Bearer header needed until the link expires)",
)
def signed_file(
    batch_id: str,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    expires: Annotated[str, Query(max_length=20)],
    signature: Annotated[str, Query(max_length=200)],
    format: Literal["csv", "json"] = "csv",
) -> StreamingResponse:
    links.verify(settings.signing_key(), batch_id, expires, signature, format)
    batch = service.get_batch_unchecked(engine, batch_id)
    count_request(request, batch.account_id)  # counts against the owner, like their own calls
    partial = _require_results(batch, settings)
    return _results_response(engine, batch, format, partial)
