"""The operator's view of the platform: where each service listens, and channels to them that
fail fast and clearly when a service is not there."""

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import grpc

from admin import errors
from loyalty.campaign.v1 import campaign_pb2_grpc
from loyalty.identity.v1 import identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2_grpc
from services.shared.config import load_config, require

SERVICES = ("identity", "ledger", "campaign")
MESSAGE_SIZE_MAX_BYTES = 64 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MESSAGE_SIZE_MAX_BYTES),
    ("grpc.max_receive_message_length", MESSAGE_SIZE_MAX_BYTES),
]


@dataclass(frozen=True, kw_only=True)
class AdminConfig:
    """`LOYALTY_ADMIN_<FIELD>` variables; the command line's options override them. The defaults
    are where `make run` starts the services."""

    identity_address: str = "127.0.0.1:50051"
    ledger_address: str = "127.0.0.1:50052"
    campaign_address: str = "127.0.0.1:50053"
    # Only `migrate` uses the database; DATABASE_URL is the fallback.
    database_url: str | None = None
    connect_timeout_ms: int = 5_000
    # The longest one unary call may take; streams (imports) have no deadline of their own.
    deadline_ms: int = 120_000
    # The calls whose work grows with the program (the ledger's Verify, GetLiabilityReport,
    # SetTierDefinitions): above the ledger's own LEDGER_ADMIN_DEADLINE_MS (10 minutes by
    # default), so the server's deadline is the one that ends them.
    long_deadline_ms: int = 1_800_000

    def validate(self, prefix: str) -> None:
        for name in ("connect_timeout_ms", "deadline_ms", "long_deadline_ms"):
            require(
                0 < getattr(self, name) <= 3_600_000,
                variable=f"{prefix}_{name.upper()}",
                message="must be between 1 and 3600000",
            )


def load_admin_config() -> AdminConfig:
    return load_config(AdminConfig, prefix="LOYALTY_ADMIN")


class Connections:
    """Channels to the services, opened on first use after checking the service answers."""

    def __init__(self, config: AdminConfig) -> None:
        self.config = config
        self._channels: dict[str, grpc.aio.Channel] = {}

    def address(self, service: str) -> str:
        return str(getattr(self.config, f"{service}_address"))

    @property
    def deadline_s(self) -> float:
        return self.config.deadline_ms / 1000

    @property
    def long_deadline_s(self) -> float:
        """For the services' administrative calls, which may run for minutes on a big program."""
        return self.config.long_deadline_ms / 1000

    async def channel(self, service: str) -> grpc.aio.Channel:
        channel = self._channels.get(service)
        if channel is not None:
            return channel
        address = self.address(service)
        channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        try:
            await asyncio.wait_for(
                channel.channel_ready(), timeout=self.config.connect_timeout_ms / 1000
            )
        except TimeoutError:
            await channel.close()
            raise errors.unavailable(
                service, address, f"no answer within {self.config.connect_timeout_ms} ms"
            ) from None
        self._channels[service] = channel
        return channel

    async def identity(self) -> identity_pb2_grpc.IdentityServiceStub:
        return identity_pb2_grpc.IdentityServiceStub(await self.channel("identity"))

    async def ledger(self) -> ledger_pb2_grpc.LedgerServiceStub:
        return ledger_pb2_grpc.LedgerServiceStub(await self.channel("ledger"))

    async def campaign(self) -> campaign_pb2_grpc.CampaignServiceStub:
        return campaign_pb2_grpc.CampaignServiceStub(await self.channel("campaign"))

    async def reconnect(self, service: str) -> None:
        """Drop the service's channel, so the next use connects afresh (after it restarted)."""
        channel = self._channels.pop(service, None)
        if channel is not None:
            await channel.close()

    @contextlib.contextmanager
    def calling(self, service: str) -> Iterator[None]:
        """gRPC errors inside become AdminErrors naming the service."""
        try:
            yield
        except grpc.aio.AioRpcError as error:
            raise errors.from_rpc(service, self.address(service), error) from None

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
