"""How the campaign process is put together: its config, streams, servicer and workers."""

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2_grpc
from services.campaign import events
from services.campaign import repository_purchases as store
from services.campaign.activities import Activities
from services.campaign.consumers import ActivityHandler, MemberHandler, TierHandler
from services.campaign.errors import CampaignError
from services.campaign.ingest import Ingest, finish_stored
from services.campaign.ledger_client import LedgerClient
from services.campaign.recognition import Recognition
from services.campaign.rpc_base import Limits
from services.campaign.servicer import CampaignServicer
from services.shared.clients import service_channel
from services.shared.config import require
from services.shared.jetstream import PullConsumer
from services.shared.server import Application, ProcessConfig, Runtime, ServiceSpec, Worker

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class CampaignConfig(ProcessConfig):
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

    def validate(self, prefix: str) -> None:
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
            self.recognition_interval_ms >= 100,
            variable=f"{prefix}_RECOGNITION_INTERVAL_MS",
            message="must be at least 100",
        )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def setup(runtime: Runtime) -> Application:
    config: CampaignConfig = runtime.config
    ledger = LedgerClient(ledger_pb2_grpc.LedgerServiceStub(service_channel(config.ledger_address)))
    limits = Limits(
        batch_size_max=config.batch_size_max,
        batches_in_flight_max=config.batches_in_flight_max,
        ledger_batch_items_max=config.ledger_batch_items_max,
    )
    servicer = CampaignServicer(runtime.pool, runtime.outbox, ledger, limits=limits)
    activities = Activities(ledger, runtime.outbox)
    workers: dict[str, Worker] = {
        "ingest_recovery": _recovery(servicer.ingest(), ledger, config.recovery_after_ms / 1000),
    }
    if config.consumers_enabled:
        workers["activities"] = PullConsumer(
            runtime.jetstream,
            events.ACTIVITY_CONSUMER,
            ActivityHandler(runtime.pool, ledger, activities),
        ).run
        workers["members"] = PullConsumer(
            runtime.jetstream,
            events.MEMBER_CONSUMER,
            MemberHandler(runtime.pool, ledger, activities),
        ).run
        workers["tiers"] = PullConsumer(
            runtime.jetstream, events.TIER_CONSUMER, TierHandler(runtime.pool)
        ).run
    if config.recognition_enabled:
        recognition = Recognition(
            runtime.pool,
            ledger,
            clock=utc_now,
            interval_s=config.recognition_interval_ms / 1000,
        )
        workers["recognition"] = recognition.run_forever
    return Application(
        register=lambda server: campaign_pb2_grpc.add_CampaignServiceServicer_to_server(
            servicer, server
        ),
        workers=workers,
    )


def _recovery(ingest: Ingest, ledger: LedgerClient, after_s: float) -> Worker:
    """Finish ingest batches a crashed or broken stream left accrued but not posted."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            for program_id, batch_id in await store.unposted_batches(ingest.pool, after_s, 100):
                try:
                    program = await ledger.program(program_id)
                    if await finish_stored(ingest, program, batch_id):
                        logger.info("finished ingest batch %s of %s", batch_id, program_id)
                except CampaignError as error:
                    logger.warning("could not finish batch %s: %s", batch_id, error.details())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), max(after_s / 2, 1.0))

    return run


SPEC = ServiceSpec(
    name="campaign",
    descriptors=(campaign_pb2.DESCRIPTOR.services_by_name["CampaignService"],),
    migrations=Path(__file__).parent / "migrations",
    streams=events.STREAMS,
    setup=setup,
)
