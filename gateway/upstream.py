"""The gateway's gRPC clients of the four services: one channel each, deadlines, error mapping."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from gateway.config import GatewayConfig
from gateway.errors import ApiError
from loyalty.campaign.v1 import campaign_pb2_grpc
from loyalty.identity.v1 import identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2_grpc
from loyalty.rewards.v1 import rewards_pb2_grpc
from services.shared.clients import service_channel

ResponseT = TypeVar("ResponseT")


@dataclass
class Upstreams:
    identity: identity_pb2_grpc.IdentityServiceStub
    ledger: ledger_pb2_grpc.LedgerServiceStub
    campaign: campaign_pb2_grpc.CampaignServiceStub
    rewards: rewards_pb2_grpc.RewardsServiceStub
    channels: tuple[grpc.aio.Channel, ...]
    deadline_s: float

    @classmethod
    def connect(cls, config: GatewayConfig) -> "Upstreams":
        """Channels carry the request id as `x-request-id` (services.shared.clients)."""
        channels = {
            name: service_channel(getattr(config, f"{name}_address"))
            for name in ("identity", "ledger", "campaign", "rewards")
        }
        return cls(
            identity=identity_pb2_grpc.IdentityServiceStub(channels["identity"]),
            ledger=ledger_pb2_grpc.LedgerServiceStub(channels["ledger"]),
            campaign=campaign_pb2_grpc.CampaignServiceStub(channels["campaign"]),
            rewards=rewards_pb2_grpc.RewardsServiceStub(channels["rewards"]),
            channels=tuple(channels.values()),
            deadline_s=config.upstream_deadline_ms / 1000,
        )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()

    async def call(
        self,
        method: Callable[..., Awaitable[ResponseT]],
        request: Any,
        *,
        fields: Mapping[str, str] | None = None,
    ) -> ResponseT:
        """One unary call; a failure becomes the ApiError of its status. `fields` renames the
        request's fields where the route's JSON names them otherwise (see errors.json_field)."""
        try:
            return await method(request, timeout=self.deadline_s)
        except grpc.aio.AioRpcError as error:
            raise ApiError.from_rpc(error, method=_method_name(method), fields=fields) from None


def _method_name(method: Any) -> str:
    # grpc.aio multicallables keep the full method path, such as b"/loyalty.x.v1.XService/Get".
    path = getattr(method, "_method", b"")
    name = path.decode() if isinstance(path, bytes) else str(path)
    return name.rsplit(".", 1)[-1] if name else "the call"
