"""`migrate`: every service's migrations applied to a database, as each service applies its own
at start (the plumbing's, then the service's, each schema under its advisory lock)."""

import argparse
import importlib
import os
import sys
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from admin import errors
from admin.connections import Connections
from services.shared.migrations import MigrationError, apply_migrations
from services.shared.server import ServiceSpec, apply_plumbing_migrations

# Every service with tables, in the order `make run` starts them.
SERVICES_WITH_TABLES = ("identity", "ledger", "campaign", "rewards")


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "migrate",
        help="apply every service's migrations to a database",
        description="Apply the pending migrations of every service (identity, ledger, campaign, "
        "rewards) to the database, each in its own schema. Safe to run again and beside running "
        "services: applied files are skipped, and an applied file that was edited is an error.",
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL (env LOYALTY_ADMIN_DATABASE_URL, then DATABASE_URL)",
    )
    parser.add_argument(
        "--service",
        action="append",
        choices=SERVICES_WITH_TABLES,
        help="only this service (repeatable; default all)",
    )
    parser.set_defaults(handler=migrate)


def service_spec(name: str) -> ServiceSpec:
    spec: ServiceSpec = importlib.import_module(f"services.{name}.app").SPEC
    return spec


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


async def migrate(arguments: argparse.Namespace, connections: Connections) -> int:
    url = (
        arguments.database_url or connections.config.database_url or os.environ.get("DATABASE_URL")
    )
    if not url:
        raise errors.usage(
            "name the database: --database-url, LOYALTY_ADMIN_DATABASE_URL or DATABASE_URL"
        )
    try:
        connection = await asyncpg.connect(
            url, timeout=connections.config.connect_timeout_ms / 1000
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        raise errors.AdminError(
            f"cannot reach the database at {_where(url)}: {error}",
            exit_code=errors.EXIT_UNAVAILABLE,
        ) from None
    try:
        for name in arguments.service or SERVICES_WITH_TABLES:
            spec = service_spec(name)
            try:
                plumbing = await apply_plumbing_migrations(connection, spec.schema)
                own = await apply_migrations(
                    connection, schema=spec.schema, directory=spec.migrations
                )
            except MigrationError as error:
                raise errors.data(f"{name}: {error}") from None
            print(f"{name}: {plumbing + own} migrations applied", file=sys.stderr)
    finally:
        await connection.close()
    return errors.EXIT_OK
