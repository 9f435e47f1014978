"""Response schemas, for the OpenAPI document and for clients reading it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    detail: str = Field(description="What went wrong, for humans (DRF-style key)")
    message: str = Field(description="The same text (the key some clients read first)")
    errors: dict[str, list[str]] | None = Field(
        default=None, description="Per-field problems, for validation errors"
    )


class ConflictBody(ErrorBody):
    error: str
    current_status: str


class BatchCreated(BaseModel):
    batch_id: str = Field(examples=["bch_97912db6fec544b9aafc4ab8ef057e8b"])
    status: str
    created_at: str
    platform: str | None
    metadata: dict[str, Any] | None
    og_input_number: int
    type_report: str = Field(description="ENRICH_BY_HANDLE or ENRICH_BY_EMAIL")
    enrichment_mode: str | None
    message: str


class BatchStatus(BaseModel):
    batch_id: str
    status: str = Field(
        description="queued, processing, finished, failed or paused_insufficient_credits"
    )
    total_rows: int
    processed_rows: int
    success_count: int
    failed_count: int = Field(
        description="processed rows that returned no data: not found, invalid or failed"
    )
    started_at: str
    metadata: dict[str, Any]
    credits_used: str = Field(description="decimal string, e.g. '310.00'")
    estimated_completion: str | None
    status_message: str | None
    not_found_count: int
    invalid_count: int
    error_count: int
    duplicate_count: int
    enrichment_mode: str
    platform: str | None
    finished_at: str | None
    results_deleted_at: str | None = Field(
        description="when the retention period deleted the results (then they answer 410)"
    )


class BatchDeleted(BaseModel):
    batch_id: str
    deleted: bool
    previous_status: str
    message: str


class BatchResumed(BatchStatus):
    message: str


class DownloadLink(BaseModel):
    download_url: str
    filename: str
    expires_in: int
    expires_at: str
    batch_id: str
    total_results: int = Field(description="rows with enriched data in the file")
    invalid_records: int
    partial: bool = Field(description="true when the batch is paused and the file is partial")


class Credits(BaseModel):
    credits_available: float = Field(description="exact decimal number")
    credits_used: float = Field(description="exact decimal number")


class ResultRow(BaseModel):
    input_value: str
    status: str = Field(description="success, not_found, invalid, failed, or pending (partial)")
    enrichment_data: dict[str, Any] | None
    reason: str | None
