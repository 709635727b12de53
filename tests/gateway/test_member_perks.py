"""A member's tier perks: granted by rewards when the ledger announces the member's new tier, and
read by the member (`me`) or by a key with rewards:read."""

import asyncio
import time

import grpc
import httpx

from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error

BASE = f"/v1/programs/{PROGRAM}"
# The demo program's silver tier starts at 1,500 qualifying points.
SILVER_POINTS = 1_500
GRANT_WAIT_S = 30.0


async def _set_silver_perks(platform: GatewayPlatform, perks: list[rewards_pb2.TierPerk]) -> None:
    async with grpc.aio.insecure_channel(platform.rewards_address) as channel:
        await rewards_pb2_grpc.RewardsServiceStub(channel).SetTierPerks(
            rewards_pb2.SetTierPerksRequest(
                program_id=PROGRAM,
                idempotency_key=unique("perks"),
                tier_code="silver",
                perks=perks,
            )
        )


def _perks_when_granted(client: httpx.Client, path: str) -> list[dict[str, object]]:
    """The member's perks once the tier change has reached rewards (it travels by JetStream)."""
    deadline = time.monotonic() + GRANT_WAIT_S
    while True:
        response = client.get(path)
        assert response.status_code == 200, response.text
        perks: list[dict[str, object]] = response.json()["perks"]
        if perks or time.monotonic() > deadline:
            return perks
        time.sleep(0.2)


def test_a_member_reads_the_perks_its_tier_grants(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    drink = unique("birthday-drink")
    asyncio.run(
        _set_silver_perks(
            platform,
            [
                rewards_pb2.TierPerk(
                    perk_code=drink, name="Birthday drink", description="On the house."
                )
            ],
        )
    )
    member_id, other = platform.enrol(), platform.enrol()
    with platform.client(token=platform.member_token(member_id)) as client:
        assert client.get(f"{BASE}/members/me/perks").json() == {
            "perks": [],
            "next_page_token": "",
        }
        platform.earn(member_id, SILVER_POINTS)
        perks = _perks_when_granted(client, f"{BASE}/members/me/perks")
        assert len(perks) == 1, perks
        assert perks[0]["perk_code"] == drink and perks[0]["name"] == "Birthday drink"
        assert perks[0]["tier_code"] == "silver" and perks[0]["status"] == "granted"
        assert perks[0]["granted_at"] and perks[0]["withdrawn_at"] is None
        held = client.get(f"{BASE}/members/me/perks", params={"include_withdrawn": True})
        assert held.json()["perks"] == perks
        # Another member's perks are not found, as an unknown member's.
        assert_error(client.get(f"{BASE}/members/{other}/perks"), 404, "MEMBER_NOT_FOUND")

    assert admin.get(f"{BASE}/members/{member_id}/perks").json()["perks"] == perks
    with platform.client(key="reader") as reader:
        assert_error(reader.get(f"{BASE}/members/{member_id}/perks"), 403, "SCOPE_MISSING")
    bad = admin.get(f"{BASE}/members/{member_id}/perks", params={"page_size": 1_000})
    assert_error(bad, 400, "INVALID_ARGUMENT")
    assert bad.json()["error"]["field"] == "page_size"
