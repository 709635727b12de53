"""The gateway's metrics port answers as a service's does (services/shared/probes.py): /metrics,
/healthz while the process runs, /readyz 200 while uvicorn serves and 503 from SIGTERM on, and 404
for any other path. prometheus_client's start_http_server answered every path with the metrics,
so /readyz there was 200 even while the gateway drained.

The first test asks the platform's gateway; the second starts one of its own and SIGTERMs it with
a request in flight, held by an "identity" that accepts connections and never answers."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.cluster import SERVICES
from deploy.local.servers import PROJECT_ROOT, free_ports
from tests.conftest import ARTIFACTS, RUN_ID
from tests.gateway.conftest import PROGRAM, GatewayPlatform
from tests.support.http_probes import get, probe, until_status


class Unanswering:
    """A TCP listener that accepts and never answers: a gRPC call to it waits until `release`
    closes the listener and its connections (then it fails UNAVAILABLE)."""

    def __init__(self) -> None:
        self.accepted = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        self.accepted.set()


@pytest.fixture
async def unanswering() -> AsyncIterator[Unanswering]:
    listener = Unanswering()
    await listener.start()
    try:
        yield listener
    finally:
        await listener.release()


def test_the_metrics_port_serves_metrics_and_checks_and_404_elsewhere(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    port = platform.cluster.gateway.metrics_port
    assert admin.get(f"/v1/programs/{PROGRAM}").status_code == 200

    status, text = get(port, "/metrics")
    assert status == 200
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"loyalty_http_requests", "loyalty_http_request_duration_seconds"} <= names
    assert get(port, "/healthz") == (200, json.dumps({"status": "alive"}))
    assert get(port, "/readyz") == (200, json.dumps({"status": "ready"}))
    for path in ("/", "/readyz/extra", "/favicon.ico", "/metricsx", f"/v1/programs/{PROGRAM}"):
        assert get(port, path)[0] == 404, path


async def test_readyz_turns_503_at_sigterm_while_a_request_drains(
    unanswering: Unanswering, request: pytest.FixtureRequest
) -> None:
    http_port, metrics_port = free_ports(2)
    environment = {
        **os.environ,
        "GATEWAY_HTTP_PORT": str(http_port),
        "GATEWAY_METRICS_PORT": str(metrics_port),
        # Longer than the test: the request ends when the test lets it, not at a deadline.
        "GATEWAY_UPSTREAM_DEADLINE_MS": "60000",
        "GATEWAY_SHUTDOWN_GRACE_MS": "60000",
        "PYTHONUNBUFFERED": "1",
        **{f"GATEWAY_{name.upper()}_ADDRESS": f"127.0.0.1:{unanswering.port}" for name in SERVICES},
    }
    log_path = ARTIFACTS / "logs" / f"{RUN_ID}-{request.node.name}-gateway.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway",
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        # Ready once uvicorn listens: the services behind it are not the gateway's readiness.
        assert await until_status(metrics_port, "/readyz", 200) == {"status": "ready"}

        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{http_port}", timeout=60
        ) as client:
            in_flight = asyncio.create_task(
                client.get(f"/v1/programs/{PROGRAM}", headers={"X-Api-Key": "held-key"})
            )
            # The request checks its key with "identity", which holds it.
            await asyncio.wait_for(unanswering.accepted.wait(), 30)
            process.send_signal(signal.SIGTERM)

            assert await until_status(metrics_port, "/readyz", 503, timeout_s=10) == {
                "status": "not ready",
                "reason": "draining: shutting down",
            }
            assert await probe(metrics_port, "/healthz") == (200, {"status": "alive"})
            assert process.returncode is None and not in_flight.done()

            await unanswering.release()
            response = await asyncio.wait_for(in_flight, 30)
        # Drained, not cut: the request got its answer (identity went away: 503).
        assert response.status_code == 503, response.text
        await asyncio.wait_for(process.wait(), 30)
        # The port closes with the process.
        with pytest.raises(urllib.error.URLError):
            await asyncio.to_thread(get, metrics_port, "/healthz")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
