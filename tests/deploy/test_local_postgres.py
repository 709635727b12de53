"""deploy/local: the PostgreSQL server benchmarks and `make run` start has the deployed WAL and
checkpoint behaviour, not PostgreSQL's defaults (which make a bulk import checkpoint every few
seconds), and shared buffers sized to the machine as deployed."""

import shutil
import tempfile
from pathlib import Path

import asyncpg
import pytest

from deploy.local.servers import WAL_SETTINGS, LocalPostgres, free_port, shared_buffers_mb
from tests.conftest import RUN_ID

pytestmark = pytest.mark.slow


async def test_a_local_server_runs_with_the_wal_settings() -> None:
    # Short: the server's socket path must stay under 108 bytes.
    server = LocalPostgres(Path(tempfile.mkdtemp(prefix=f"pgwal-{RUN_ID}-")), port=free_port())
    connection = None
    try:
        connection = await asyncpg.connect(server.start())
        show = connection.fetchval
        assert await show("SHOW max_wal_size") == WAL_SETTINGS["max_wal_size"].strip("'")
        assert await show("SHOW checkpoint_timeout") == "15min"
        assert await show("SHOW wal_compression") in ("lz4", "pglz")
        buffers_mb = await show(
            "SELECT setting::bigint * 8192 / 1048576 FROM pg_settings WHERE name = 'shared_buffers'"
        )
        assert buffers_mb == shared_buffers_mb() and 256 <= buffers_mb <= 16384
        # Written once, at initdb: a restart does not add them again.
        await connection.close()
        connection = None
        server.stop()
        connection = await asyncpg.connect(server.start())
        lines = (server.data_dir / "postgresql.conf").read_text().splitlines()
        assert sum(line.startswith("# deploy/local") for line in lines) == 1
    finally:
        if connection is not None:
            await connection.close()
        server.stop()
        server.remove()


@pytest.mark.parametrize("checkout", ["d" * 80, "with a space"])
async def test_a_server_in_a_deep_checkout_or_one_with_spaces_starts(checkout: str) -> None:
    # A Unix socket's path holds at most 107 bytes, and the server made its socket in the data
    # directory: `make run` (and the tests' own server) in a checkout whose path is longer than
    # about 75 characters failed with "could not create any Unix-domain sockets". The directory
    # also went unquoted to pg_ctl's shell, so a path with a space did not start either.
    root = Path(tempfile.gettempdir()) / f"pg-checkout-{RUN_ID}-{checkout}"
    server = LocalPostgres(root / ".data" / "postgres", port=free_port())
    try:
        connection = await asyncpg.connect(server.start())
        assert await connection.fetchval("SELECT 1") == 1
        await connection.close()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
