"""A process's health, asked over gRPC or over HTTP, and the HTTP server of its metrics port:
`/metrics` (Prometheus), `/healthz` (liveness: the process runs), `/readyz` (readiness: 200
exactly when the process says SERVING, else 503 saying why); any other path is 404.

A service's readiness is its `ProcessHealth`, which the gRPC health service answers too; the
gateway, which serves HTTP and no gRPC, keeps a `ServingState` (ready while uvicorn serves).

prometheus_client's `start_http_server` answers every path with the metrics, so an HTTP check of
`/readyz` on a metrics port was always 200, even while the process drained at shutdown. The server
runs on a thread of its own, as that one does: a scrape or a probe never waits for the event loop.
"""

import json
import socket
import threading
from collections.abc import Iterable, Sequence
from socketserver import ThreadingMixIn
from typing import Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.types import StartResponse, WSGIEnvironment

from grpc_health.v1 import health, health_pb2
from prometheus_client import CollectorRegistry, make_wsgi_app

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# How often the server's thread looks for a shutdown: the most `close` waits.
SHUTDOWN_POLL_S = 0.1


class Readiness(Protocol):
    """What `/readyz` answers from: `ProcessHealth` or `ServingState`."""

    @property
    def state(self) -> tuple[int, str]:
        """The status (SERVING or NOT_SERVING) and why (starting, serving, draining)."""
        ...


class ServingState:
    """The readiness of a process without a gRPC server (the gateway): `starting` until the
    process says it serves, and what it says from then on (draining at shutdown)."""

    def __init__(self) -> None:
        # One tuple, replaced whole: the HTTP thread reads a status and its reason together.
        self._state: tuple[int, str] = (NOT_SERVING, "starting")

    @property
    def state(self) -> tuple[int, str]:
        return self._state

    def set(self, status: int, *, reason: str) -> None:
        self._state = (status, reason)


class ProcessHealth:
    """One state for both ways of asking: the gRPC health service (under the empty name and each
    of the process's services) and `/readyz`. `set` is the only way to change it."""

    def __init__(self, names: Sequence[str]) -> None:
        self.servicer = health.aio.HealthServicer()
        self._names = ("", *names)
        # One tuple, replaced whole: the HTTP thread reads a status and its reason together.
        self._state: tuple[int, str] = (NOT_SERVING, "starting")

    @property
    def state(self) -> tuple[int, str]:
        """The status and why (starting, serving, draining)."""
        return self._state

    async def set(self, status: int, *, reason: str) -> None:
        # HTTP turns ready after gRPC does and unready before it: it never says ready alone.
        if status != SERVING:
            self._state = (status, reason)
        for name in self._names:
            await self.servicer.set(name, status)
        self._state = (status, reason)


class ProbeServer:
    """The running HTTP server of the metrics port; `close` stops it."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        """Blocks up to SHUTDOWN_POLL_S (call it from a thread, not the event loop)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def serve_probes(
    registry: CollectorRegistry, readiness: Readiness, *, host: str, port: int
) -> ProbeServer:
    """Start the metrics port's server on a daemon thread."""
    metrics_app = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics_app(environ, start_response)
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "alive"})
        if path == "/readyz":
            status, reason = readiness.state
            if status == SERVING:
                return _json(start_response, "200 OK", {"status": "ready"})
            return _json(
                start_response, "503 Service Unavailable", {"status": "not ready", "reason": reason}
            )
        return _json(start_response, "404 Not Found", {"status": "not found", "path": path})

    server = _ThreadingServer((host, port), family=_address_family(host, port))
    server.set_app(app)
    thread = threading.Thread(
        target=server.serve_forever, args=(SHUTDOWN_POLL_S,), name="probes", daemon=True
    )
    thread.start()
    return ProbeServer(server, thread)


def _json(start_response: StartResponse, status: str, body: dict[str, str]) -> list[bytes]:
    encoded = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(encoded)))],
    )
    return [encoded]


def _address_family(host: str, port: int) -> socket.AddressFamily:
    """IPv4 or IPv6, as the host resolves ("::" for every IPv6 address)."""
    [(family, *_), *_] = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    return family


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    # A slow scraper does not hold up a probe; request threads never keep the process alive.
    daemon_threads = True

    def __init__(self, address: tuple[str, int], *, family: socket.AddressFamily) -> None:
        self.address_family = family
        super().__init__(address, _QuietHandler)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No line on stderr per request: probes and scrapes come every few seconds."""
