"""creator-enrich: a self-hostable creator enrichment server (Influencers Club compatible API)."""

__version__ = "0.1.0"
