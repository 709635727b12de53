"""Service channels spread calls over every address a name resolves to (a headless Service)."""

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
