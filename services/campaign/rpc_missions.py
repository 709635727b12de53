"""CampaignService's missions and badges: create, archive, list, members' progress and badges."""

import uuid

import grpc

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from services.campaign import repository_missions as store
from services.campaign import targeting
from services.campaign.errors import MissionArchived, MissionExists, MissionNotFound
from services.campaign.mission_tracker import offered
from services.campaign.missions import (
    ACTIVE,
    ARCHIVED,
    DRAFT,
    check_mission,
    progress_message,
    survivor_progress,
)
from services.campaign.rpc_base import RpcBase, check_member_id, now
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.idempotency import once
from services.shared.paging import cursor_instant, decode_page_token, encode_page_token

MISSIONS_PER_MEMBER_VIEW_MAX = 200


class MissionRpcs(RpcBase):
    async def CreateMission(
        self, request: campaign_pb2.CreateMissionRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.CreateMissionResponse:
        validation.program_id(request.program_id)
        if not request.HasField("mission"):
            raise InvalidArgument("mission", "is required")
        program = await self.ledger.program(request.program_id)
        check_mission(request.mission, program_id=request.program_id, currency=program.currency)
        await targeting.check_segments_exist(
            self.pool, request.program_id, request.mission.segment_ids, field="mission.segment_ids"
        )

        async with self.pool.acquire() as connection, connection.transaction():

            async def create() -> campaign_pb2.CreateMissionResponse:
                mission = engagement_pb2.Mission()
                mission.CopyFrom(request.mission)
                mission.program_id = request.program_id
                mission.mission_id = mission.mission_id or uuid.uuid4().hex
                mission.status = mission.status or ACTIVE
                if not await store.insert_mission(connection, request.program_id, mission):
                    raise MissionExists(mission.mission_id)
                return campaign_pb2.CreateMissionResponse(mission=mission)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="CreateMission",
                request=request,
                response_type=campaign_pb2.CreateMissionResponse,
                work=create,
            )

    async def ActivateMission(
        self, request: campaign_pb2.ActivateMissionRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ActivateMissionResponse:
        validation.program_id(request.program_id)
        validation.text(request.mission_id, "mission_id", length_max=63)

        async with self.pool.acquire() as connection, connection.transaction():

            async def activate() -> campaign_pb2.ActivateMissionResponse:
                # Facts recorded after this commits count toward the mission.
                mission = await store.fetch_mission(
                    connection, request.program_id, request.mission_id, for_update=True
                )
                if mission is None:
                    raise MissionNotFound(request.mission_id)
                if mission.status == ARCHIVED:
                    raise MissionArchived(request.mission_id)
                await store.activate_mission(connection, request.program_id, request.mission_id)
                mission.status = ACTIVE
                return campaign_pb2.ActivateMissionResponse(mission=mission)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="ActivateMission",
                request=request,
                response_type=campaign_pb2.ActivateMissionResponse,
                work=activate,
            )

    async def ArchiveMission(
        self, request: campaign_pb2.ArchiveMissionRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ArchiveMissionResponse:
        validation.program_id(request.program_id)
        validation.text(request.mission_id, "mission_id", length_max=63)

        async with self.pool.acquire() as connection, connection.transaction():

            async def archive() -> campaign_pb2.ArchiveMissionResponse:
                # Facts recorded after this commits no longer count toward the mission.
                mission = await store.fetch_mission(
                    connection, request.program_id, request.mission_id, for_update=True
                )
                if mission is None:
                    raise MissionNotFound(request.mission_id)
                await store.archive_mission(connection, request.program_id, request.mission_id)
                mission.status = ARCHIVED
                return campaign_pb2.ArchiveMissionResponse(mission=mission)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="ArchiveMission",
                request=request,
                response_type=campaign_pb2.ArchiveMissionResponse,
                work=archive,
            )

    async def ListMissions(
        self, request: campaign_pb2.ListMissionsRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ListMissionsResponse:
        validation.program_id(request.program_id)
        if request.status not in engagement_pb2.MissionStatus.values():
            raise InvalidArgument("status", "is not a known mission status")
        statuses = [request.status] if request.status else [DRAFT, ACTIVE]
        size = validation.page_size(request.page_size)
        cursor = decode_page_token(request.page_token, keys=("after",), types={"after": str})
        missions = await store.list_missions(
            self.pool,
            request.program_id,
            statuses=statuses,
            after=cursor["after"] if cursor else "",
            limit=size + 1,
        )
        response = campaign_pb2.ListMissionsResponse(missions=missions[:size])
        if len(missions) > size:
            response.next_page_token = encode_page_token({"after": missions[size - 1].mission_id})
        return response

    async def GetMissionProgress(
        self, request: campaign_pb2.GetMissionProgressRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.GetMissionProgressResponse:
        validation.program_id(request.program_id)
        member = check_member_id(request.member_id)
        if request.mission_id:
            mission = await store.fetch_mission(self.pool, request.program_id, request.mission_id)
            if mission is None or mission.status == DRAFT:
                # A draft is offered to no member yet: answered as a mission that does not exist.
                raise MissionNotFound(request.mission_id)
            missions = [mission]
        else:
            active = await store.active_missions(self.pool, request.program_id)
            missions = (await offered(self.pool, request.program_id, member, active))[
                :MISSIONS_PER_MEMBER_VIEW_MAX
            ]
        stored = await store.fetch_member_progress(
            self.pool, request.program_id, member, [m.mission_id for m in missions]
        )
        moment = now()
        return campaign_pb2.GetMissionProgressResponse(
            progresses=[
                progress_message(
                    m, member, survivor_progress(*stored.get(m.mission_id, (None, []))), moment
                )
                for m in missions
            ]
        )

    async def ListMemberBadges(
        self, request: campaign_pb2.ListMemberBadgesRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ListMemberBadgesResponse:
        validation.program_id(request.program_id)
        member = check_member_id(request.member_id)
        size = validation.page_size(request.page_size)
        cursor = decode_page_token(
            request.page_token, keys=("micros", "code"), types={"micros": int, "code": str}
        )
        after = None if cursor is None else (cursor_instant(cursor["micros"]), cursor["code"])
        rows = await store.list_badges(
            self.pool, request.program_id, member, after=after, limit=size + 1
        )
        response = campaign_pb2.ListMemberBadgesResponse()
        for row in rows[:size]:
            badge = response.badges.add(
                badge_code=row["badge_code"],
                name=row["name"],
                mission_id=row["mission_id"],
                milestone_code=row["milestone_code"],
            )
            badge.awarded_at.FromDatetime(row["awarded_at"])
        if len(rows) > size:
            last = rows[size - 1]
            micros = response.badges[-1].awarded_at.ToMicroseconds()
            response.next_page_token = encode_page_token(
                {"micros": micros, "code": last["badge_code"]}
            )
        return response
