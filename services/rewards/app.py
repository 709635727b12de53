"""How the rewards process is put together: its config, streams, servicer and workers."""

import datetime
import functools
from dataclasses import dataclass
from pathlib import Path

from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from services.rewards.events import MEMBERS_CONSUMER, STREAMS, TIER_CHANGED_CONSUMER
from services.rewards.perk_members import MembersHandler
from services.rewards.perks import TierChangedHandler, purge_processed_events
from services.rewards.redemptions import Redemptions
from services.rewards.remote import CampaignTargeting, LedgerClient
from services.rewards.servicer import RewardsServicer
from services.rewards.tier_codes import (
    TIER_DEFINITIONS_CONSUMER,
    TierDefinitionsHandler,
    undefined_gauge,
)
from services.shared.clients import service_channel
from services.shared.config import require
from services.shared.jetstream import PullConsumer
from services.shared.server import Application, ProcessConfig, Runtime, ServiceSpec

PARTNER_CODE_VALIDITY_LEFT_MIN_MS_MAX = 365 * 86_400_000


@dataclass(frozen=True, kw_only=True)
class RewardsConfig(ProcessConfig):
    grpc_address: str = "127.0.0.1:50054"
    metrics_port: int = 9104
    ledger_address: str = "127.0.0.1:50052"
    campaign_address: str = "127.0.0.1:50053"
    # The longest one call to the ledger or campaign may take.
    dependency_deadline_ms: int = 3_000
    # How long a redemption's driver owns it; past this, recovery takes an unfinished one over.
    redemption_lease_ms: int = 30_000
    # How often the recovery worker looks for abandoned redemptions.
    recovery_interval_ms: int = 5_000
    # How long a redemption keeps asking the ledger for its hold while the ledger does not answer
    # (restart, failover) before it fails. Kept within the lease (less two dependency deadlines),
    # so recovery never takes over a redemption that is only waiting.
    hold_retry_ms: int = 10_000
    # The least validity a partner code must have left when it is handed out: one nearer its
    # expiry is passed over for the next in the pool (and refused at import), since a code that
    # expires within minutes or hours of the redemption is of no use to the member.
    partner_code_validity_left_min_ms: int = 86_400_000
    # Test-only: sleep between the ledger hold and the stock reservation (0 = off), so a test
    # can kill the process deterministically mid-redemption.
    pause_after_hold_ms: int = 0
    # Test-only: sleep between issuing the codes and committing the hold (0 = off).
    pause_before_commit_ms: int = 0

    def validate(self, prefix: str) -> None:
        require(
            100 <= self.dependency_deadline_ms <= 60_000,
            variable=f"{prefix}_DEPENDENCY_DEADLINE_MS",
            message="must be between 100 and 60000",
        )
        require(
            self.redemption_lease_ms >= 2 * self.dependency_deadline_ms,
            variable=f"{prefix}_REDEMPTION_LEASE_MS",
            message="must be at least twice the dependency deadline",
        )
        require(
            100 <= self.recovery_interval_ms <= 3_600_000,
            variable=f"{prefix}_RECOVERY_INTERVAL_MS",
            message="must be between 100 and 3600000",
        )
        require(
            0 <= self.hold_retry_ms <= 600_000,
            variable=f"{prefix}_HOLD_RETRY_MS",
            message="must be between 0 and 600000",
        )
        require(
            0 <= self.partner_code_validity_left_min_ms <= PARTNER_CODE_VALIDITY_LEFT_MIN_MS_MAX,
            variable=f"{prefix}_PARTNER_CODE_VALIDITY_LEFT_MIN_MS",
            message=f"must be between 0 and {PARTNER_CODE_VALIDITY_LEFT_MIN_MS_MAX} (365 days)",
        )
        for name in ("pause_after_hold_ms", "pause_before_commit_ms"):
            require(
                0 <= getattr(self, name) <= 600_000,
                variable=f"{prefix}_{name.upper()}",
                message="must be between 0 and 600000",
            )


async def setup(runtime: Runtime) -> Application:
    config: RewardsConfig = runtime.config
    deadline_s = config.dependency_deadline_ms / 1000
    validity_left_min = datetime.timedelta(milliseconds=config.partner_code_validity_left_min_ms)
    ledger = LedgerClient(service_channel(config.ledger_address), deadline_s=deadline_s)
    targeting = CampaignTargeting(service_channel(config.campaign_address), deadline_s=deadline_s)
    redemptions = Redemptions(
        runtime.pool,
        runtime.outbox,
        ledger,
        runtime.metrics,
        targeting=targeting,
        partner_code_validity_left_min=validity_left_min,
        lease_s=config.redemption_lease_ms / 1000,
        recovery_interval_s=config.recovery_interval_ms / 1000,
        pause_after_hold_s=config.pause_after_hold_ms / 1000,
        hold_retry_s=max(
            0.0,
            min(
                config.hold_retry_ms,
                config.redemption_lease_ms - 2 * config.dependency_deadline_ms,
            )
            / 1000,
        ),
        pause_before_commit_s=config.pause_before_commit_ms / 1000,
    )
    servicer = RewardsServicer(
        runtime.pool,
        runtime.outbox,
        ledger=ledger,
        targeting=targeting,
        redemptions=redemptions,
        partner_code_validity_left_min=validity_left_min,
    )
    return Application(
        register=lambda server: rewards_pb2_grpc.add_RewardsServiceServicer_to_server(
            servicer, server
        ),
        workers={
            "redemption_recovery": redemptions.recover_forever,
            "tier_changed": PullConsumer(
                runtime.jetstream,
                TIER_CHANGED_CONSUMER,
                TierChangedHandler(runtime.pool, runtime.outbox),
            ).run,
            "members": PullConsumer(
                runtime.jetstream,
                MEMBERS_CONSUMER,
                MembersHandler(runtime.pool, runtime.outbox),
            ).run,
            "tier_definitions": PullConsumer(
                runtime.jetstream,
                TIER_DEFINITIONS_CONSUMER,
                TierDefinitionsHandler(
                    runtime.pool, runtime.outbox, undefined_gauge(runtime.metrics.registry)
                ),
            ).run,
            "processed_events_purge": functools.partial(purge_processed_events, runtime.pool),
        },
    )


SPEC = ServiceSpec(
    name="rewards",
    descriptors=(rewards_pb2.DESCRIPTOR.services_by_name["RewardsService"],),
    migrations=Path(__file__).parent / "migrations",
    streams=STREAMS,
    setup=setup,
)
