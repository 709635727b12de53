"""CampaignService: proto ⇄ domain translation around transactions."""

import asyncpg
import grpc

from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, engagement_pb2
from services.campaign import domain, repository
from services.campaign.errors import RecognitionNotConfigured
from services.shared import validation
from services.shared.idempotency import once
from services.shared.timestamps import from_epoch_seconds


def _stored_recognition(definition: bytes, updated_at_s: float) -> engagement_pb2.RecognitionConfig:
    config = engagement_pb2.RecognitionConfig.FromString(definition)
    config.update_time.CopyFrom(from_epoch_seconds(updated_at_s))
    return config


class CampaignServicer(campaign_pb2_grpc.CampaignServiceServicer):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

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
