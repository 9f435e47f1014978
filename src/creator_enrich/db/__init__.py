"""Database access: engine set-up, schema, migrations and transaction helpers."""
