"""GDPR export (back office, and the member itself) and erasure (back office only)."""

from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error

BASE = f"/v1/programs/{PROGRAM}"


def test_export_and_erase(platform: GatewayPlatform) -> None:
    member_id = platform.enrol(given_name="Gdpr")
    platform.earn(member_id, 300)
    with platform.client(token=platform.member_token(member_id)) as client:
        own = client.get(f"{BASE}/members/me/export")
        assert own.status_code == 200, own.text
        assert own.json()["member"]["profile"]["given_name"] == "Gdpr"
        assert own.json()["available_points"] == 300
        assert [p["points"] for p in own.json()["ledger_postings"]] == [300]
    with platform.client(key="pos") as pos:
        assert_error(
            pos.post(
                f"{BASE}/members/{member_id}/erase",
                headers={"Idempotency-Key": unique("k")},
                json={"operator_id": "pos", "reason": "no"},
            ),
            403,
            "SCOPE_MISSING",
        )
    with platform.client(key="admin") as admin:
        export = admin.get(f"{BASE}/members/{member_id}/export")
        assert export.status_code == 200
        erased = admin.post(
            f"{BASE}/members/{member_id}/erase",
            headers={"Idempotency-Key": unique("k")},
            json={"operator_id": "dpo", "reason": "ticket 42"},
        )
        assert erased.status_code == 200, erased.text
        assert erased.json()["member_id"] == member_id and erased.json()["erased_at"]
        member = admin.get(f"{BASE}/members/{member_id}").json()
        assert member["status"] == "erased"
        assert member["profile"]["given_name"] != "Gdpr"
