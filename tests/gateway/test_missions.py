"""A member's missions and badges: the missions offered to it with its progress on each step, and
the badges completed missions awarded, read by the member (`me`) or a key with members:read."""

import asyncio
import datetime as dt

import grpc
import httpx

from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, engagement_pb2
from loyalty.common.v1 import common_pb2
from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error

BASE = f"/v1/programs/{PROGRAM}"


async def _create_mission(platform: GatewayPlatform, mission: engagement_pb2.Mission) -> None:
    async with grpc.aio.insecure_channel(platform.campaign_address) as channel:
        await campaign_pb2_grpc.CampaignServiceStub(channel).CreateMission(
            campaign_pb2.CreateMissionRequest(
                program_id=PROGRAM, idempotency_key=unique("mission"), mission=mission
            )
        )


def _check_in(pos: httpx.Client, member_id: str) -> None:
    response = pos.post(
        f"{BASE}/activities",
        headers={"Idempotency-Key": unique("k")},
        json={
            "member_id": member_id,
            "activity_id": unique("check-in"),
            "kind": "store_check_in",
            "channel": "store",
            "store_id": "ams-01",
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        },
    )
    assert response.status_code == 201, response.text


def _progress(client: httpx.Client, mission_id: str) -> dict[str, object]:
    response = client.get(f"{BASE}/members/me/missions")
    assert response.status_code == 200, response.text
    [progress] = [m for m in response.json()["missions"] if m["mission_id"] == mission_id]
    return dict(progress)


def test_a_member_follows_its_mission_and_gets_the_badge(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    mission_id, badge = unique("regular"), unique("regular-badge")
    asyncio.run(
        _create_mission(
            platform,
            engagement_pb2.Mission(
                mission_id=mission_id,
                name="Regular",
                description="Check in at a store twice.",
                reward_points=50,
                badge_code=badge,
                badge_name="Regular",
                steps=[
                    engagement_pb2.MissionStep(
                        step_code="visit",
                        description="Check in at a store",
                        activity_kind=common_pb2.ACTIVITY_KIND_STORE_CHECK_IN,
                        count=2,
                    )
                ],
            ),
        )
    )
    member_id, other = platform.enrol(), platform.enrol()
    with platform.client(token=platform.member_token(member_id)) as client:
        fresh = _progress(client, mission_id)
        assert (fresh["name"], fresh["description"]) == ("Regular", "Check in at a store twice.")
        assert (fresh["reward_points"], fresh["badge_code"]) == (50, badge)
        assert fresh["state"] == "not_started"
        assert fresh["steps"] == [
            {
                "step_code": "visit",
                "description": "Check in at a store",
                "done_count": 0,
                "required_count": 2,
                "completed_at": None,
            }
        ]
        assert client.get(f"{BASE}/members/me/badges").json() == {
            "badges": [],
            "next_page_token": "",
        }

        with platform.client(key="pos") as pos:
            _check_in(pos, member_id)
            halfway = _progress(client, mission_id)
            assert halfway["state"] == "in_progress" and halfway["started_at"]
            assert halfway["steps"][0]["done_count"] == 1  # type: ignore[index]
            _check_in(pos, member_id)
        done = _progress(client, mission_id)
        assert done["state"] == "completed" and done["completed_at"]
        [awarded] = client.get(f"{BASE}/members/me/badges").json()["badges"]
        assert (awarded["badge_code"], awarded["name"]) == (badge, "Regular")
        assert awarded["mission_id"] == mission_id and awarded["awarded_at"]
        # Another member's missions and badges are not found, as an unknown member's.
        for path in ("missions", "badges"):
            response = client.get(f"{BASE}/members/{other}/{path}")
            assert_error(response, 404, "MEMBER_NOT_FOUND")

    assert admin.get(f"{BASE}/members/{member_id}/badges").json()["badges"] == [awarded]
    missions = admin.get(f"{BASE}/members/{member_id}/missions").json()["missions"]
    assert done in missions
    with platform.client(key="pos") as pos:
        assert_error(pos.get(f"{BASE}/members/{member_id}/missions"), 403, "SCOPE_MISSING")
    bad = admin.get(f"{BASE}/members/{member_id}/badges", params={"page_token": "forged"})
    assert assert_error(bad, 400, "INVALID_ARGUMENT")["field"] == "page_token"
