"""CampaignService: proto ⇄ domain translation around transactions.

Recognition settings and ingestion are here; rules, purchases, engagement and backtests are in
rpc_*.py, one part each (missions and badges in rpc_missions.py, notifications in
rpc_notifications.py, segments, experiments and the holdout in rpc_segments.py,
rpc_experiments.py and rpc_holdout.py, retries answered before their member is found again in
rpc_recorded.py).
"""

from collections.abc import AsyncIterator

import grpc

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from services.campaign import domain, repository
from services.campaign import repository_purchases as purchase_store
from services.campaign.errors import RecognitionNotConfigured
from services.campaign.rpc_backtest import BacktestRpcs
from services.campaign.rpc_engagement import EngagementRpcs
from services.campaign.rpc_experiments import ExperimentRpcs
from services.campaign.rpc_holdout import HoldoutRpcs
from services.campaign.rpc_missions import MissionRpcs
from services.campaign.rpc_notifications import NotificationRpcs
from services.campaign.rpc_purchases import PurchaseRpcs
from services.campaign.rpc_recorded import RecordedAnswerRpcs
from services.campaign.rpc_rules import RuleRpcs
from services.campaign.rpc_segments import SegmentRpcs
from services.shared import validation
from services.shared.idempotency import once
from services.shared.timestamps import from_epoch_seconds


def _stored_recognition(definition: bytes, updated_at_s: float) -> engagement_pb2.RecognitionConfig:
    config = engagement_pb2.RecognitionConfig.FromString(definition)
    config.update_time.CopyFrom(from_epoch_seconds(updated_at_s))
    return config


class CampaignServicer(
    RuleRpcs,
    PurchaseRpcs,
    RecordedAnswerRpcs,
    EngagementRpcs,
    BacktestRpcs,
    MissionRpcs,
    NotificationRpcs,
    SegmentRpcs,
    ExperimentRpcs,
    HoldoutRpcs,
):
    """All of CampaignService's earning half: the parts it derives from, and the methods here."""

    async def IngestTransactions(
        self,
        request_iterator: AsyncIterator[campaign_pb2.IngestTransactionsRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[campaign_pb2.IngestTransactionsResponse]:
        async for response in self.ingest().run(request_iterator):
            yield response

    async def ConfigureRecognition(
        self, request: campaign_pb2.ConfigureRecognitionRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ConfigureRecognitionResponse:
        validation.program_id(request.program_id)
        domain.check_recognition(request.config)
        definition = engagement_pb2.RecognitionConfig()
        definition.CopyFrom(request.config)
        definition.ClearField("update_time")

        async with self.pool.acquire() as connection, connection.transaction():

            async def configure() -> campaign_pb2.ConfigureRecognitionResponse:
                # Purchase counts are kept while milestones are configured; when they come
                # (back), the counts are taken from the recorded purchases.
                await repository.lock_recognition(connection, request.program_id)
                stored = await repository.fetch_recognition(connection, request.program_id)
                previous = engagement_pb2.RecognitionConfig.FromString(
                    stored[0] if stored is not None else b""
                )
                if definition.milestones and not previous.milestones:
                    await purchase_store.recount_purchases(connection, request.program_id)
                # Top-N switched off or on: the job records afresh when it first sees it on,
                # so the months it was off are never paid. Forgotten on switching on too, as a
                # run that read the configuration before a switch-off may claim after it. Its
                # points, basis or count changed while on keep the record.
                if not (
                    previous.top_members_of_month.count and definition.top_members_of_month.count
                ):
                    await repository.forget_top_of_month_start(connection, request.program_id)
                serialized = definition.SerializeToString(deterministic=True)
                updated = await repository.upsert_recognition(
                    connection, request.program_id, serialized
                )
                return campaign_pb2.ConfigureRecognitionResponse(
                    config=_stored_recognition(serialized, updated)
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="ConfigureRecognition",
                request=request,
                response_type=campaign_pb2.ConfigureRecognitionResponse,
                work=configure,
            )

    async def GetRecognition(
        self, request: campaign_pb2.GetRecognitionRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.GetRecognitionResponse:
        validation.program_id(request.program_id)
        stored = await repository.fetch_recognition(self.pool, request.program_id)
        if stored is None:
            raise RecognitionNotConfigured(request.program_id)
        return campaign_pb2.GetRecognitionResponse(config=_stored_recognition(*stored))
