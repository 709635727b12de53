"""The services' gRPC server options."""

import grpc
import pytest

from deploy.local.servers import free_ports
from services.shared.server import SERVER_OPTIONS


async def test_a_service_cannot_share_a_port_another_server_listens_on() -> None:
    # With gRPC's default SO_REUSEPORT the second bind succeeds and the two servers split the
    # calls between them: a caller of one service gets "Method not found" from the other.
    first = grpc.aio.server(options=SERVER_OPTIONS)
    port = first.add_insecure_port("127.0.0.1:0")
    await first.start()
    try:
        second = grpc.aio.server(options=SERVER_OPTIONS)
        with pytest.raises(RuntimeError):
            second.add_insecure_port(f"127.0.0.1:{port}")
    finally:
        await first.stop(None)


def test_free_ports_are_distinct() -> None:
    ports = free_ports(64)
    assert len(set(ports)) == len(ports)
