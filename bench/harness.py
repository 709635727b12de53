"""What every benchmark uses: repeated measurement, one JSON line per figure on stdout, closed-loop
load at a given concurrency, and the bare gRPC echo baseline (`python -m bench.harness echo-server
PORT` serves it)."""

import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

REPEATS_MIN = 3


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    params: dict[str, Any] = field(default_factory=dict)


class Reporter:
    """Prints figures as BENCH.md says; `wants` tells a benchmark whether ONLY selects a name."""

    def __init__(self, *, only: str = "") -> None:
        self.only = only
        self.figures: dict[str, Figure] = {}

    def wants(self, *names: str) -> bool:
        return any(name.startswith(self.only) for name in names)

    def emit(self, figure: Figure, *, baseline: Figure | None = None) -> None:
        self.figures[figure.name] = figure
        line: dict[str, Any] = {
            "name": figure.name,
            "value": round(figure.value, 3),
            "unit": figure.unit,
        }
        if baseline is not None:
            line["baseline"] = baseline.name
            line["ratio"] = round(figure.value / baseline.value, 4) if baseline.value else None
        line["params"] = figure.params
        print(json.dumps(line), flush=True)

    def progress(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


def median_seconds(
    run: Callable[[], object], *, repeats: int = REPEATS_MIN, warmups: int = 1
) -> float:
    """Median wall time of `run` over `repeats` runs after `warmups` unmeasured ones."""
    assert repeats >= REPEATS_MIN
    for _ in range(warmups):
        run()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def throughput(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


@dataclass(frozen=True)
class LatencyRun:
    """One closed-loop run: throughput and latency percentiles of its calls."""

    calls: int
    calls_per_s: float
    p50_ms: float
    p99_ms: float


def percentile(sorted_samples: list[float], fraction: float) -> float:
    index = min(len(sorted_samples) - 1, max(0, round(fraction * len(sorted_samples)) - 1))
    return sorted_samples[index]


async def closed_loop(
    call: Callable[[int], Awaitable[object]], *, concurrency: int, duration_s: float
) -> LatencyRun:
    """`concurrency` workers each calling `call(i)` back to back for `duration_s`."""
    latencies: list[float] = []
    deadline = time.perf_counter() + duration_s
    counter = iter(range(sys.maxsize))

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call(next(counter))
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return LatencyRun(
        calls=len(latencies),
        calls_per_s=throughput(len(latencies), elapsed),
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
    )


async def median_closed_loop(
    call: Callable[[int], Awaitable[object]],
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    repeats: int = REPEATS_MIN,
) -> LatencyRun:
    """The median (per figure) of `repeats` closed-loop runs after an unmeasured warm-up."""
    assert repeats >= REPEATS_MIN
    await closed_loop(call, concurrency=concurrency, duration_s=warmup_s)
    return median_run(
        [
            await closed_loop(call, concurrency=concurrency, duration_s=duration_s)
            for _ in range(repeats)
        ]
    )


def median_run(runs: list[LatencyRun]) -> LatencyRun:
    """The median of each figure of `runs`; `calls` is their sum."""
    return LatencyRun(
        calls=sum(r.calls for r in runs),
        calls_per_s=statistics.median(r.calls_per_s for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
    )


# A bare grpc.aio echo service: the baseline `baseline.grpc_echo` of any unary gRPC figure.
ECHO_METHOD = "/bench.Echo/Echo"


async def serve_echo(port: int) -> None:
    """Serve the echo method on 127.0.0.1:`port` until cancelled (raw bytes, no protobuf)."""
    import grpc

    async def echo(request: bytes, context: object) -> bytes:
        return request

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
            ),
        )
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


class EchoServer:
    """The echo server in a process of its own, as a service under test would be."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "EchoServer":
        from deploy.local.servers import wait_for_port

        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.harness", "echo-server", str(self.port)],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, what="the echo server")
        return self

    def __exit__(self, *_: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)


async def measure_grpc_echo(
    *, concurrency: int, duration_s: float, warmup_s: float, payload_bytes: int
) -> LatencyRun:
    """`baseline.grpc_echo`: a bare grpc.aio unary echo at `concurrency`, server in its own process."""
    import grpc

    from deploy.local.servers import free_port

    payload = b"x" * payload_bytes
    with EchoServer(free_port()) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            echo = channel.unary_unary(ECHO_METHOD)

            async def call(_: int) -> object:
                return await echo(payload)

            return await median_closed_loop(
                call, concurrency=concurrency, duration_s=duration_s, warmup_s=warmup_s
            )


if __name__ == "__main__" and sys.argv[1:2] == ["echo-server"]:
    from services.shared.server import ProcessConfig, run_on_event_loop

    # On the services' event loop, so the echo baseline is what a service's calls stand on.
    run_on_event_loop(serve_echo(int(sys.argv[2])), ProcessConfig.event_loop)
