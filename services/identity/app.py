"""How the identity process is put together: its config, streams and servicer."""

from dataclasses import dataclass
from pathlib import Path

from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from services.identity.events import STREAMS
from services.identity.servicer import IdentityServicer
from services.shared.server import Application, ProcessConfig, Runtime, ServiceSpec


@dataclass(frozen=True, kw_only=True)
class IdentityConfig(ProcessConfig):
    grpc_address: str = "127.0.0.1:50051"
    metrics_port: int = 9101
    # The ledger, for the points transfer of a merge and the history of a GDPR export.
    ledger_address: str = "127.0.0.1:50052"


async def setup(runtime: Runtime) -> Application:
    servicer = IdentityServicer(runtime.pool, runtime.outbox)
    return Application(
        register=lambda server: identity_pb2_grpc.add_IdentityServiceServicer_to_server(
            servicer, server
        )
    )


SPEC = ServiceSpec(
    name="identity",
    descriptors=(identity_pb2.DESCRIPTOR.services_by_name["IdentityService"],),
    migrations=Path(__file__).parent / "migrations",
    streams=STREAMS,
    setup=setup,
)
