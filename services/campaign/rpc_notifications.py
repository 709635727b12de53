"""CampaignService's notification policy and the audit of notification intents."""

import datetime as dt
import json
import uuid

import grpc

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from loyalty.common.v1 import common_pb2
from services.campaign import repository_notifications as store
from services.campaign.errors import NotificationPolicyNotConfigured
from services.campaign.notifications import MONTHLY_SUMMARY, check_policy
from services.campaign.rpc_base import RpcBase, check_member_id
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.idempotency import once
from services.shared.paging import cursor_instant, decode_page_token, encode_page_token

# The cursor of ListNotificationIntents: the last intent's creation, member and id (a UUID).
INTENT_KEYS = ("micros", "member", "intent")
INTENT_TYPES = {"micros": int, "member": str, "intent": str}


def _stored_policy(definition: bytes, updated_at: dt.datetime) -> engagement_pb2.NotificationPolicy:
    policy = engagement_pb2.NotificationPolicy.FromString(definition)
    policy.update_time.FromDatetime(updated_at)
    return policy


class NotificationRpcs(RpcBase):
    async def ConfigureNotificationPolicy(
        self,
        request: campaign_pb2.ConfigureNotificationPolicyRequest,
        context: grpc.aio.ServicerContext,
    ) -> campaign_pb2.ConfigureNotificationPolicyResponse:
        validation.program_id(request.program_id)
        if not request.HasField("policy"):
            raise InvalidArgument("policy", "is required")
        check_policy(request.policy)
        definition = engagement_pb2.NotificationPolicy()
        definition.CopyFrom(request.policy)
        definition.ClearField("update_time")
        serialized = definition.SerializeToString(deterministic=True)

        async with self.pool.acquire() as connection, connection.transaction():

            async def configure() -> campaign_pb2.ConfigureNotificationPolicyResponse:
                previous = engagement_pb2.NotificationPolicy.FromString(
                    await store.fetch_policy_for_update(connection, request.program_id) or b""
                )
                # Monthly summaries switched off or on: the job records afresh when it first sees
                # them on, so neither the month before nor months they were off are summarised.
                # Forgotten on switching on too, as a run that read the policy before a
                # switch-off may claim after it (as top of the month, servicer.py).
                if not (
                    MONTHLY_SUMMARY in previous.enabled_kinds
                    and MONTHLY_SUMMARY in definition.enabled_kinds
                ):
                    await store.forget_monthly_summary_start(connection, request.program_id)
                updated = await store.upsert_policy(connection, request.program_id, serialized)
                return campaign_pb2.ConfigureNotificationPolicyResponse(
                    policy=_stored_policy(serialized, updated)
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="ConfigureNotificationPolicy",
                request=request,
                response_type=campaign_pb2.ConfigureNotificationPolicyResponse,
                work=configure,
            )

    async def GetNotificationPolicy(
        self, request: campaign_pb2.GetNotificationPolicyRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.GetNotificationPolicyResponse:
        validation.program_id(request.program_id)
        stored = await store.fetch_policy(self.pool, request.program_id)
        if stored is None:
            raise NotificationPolicyNotConfigured(request.program_id)
        return campaign_pb2.GetNotificationPolicyResponse(policy=_stored_policy(*stored))

    async def ListNotificationIntents(
        self,
        request: campaign_pb2.ListNotificationIntentsRequest,
        context: grpc.aio.ServicerContext,
    ) -> campaign_pb2.ListNotificationIntentsResponse:
        validation.program_id(request.program_id)
        if request.member_id:
            check_member_id(request.member_id)
        if request.kind not in common_pb2.NotificationKind.values():
            raise InvalidArgument("kind", "is not a known notification kind")
        if request.status not in engagement_pb2.NotificationStatus.values():
            raise InvalidArgument("status", "is not a known notification status")
        start = (
            request.start_time.ToDatetime(tzinfo=dt.UTC) if request.HasField("start_time") else None
        )
        end = request.end_time.ToDatetime(tzinfo=dt.UTC) if request.HasField("end_time") else None
        if start is not None and end is not None and end <= start:
            raise InvalidArgument("end_time", "must be after start_time")
        size = validation.page_size(request.page_size)
        rows = await store.list_intents(
            self.pool,
            request.program_id,
            member_id=request.member_id,
            kind=request.kind,
            status=request.status,
            start=start,
            end=end,
            after=_cursor(request.page_token),
            limit=size + 1,
        )
        response = campaign_pb2.ListNotificationIntentsResponse()
        for row in rows[:size]:
            record = response.intents.add(
                intent_id=str(row["intent_id"]),
                member_id=row["member_id"],
                kind=row["kind"],
                channel=row["channel"],
                template_data=json.loads(row["template_data"]),
                status=row["status"],
            )
            record.create_time.FromDatetime(row["created_at"])
            if row["publish_at"] is not None:
                record.publish_time.FromDatetime(row["publish_at"])
        if len(rows) > size:
            last = rows[size - 1]
            response.next_page_token = encode_page_token(
                {
                    "micros": response.intents[-1].create_time.ToMicroseconds(),
                    "member": last["member_id"],
                    "intent": str(last["intent_id"]),
                }
            )
        return response


def _cursor(token: str) -> tuple[dt.datetime, str, uuid.UUID] | None:
    cursor = decode_page_token(token, keys=INTENT_KEYS, types=INTENT_TYPES)
    if cursor is None:
        return None
    try:
        intent = uuid.UUID(cursor["intent"])
    except ValueError:
        raise InvalidArgument("page_token", "is not a token this service issued") from None
    return cursor_instant(cursor["micros"]), cursor["member"], intent
