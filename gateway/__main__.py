"""`python -m gateway`: the gateway on uvicorn, configured from GATEWAY_* variables.

Its metrics port answers as a service's does (services/shared/probes.py): `/metrics`, `/healthz`
while the process runs, `/readyz` 200 while uvicorn serves (503 `starting` before it listens,
`draining: shutting down` from SIGTERM on), 404 for any other path.
"""

import logging
import socket
import sys

import uvicorn

from gateway.app import create_app
from gateway.config import GatewayConfig
from services.shared.config import ConfigError, load_config
from services.shared.logs import configure_logging
from services.shared.probes import NOT_SERVING, SERVING, ServingState, serve_probes

EXIT_CONFIG_ERROR = 78
logger = logging.getLogger("gateway")


class ProbedServer(uvicorn.Server):
    """uvicorn's server, saying on the metrics port's `/readyz` whether it serves: ready once it
    listens (after the application's start), not ready as soon as its graceful shutdown begins
    (as a service turns NOT_SERVING before it stops taking calls)."""

    def __init__(self, config: uvicorn.Config, *, readiness: ServingState) -> None:
        super().__init__(config)
        self.readiness = readiness

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:  # not when the port could not be bound
            self.readiness.set(SERVING, reason="serving")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.readiness.set(NOT_SERVING, reason="draining: shutting down")
        await super().shutdown(sockets=sockets)


def main() -> None:
    try:
        config = load_config(GatewayConfig, prefix="GATEWAY")
    except ConfigError as error:
        print(f"gateway: configuration error: {error}", file=sys.stderr)
        sys.exit(EXIT_CONFIG_ERROR)
    configure_logging("gateway", level=config.log_level)
    app = create_app(config)
    readiness = ServingState()
    # A daemon thread: it answers until the process exits, after uvicorn's shutdown.
    serve_probes(
        app.state.metrics.registry,
        readiness,
        host=config.metrics_host,
        port=config.metrics_port,
    )
    if config.demo_login:
        logger.warning("GATEWAY_DEMO_LOGIN is on: anyone can log in as a member by e-mail")
    server = ProbedServer(
        uvicorn.Config(
            app,
            host=config.http_host,
            port=config.http_port,
            # grpc.aio's calls to the services run on the same loop; httptools parses HTTP/1.1.
            loop=config.event_loop,
            http="httptools",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=max(1, config.shutdown_grace_ms // 1000),
            server_header=False,
        ),
        readiness=readiness,
    )
    server.run()


if __name__ == "__main__":
    main()
