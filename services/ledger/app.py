"""How the ledger process is put together: its config, streams and servicer."""

from dataclasses import dataclass
from pathlib import Path

from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from services.ledger.consumers import (
    MEMBER_ENROLLED_CONSUMER,
    MEMBER_MERGED_CONSUMER,
    MemberEnrolledHandler,
    MemberMergedHandler,
)
from services.ledger.events import STREAMS
from services.ledger.jobs import Jobs
from services.ledger.ledger import Ledger
from services.ledger.servicer import LedgerServicer, utc_now
from services.shared.config import require
from services.shared.jetstream import PullConsumer
from services.shared.server import Application, ProcessConfig, Runtime, ServiceSpec
from services.shared.validation import OCCURRED_AT_AHEAD_LIMIT_MS, OCCURRED_AT_AHEAD_MAX_MS


@dataclass(frozen=True, kw_only=True)
class LedgerConfig(ProcessConfig):
    grpc_address: str = "127.0.0.1:50052"
    metrics_port: int = 9102
    # Every posting is a short transaction; concurrent callers each need a connection.
    pool_size_max: int = 40
    # Items per PostBatch batch; larger batches are refused with RESOURCE_EXHAUSTED.
    batch_size_max: int = 100_000
    # How often scheduled jobs (vesting, expiry, hold timeouts, tiers, notices) look for work.
    jobs_interval_ms: int = 5_000
    jobs_enabled: bool = True
    # How far an Earn's or a PostBatch item's occurred_at may be after this server's time (a
    # till's clock running fast); later ones are refused (INVALID_ARGUMENT on occurred_at, or
    # the item rejected with REJECT_REASON_OCCURRED_AT_IN_FUTURE), as their lots would stay
    # pending, qualify and expire by a time that has not come. At least campaign's
    # CAMPAIGN_OCCURRED_AT_AHEAD_MAX_MS, which checks purchases and activities first.
    occurred_at_ahead_max_ms: int = OCCURRED_AT_AHEAD_MAX_MS

    def validate(self, prefix: str) -> None:
        require(
            0 <= self.occurred_at_ahead_max_ms <= OCCURRED_AT_AHEAD_LIMIT_MS,
            variable=f"{prefix}_OCCURRED_AT_AHEAD_MAX_MS",
            message=f"must be 0 to {OCCURRED_AT_AHEAD_LIMIT_MS}",
        )


async def setup(runtime: Runtime) -> Application:
    config: LedgerConfig = runtime.config
    jobs = Jobs(
        runtime.pool,
        Ledger(runtime.outbox),
        runtime.outbox,
        runtime.metrics,
        clock=utc_now,
        interval_s=config.jobs_interval_ms / 1000,
    )
    servicer = LedgerServicer(
        runtime.pool,
        runtime.outbox,
        jobs,
        batch_size_max=config.batch_size_max,
        occurred_at_ahead_max_ms=config.occurred_at_ahead_max_ms,
    )
    return Application(
        register=lambda server: ledger_pb2_grpc.add_LedgerServiceServicer_to_server(
            servicer, server
        ),
        workers={
            "member_enrolled": PullConsumer(
                runtime.jetstream,
                MEMBER_ENROLLED_CONSUMER,
                MemberEnrolledHandler(runtime.pool, runtime.outbox),
            ).run,
            "member_merged": PullConsumer(
                runtime.jetstream,
                MEMBER_MERGED_CONSUMER,
                MemberMergedHandler(runtime.pool, jobs.ledger),
            ).run,
            **({"jobs": jobs.run_forever} if config.jobs_enabled else {}),
        },
    )


LEDGER_SERVICE = ledger_pb2.DESCRIPTOR.services_by_name["LedgerService"]
# The operator's calls whose work grows with the program, not with the request: they get
# LEDGER_ADMIN_DEADLINE_MS (and their statements may run as long), every other unary call
# LEDGER_DEADLINE_MS. SetTierDefinitions moves every account of a removed tier (about 30 s per
# million); EvaluateTiers (without member ids) and RunMaintenance's tier re-qualification
# evaluate every account, Verify recomputes every account from its history, and
# GetLiabilityReport sums every account and lot. Exports (ListAccounts, ListPostings) are pages
# of at most 5,000 rows and keep the normal deadline.
ADMIN_METHODS = frozenset(
    f"/{LEDGER_SERVICE.full_name}/{name}"
    for name in (
        "SetTierDefinitions",
        "EvaluateTiers",
        "RunMaintenance",
        "Verify",
        "GetLiabilityReport",
    )
)

SPEC = ServiceSpec(
    name="ledger",
    descriptors=(LEDGER_SERVICE,),
    migrations=Path(__file__).parent / "migrations",
    streams=STREAMS,
    setup=setup,
    admin_methods=ADMIN_METHODS,
)
