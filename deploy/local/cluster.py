"""The four services, and the HTTP gateway in front of them, as real processes on one machine:
used by `make run`, the tests and the benchmarks."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deploy.local.servers import PROJECT_ROOT, LocalServerError, free_ports

SERVICES = ("identity", "ledger", "campaign", "rewards")
# Which services each one calls over gRPC: `<CALLER>_<CALLEE>_ADDRESS` is set for each pair.
DEPENDENCIES = {
    "identity": ("ledger",),
    "ledger": (),
    "campaign": ("ledger", "identity"),
    "rewards": ("ledger", "campaign"),
}
HEALTH_TIMEOUT_S = 60.0
# The gateway is no gRPC service: it calls all four and is started on its own (start_gateway).
GATEWAY = "gateway"


@dataclass(frozen=True)
class Endpoint:
    name: str
    grpc_port: int
    metrics_port: int

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"


def fixed_endpoints(
    *, grpc_base_port: int = 50051, metrics_base_port: int = 9101
) -> dict[str, Endpoint]:
    return {
        name: Endpoint(name, grpc_base_port + index, metrics_base_port + index)
        for index, name in enumerate(SERVICES)
    }


def free_endpoints() -> dict[str, Endpoint]:
    ports = iter(free_ports(2 * len(SERVICES)))
    return {name: Endpoint(name, next(ports), next(ports)) for name in SERVICES}


@dataclass(frozen=True)
class GatewayEndpoint:
    http_port: int
    metrics_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"


def fixed_gateway_endpoint(*, http_port: int = 8080, metrics_port: int = 9105) -> GatewayEndpoint:
    return GatewayEndpoint(http_port, metrics_port)


def free_gateway_endpoint() -> GatewayEndpoint:
    return GatewayEndpoint(*free_ports(2))


class LocalCluster:
    def __init__(
        self,
        *,
        database_url: str,
        nats_url: str,
        namespace: str,
        endpoints: dict[str, Endpoint],
        log_dir: Path,
        extra_env: dict[str, str] | None = None,
        gateway: GatewayEndpoint | None = None,
    ) -> None:
        self.gateway = gateway or free_gateway_endpoint()
        self.database_url = database_url
        self.nats_url = nats_url
        self.namespace = namespace
        self.endpoints = endpoints
        self.log_dir = log_dir
        self.extra_env = extra_env or {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def environment(self, name: str) -> dict[str, str]:
        prefix = name.upper()
        endpoint = self.endpoints[name]
        env = {
            **os.environ,
            f"{prefix}_DATABASE_URL": self.database_url,
            f"{prefix}_NATS_URL": self.nats_url,
            f"{prefix}_NATS_NAMESPACE": self.namespace,
            f"{prefix}_GRPC_ADDRESS": endpoint.grpc_address,
            f"{prefix}_METRICS_PORT": str(endpoint.metrics_port),
            "PYTHONUNBUFFERED": "1",
        }
        for callee in DEPENDENCIES[name]:
            env[f"{prefix}_{callee.upper()}_ADDRESS"] = self.endpoints[callee].grpc_address
        env.update(self.extra_env)
        return env

    def start(self, *names: str, health_timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in names or SERVICES:
            log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                cwd=PROJECT_ROOT,
                env=self.environment(name),
                stdout=log,
                stderr=log,
            )
            log.close()
        for name in names or SERVICES:
            self.wait_healthy(name, timeout_s=health_timeout_s)

    def gateway_environment(self, extra_env: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            **os.environ,
            "GATEWAY_HTTP_PORT": str(self.gateway.http_port),
            "GATEWAY_METRICS_PORT": str(self.gateway.metrics_port),
            "PYTHONUNBUFFERED": "1",
        }
        for callee in SERVICES:
            env[f"GATEWAY_{callee.upper()}_ADDRESS"] = self.endpoints[callee].grpc_address
        env.update(extra_env or {})
        return env

    def start_gateway(self, *, extra_env: dict[str, str] | None = None) -> None:
        """The gateway as a process (`python -m gateway`), once the services are running."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{GATEWAY}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.processes[GATEWAY] = subprocess.Popen(
            [sys.executable, "-m", GATEWAY],
            cwd=PROJECT_ROOT,
            env=self.gateway_environment(extra_env),
            stdout=log,
            stderr=log,
        )
        log.close()
        self.wait_gateway_ready()

    def wait_gateway_ready(self, *, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        """Ready is /readyz answering 200: the gateway reaches every service."""
        deadline = time.monotonic() + timeout_s
        process = self.processes[GATEWAY]
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LocalServerError(
                    f"the gateway exited with code {process.returncode}; "
                    f"see {self.log_dir / GATEWAY}.log"
                )
            try:
                with urllib.request.urlopen(f"{self.gateway.url}/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise LocalServerError(
            f"the gateway was not ready within {timeout_s:.0f}s; see {self.log_dir / GATEWAY}.log"
        )

    def wait_healthy(self, name: str, *, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        process = self.processes[name]
        with grpc.insecure_channel(self.endpoints[name].grpc_address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise LocalServerError(
                        f"{name} exited with code {process.returncode}; see {self.log_dir / name}.log"
                    )
                try:
                    status = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1).status
                    if status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise LocalServerError(
            f"{name} was not healthy within {timeout_s:.0f}s; see {self.log_dir / name}.log"
        )

    def signal(self, name: str, signum: int) -> None:
        self.processes[name].send_signal(signum)

    def wait(self, name: str, *, timeout_s: float = 30.0) -> int:
        return self.processes[name].wait(timeout=timeout_s)

    def stop(self, *, timeout_s: float = 30.0) -> dict[str, int]:
        """SIGTERM every running service and wait; returns their exit codes."""
        running = {n: p for n, p in self.processes.items() if p.poll() is None}
        for process in running.values():
            process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in running.items():
            try:
                codes[name] = process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        return codes
