"""SQL migrations per service, each service in its own schema.

Files are `migrations/NNN_what.sql` beside the service. They run in order, each in a transaction,
under a PostgreSQL advisory lock so replicas starting together apply each file exactly once, and
are recorded in `<schema>.schema_migrations` with a checksum: an applied file that was edited
afterwards is an error, never silently skipped.
"""

import hashlib
import logging
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg

logger = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def read_migrations(directory: Path) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.fullmatch(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files are named NNN_what.sql")
        migrations.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migrations share a version number")
    return migrations


def _lock_key(schema: str) -> int:
    # A stable signed 32-bit key per schema, so replicas of one service take the same lock.
    return zlib.crc32(f"loyalty.migrations.{schema}".encode()) - 2**31


async def apply_migrations(
    connection: asyncpg.Connection,
    *,
    schema: str,
    directory: Path,
    table: str = "schema_migrations",
) -> int:
    """Apply the pending migrations of one schema; returns how many were applied."""
    migrations = read_migrations(directory)
    quoted = asyncpg.utils._quote_ident(schema)
    await connection.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
    try:
        await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        await connection.execute(
            f"""CREATE TABLE IF NOT EXISTS {quoted}.{table} (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await connection.fetch(f"SELECT version, name, checksum FROM {quoted}.{table}")
        applied = {row["version"]: row for row in rows}
        count = 0
        for migration in migrations:
            row = applied.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"{schema}/{migration.name} was changed after it was applied; "
                        "add a new migration instead"
                    )
                continue
            async with connection.transaction():
                await connection.execute(f"SET LOCAL search_path TO {quoted}")
                await connection.execute(migration.sql)
                await connection.execute(
                    f"INSERT INTO {quoted}.{table} (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            logger.info("applied migration %s/%s", schema, migration.name)
            count += 1
        return count
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema))
