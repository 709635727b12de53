"""deploy/postgres: a real PostgreSQL server starts with postgresql.conf and citus.conf included,
takes every setting without error, and has the settings the workload depends on."""

import os
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pytest

from deploy.local.servers import UNPRIVILEGED_USER, LocalPostgres, free_port
from tests.conftest import RUN_ID

pytestmark = pytest.mark.slow

CONFIG_DIR = Path(__file__).resolve().parents[2] / "deploy" / "postgres"
# LocalPostgres sets these on the command line, which wins over any file.
COMMAND_LINE = {
    "listen_addresses",
    "max_connections",
    "shared_buffers",
    "fsync",
    "synchronous_commit",
}


@pytest.fixture
def configured_server():
    # Short: the server's socket path must stay under 108 bytes.
    server = LocalPostgres(Path(tempfile.mkdtemp(prefix=f"pgconf-{RUN_ID}-")), port=free_port())
    server.start()  # initdb and a first start with the defaults
    server.stop()
    for name in ("postgresql.conf", "citus.conf"):
        target = server.data_dir / f"loyalty-{name}"
        shutil.copyfile(CONFIG_DIR / name, target)
        if os.geteuid() == 0:
            shutil.chown(target, user=UNPRIVILEGED_USER)
    with (server.data_dir / "postgresql.conf").open("a") as main:
        main.write("\ninclude 'loyalty-postgresql.conf'\ninclude 'loyalty-citus.conf'\n")
    # No Citus on the test machine: preload what citus.conf asks for, less Citus itself.
    # (postgresql.auto.conf is read last, so it wins over the included files.)
    with (server.data_dir / "postgresql.auto.conf").open("a") as auto:
        auto.write("shared_preload_libraries = 'pg_stat_statements'\n")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        server.remove()


async def test_every_setting_is_accepted_and_in_effect(configured_server: LocalPostgres) -> None:
    connection = await asyncpg.connect(configured_server.dsn)
    try:
        rows = await connection.fetch(
            "SELECT sourcefile, sourceline, name, setting, applied, error FROM pg_file_settings"
            " WHERE sourcefile LIKE '%/loyalty-%' ORDER BY sourcefile, sourceline"
        )
        names = {row["name"] for row in rows}
        assert len(names) > 40
        # A server setting given on the command line "could not be applied" from a file.
        errors = [
            dict(row)
            for row in rows
            if row["error"] is not None and row["name"] not in COMMAND_LINE
        ]
        assert errors == [], errors
        last_by_name = {row["name"]: row for row in rows}
        not_applied = {
            name for name, row in last_by_name.items() if not row["applied"]
        } - COMMAND_LINE
        assert not_applied == {"shared_preload_libraries"}

        async def show(name: str) -> str:
            return await connection.fetchval("SELECT current_setting($1)", name)

        # What the platform relies on, as the server runs it.
        assert await show("synchronous_commit") == "on"
        assert await show("wal_compression") == "lz4"
        assert await show("idle_in_transaction_session_timeout") == "1min"
        assert await show("max_wal_size") == "32GB"
        assert await show("autovacuum_vacuum_scale_factor") == "0.02"
        assert await show("max_prepared_transactions") == "500"
        assert await show("citus.shard_count") == "64"
        assert await show("jit") == "off"
        # Preloaded: the extension works.
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        assert await connection.fetchval("SELECT count(*) >= 0 FROM pg_stat_statements")
    finally:
        await connection.close()
