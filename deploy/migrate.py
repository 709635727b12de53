"""`python -m deploy.migrate`: apply every service's migrations to one database, then exit.

The Kubernetes migration Job runs this before a rollout, so no replica migrates under load (the
services still migrate at start, under an advisory lock, which then finds nothing to do).
With `--citus`, the tables are then placed on the Citus cluster (deploy/citus.py).

The database comes from MIGRATE_DATABASE_URL.
"""

import argparse
import asyncio
import logging
import os
import sys

import asyncpg

from deploy.citus import apply_placements
from services.campaign.app import SPEC as CAMPAIGN
from services.identity.app import SPEC as IDENTITY
from services.ledger.app import SPEC as LEDGER
from services.rewards.app import SPEC as REWARDS
from services.shared.database import check_collation
from services.shared.logs import configure_logging
from services.shared.server import EXIT_CONFIG_ERROR, ServiceSpec, migrate

SPECS: tuple[ServiceSpec, ...] = (IDENTITY, LEDGER, CAMPAIGN, REWARDS)
logger = logging.getLogger("deploy.migrate")


async def migrate_all(database_url: str, *, citus: bool) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await check_collation(connection)
        for spec in SPECS:
            await migrate(connection, spec)
            logger.info("migrated %s", spec.name)
            if citus:
                placed = await apply_placements(connection, schema=spec.schema, service=spec.name)
                logger.info("placed %d tables of %s on Citus", placed, spec.name)
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.migrate", description=__doc__)
    parser.add_argument(
        "--citus", action="store_true", help="then distribute the tables (a Citus coordinator)"
    )
    arguments = parser.parse_args(argv)
    database_url = os.environ.get("MIGRATE_DATABASE_URL", "")
    if not database_url:
        print("migrate: MIGRATE_DATABASE_URL is required but not set", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG_ERROR)
    configure_logging("migrate", level="INFO")
    asyncio.run(migrate_all(database_url, citus=arguments.citus))


if __name__ == "__main__":
    main()
