"""Members, their identifiers and credentials, profiles, consents, merges and privacy requests."""
