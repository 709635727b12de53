"""How the rewards process is put together: its config, streams and servicer."""

from dataclasses import dataclass
from pathlib import Path

from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from services.rewards.events import STREAMS
from services.rewards.servicer import RewardsServicer
from services.shared.server import Application, ProcessConfig, Runtime, ServiceSpec


@dataclass(frozen=True, kw_only=True)
class RewardsConfig(ProcessConfig):
    grpc_address: str = "127.0.0.1:50054"
    metrics_port: int = 9104
    ledger_address: str = "127.0.0.1:50052"
    campaign_address: str = "127.0.0.1:50053"


async def setup(runtime: Runtime) -> Application:
    servicer = RewardsServicer(runtime.pool)
    return Application(
        register=lambda server: rewards_pb2_grpc.add_RewardsServiceServicer_to_server(
            servicer, server
        )
    )


SPEC = ServiceSpec(
    name="rewards",
    descriptors=(rewards_pb2.DESCRIPTOR.services_by_name["RewardsService"],),
    migrations=Path(__file__).parent / "migrations",
    streams=STREAMS,
    setup=setup,
)
