"""Citus placement of every service's tables: the `citus.sql` files beside the migrations.

Each file is a list of `SELECT create_reference_table('t')`, `create_distributed_table('t', ...)`
or `citus_add_local_table_to_metadata('t')` statements, run in a service's schema after its
migrations (the shared plumbing's file first). A table Citus already holds is skipped, so this
runs again safely after a migration adds a table (and its line here).
"""

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

SERVICES_DIR = Path(__file__).resolve().parents[1] / "services"
SHARED_FILE = SERVICES_DIR / "shared" / "citus.sql"
_STATEMENT = re.compile(
    r"^SELECT (?P<function>create_reference_table|create_distributed_table"
    r"|citus_add_local_table_to_metadata)\('(?P<table>[a-z_][a-z0-9_]*)'(?P<rest>[^;]*)\);$"
)


class CitusFileError(Exception):
    pass


@dataclass(frozen=True)
class Placement:
    function: str
    table: str
    sql: str


def read_placements(path: Path) -> list[Placement]:
    """The statements of one citus.sql file, in order; anything else but comments is an error."""
    placements = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        match = _STATEMENT.match(stripped)
        if match is None:
            raise CitusFileError(f"{path}:{number}: not a Citus placement statement: {stripped}")
        placements.append(Placement(match["function"], match["table"], stripped))
    return placements


def service_files(service: str) -> list[Path]:
    return [SHARED_FILE, SERVICES_DIR / service / "citus.sql"]


async def apply_placements(connection: asyncpg.Connection, *, schema: str, service: str) -> int:
    """Place the tables of `schema` as `service`'s files say; returns how many were placed now."""
    placed = 0
    quoted = asyncpg.utils._quote_ident(schema)
    async with connection.transaction():
        await connection.execute(f"SET LOCAL search_path TO {quoted}, public")
        for path in service_files(service):
            for placement in read_placements(path):
                if await connection.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_dist_partition"
                    " WHERE logicalrelid = to_regclass($1))",
                    f"{quoted}.{placement.table}",
                ):
                    continue
                await connection.execute(placement.sql)
                placed += 1
    return placed
