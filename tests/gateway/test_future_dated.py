"""Purchases, returns and activities dated after the server's time: 400 on occurred_at, as any
bad input; a till's clock a few minutes fast is accepted."""

import datetime as dt

from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error
from tests.gateway.test_transactions import purchase

BASE = f"/v1/programs/{PROGRAM}"


def test_a_transaction_dated_after_the_allowance_is_400_on_occurred_at(
    platform: GatewayPlatform,
) -> None:
    member_id = platform.enrol()
    now = dt.datetime.now(dt.UTC)
    next_year = (now + dt.timedelta(days=365)).isoformat()
    with platform.client(key="pos") as pos:
        late = {**purchase(member_id, unique("t"), 2_000), "occurred_at": next_year}
        response = pos.post(
            f"{BASE}/purchases", headers={"Idempotency-Key": unique("k")}, json=late
        )
        error = assert_error(response, 400, "INVALID_ARGUMENT")
        assert error["field"] == "occurred_at"
        assert "after the server's time" in error["message"]
        transaction_id = unique("t")
        fast = {
            **purchase(member_id, transaction_id, 2_000),
            "occurred_at": (now + dt.timedelta(minutes=5)).isoformat(),
        }
        response = pos.post(
            f"{BASE}/purchases", headers={"Idempotency-Key": unique("k")}, json=fast
        )
        assert response.status_code == 201, response.text
        response = pos.post(
            f"{BASE}/returns",
            headers={"Idempotency-Key": unique("k")},
            json={
                "member_id": member_id,
                "return_id": unique("r"),
                "original_transaction_id": transaction_id,
                "refunded_amount": {"amount_minor": 1_000, "currency": "EUR"},
                "channel": "pos",
                "occurred_at": next_year,
            },
        )
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "occurred_at"
        response = pos.post(
            f"{BASE}/activities",
            headers={"Idempotency-Key": unique("k")},
            json={
                "member_id": member_id,
                "activity_id": unique("a"),
                "kind": "review",
                "channel": "webshop",
                "occurred_at": next_year,
            },
        )
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "occurred_at"
    with platform.client(key="admin") as admin:
        balance = admin.get(f"{BASE}/members/{member_id}/balance").json()
    assert balance["lifetime_earned_points"] == 200  # the purchase of the fast till only
