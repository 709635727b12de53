"""Segments: define, compute, export and check membership (rule-based member segments)."""

import uuid

import grpc

from loyalty.campaign.v1 import campaign_pb2, segments_pb2
from services.campaign import repository_segments as store
from services.campaign import repository_tiers, tier_codes
from services.campaign.insight_errors import SegmentExists, SegmentNotFound
from services.campaign.insight_metrics import InsightMetrics
from services.campaign.rpc_base import RpcBase, check_member_id, now
from services.campaign.segment_definitions import check_segment
from services.campaign.segment_refresh import evaluate
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.idempotency import once
from services.shared.paging import decode_page_token, encode_page_token
from services.shared.timestamps import timestamp

SEGMENTS_PAGE_SIZE_MAX = 200
MEMBERS_PAGE_SIZE_MAX = 10_000
CHECKED_SEGMENTS_MAX = 100


def _answer(stored: store.StoredSegment) -> segments_pb2.Segment:
    segment = segments_pb2.Segment()
    segment.CopyFrom(stored.segment)
    segment.member_count = stored.member_count
    if stored.computed_at is not None:
        segment.computed_at.FromDatetime(stored.computed_at)
    segment.create_time.FromDatetime(stored.created_at)
    segment.update_time.FromDatetime(stored.updated_at)
    return segment


class SegmentRpcs(RpcBase):
    # Set by the application (app.py); None where a servicer is built without metrics.
    insight_metrics: InsightMetrics | None = None

    async def _definition(
        self, program_id: str, given: segments_pb2.Segment
    ) -> segments_pb2.Segment:
        program = await self.ledger.program(program_id)
        segment = segments_pb2.Segment()
        segment.CopyFrom(given)
        segment.program_id = program_id
        check_segment(segment, currency=program.currency)
        return segment

    async def CreateSegment(
        self, request: campaign_pb2.CreateSegmentRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.CreateSegmentResponse:
        validation.program_id(request.program_id)
        segment = await self._definition(request.program_id, request.segment)

        async with self.pool.acquire() as connection, connection.transaction():

            async def create() -> campaign_pb2.CreateSegmentResponse:
                # Generated inside the idempotent work, so a retry answers the same id.
                segment.segment_id = segment.segment_id or f"seg-{uuid.uuid4().hex[:12]}"
                stored = await store.insert_segment(connection, segment)
                if stored is None:
                    raise SegmentExists(segment.segment_id)
                return campaign_pb2.CreateSegmentResponse(segment=_answer(stored))

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="CreateSegment",
                request=request,
                response_type=campaign_pb2.CreateSegmentResponse,
                work=create,
            )

    async def UpdateSegment(
        self, request: campaign_pb2.UpdateSegmentRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.UpdateSegmentResponse:
        validation.program_id(request.program_id)
        if not request.segment.segment_id:
            raise InvalidArgument("segment.segment_id", "is required")
        segment = await self._definition(request.program_id, request.segment)

        async with self.pool.acquire() as connection, connection.transaction():

            async def update() -> campaign_pb2.UpdateSegmentResponse:
                stored = await store.update_segment(connection, segment)
                if stored is None:
                    raise SegmentNotFound(segment.segment_id, "segment.segment_id")
                return campaign_pb2.UpdateSegmentResponse(segment=_answer(stored))

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="UpdateSegment",
                request=request,
                response_type=campaign_pb2.UpdateSegmentResponse,
                work=update,
            )

    async def GetSegment(
        self, request: campaign_pb2.GetSegmentRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.GetSegmentResponse:
        validation.program_id(request.program_id)
        validation.code(request.segment_id, "segment_id")
        stored = await store.fetch_segment(self.pool, request.program_id, request.segment_id)
        if stored is None:
            raise SegmentNotFound(request.segment_id)
        return campaign_pb2.GetSegmentResponse(segment=_answer(stored))

    async def ListSegments(
        self, request: campaign_pb2.ListSegmentsRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ListSegmentsResponse:
        validation.program_id(request.program_id)
        size = validation.page_size(request.page_size, maximum=SEGMENTS_PAGE_SIZE_MAX)
        cursor = decode_page_token(
            request.page_token, keys=("segment_id",), types={"segment_id": str}
        )
        after = cursor["segment_id"] if cursor else ""
        tiers = None
        if request.undefined_tier_codes_only:
            tiers = await repository_tiers.fetch_tiers(self.pool, request.program_id)
            if tiers is None:  # the ledger announced no tiers: nothing to compare with
                return campaign_pb2.ListSegmentsResponse()
        found: list[store.StoredSegment] = []
        # With the filter, read on until a page is full: the segments it keeps are few.
        while len(found) <= size:
            batch = await store.list_segments(self.pool, request.program_id, after, size + 1)
            found += [
                stored
                for stored in batch
                if tiers is None or tier_codes.segment_undefined_codes(stored.segment, tiers)
            ]
            if len(batch) <= size:
                break
            after = batch[-1].segment.segment_id
        page = found[:size]
        token = ""
        if len(found) > size:
            token = encode_page_token({"segment_id": page[-1].segment.segment_id})
        return campaign_pb2.ListSegmentsResponse(
            segments=[_answer(stored) for stored in page], next_page_token=token
        )

    async def ComputeSegment(
        self, request: campaign_pb2.ComputeSegmentRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ComputeSegmentResponse:
        validation.program_id(request.program_id)
        validation.code(request.segment_id, "segment_id")
        program = await self.ledger.program(request.program_id)

        async with self.pool.acquire() as connection, connection.transaction():

            async def compute() -> campaign_pb2.ComputeSegmentResponse:
                stored = await store.fetch_segment(
                    connection, request.program_id, request.segment_id, lock=True
                )
                if stored is None:
                    raise SegmentNotFound(request.segment_id)
                change = await evaluate(
                    connection,
                    stored.segment,
                    program=program,
                    now=now(),
                    metrics=self.insight_metrics,
                )
                return campaign_pb2.ComputeSegmentResponse(
                    member_count=change.member_count,
                    joined_count=change.joined,
                    left_count=change.left,
                    computed_at=timestamp(change.computed_at),
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="ComputeSegment",
                request=request,
                response_type=campaign_pb2.ComputeSegmentResponse,
                work=compute,
            )

    async def ListSegmentMembers(
        self, request: campaign_pb2.ListSegmentMembersRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ListSegmentMembersResponse:
        validation.program_id(request.program_id)
        validation.code(request.segment_id, "segment_id")
        size = validation.page_size(request.page_size, default=1_000, maximum=MEMBERS_PAGE_SIZE_MAX)
        cursor = decode_page_token(
            request.page_token,
            keys=("segment_id", "member_id"),
            types={"segment_id": str, "member_id": str},
        )
        if cursor is not None and cursor["segment_id"] != request.segment_id:
            raise InvalidArgument("page_token", "belongs to another segment")
        stored = await store.fetch_segment(self.pool, request.program_id, request.segment_id)
        if stored is None:
            raise SegmentNotFound(request.segment_id)
        members = await store.page_of_members(
            self.pool,
            request.program_id,
            request.segment_id,
            cursor["member_id"] if cursor else "",
            size + 1,
        )
        page = members[:size]
        token = ""
        if len(members) > size:
            token = encode_page_token({"segment_id": request.segment_id, "member_id": page[-1]})
        return campaign_pb2.ListSegmentMembersResponse(
            member_ids=page,
            next_page_token=token,
            computed_at=timestamp(stored.computed_at),
        )

    async def CheckSegmentMembership(
        self,
        request: campaign_pb2.CheckSegmentMembershipRequest,
        context: grpc.aio.ServicerContext,
    ) -> campaign_pb2.CheckSegmentMembershipResponse:
        """Segments that do not exist are answered as segments the member is not in."""
        validation.program_id(request.program_id)
        member = check_member_id(request.member_id)
        if len(request.segment_ids) > CHECKED_SEGMENTS_MAX:
            raise InvalidArgument("segment_ids", f"at most {CHECKED_SEGMENTS_MAX} segments")
        for index, segment_id in enumerate(request.segment_ids):
            validation.code(segment_id, f"segment_ids[{index}]")
        found = await store.member_segments(
            self.pool, request.program_id, member, list(request.segment_ids)
        )
        return campaign_pb2.CheckSegmentMembershipResponse(member_segment_ids=found)
