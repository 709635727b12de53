"""Purchases, returns and activities from the till, the webshop and the app."""

import datetime as dt

import httpx

from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error

BASE = f"/v1/programs/{PROGRAM}"
NOW = dt.datetime.now(dt.UTC).isoformat()


def purchase(member_id: str, transaction_id: str, amount_minor: int) -> dict[str, object]:
    return {
        "member_id": member_id,
        "transaction_id": transaction_id,
        "channel": "pos",
        "store_id": "ams-01",
        "occurred_at": NOW,
        "amount": {"amount_minor": amount_minor, "currency": "EUR"},
        "line_items": [
            {
                "sku": "LATTE",
                "category": "drinks",
                "amount": {"amount_minor": amount_minor, "currency": "EUR"},
            }
        ],
    }


def test_purchase_earns_and_a_return_reverses(platform: GatewayPlatform) -> None:
    member_id = platform.enrol()
    transaction_id = unique("t")
    with platform.client(key="pos") as pos:
        key = unique("k")
        first = pos.post(
            f"{BASE}/purchases",
            headers={"Idempotency-Key": key},
            json=purchase(member_id, transaction_id, 2_000),
        )
        assert first.status_code == 201, first.text
        assert first.json()["points"] == 200  # 10 beans per euro
        assert first.json()["rules"][0]["rule_id"] == "base-earn"
        again = pos.post(
            f"{BASE}/purchases",
            headers={"Idempotency-Key": key},
            json=purchase(member_id, transaction_id, 2_000),
        )
        assert again.status_code == 201 and again.json()["points"] == 200

        returned = pos.post(
            f"{BASE}/returns",
            headers={"Idempotency-Key": unique("k")},
            json={
                "member_id": member_id,
                "return_id": unique("r"),
                "original_transaction_id": transaction_id,
                "refunded_amount": {"amount_minor": 1_000, "currency": "EUR"},
                "channel": "pos",
                "occurred_at": NOW,
            },
        )
        assert returned.status_code == 201, returned.text
        assert returned.json()["reversed_points"] == 100
    with platform.client(key="admin") as admin:
        balance = admin.get(f"{BASE}/members/{member_id}/balance").json()
    assert balance["pending_points"] == 100  # in the return window


def test_purchase_needs_exactly_one_way_to_name_the_member(platform: GatewayPlatform) -> None:
    with platform.client(key="pos") as pos:
        body = purchase("", unique("t"), 100)
        response = pos.post(
            f"{BASE}/purchases", headers={"Idempotency-Key": unique("k")}, json=body
        )
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "member_id"
        body = {
            **purchase("", unique("t"), 100),
            "identifier": {"kind": "email", "value": "no@x.example"},
        }
        response = pos.post(
            f"{BASE}/purchases", headers={"Idempotency-Key": unique("k")}, json=body
        )
        assert_error(response, 404, response.json()["error"]["code"])
        body = {
            **purchase("m1", unique("t"), 100),
            "identifier": {"kind": "email", "value": "a@x.example"},
        }
        response = pos.post(
            f"{BASE}/purchases", headers={"Idempotency-Key": unique("k")}, json=body
        )
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "member_id"
        response = pos.post(
            f"{BASE}/returns",
            headers={"Idempotency-Key": unique("k")},
            json={
                "member_id": "m",
                "return_id": "r",
                "original_transaction_id": "t",
                "channel": "pos",
                "occurred_at": NOW,
            },
        )
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "lines"


def test_activity_from_the_webshop(platform: GatewayPlatform, admin: httpx.Client) -> None:
    member_id = platform.enrol()
    response = admin.post(
        f"{BASE}/activities",
        headers={"Idempotency-Key": unique("k")},
        json={
            "member_id": member_id,
            "activity_id": unique("review"),
            "kind": "review",
            "channel": "webshop",
            "reference": "review-1",
            "occurred_at": NOW,
            "sku": "LATTE",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "review"
    assert response.json()["outcome"] in {"rewarded", "pending", "no_rule", "capped"}
