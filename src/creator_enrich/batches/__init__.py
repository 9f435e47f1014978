"""Batch enrichment: CSV intake, the batch service, chunk tasks and result exports."""
