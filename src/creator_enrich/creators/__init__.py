"""The creator store: schema access, lookups, importer and generator."""
