"""A merge survivor sees the badges and mission completions of the members merged into it, on
the gateway and on campaign's gRPC alike: a member who merges their plastic card into their app
account keeps on screen what the card earned. A mission the merged member completed is done for
the survivor too: completing it again after the merge pays it no second time (once per person,
whichever of its identifiers earned it). Merged through identity's MergeMembers, which campaign
reads from identity's stream."""

import asyncio
import time
from collections.abc import Callable

import grpc
import httpx

from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_missions import _check_in, _create_mission

BASE = f"/v1/programs/{PROGRAM}"
REWARD_POINTS = 50


def _until(condition: Callable[[], object], what: str) -> None:
    """Until `condition` holds: bounded only so a broken consumer fails instead of hanging."""
    for _ in range(1_200):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(what)


def _merge(platform: GatewayPlatform, *, merged: str, survivor: str) -> None:
    async def merge() -> None:
        async with grpc.aio.insecure_channel(platform.identity_address) as channel:
            await identity_pb2_grpc.IdentityServiceStub(channel).MergeMembers(
                identity_pb2.MergeMembersRequest(
                    program_id=PROGRAM,
                    idempotency_key=unique("merge"),
                    survivor_member_id=survivor,
                    merged_member_id=merged,
                    operator_id="test",
                )
            )

    asyncio.run(merge())


def _over_grpc(
    platform: GatewayPlatform, member_id: str, mission_id: str
) -> tuple[engagement_pb2.MissionProgress, list[engagement_pb2.MemberBadge]]:
    async def read() -> tuple[engagement_pb2.MissionProgress, list[engagement_pb2.MemberBadge]]:
        async with grpc.aio.insecure_channel(platform.campaign_address) as channel:
            stub = campaign_pb2_grpc.CampaignServiceStub(channel)
            progress = await stub.GetMissionProgress(
                campaign_pb2.GetMissionProgressRequest(
                    program_id=PROGRAM, member_id=member_id, mission_id=mission_id
                )
            )
            badges = await stub.ListMemberBadges(
                campaign_pb2.ListMemberBadgesRequest(program_id=PROGRAM, member_id=member_id)
            )
        return progress.progresses[0], list(badges.badges)

    return asyncio.run(read())


def _points(admin: httpx.Client, member_id: str) -> int:
    """Available and pending (earned points vest after the return window) alike."""
    response = admin.get(f"{BASE}/members/{member_id}/balance")
    assert response.status_code == 200, response.text
    return int(response.json()["available_points"]) + int(response.json()["pending_points"])


def _mission(admin: httpx.Client, member_id: str, mission_id: str) -> dict[str, object]:
    response = admin.get(f"{BASE}/members/{member_id}/missions")
    assert response.status_code == 200, response.text
    [progress] = [m for m in response.json()["missions"] if m["mission_id"] == mission_id]
    return dict(progress)


def _badges(admin: httpx.Client, member_id: str) -> list[dict[str, object]]:
    response = admin.get(f"{BASE}/members/{member_id}/badges")
    assert response.status_code == 200, response.text
    return list(response.json()["badges"])


def test_a_survivor_sees_the_merged_members_badge_and_is_not_paid_twice(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    mission_id, badge = unique("card-regular"), unique("card-badge")
    asyncio.run(
        _create_mission(
            platform,
            engagement_pb2.Mission(
                mission_id=mission_id,
                name="Regular",
                reward_points=REWARD_POINTS,
                badge_code=badge,
                badge_name="Regular",
                steps=[
                    engagement_pb2.MissionStep(
                        step_code="visit",
                        activity_kind=common_pb2.ACTIVITY_KIND_STORE_CHECK_IN,
                        count=2,
                    )
                ],
            ),
        )
    )
    card, app, control = platform.enrol(), platform.enrol(), platform.enrol()
    with platform.client(key="pos") as pos:
        for member in (card, control):
            _check_in(pos, member)
            _check_in(pos, member)
    _until(lambda: _mission(admin, card, mission_id)["state"] == "completed", "card never done")
    [held] = _badges(admin, card)
    earned = _points(admin, card)
    assert earned >= REWARD_POINTS
    assert _mission(admin, app, mission_id)["state"] == "not_started"
    assert _badges(admin, app) == []

    _merge(platform, merged=card, survivor=app)
    _until(lambda: _badges(admin, app) == [held], "the survivor never showed the card's badge")
    done = _mission(admin, app, mission_id)
    assert done["state"] == "completed"
    assert done["completed_at"] == _mission(admin, card, mission_id)["completed_at"]
    assert done["steps"][0]["done_count"] == 2  # type: ignore[index]
    progress, badges = _over_grpc(platform, app, mission_id)
    assert progress.member_id == app
    assert progress.state == engagement_pb2.MISSION_PROGRESS_STATE_COMPLETED
    assert [(b.badge_code, b.mission_id) for b in badges] == [(badge, mission_id)]

    # The survivor checks in twice more, as the control member did: the control member was paid
    # the mission, the survivor (whose card completed it) only what check-ins earn.
    _until(lambda: _points(admin, app) == earned, "the card's points never moved to the survivor")
    before, control_before = _points(admin, app), _points(admin, control)
    with platform.client(key="pos") as pos:
        for member in (app, control):
            _check_in(pos, member)
            _check_in(pos, member)
    # A check-in is counted (and its mission paid) before the gateway answers it.
    check_ins = _points(admin, control) - control_before
    assert _points(admin, app) == before + check_ins
    assert _badges(admin, app) == [held]
    assert _mission(admin, app, mission_id)["completed_at"] == done["completed_at"]
