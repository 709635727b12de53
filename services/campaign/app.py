"""How the campaign process is put together: its config, streams and servicer."""

from dataclasses import dataclass
from pathlib import Path

from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc
from services.campaign.events import STREAMS
from services.campaign.servicer import CampaignServicer
from services.shared.server import Application, ProcessConfig, Runtime, ServiceSpec


@dataclass(frozen=True, kw_only=True)
class CampaignConfig(ProcessConfig):
    grpc_address: str = "127.0.0.1:50053"
    metrics_port: int = 9103
    ledger_address: str = "127.0.0.1:50052"
    identity_address: str = "127.0.0.1:50051"


async def setup(runtime: Runtime) -> Application:
    servicer = CampaignServicer(runtime.pool)
    return Application(
        register=lambda server: campaign_pb2_grpc.add_CampaignServiceServicer_to_server(
            servicer, server
        )
    )


SPEC = ServiceSpec(
    name="campaign",
    descriptors=(campaign_pb2.DESCRIPTOR.services_by_name["CampaignService"],),
    migrations=Path(__file__).parent / "migrations",
    streams=STREAMS,
    setup=setup,
)
