"""Plumbing every service stands on: configuration, database, migrations, JetStream, outbox, gRPC."""
