"""Credits: balances, the append-only ledger, and charging."""
