"""Record building: enrichment modes and options turned into the reference API's record shapes."""
