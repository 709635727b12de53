"""A member id no one enrolled and the ledger never saw is 404 MEMBER_NOT_FOUND on every member
route an API key reads, as its balance is; a member that exists (enrolled without any points
yet, merged, erased, or known to the ledger only) answers as before, empty where it has
nothing."""

import asyncio
import time
from collections.abc import Callable

import asyncpg
import grpc
import httpx

from loyalty.campaign.v1 import engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error
from tests.gateway.test_basket_preview import basket
from tests.gateway.test_missions import _create_mission

BASE = f"/v1/programs/{PROGRAM}"

# The routes whose services answer a member they do not know as one with nothing yet.
Route = Callable[[httpx.Client, str], httpx.Response]
ROUTES: dict[str, Route] = {
    "missions": lambda c, m: c.get(f"{BASE}/members/{m}/missions"),
    "badges": lambda c, m: c.get(f"{BASE}/members/{m}/badges"),
    "perks": lambda c, m: c.get(f"{BASE}/members/{m}/perks"),
    "rewards": lambda c, m: c.get(f"{BASE}/members/{m}/rewards"),
    "redemptions": lambda c, m: c.get(f"{BASE}/members/{m}/redemptions"),
    "basket-preview": lambda c, m: c.post(f"{BASE}/members/{m}/basket-preview", json=basket(1_000)),
}


def _without_request_id(response: httpx.Response) -> dict[str, str]:
    error = dict(response.json()["error"])
    del error["request_id"]
    return error


def test_an_unknown_member_is_404_as_its_balance_is(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    nobody = unique("nobody")
    balance = admin.get(f"{BASE}/members/{nobody}/balance")
    assert assert_error(balance, 404, "MEMBER_NOT_FOUND")["field"] == "member_id"
    for name, route in ROUTES.items():
        response = route(admin, nobody)
        assert response.status_code == 404, (name, response.text)
        assert _without_request_id(response) == _without_request_id(balance), name


def test_members_that_exist_keep_answering(platform: GatewayPlatform, admin: httpx.Client) -> None:
    # A live mission, so that the enrolled member's missions list is not empty whatever ran
    # before on this platform.
    mission_id = unique("visit")
    asyncio.run(
        _create_mission(
            platform,
            engagement_pb2.Mission(
                mission_id=mission_id,
                name="Visit",
                reward_points=5,
                steps=[
                    engagement_pb2.MissionStep(
                        step_code="visit",
                        description="Check in at a store",
                        activity_kind=common_pb2.ACTIVITY_KIND_STORE_CHECK_IN,
                        count=1,
                    )
                ],
            ),
        )
    )
    enrolled, merged, survivor, erased = (platform.enrol() for _ in range(4))
    ledger_only = unique("till-typed")
    platform.earn(ledger_only, 10)  # earned under UNKNOWN_MEMBER_POLICY_EARN, never enrolled

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
    erasure = admin.post(
        f"{BASE}/members/{erased}/erase",
        headers={"Idempotency-Key": unique("erase")},
        json={"operator_id": "support-1", "reason": "member asked"},
    )
    assert erasure.status_code == 200, erasure.text
    for member in (enrolled, merged, erased, ledger_only):
        for name, route in ROUTES.items():
            response = route(admin, member)
            assert response.status_code == 200, (member, name, response.text)
    missions = ROUTES["missions"](admin, enrolled).json()["missions"]
    assert mission_id in {m["mission_id"] for m in missions}
    assert {m["state"] for m in missions} == {"not_started"}
    assert ROUTES["badges"](admin, enrolled).json()["badges"] == []
    assert ROUTES["redemptions"](admin, enrolled).json()["redemptions"] == []


def test_an_enrolment_the_ledger_has_not_read_yet_is_a_member(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    """The ledger opens an account when it reads the enrolment from identity's stream; until
    then (or for good, if the program's ledger part came after the enrolment) identity's word
    is enough. Set up by taking the opened account away again, as it was before the ledger
    read the enrolment."""
    member = platform.enrol()
    _wait_for_account(admin, member)

    async def close_account() -> None:
        connection = await asyncpg.connect(platform.cluster.database_url)
        try:
            await connection.execute(
                "DELETE FROM ledger.member_accounts WHERE program_id = $1 AND member_id = $2",
                PROGRAM,
                member,
            )
        finally:
            await connection.close()

    asyncio.run(close_account())
    # The balance reads as the empty account the ledger will open (test_unopened_accounts).
    balance = admin.get(f"{BASE}/members/{member}/balance")
    assert balance.status_code == 200, balance.text
    assert (balance.json()["available_points"], balance.json()["tier_code"]) == (0, "green")
    for name, route in ROUTES.items():
        response = route(admin, member)
        assert response.status_code == 200, (name, response.text)


def _wait_for_account(admin: httpx.Client, member: str) -> None:
    """Until the ledger has opened the member's account from its enrolment: a condition waited
    for, bounded only so a broken consumer fails the test instead of hanging it."""
    for _ in range(1_200):
        if admin.get(f"{BASE}/members/{member}/balance").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"the ledger never opened an account for {member}")
