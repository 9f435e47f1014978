"""Batch, chunk and row states (the batch values are the reference API's, section 2.3)."""

from __future__ import annotations

# Batch
VALIDATING = "validating"
QUEUED = "queued"
PROCESSING = "processing"
FINISHED = "finished"
FAILED = "failed"
PAUSED = "paused_insufficient_credits"
ACTIVE = (QUEUED, PROCESSING)
DONE = (FINISHED, FAILED)

# Chunk
CHUNK_QUEUED = "queued"
CHUNK_RUNNING = "running"
CHUNK_AWAITING_CREDITS = "awaiting_credits"
CHUNK_DONE = "done"
CHUNK_FAILED = "failed"

# Row (what a result row says)
ROW_SUCCESS = "success"
ROW_NOT_FOUND = "not_found"
ROW_INVALID = "invalid"
ROW_FAILED = "failed"
ROW_PENDING = "pending"

PAUSED_MESSAGE = (
    "Paused: the account's credits ran out. Add credits, then call "
    "POST /public/v1/enrichment/batch/{batch_id}/resume/ to continue."
)
