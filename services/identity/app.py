"""How the identity process is put together: its config, streams and servicer."""

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2_grpc
from services.identity.consumers import TIER_DEFINITIONS_CONSUMER, TierDefinitionsHandler
from services.identity.events import STREAMS
from services.identity.housekeeping import Housekeeping
from services.identity.rpc_base import Settings
from services.identity.servicer import IdentityServicer
from services.shared.clients import service_channel
from services.shared.config import require
from services.shared.forgotten_keys import ForgottenKeysConfig
from services.shared.jetstream import PullConsumer
from services.shared.server import Application, ProcessConfig, Runtime, ServiceSpec

logger = logging.getLogger(__name__)

QR_TOKEN_OFFLINE_AGE_MAX_DEFAULT_MS = 72 * 3_600_000


@dataclass(frozen=True, kw_only=True)
class IdentityConfig(ForgottenKeysConfig, ProcessConfig):
    # FORGOTTEN_KEY_SECRET (ForgottenKeysConfig): the keyed hash an erasure keeps the member's
    # idempotency keys and the blocks of its lost or stolen cards under, so the database alone
    # does not give a short key (`enrol:<e-mail>`) or a card number away; a changed secret also
    # frees every card blocked for an erased member unless the old one is in
    # FORGOTTEN_KEY_PREVIOUS_SECRETS.
    grpc_address: str = "127.0.0.1:50051"
    metrics_port: int = 9101
    # The ledger, for the points transfer of a merge and the history of a GDPR export.
    ledger_address: str = "127.0.0.1:50052"
    # How far the clocks of tills and gateways may be off when a token's times are checked.
    token_clock_skew_ms: int = 5_000
    # How long after a till scanned an app QR token (verifying it offline) the transaction may
    # be posted with it: identity checks the token at the transaction's occurred_at, at most
    # this long ago. Beyond it the token is refused: a token seen on a screen or a receipt is
    # not good for backdated transactions for ever.
    qr_token_offline_age_max_ms: int = QR_TOKEN_OFFLINE_AGE_MAX_DEFAULT_MS

    def validate(self, prefix: str) -> None:
        require(
            0 <= self.token_clock_skew_ms <= TOKEN_CLOCK_SKEW_MAX_MS,
            variable=f"{prefix}_TOKEN_CLOCK_SKEW_MS",
            message=f"must be between 0 and {TOKEN_CLOCK_SKEW_MAX_MS}",
        )
        require(
            0 <= self.qr_token_offline_age_max_ms <= QR_TOKEN_OFFLINE_AGE_MAX_MS,
            variable=f"{prefix}_QR_TOKEN_OFFLINE_AGE_MAX_MS",
            message=f"must be between 0 and {QR_TOKEN_OFFLINE_AGE_MAX_MS} (30 days)",
        )
        self.validate_forgotten_keys(prefix)


TOKEN_CLOCK_SKEW_MAX_MS = 300_000
QR_TOKEN_OFFLINE_AGE_MAX_MS = 30 * 86_400_000


async def setup(runtime: Runtime) -> Application:
    config: IdentityConfig = runtime.config
    config.warn_if_local(logger, "IDENTITY", "erased members' idempotency keys and blocked cards")
    ledger_channel = service_channel(config.ledger_address)
    servicer = IdentityServicer(
        runtime.pool,
        runtime.outbox,
        ledger=ledger_pb2_grpc.LedgerServiceStub(ledger_channel),
        settings=Settings(
            token_clock_skew_s=config.token_clock_skew_ms / 1000,
            qr_token_offline_age_max_s=config.qr_token_offline_age_max_ms / 1000,
            forgetting=config.forgetting(),
        ),
    )

    async def close_ledger_channel(stop: asyncio.Event) -> None:
        await stop.wait()
        await ledger_channel.close()

    return Application(
        register=lambda server: identity_pb2_grpc.add_IdentityServiceServicer_to_server(
            servicer, server
        ),
        workers={
            "housekeeping": Housekeeping(servicer, runtime.metrics).run,
            "ledger_channel": close_ledger_channel,
            "tier_definitions": PullConsumer(
                runtime.jetstream,
                TIER_DEFINITIONS_CONSUMER,
                TierDefinitionsHandler(runtime.pool, runtime.outbox),
            ).run,
        },
    )


SPEC = ServiceSpec(
    name="identity",
    descriptors=(identity_pb2.DESCRIPTOR.services_by_name["IdentityService"],),
    migrations=Path(__file__).parent / "migrations",
    streams=STREAMS,
    setup=setup,
)
