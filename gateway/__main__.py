"""`python -m gateway`: the gateway on uvicorn, configured from GATEWAY_* variables."""

import logging
import sys

import uvicorn
from prometheus_client import start_http_server

from gateway.app import create_app
from gateway.config import GatewayConfig
from services.shared.config import ConfigError, load_config
from services.shared.logs import configure_logging

EXIT_CONFIG_ERROR = 78
logger = logging.getLogger("gateway")


def main() -> None:
    try:
        config = load_config(GatewayConfig, prefix="GATEWAY")
    except ConfigError as error:
        print(f"gateway: configuration error: {error}", file=sys.stderr)
        sys.exit(EXIT_CONFIG_ERROR)
    configure_logging("gateway", level=config.log_level)
    app = create_app(config)
    start_http_server(
        config.metrics_port, addr=config.metrics_host, registry=app.state.metrics.registry
    )
    if config.demo_login:
        logger.warning("GATEWAY_DEMO_LOGIN is on: anyone can log in as a member by e-mail")
    server = uvicorn.Server(
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
        )
    )
    server.run()


if __name__ == "__main__":
    main()
