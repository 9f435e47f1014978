"""Accounts and their API keys (stored only as hashes)."""
