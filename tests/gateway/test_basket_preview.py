"""What a basket would earn a member, asked by the app (`me`) or a till, with nothing posted."""

from tests.gateway.conftest import PROGRAM, GatewayPlatform
from tests.gateway.test_auth import assert_error

BASE = f"/v1/programs/{PROGRAM}"


def basket(amount_minor: int, **fields: object) -> dict[str, object]:
    return {
        "channel": "app",
        "amount": {"amount_minor": amount_minor, "currency": "EUR"},
        "line_items": [
            {
                "sku": "LATTE",
                "category": "drinks",
                "amount": {"amount_minor": amount_minor, "currency": "EUR"},
            }
        ],
    } | fields


def test_a_member_previews_what_a_basket_earns_and_nothing_is_posted(
    platform: GatewayPlatform,
) -> None:
    member_id, other = platform.enrol(), platform.enrol()
    with platform.client(token=platform.member_token(member_id)) as client:
        response = client.post(f"{BASE}/members/me/basket-preview", json=basket(2_000))
        assert response.status_code == 200, response.text
        preview = response.json()
        assert preview["member_id"] == member_id
        assert preview["points"] == 200  # 10 beans per euro
        assert [rule["rule_id"] for rule in preview["rules"]] == ["base-earn"]
        assert client.get(f"{BASE}/members/me/history").json()["postings"] == []
        assert client.get(f"{BASE}/members/me/balance").json()["pending_points"] == 0
        # Another member's id is not found, as an unknown member's.
        elsewhere = client.post(f"{BASE}/members/{other}/basket-preview", json=basket(2_000))
        assert_error(elsewhere, 404, "MEMBER_NOT_FOUND")

    with platform.client(key="pos") as pos:
        response = pos.post(
            f"{BASE}/members/{member_id}/basket-preview",
            json=basket(1_000, channel="pos", store_id="ams-01"),
        )
        assert response.status_code == 200, response.text
        assert response.json()["points"] == 100
    with platform.client(key="reader") as reader:
        refused = reader.post(f"{BASE}/members/{member_id}/basket-preview", json=basket(1_000))
        assert_error(refused, 403, "SCOPE_MISSING")


def test_a_bad_basket_is_400_naming_its_field(platform: GatewayPlatform) -> None:
    member_id = platform.enrol()
    path = f"{BASE}/members/me/basket-preview"
    cases = {
        "amount.currency": basket(1_000, amount={"amount_minor": 1_000, "currency": "USD"}),
        "line_items[0].amount.amount_minor": basket(
            1_000, line_items=[{"amount": {"amount_minor": -1, "currency": "EUR"}}]
        ),
        "occurred_at": basket(1_000, occurred_at="2026-05-17T10:15:00"),
        "channel": basket(1_000, channel="telepathy"),
        "surprise": basket(1_000, surprise=True),
    }
    with platform.client(token=platform.member_token(member_id)) as client:
        for field, body in cases.items():
            error = assert_error(client.post(path, json=body), 400, "INVALID_ARGUMENT")
            assert error["field"] == field, (field, error)
