"""`make run`: PostgreSQL and NATS (unless given), the four services, the gateway, a demo program.

Ctrl-C stops all.
"""

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from deploy.local.servers import (
    DATA_ROOT,
    LocalNats,
    LocalPostgres,
    LocalServerError,
    require_free_ports,
)

if TYPE_CHECKING:
    from deploy.local.cluster import LocalCluster

logger = logging.getLogger("loyalty.run")

POSTGRES_PORT = 55432
NATS_PORT = 54222
DATABASE = "loyalty"


async def ensure_database(server_url: str) -> str:
    import asyncpg  # imported once the signal handlers are set, as in run()

    try:
        connection = await asyncpg.connect(server_url)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        # A DATABASE_URL left in the shell by another project ended make run in a traceback.
        raise LocalServerError(
            f"cannot connect to PostgreSQL at {_without_password(server_url)} ({error}); "
            "unset DATABASE_URL for a local server of its own"
        ) from None
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await connection.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await connection.close()
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{DATABASE}"))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}@{host}"))


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # SIGTERM stops as cleanly as Ctrl-C, at any point of start-up too; SIGINT is set explicitly
    # because a shell starting `make run` in the background hands it down ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    started_at = time.monotonic()
    servers: list[LocalPostgres | LocalNats] = []
    database_server = os.environ.get("DATABASE_URL")
    nats_url = os.environ.get("NATS_URL")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            run(servers, database_server, nats_url, started_at)
    except LocalServerError as error:
        logger.error("make run: %s", error)
        raise SystemExit(1) from None


def run(
    servers: list[LocalPostgres | LocalNats],
    database_server: str | None,
    nats_url: str | None,
    started_at: float,
) -> None:
    # Imported here, once main() has set the signal handlers: grpc, asyncpg and the gateway's
    # FastAPI take about 0.6 s to import, and a SIGINT then was lost (a background job gets it
    # ignored until the handler is set) or, in a terminal, a KeyboardInterrupt traceback.
    from deploy.local.cluster import (
        SERVICES,
        LocalCluster,
        fixed_endpoints,
        fixed_gateway_endpoint,
    )
    from deploy.local.demo import load_demo_member, load_demo_program

    cluster: LocalCluster | None = None
    endpoints, gateway = fixed_endpoints(), fixed_gateway_endpoint()
    # Before anything starts: a second `make run` fails here, naming the ports, and stops nothing.
    require_free_ports(
        {
            **{f"{e.name} gRPC": e.grpc_port for e in endpoints.values()},
            **{f"{e.name} metrics": e.metrics_port for e in endpoints.values()},
            "gateway HTTP": gateway.http_port,
            "gateway metrics": gateway.metrics_port,
        }
    )
    try:
        if not database_server:
            postgres = LocalPostgres(DATA_ROOT / "postgres", port=POSTGRES_PORT)
            servers.append(postgres)
            logger.info("starting PostgreSQL in %s", postgres.data_dir)
            database_server = postgres.start()
        if not nats_url:
            local_nats = LocalNats(DATA_ROOT / "nats", port=NATS_PORT)
            servers.append(local_nats)
            logger.info("starting NATS in %s", local_nats.data_dir)
            nats_url = local_nats.start()
        database_url = asyncio.run(ensure_database(database_server))
        cluster = LocalCluster(
            database_url=database_url,
            nats_url=nats_url,
            namespace="loyalty",
            endpoints=endpoints,
            log_dir=DATA_ROOT / "logs",
            gateway=gateway,
        )
        logger.info("starting %s", ", ".join(SERVICES))
        cluster.start()
        logger.info("starting the gateway (demo login on)")
        cluster.start_gateway(extra_env={"GATEWAY_DEMO_LOGIN": "true"})
        demo = asyncio.run(load_demo_program(cluster.endpoints))
        demo.update(asyncio.run(load_demo_member(cluster.endpoints, cluster.gateway.url)))
        print_endpoints(cluster, database_url, nats_url, demo, time.monotonic() - started_at)
        wait_for_interrupt()
    finally:
        if cluster is not None:
            logger.info("stopping services")
            cluster.stop()
        for server in reversed(servers):
            server.stop()
        logger.info("stopped")


def print_endpoints(
    cluster: "LocalCluster",
    database_url: str,
    nats_url: str,
    demo: dict[str, str],
    elapsed_s: float,
) -> None:
    lines = [
        f"\nLoyalty platform is running (ready in {elapsed_s:.1f}s). Ctrl-C stops everything.\n"
    ]
    for name, endpoint in cluster.endpoints.items():
        lines.append(f"  {name:<9} gRPC {endpoint.grpc_address:<17} metrics {endpoint.metrics_url}")
    gateway = cluster.gateway
    lines.append(f"  gateway   HTTP {gateway.url:<22} metrics {gateway.metrics_url}")
    lines.append(f"  PostgreSQL {database_url}")
    lines.append(f"  NATS       {nats_url}")
    lines.append(f"  logs       {cluster.log_dir}")
    lines.append("\nDemo program:")
    lines += [f"  {key:<16} {value}" for key, value in demo.items()]
    print("\n".join(lines), flush=True)


def wait_for_interrupt() -> None:
    while True:
        time.sleep(0.5)


if __name__ == "__main__":
    main()
