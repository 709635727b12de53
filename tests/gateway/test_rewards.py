"""Rewards for everyone and for one member, redemptions, and codes at the till."""

import asyncio
import time

import grpc
import httpx
from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error

BASE = f"/v1/programs/{PROGRAM}"


def test_catalog_and_what_a_member_can_afford(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    catalog = admin.get(f"{BASE}/rewards").json()
    assert {"free-coffee", "five-euro-voucher", "tote-bag"} <= {
        listing["reward"]["reward_id"] for listing in catalog["rewards"]
    }
    assert catalog["available_points"] is None
    assert admin.get(f"{BASE}/rewards/free-coffee").json()["points_price"] == 450
    assert_error(admin.get(f"{BASE}/rewards/{unique('none')}"), 404, "REWARD_NOT_FOUND")

    member_id = platform.enrol()
    platform.earn(member_id, 1_000)
    with platform.client(token=platform.member_token(member_id)) as client:
        listed = client.get(f"{BASE}/members/me/rewards").json()
        affordable = {item["reward"]["reward_id"]: item["affordable"] for item in listed["rewards"]}
        assert listed["available_points"] == 1_000
        assert affordable["free-coffee"] and affordable["five-euro-voucher"]
        assert not affordable["tote-bag"]
        only = client.get(f"{BASE}/members/me/rewards", params={"affordable_only": True}).json()
        assert "tote-bag" not in {item["reward"]["reward_id"] for item in only["rewards"]}


def test_redeem_then_use_the_code_at_the_till(platform: GatewayPlatform) -> None:
    member_id, other = platform.enrol(), platform.enrol()
    platform.earn(member_id, 1_000)
    with platform.client(token=platform.member_token(member_id)) as client:
        redeemed = client.post(
            f"{BASE}/members/me/redemptions",
            headers={"Idempotency-Key": unique("k")},
            json={"reward_id": "free-coffee"},
        )
        assert redeemed.status_code == 201, redeemed.text
        redemption = redeemed.json()
        assert redemption["status"] == "completed" and redemption["points_spent"] == 450
        code = redemption["codes"][0]["code"]
        assert client.get(f"{BASE}/members/me/balance").json()["available_points"] == 550
        mine = client.get(f"{BASE}/members/me/redemptions").json()["redemptions"]
        assert [r["redemption_id"] for r in mine] == [redemption["redemption_id"]]
        one = client.get(f"{BASE}/redemptions/{redemption['redemption_id']}")
        assert one.status_code == 200

        too_much = client.post(
            f"{BASE}/members/me/redemptions",
            headers={"Idempotency-Key": unique("k")},
            json={"reward_id": "tote-bag"},
        )
        assert_error(too_much, 409, too_much.json()["error"]["code"])

    with platform.client(token=platform.member_token(other)) as client:
        response = client.get(f"{BASE}/redemptions/{redemption['redemption_id']}")
        assert_error(response, 404, "REDEMPTION_NOT_FOUND")

    with platform.client(key="pos") as pos:
        valid = pos.post(f"{BASE}/codes/validate", json={"code": code, "store_id": "ams-01"})
        assert valid.status_code == 200, valid.text
        assert valid.json()["status"] == "valid" and valid.json()["member_id"] == member_id
        key = unique("use")
        body = {"code": code, "store_id": "ams-01", "till_id": "till-1", "transaction_id": "t1"}
        used = pos.post(f"{BASE}/codes/use", headers={"Idempotency-Key": key}, json=body)
        assert used.status_code == 200, used.text
        assert used.json()["status"] == "used"
        retried = pos.post(f"{BASE}/codes/use", headers={"Idempotency-Key": key}, json=body)
        assert retried.status_code == 200
        twice = pos.post(f"{BASE}/codes/use", headers={"Idempotency-Key": unique("k")}, json=body)
        assert twice.status_code == 409, twice.text
        assert pos.post(f"{BASE}/codes/validate", json={"code": code}).json()["status"] == "used"


def test_back_office_redeems_for_a_member_and_cancels(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    member_id = platform.enrol()
    platform.earn(member_id, 900)
    redeemed = admin.post(
        f"{BASE}/members/{member_id}/redemptions",
        headers={"Idempotency-Key": unique("k")},
        json={"reward_id": "five-euro-voucher", "channel": "call_centre"},
    )
    assert redeemed.status_code == 201, redeemed.text
    redemption_id = redeemed.json()["redemption_id"]
    cancelled = admin.post(
        f"{BASE}/redemptions/{redemption_id}/cancel",
        headers={"Idempotency-Key": unique("k")},
        json={"reason": "changed mind"},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["returned_points"] == 900
    assert cancelled.json()["redemption"]["status"] == "cancelled"
    balance = admin.get(f"{BASE}/members/{member_id}/balance").json()
    assert balance["available_points"] == 900


def test_a_members_redemptions_filter_by_status(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    member_id = platform.enrol()
    platform.earn(member_id, 2_000)
    path = f"{BASE}/members/{member_id}/redemptions"
    made = []
    for _ in range(2):
        redeemed = admin.post(
            path, headers={"Idempotency-Key": unique("k")}, json={"reward_id": "free-coffee"}
        )
        assert redeemed.status_code == 201, redeemed.text
        made.append(redeemed.json()["redemption_id"])
    cancelled = admin.post(
        f"{BASE}/redemptions/{made[0]}/cancel",
        headers={"Idempotency-Key": unique("k")},
        json={"reason": "changed mind"},
    )
    assert cancelled.status_code == 200, cancelled.text

    def listed(**params: str) -> list[str]:
        response = admin.get(path, params=params)
        assert response.status_code == 200, response.text
        return [r["redemption_id"] for r in response.json()["redemptions"]]

    assert listed() == [made[1], made[0]]
    assert listed(status="cancelled") == [made[0]]
    assert listed(status="completed") == [made[1]]
    assert listed(status="failed") == []
    for bad in ("CANCELLED", "unspecified", "nonsense"):
        error = assert_error(admin.get(path, params={"status": bad}), 400, "INVALID_ARGUMENT")
        assert error["field"] == "status", error


def test_a_cancel_shows_the_points_that_paid_debt(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    # The voucher's points were spent, then the purchase that earned them was refunded: the
    # member owes 900, and the points the cancel gives back pay that debt, not the balance.
    member_id = platform.enrol()
    purchase = unique("order")
    asyncio.run(_earn(platform, member_id, 900, reference=purchase))
    redeemed = admin.post(
        f"{BASE}/members/{member_id}/redemptions",
        headers={"Idempotency-Key": unique("k")},
        json={"reward_id": "five-euro-voucher"},
    )
    assert redeemed.status_code == 201, redeemed.text
    asyncio.run(_refund(platform, member_id, reference=purchase))
    assert admin.get(f"{BASE}/members/{member_id}/balance").json()["debt_points"] == 900

    cancel_key = unique("k")
    for _ in range(2):  # a retry answers the same
        cancelled = admin.post(
            f"{BASE}/redemptions/{redeemed.json()['redemption_id']}/cancel",
            headers={"Idempotency-Key": cancel_key},
            json={"reason": "changed mind"},
        )
        assert cancelled.status_code == 200, cancelled.text
        assert (cancelled.json()["returned_points"], cancelled.json()["debt_paid_points"]) == (
            0,
            900,
        )
    balance = admin.get(f"{BASE}/members/{member_id}/balance").json()
    assert (balance["available_points"], balance["debt_points"]) == (0, 0)
    schema = admin.get("/openapi.json").json()["components"]["schemas"]["CancellationResult"]
    assert {"returned_points", "debt_paid_points"} <= set(schema["required"])


async def _earn(platform: GatewayPlatform, member_id: str, points: int, *, reference: str) -> None:
    async with grpc.aio.insecure_channel(platform.ledger_address) as channel:
        await ledger_pb2_grpc.LedgerServiceStub(channel).Earn(
            ledger_pb2.EarnRequest(
                program_id=PROGRAM,
                idempotency_key=unique("earn"),
                member_id=member_id,
                points=points,
                source_reference=reference,
                vests_at=Timestamp(seconds=int(time.time()) - 1),
                qualifying=True,
            )
        )


async def _refund(platform: GatewayPlatform, member_id: str, *, reference: str) -> None:
    money = common_pb2.Money(amount_minor=1_000, currency="EUR")
    async with grpc.aio.insecure_channel(platform.ledger_address) as channel:
        await ledger_pb2_grpc.LedgerServiceStub(channel).Reverse(
            ledger_pb2.ReverseRequest(
                program_id=PROGRAM,
                idempotency_key=unique("refund"),
                member_id=member_id,
                refund=ledger_pb2.PurchaseRefund(
                    original_reference=reference, refunded_amount=money, original_amount=money
                ),
            )
        )
