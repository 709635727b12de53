"""RecordActivity, VerifyActivity and ListActivities (activities also arrive on JetStream)."""

import grpc

from loyalty.campaign.v1 import campaign_pb2
from loyalty.common.v1 import common_pb2
from services.campaign import repository_engagement as store
from services.campaign.activities import STATE_PENDING, Activities, check_activity
from services.campaign.errors import ActivityNotFound, ActivityNotPending
from services.campaign.rpc_base import RpcBase, check_member_id, check_reference
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.idempotency import once
from services.shared.paging import cursor_instant, decode_page_token, encode_page_token
from services.shared.timestamps import timestamp

ACTIVITIES_PAGE_SIZE_MAX = 500
# The cursor of ListActivities: the last activity's recording, member and id.
ACTIVITY_KEYS = ("micros", "member_id", "activity_id")
ACTIVITY_TYPES = {"micros": int, "member_id": str, "activity_id": str}


class EngagementRpcs(RpcBase):
    def activities(self) -> Activities:
        return Activities(self.ledger, self.outbox, self.missions, self.enrolments)

    async def RecordActivity(
        self, request: campaign_pb2.RecordActivityRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.RecordActivityResponse:
        validation.program_id(request.program_id)
        check_activity(request.activity, ahead_max_ms=self.limits.occurred_at_ahead_max_ms)
        program = await self.ledger.program(request.program_id)
        given = await self.activities().stamped(self.pool, request.program_id, request.activity)

        async with self.pool.acquire() as connection, connection.transaction():

            async def record() -> campaign_pb2.RecordActivityResponse:
                activity, duplicate = await self.activities().record(connection, program, given)
                return campaign_pb2.RecordActivityResponse(activity=activity, duplicate=duplicate)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="RecordActivity",
                request=request,
                response_type=campaign_pb2.RecordActivityResponse,
                work=record,
                forgetting=self.forgetting,
            )

    async def VerifyActivity(
        self, request: campaign_pb2.VerifyActivityRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.VerifyActivityResponse:
        validation.program_id(request.program_id)
        check_reference(request.activity_id, "activity_id")
        if request.decision not in (
            campaign_pb2.VERIFICATION_DECISION_APPROVE,
            campaign_pb2.VERIFICATION_DECISION_REJECT,
        ):
            raise InvalidArgument("decision", "APPROVE or REJECT")
        validation.text(request.verifier_id, "verifier_id", length_max=128)
        validation.text(request.note, "note", required=False)
        program = await self.ledger.program(request.program_id)

        async with self.pool.acquire() as connection, connection.transaction():

            async def verify() -> campaign_pb2.VerifyActivityResponse:
                activity = await store.find_activity(
                    connection, program.program_id, request.activity_id, lock=True
                )
                if activity is None:
                    raise ActivityNotFound(request.activity_id)
                if (
                    activity.verification_state != STATE_PENDING
                    or activity.kind == common_pb2.ACTIVITY_KIND_REFERRAL
                ):
                    raise ActivityNotPending(request.activity_id)
                verified = await self.activities().verify(
                    connection,
                    program,
                    activity,
                    approve=request.decision == campaign_pb2.VERIFICATION_DECISION_APPROVE,
                    verifier_id=request.verifier_id,
                    note=request.note,
                )
                return campaign_pb2.VerifyActivityResponse(activity=verified)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="VerifyActivity",
                request=request,
                response_type=campaign_pb2.VerifyActivityResponse,
                work=verify,
            )

    async def ListActivities(
        self, request: campaign_pb2.ListActivitiesRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ListActivitiesResponse:
        validation.program_id(request.program_id)
        if request.member_id:
            check_member_id(request.member_id)
        if request.verification_state not in common_pb2.VerificationState.values():
            raise InvalidArgument("verification_state", "is not a known state")
        if request.kind not in common_pb2.ActivityKind.values():
            raise InvalidArgument("kind", "is not a known activity kind")
        size = validation.page_size(request.page_size, maximum=ACTIVITIES_PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=ACTIVITY_KEYS, types=ACTIVITY_TYPES)
        before = None
        if cursor:
            before = (
                cursor_instant(cursor["micros"]),
                cursor["member_id"],
                cursor["activity_id"],
            )
        found = await store.list_activities(
            self.pool,
            request.program_id,
            member_id=request.member_id,
            verification_state=request.verification_state,
            kind=request.kind,
            before=before,
            limit=size + 1,
        )
        page = found[:size]
        token = ""
        if len(found) > size:
            last, recorded_at = page[-1]
            recorded = timestamp(recorded_at)
            assert recorded is not None
            token = encode_page_token(
                {
                    "micros": recorded.ToMicroseconds(),
                    "member_id": last.member_id,
                    "activity_id": last.activity_id,
                }
            )
        return campaign_pb2.ListActivitiesResponse(
            activities=[activity for activity, _ in page], next_page_token=token
        )
