"""What a spend consumed: the lots of one posting, through the gateway from the ledger."""

import asyncio

import grpc

from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error

BASE = f"/v1/programs/{PROGRAM}"


def redeem(platform: GatewayPlatform, member_id: str, points: int) -> str:
    """A spend straight through the ledger (test set-up); returns its posting id."""

    async def call() -> str:
        async with grpc.aio.insecure_channel(platform.ledger_address) as channel:
            response = await ledger_pb2_grpc.LedgerServiceStub(channel).Redeem(
                ledger_pb2.RedeemRequest(
                    program_id=PROGRAM,
                    idempotency_key=unique("redeem"),
                    member_id=member_id,
                    points=points,
                    source_reference=unique("order"),
                )
            )
        return response.posting.posting_id

    return asyncio.run(call())


def test_a_member_sees_the_lots_a_spend_consumed(platform: GatewayPlatform) -> None:
    member_id = platform.enrol()
    platform.earn(member_id, 1_000)
    platform.earn(member_id, 700, expires_in_days=10)
    posting_id = redeem(platform, member_id, 900)
    path = f"{BASE}/members/me/postings/{posting_id}/allocations"
    with platform.client(token=platform.member_token(member_id)) as client:
        listed = client.get(f"{BASE}/members/me/lots", params={"include_exhausted": True})
        lots = {lot["original_points"]: lot["lot_id"] for lot in listed.json()["lots"]}
        response = client.get(path)
        assert response.status_code == 200, response.text
        body = response.json()
        # The lot expiring in 10 days is spent first, then the one of the program's policy.
        assert [(a["lot_id"], a["points"]) for a in body["allocations"]] == [
            (lots[700], 700),
            (lots[1_000], 200),
        ]
        soon, later = (a["lot_expires_at"] for a in body["allocations"])
        assert soon < later
        assert all(a["lot_source_reference"] for a in body["allocations"])
        assert body["next_page_token"] == ""
        first = client.get(path, params={"page_size": 1}).json()
        assert [a["points"] for a in first["allocations"]] == [700] and first["next_page_token"]
        rest = client.get(path, params={"page_token": first["next_page_token"]}).json()
        assert [a["points"] for a in rest["allocations"]] == [200]
        assert rest["next_page_token"] == ""
        # A member's own earn consumed nothing.
        history = client.get(f"{BASE}/members/me/history", params={"kinds": ["earn"]}).json()
        earn_id = history["postings"][0]["posting_id"]
        earned = client.get(f"{BASE}/members/me/postings/{earn_id}/allocations")
        assert earned.status_code == 200 and earned.json()["allocations"] == []
    with platform.client(key="admin") as admin:
        by_key = admin.get(f"{BASE}/members/{member_id}/postings/{posting_id}/allocations")
        assert by_key.status_code == 200 and by_key.json() == body


def test_another_members_or_an_unknown_posting_is_404(platform: GatewayPlatform) -> None:
    mine, theirs = platform.enrol(given_name="Mine"), platform.enrol(given_name="Theirs")
    platform.earn(theirs, 500)
    their_spend = redeem(platform, theirs, 100)
    with platform.client(token=platform.member_token(mine)) as client:
        # Their posting under my id is not found, as an unknown posting is.
        for posting_id in (their_spend, "999999999999"):
            response = client.get(f"{BASE}/members/me/postings/{posting_id}/allocations")
            error = assert_error(response, 404, "POSTING_NOT_FOUND")
            assert error["field"] == "posting_id"
        # Their id in the path is refused as for every other member route.
        response = client.get(f"{BASE}/members/{theirs}/postings/{their_spend}/allocations")
        assert_error(response, 404, "MEMBER_NOT_FOUND")
        response = client.get(f"{BASE}/members/me/postings/not-a-number/allocations")
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "posting_id"
    with platform.client(key="admin") as admin:
        response = admin.get(f"{BASE}/members/{mine}/postings/{their_spend}/allocations")
        assert_error(response, 404, "POSTING_NOT_FOUND")


def test_allocations_need_a_credential_that_reads_the_member(platform: GatewayPlatform) -> None:
    member_id = platform.enrol()
    platform.earn(member_id, 500)
    path = f"{BASE}/members/{member_id}/postings/{redeem(platform, member_id, 100)}/allocations"
    with platform.client() as anonymous:
        assert_error(anonymous.get(path), 401, "UNAUTHENTICATED")
    with platform.client(key="pos") as pos:
        assert_error(pos.get(path), 403, "SCOPE_MISSING")
    with platform.client(key="other-program") as other:
        assert_error(other.get(path), 403, "API_KEY_WRONG_PROGRAM")
    with platform.client(key="reader") as reader:
        assert reader.get(path).status_code == 200
