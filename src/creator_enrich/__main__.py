"""``python -m creator_enrich`` runs the CLI."""

from creator_enrich.cli import app

app()
