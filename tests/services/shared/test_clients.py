"""Service channels: calls spread over every address a name resolves to (a headless Service),
and a new channel connects afresh to a service back on an address an old channel gave up on."""

import asyncio
import contextlib

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.shared.clients import service_channel


class CountingHealth(health_pb2_grpc.HealthServicer):
    def __init__(self) -> None:
        self.calls = 0

    async def Check(self, request, context):
        self.calls += 1
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


async def test_calls_are_spread_over_every_resolved_address() -> None:
    replicas = [CountingHealth(), CountingHealth()]
    servers, ports = [], []
    for replica in replicas:
        server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(replica, server)
        ports.append(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        servers.append(server)
    # What DNS gives for a headless Service: one name, the addresses of every ready pod.
    channel = service_channel("ipv4:" + ",".join(f"127.0.0.1:{port}" for port in ports))
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        for _ in range(20):
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    finally:
        await channel.close()
        for server in servers:
            await server.stop(None)
    # Round robin over the ready ones (the first calls go to whichever connected first);
    # pick_first would send all twenty to one.
    calls = [replica.calls for replica in replicas]
    assert sum(calls) == 20 and min(calls) >= 5, calls


async def test_a_new_channel_reaches_a_service_back_where_an_old_one_gave_up() -> None:
    # An old channel to a service that went away backs off its reconnects (up to seconds). A
    # new channel to a service now on that address (a restart, or a reused port) must not be
    # handed the old channel's connection in back-off: gRPC's process-wide subchannel pool would.
    first = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(CountingHealth(), first)
    port = first.add_insecure_port("127.0.0.1:0")
    await first.start()
    old = service_channel(f"127.0.0.1:{port}")
    await health_pb2_grpc.HealthStub(old).Check(health_pb2.HealthCheckRequest(), timeout=5)
    await first.stop(None)
    # Long enough for the old channel's reconnect back-off to grow to its maximum.
    deadline = asyncio.get_running_loop().time() + 3
    while asyncio.get_running_loop().time() < deadline:
        with contextlib.suppress(grpc.aio.AioRpcError):
            await health_pb2_grpc.HealthStub(old).Check(health_pb2.HealthCheckRequest(), timeout=1)
        await asyncio.sleep(0.05)
    replica = CountingHealth()
    second = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(replica, second)
    assert second.add_insecure_port(f"127.0.0.1:{port}") == port
    await second.start()
    new = service_channel(f"127.0.0.1:{port}")
    try:
        await health_pb2_grpc.HealthStub(new).Check(health_pb2.HealthCheckRequest(), timeout=5)
    finally:
        await new.close()
        await old.close()
        await second.stop(None)
    assert replica.calls == 1
