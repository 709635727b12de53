"""Ledger and campaign (and identity when asked) in the test's event loop, on its database."""

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc

from loyalty.campaign.v1 import (
    campaign_pb2,
    campaign_pb2_grpc,
    engagement_pb2,
    experiments_pb2,
    rules_pb2,
)
from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from services.campaign.app import SPEC as CAMPAIGN
from services.campaign.app import CampaignConfig
from services.campaign.assignment import BUCKETS
from services.campaign.ledger_client import LedgerClient
from services.campaign.metrics import CampaignMetrics
from services.campaign.notifier import Notifier
from services.campaign.recognition import Recognition
from services.ledger.app import SPEC as LEDGER
from services.ledger.app import LedgerConfig
from services.shared.server import RunningService
from tests.services.ledger.support import Ledger

PROGRAM = "acme"
ZONE = "Europe/Amsterdam"
_keys = itertools.count(1)


def key() -> str:
    return f"c{next(_keys)}"


def micros(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def ts(moment: dt.datetime):  # type: ignore[no-untyped-def]
    from google.protobuf.timestamp_pb2 import Timestamp

    value = Timestamp()
    value.FromDatetime(moment)
    return value


def eur(amount_minor: int) -> common_pb2.Money:
    return common_pb2.Money(amount_minor=amount_minor, currency="EUR")


def earning(
    rule_id: str, *, priority: int = 10, name: str = "", stacking: int = 0, **fields
) -> rules_pb2.Rule:  # type: ignore[no-untyped-def]
    return rules_pb2.Rule(
        rule_id=rule_id,
        name=name or rule_id,
        priority=priority,
        stacking_mode=stacking,
        earning=rules_pb2.EarningRule(**fields),
    )


def engagement(rule_id: str, *, priority: int = 10, **fields) -> rules_pb2.Rule:  # type: ignore[no-untyped-def]
    return rules_pb2.Rule(
        rule_id=rule_id,
        name=rule_id,
        priority=priority,
        engagement=rules_pb2.EngagementRule(**fields),
    )


def rate(points: int = 1, per_amount_minor: int = 100) -> rules_pb2.EarnRate:
    return rules_pb2.EarnRate(points=points, per_amount_minor=per_amount_minor)


def two_arms(
    treatment: str, *, control_bps: int = 5_000, **treatment_fields
) -> list[experiments_pb2.ExperimentArm]:  # type: ignore[no-untyped-def]
    """A control arm of `control_bps` buckets and one treatment arm of the rest, with its
    rule_ids=[...] / reward_ids=[...]."""
    return [
        experiments_pb2.ExperimentArm(arm_code="control", allocation_bps=control_bps, control=True),
        experiments_pb2.ExperimentArm(
            arm_code=treatment, allocation_bps=BUCKETS - control_bps, **treatment_fields
        ),
    ]


@dataclass
class Campaign:
    stub: campaign_pb2_grpc.CampaignServiceStub
    service: RunningService
    ledger_address: str
    program_id: str = PROGRAM

    def ledger_client(self) -> LedgerClient:
        return LedgerClient(
            ledger_pb2_grpc.LedgerServiceStub(grpc.aio.insecure_channel(self.ledger_address))
        )

    async def ingest_stage_one(self, request: campaign_pb2.IngestTransactionsRequest):  # type: ignore[no-untyped-def]
        """Accrue and store a batch without posting it (what a crash in between leaves)."""
        from services.campaign.ingest import Ingest
        from services.campaign.rpc_base import Limits, RpcBase
        from services.shared.outbox import Outbox

        pool = self.service.runtime.pool
        outbox: Outbox = self.service.runtime.outbox
        base = RpcBase(pool, outbox, self.ledger_client())
        ingest = Ingest(pool, base.ledger, outbox, Limits(), base.earning_rules)
        return await ingest.accrue(request)

    def recognition(self) -> Recognition:
        """The scheduled recognition jobs, to run by hand at chosen instants."""
        return Recognition(
            self.service.runtime.pool,
            self.ledger_client(),
        )

    async def configure_recognition(self, config: engagement_pb2.RecognitionConfig) -> None:
        await self.stub.ConfigureRecognition(
            campaign_pb2.ConfigureRecognitionRequest(
                program_id=self.program_id, idempotency_key=key(), config=config
            )
        )

    async def configure_holdout(  # type: ignore[no-untyped-def]
        self, holdout_bps: int, *, idempotency_key: str = "", **fields
    ) -> campaign_pb2.ConfigureHoldoutResponse:
        """The program-wide holdout of `holdout_bps` buckets (start_time=..., ...)."""
        return await self.stub.ConfigureHoldout(
            campaign_pb2.ConfigureHoldoutRequest(
                program_id=self.program_id,
                idempotency_key=idempotency_key or key(),
                config=experiments_pb2.HoldoutConfig(holdout_bps=holdout_bps, **fields),
            )
        )

    async def create_experiment(
        self, experiment: experiments_pb2.Experiment, *, idempotency_key: str = ""
    ) -> experiments_pb2.Experiment:
        response = await self.stub.CreateExperiment(
            campaign_pb2.CreateExperimentRequest(
                program_id=self.program_id,
                idempotency_key=idempotency_key or key(),
                experiment=experiment,
            )
        )
        return response.experiment

    async def notification_policy(self, **fields) -> engagement_pb2.NotificationPolicy:  # type: ignore[no-untyped-def]
        """Configure the program's notification policy (enabled_kinds=[...], ...)."""
        response = await self.stub.ConfigureNotificationPolicy(
            campaign_pb2.ConfigureNotificationPolicyRequest(
                program_id=self.program_id,
                idempotency_key=key(),
                policy=engagement_pb2.NotificationPolicy(**fields),
            )
        )
        return response.policy

    async def notification_intents(
        self, member: str = "", **filters
    ) -> list[engagement_pb2.NotificationIntentRecord]:  # type: ignore[no-untyped-def]
        """The program's notification intents (of `member` when named), one page of 500."""
        response = await self.stub.ListNotificationIntents(
            campaign_pb2.ListNotificationIntentsRequest(
                program_id=self.program_id, member_id=member, page_size=500, **filters
            )
        )
        return list(response.intents)

    def notifier(self) -> Notifier:
        """The notifier's scheduled jobs (monthly summaries, ...), to run by hand at chosen
        instants."""
        runtime = self.service.runtime
        return Notifier(
            runtime.pool, self.ledger_client(), runtime.outbox, CampaignMetrics.create()
        )

    async def live(self, rule: rules_pb2.Rule) -> rules_pb2.Rule:
        created = await self.stub.CreateRule(
            campaign_pb2.CreateRuleRequest(
                program_id=self.program_id, idempotency_key=key(), rule=rule
            )
        )
        activated = await self.stub.ActivateRule(
            campaign_pb2.ActivateRuleRequest(
                program_id=self.program_id,
                idempotency_key=key(),
                rule_id=created.rule.rule_id,
                version=created.rule.version,
            )
        )
        return activated.rule

    async def purchase(
        self, member: str, transaction_id: str, amount_minor: int, *, at: dt.datetime, **fields
    ) -> campaign_pb2.RecordPurchaseResponse:
        return await self.stub.RecordPurchase(
            campaign_pb2.RecordPurchaseRequest(
                program_id=self.program_id,
                idempotency_key=fields.pop("idempotency_key", transaction_id),
                member_id=member,
                transaction_id=transaction_id,
                amount=eur(amount_minor),
                channel=fields.pop("channel", common_pb2.CHANNEL_POS),
                occurred_at=ts(at),
                **fields,
            )
        )

    async def record_return(  # type: ignore[no-untyped-def]
        self,
        member: str,
        return_id: str,
        original_transaction_id: str,
        *,
        at: dt.datetime,
        idempotency_key: str = "",
        **fields,
    ) -> campaign_pb2.RecordReturnResponse:
        """A return at the till (refunded_amount=..., lines=...), as purchase() records a
        purchase."""
        return await self.stub.RecordReturn(
            campaign_pb2.RecordReturnRequest(
                program_id=self.program_id,
                idempotency_key=idempotency_key or key(),
                member_id=member,
                return_id=return_id,
                original_transaction_id=original_transaction_id,
                channel=fields.pop("channel", common_pb2.CHANNEL_POS),
                occurred_at=ts(at),
                **fields,
            )
        )

    async def ingest(
        self, *requests: campaign_pb2.IngestTransactionsRequest
    ) -> list[campaign_pb2.IngestTransactionsResponse]:
        async def stream() -> AsyncIterator[campaign_pb2.IngestTransactionsRequest]:
            for request in requests:
                yield request

        return [response async for response in self.stub.IngestTransactions(stream())]


def batch(batch_id: str, rows: list[tuple], **columns) -> campaign_pb2.IngestTransactionsRequest:  # type: ignore[type-arg]
    """rows: (transaction_id, member, amount_minor, occurred_at, category)."""
    return campaign_pb2.IngestTransactionsRequest(
        program_id=PROGRAM,
        batch_id=batch_id,
        currency="EUR",
        transaction_ids=[r[0] for r in rows],
        member_ids=[r[1] for r in rows],
        amounts_minor=[r[2] for r in rows],
        occurred_at_unix_micros=[micros(r[3]) for r in rows],
        categories=[r[4] if len(r) > 4 else "" for r in rows],
        channels=columns.pop("channels", [common_pb2.CHANNEL_POS] * len(rows)),
        **columns,
    )


@asynccontextmanager
async def ledger_and_campaign(
    start_service, **campaign_overrides
) -> AsyncIterator[tuple[Ledger, Campaign]]:  # type: ignore[no-untyped-def]
    async with start_service(LEDGER, LedgerConfig, jobs_enabled=False) as (
        ledger_service,
        ledger_channel,
    ):
        ledger = Ledger(ledger_channel, PROGRAM)
        await ledger.setup(return_window_days=0)
        overrides = {"recognition_enabled": False, **campaign_overrides}
        async with start_service(
            CAMPAIGN, CampaignConfig, ledger_address=f"127.0.0.1:{ledger_service.port}", **overrides
        ) as (service, channel):
            yield (
                ledger,
                Campaign(
                    campaign_pb2_grpc.CampaignServiceStub(channel),
                    service,
                    f"127.0.0.1:{ledger_service.port}",
                ),
            )


async def history(ledger: Ledger, member: str) -> list[ledger_pb2.Posting]:
    page = await ledger.stub.ListHistory(
        ledger_pb2.ListHistoryRequest(program_id=PROGRAM, member_id=member, page_size=500)
    )
    return list(page.postings)


async def available(ledger: Ledger, member: str) -> int:
    try:
        return (await ledger.balance(member)).available_points
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return 0
        raise


async def ledger_postings(database_url: str, member: str) -> list[tuple[int, int, str, str]]:
    """(kind, points, source reference, reason) of the member's postings, oldest first, read from
    the ledger's tables: ListHistory cannot decode the reason codes PostBatch stores yet (a ledger
    bug: it parses them as PostingReason messages)."""
    import asyncpg

    connection = await asyncpg.connect(database_url, server_settings={"search_path": "ledger"})
    try:
        rows = await connection.fetch(
            "SELECT kind, amount, source_reference, reason FROM postings WHERE program_id = $1 "
            "AND member_id = $2 ORDER BY posting_id",
            PROGRAM,
            member,
        )
    finally:
        await connection.close()
    return [
        (r["kind"], r["amount"], r["source_reference"], _reason(bytes(r["reason"]))) for r in rows
    ]


def _reason(raw: bytes) -> str:
    """A PostBatch item's reason codes as sent, or a unary posting's PostingReason."""
    try:
        text = raw.decode()
        if text.isprintable():
            return text
    except UnicodeDecodeError:
        pass
    parsed = ledger_pb2.PostingReason.FromString(raw)
    return ",".join(parsed.rule_ids) or parsed.code
