import asyncio
from pathlib import Path

import asyncpg
import pytest

from services.shared.migrations import MigrationError, apply_migrations


def write(directory: Path, name: str, sql: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(sql)


async def test_applies_in_order_once_and_records_them(database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "001_accounts.sql", "CREATE TABLE accounts (id bigint PRIMARY KEY);")
    write(
        tmp_path,
        "002_balance.sql",
        "ALTER TABLE accounts ADD COLUMN balance bigint NOT NULL DEFAULT 0;",
    )
    connection = await asyncpg.connect(database_url)
    try:
        assert await apply_migrations(connection, schema="ledger", directory=tmp_path) == 2
        assert await apply_migrations(connection, schema="ledger", directory=tmp_path) == 0
        versions = await connection.fetch(
            "SELECT version, name FROM ledger.schema_migrations ORDER BY 1"
        )
        assert [(r["version"], r["name"]) for r in versions] == [
            (1, "001_accounts.sql"),
            (2, "002_balance.sql"),
        ]
        # The tables land in the service's own schema, not in public.
        assert (
            await connection.fetchval("SELECT to_regclass('ledger.accounts')::text")
            == "ledger.accounts"
        )
        assert await connection.fetchval("SELECT to_regclass('public.accounts')") is None
    finally:
        await connection.close()


async def test_replicas_starting_together_apply_each_file_once(
    database_url: str, tmp_path: Path
) -> None:
    # Not idempotent on purpose: a second run of the file would fail on the duplicate table.
    write(tmp_path, "001_once.sql", "CREATE TABLE once (id int); INSERT INTO once VALUES (1);")
    connections = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        applied = await asyncio.gather(
            *(apply_migrations(c, schema="identity", directory=tmp_path) for c in connections)
        )
        assert sorted(applied) == [0, 0, 0, 1]
        assert await connections[0].fetchval("SELECT count(*) FROM identity.once") == 1
    finally:
        for connection in connections:
            await connection.close()


async def test_a_failing_migration_leaves_nothing_half_applied(
    database_url: str, tmp_path: Path
) -> None:
    write(tmp_path, "001_broken.sql", "CREATE TABLE half (id int); SELECT * FROM no_such_table;")
    connection = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            await apply_migrations(connection, schema="rewards", directory=tmp_path)
        assert await connection.fetchval("SELECT to_regclass('rewards.half')") is None
        assert await connection.fetchval("SELECT count(*) FROM rewards.schema_migrations") == 0
    finally:
        await connection.close()


async def test_an_applied_file_that_was_edited_is_an_error(
    database_url: str, tmp_path: Path
) -> None:
    write(tmp_path, "001_t.sql", "CREATE TABLE t (id int);")
    connection = await asyncpg.connect(database_url)
    try:
        await apply_migrations(connection, schema="campaign", directory=tmp_path)
        write(tmp_path, "001_t.sql", "CREATE TABLE t (id bigint);")
        with pytest.raises(MigrationError, match="was changed after it was applied"):
            await apply_migrations(connection, schema="campaign", directory=tmp_path)
    finally:
        await connection.close()


def test_badly_named_files_are_refused(tmp_path: Path) -> None:
    from services.shared.migrations import read_migrations

    write(tmp_path, "create_tables.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNN_what\.sql"):
        read_migrations(tmp_path)
