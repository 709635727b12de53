"""How the campaign process is put together: its config, streams, servicer and workers."""

import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc
from loyalty.identity.v1 import identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2_grpc
from services.campaign import events
from services.campaign import repository_purchases as store
from services.campaign.activities import Activities
from services.campaign.cap_history_backfill import CapHistoryBackfill
from services.campaign.cap_history_pruning import CapHistoryPruning
from services.campaign.consumers import ActivityHandler, MemberHandler, TierHandler
from services.campaign.consumers_insight import RedemptionHandler, SegmentFactsHandler
from services.campaign.consumers_notifications import ConsentHandler, NotificationHandler
from services.campaign.consumers_tiers import TierDefinitionsHandler, undefined_gauge
from services.campaign.email_delivery import EmailDelivery, SmtpSender, SmtpSettings
from services.campaign.errors import CampaignError
from services.campaign.identity_client import MemberDirectory
from services.campaign.ingest import Ingest, finish_stored
from services.campaign.insight_metrics import InsightMetrics
from services.campaign.ledger_client import LedgerClient
from services.campaign.metrics import CampaignMetrics
from services.campaign.notifier import Notifier
from services.campaign.recognition import Recognition
from services.campaign.rpc_base import Limits
from services.campaign.segment_refresh import SegmentRefresh
from services.campaign.servicer import CampaignServicer
from services.shared.clients import service_channel
from services.shared.config import require
from services.shared.forgotten_keys import ForgottenKeysConfig
from services.shared.jetstream import PullConsumer
from services.shared.periodic import IncompleteRun, periodic
from services.shared.server import Application, ProcessConfig, Runtime, ServiceSpec, Worker
from services.shared.validation import OCCURRED_AT_AHEAD_LIMIT_MS, OCCURRED_AT_AHEAD_MAX_MS

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class CampaignConfig(ForgottenKeysConfig, ProcessConfig):
    # FORGOTTEN_KEY_SECRET (ForgottenKeysConfig): the keyed hash campaign keeps an erased
    # member's idempotency keys under (its purchases', returns' and activities'), on identity's
    # member_erased; FORGOTTEN_KEY_PREVIOUS_SECRETS after a rotation.
    grpc_address: str = "127.0.0.1:50053"
    metrics_port: int = 9103
    # A RecordPurchase or RecordActivity holds its connection while the ledger posts.
    pool_size_max: int = 40
    ledger_address: str = "127.0.0.1:50052"
    identity_address: str = "127.0.0.1:50051"
    # Transactions per IngestTransactions batch; larger batches are refused (RESOURCE_EXHAUSTED).
    batch_size_max: int = 10_000
    # Ingest batches accrued ahead of the ledger's answers on one stream.
    batches_in_flight_max: int = 4
    # Items per ledger PostBatch batch (the ledger's documented limit is 10000).
    ledger_batch_items_max: int = 10_000
    # How often the birthday and top-of-the-month jobs look for work.
    recognition_interval_ms: int = 60_000
    recognition_enabled: bool = True
    # Ingest batches accrued but not posted for this long are finished by the recovery worker.
    recovery_after_ms: int = 60_000
    consumers_enabled: bool = True
    # How often the segment refresh job re-evaluates members whose facts changed and recomputes
    # segments whose refresh interval has passed.
    segments_interval_ms: int = 5_000
    segments_enabled: bool = True
    # Notification intents: the consumers of ledger facts and consents, and the monthly job.
    notifications_enabled: bool = True
    # The monthly summary job (tests run it by hand with a chosen as-of instant).
    monthly_summary_enabled: bool = True
    # How often the monthly summary job and the e-mail sweeper look for work.
    notification_interval_ms: int = 60_000
    # E-mail delivery of notification intents runs only with an SMTP host.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "loyalty@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_ms: int = 10_000
    # Member-cap history (cap_history) of periods older than this is deleted; a purchase arriving
    # later than this is capped as if its periods had used nothing. 0 keeps it for ever.
    cap_history_retention_days: int = 400
    cap_history_pruning_interval_ms: int = 3_600_000
    # Attempts of one e-mail before it is given up (the sweeper retries with a growing delay).
    email_attempts_max: int = 5
    # How far a purchase's, return's or activity's occurred_at may be after this server's time
    # (a till's clock running fast); later ones are refused: INVALID_ARGUMENT on occurred_at, or
    # the ingest item rejected as occurred_at_in_future. Keep the ledger's
    # LEDGER_OCCURRED_AT_AHEAD_MAX_MS at least as large, or it refuses what campaign accepted.
    occurred_at_ahead_max_ms: int = OCCURRED_AT_AHEAD_MAX_MS

    def validate(self, prefix: str) -> None:
        self.validate_forgotten_keys(prefix)
        require(
            1 <= self.batch_size_max <= 100_000,
            variable=f"{prefix}_BATCH_SIZE_MAX",
            message="must be 1 to 100000",
        )
        require(
            1 <= self.batches_in_flight_max <= 64,
            variable=f"{prefix}_BATCHES_IN_FLIGHT_MAX",
            message="must be 1 to 64",
        )
        require(
            1 <= self.smtp_port <= 65_535,
            variable=f"{prefix}_SMTP_PORT",
            message="must be 1 to 65535",
        )
        require(
            1 <= self.email_attempts_max <= 100,
            variable=f"{prefix}_EMAIL_ATTEMPTS_MAX",
            message="must be 1 to 100",
        )
        require(
            self.notification_interval_ms >= 100,
            variable=f"{prefix}_NOTIFICATION_INTERVAL_MS",
            message="must be at least 100",
        )
        require(
            self.recognition_interval_ms >= 100,
            variable=f"{prefix}_RECOGNITION_INTERVAL_MS",
            message="must be at least 100",
        )
        require(
            0 <= self.cap_history_retention_days <= 36_500,
            variable=f"{prefix}_CAP_HISTORY_RETENTION_DAYS",
            message="must be 0 (keep for ever) to 36500",
        )
        require(
            self.cap_history_pruning_interval_ms >= 100,
            variable=f"{prefix}_CAP_HISTORY_PRUNING_INTERVAL_MS",
            message="must be at least 100",
        )
        require(
            self.segments_interval_ms >= 100,
            variable=f"{prefix}_SEGMENTS_INTERVAL_MS",
            message="must be at least 100",
        )
        require(
            0 <= self.occurred_at_ahead_max_ms <= OCCURRED_AT_AHEAD_LIMIT_MS,
            variable=f"{prefix}_OCCURRED_AT_AHEAD_MAX_MS",
            message=f"must be 0 to {OCCURRED_AT_AHEAD_LIMIT_MS}",
        )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def setup(runtime: Runtime) -> Application:
    config: CampaignConfig = runtime.config
    config.warn_if_local(logger, "CAMPAIGN", "erased members' idempotency keys")
    forgetting = config.forgetting()
    ledger = LedgerClient(ledger_pb2_grpc.LedgerServiceStub(service_channel(config.ledger_address)))
    limits = Limits(
        batch_size_max=config.batch_size_max,
        batches_in_flight_max=config.batches_in_flight_max,
        ledger_batch_items_max=config.ledger_batch_items_max,
        occurred_at_ahead_max_ms=config.occurred_at_ahead_max_ms,
    )
    metrics = CampaignMetrics.create(runtime.metrics.registry)
    identity = MemberDirectory(
        identity_pb2_grpc.IdentityServiceStub(service_channel(config.identity_address))
    )
    servicer = CampaignServicer(
        runtime.pool,
        runtime.outbox,
        ledger,
        limits=limits,
        metrics=metrics,
        identity=identity,
        forgetting=forgetting,
    )
    insight_metrics = InsightMetrics.create(runtime.metrics.registry)
    servicer.insight_metrics = insight_metrics
    activities = Activities(ledger, runtime.outbox, servicer.missions, servicer.enrolments)
    jobs = Jobs(runtime)
    recovery_after_s = config.recovery_after_ms / 1000
    workers: dict[str, Worker] = {
        "ingest_recovery": jobs.every(
            "ingest_recovery",
            max(recovery_after_s / 2, 1.0),
            functools.partial(_finish_unposted, servicer.ingest(), ledger, recovery_after_s),
        ),
    }
    if config.cap_history_retention_days:
        pruning = CapHistoryPruning(
            runtime.pool, config.cap_history_retention_days, metrics.cap_history_pruned_rows
        )
        workers["cap_history_pruning"] = jobs.every(
            "cap_history_pruning",
            config.cap_history_pruning_interval_ms / 1000,
            lambda: pruning.run_once(utc_now()),
        )
    # Once: the history of periods counters left before campaign migration 013.
    backfill = CapHistoryBackfill(runtime.pool, ledger, config.cap_history_retention_days)
    workers["cap_history_backfill"] = jobs.every(
        "cap_history_backfill",
        config.cap_history_pruning_interval_ms / 1000,
        lambda: backfill.run_once(utc_now()),
    )
    if config.consumers_enabled:
        workers["activities"] = PullConsumer(
            runtime.jetstream,
            events.ACTIVITY_CONSUMER,
            ActivityHandler(
                runtime.pool, ledger, activities, ahead_max_ms=config.occurred_at_ahead_max_ms
            ),
        ).run
        workers["members"] = PullConsumer(
            runtime.jetstream,
            events.MEMBER_CONSUMER,
            MemberHandler(runtime.pool, ledger, activities),
        ).run
        workers["tiers"] = PullConsumer(
            runtime.jetstream, events.TIER_CONSUMER, TierHandler(runtime.pool, ledger)
        ).run
        workers["tier_definitions"] = PullConsumer(
            runtime.jetstream,
            events.TIER_DEFINITIONS_CONSUMER,
            TierDefinitionsHandler(runtime.pool, undefined_gauge(runtime.metrics.registry)),
        ).run
    if config.consumers_enabled:
        for spec in events.SEGMENT_FACTS_CONSUMERS:
            workers[spec.durable] = PullConsumer(
                runtime.jetstream, spec, SegmentFactsHandler(runtime.pool, forgetting)
            ).run
        workers["redemptions"] = PullConsumer(
            runtime.jetstream, events.REDEMPTION_CONSUMER, RedemptionHandler(runtime.pool)
        ).run
    if config.segments_enabled:
        refresh = SegmentRefresh(runtime.pool, ledger, insight_metrics)
        workers["segments"] = jobs.every(
            "segment_refresh",
            config.segments_interval_ms / 1000,
            lambda: refresh.run_once(utc_now()),
        )
    if config.notifications_enabled:
        workers.update(_notification_workers(runtime, jobs, ledger, metrics, identity))
    if config.recognition_enabled:
        recognition = Recognition(runtime.pool, ledger)
        workers["recognition"] = jobs.every(
            "recognition",
            config.recognition_interval_ms / 1000,
            lambda: recognition.run_once(utc_now()),
        )
    return Application(
        register=lambda server: campaign_pb2_grpc.add_CampaignServiceServicer_to_server(
            servicer, server
        ),
        workers=workers,
    )


def _notification_workers(
    runtime: Runtime,
    jobs: "Jobs",
    ledger: LedgerClient,
    metrics: CampaignMetrics,
    identity: MemberDirectory,
) -> dict[str, Worker]:
    config: CampaignConfig = runtime.config
    interval_s = config.notification_interval_ms / 1000
    notifier = Notifier(runtime.pool, ledger, runtime.outbox, metrics)
    workers: dict[str, Worker] = {
        "notifications": PullConsumer(
            runtime.jetstream, events.NOTIFICATION_CONSUMER, NotificationHandler(notifier)
        ).run,
        "consents": PullConsumer(
            runtime.jetstream, events.CONSENT_CONSUMER, ConsentHandler(runtime.pool)
        ).run,
    }
    # Intents held by quiet hours go out when they end (after the cap is checked again).
    workers["notification_release"] = jobs.every(
        "notification_release", interval_s, lambda: notifier.release_held(utc_now())
    )
    if config.monthly_summary_enabled:
        workers["monthly_summary"] = jobs.every(
            "monthly_summary", interval_s, lambda: notifier.monthly_summaries(utc_now())
        )
    if config.smtp_host is None:
        logger.info("no CAMPAIGN_SMTP_HOST: notification e-mails are not delivered")
        return workers
    delivery = EmailDelivery(
        runtime.pool,
        identity,
        SmtpSender(
            SmtpSettings(
                host=config.smtp_host,
                port=config.smtp_port,
                sender=config.smtp_sender,
                username=config.smtp_username,
                password=config.smtp_password,
                starttls=config.smtp_starttls,
                timeout_s=config.smtp_timeout_ms / 1000,
            )
        ),
        metrics,
        attempts_max=config.email_attempts_max,
        clock=utc_now,
    )
    workers["email"] = PullConsumer(runtime.jetstream, events.EMAIL_CONSUMER, delivery).run
    workers["email_sweeper"] = jobs.every("email_sweeper", interval_s, delivery.sweep)
    return workers


@dataclass(frozen=True)
class Jobs:
    """Campaign's periodic jobs, each run counted ok or failed."""

    runtime: Runtime

    def every(
        self, job: str, interval_s: float, run_once: Callable[[], Awaitable[object]]
    ) -> Worker:
        return periodic(
            "campaign",
            job,
            self.runtime.metrics,
            interval_s,
            run_once,
            failures=(CampaignError, asyncpg.PostgresError, OSError),
        )


async def _finish_unposted(ingest: Ingest, ledger: LedgerClient, after_s: float) -> None:
    """Finish ingest batches a crashed or broken stream left accrued but not posted."""
    problems = []
    for program_id, batch_id in await store.unposted_batches(ingest.pool, after_s, 100):
        try:
            program = await ledger.program(program_id)
            if await finish_stored(ingest, program, batch_id):
                logger.info("finished ingest batch %s of %s", batch_id, program_id)
        except CampaignError as error:
            logger.warning("could not finish batch %s: %s", batch_id, error.details())
            problems.append(f"batch {batch_id} of {program_id}: {error.details()}")
    if problems:
        raise IncompleteRun(problems)


SPEC = ServiceSpec(
    name="campaign",
    descriptors=(campaign_pb2.DESCRIPTOR.services_by_name["CampaignService"],),
    migrations=Path(__file__).parent / "migrations",
    streams=events.STREAMS,
    setup=setup,
)
