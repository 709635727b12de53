"""Balance, lots, history and tier history, through the gateway from the ledger."""

from tests.gateway.conftest import PROGRAM, GatewayPlatform

BASE = f"/v1/programs/{PROGRAM}"


def test_balance_lots_history_and_tiers(platform: GatewayPlatform) -> None:
    member_id = platform.enrol()
    platform.earn(member_id, 1_000)
    platform.earn(member_id, 700, expires_in_days=10)
    with platform.client(token=platform.member_token(member_id)) as client:
        balance = client.get(f"{BASE}/members/me/balance").json()
        assert balance["available_points"] == 1_700
        assert balance["tier_code"] == "silver" and balance["next_tier_code"] == "gold"
        assert balance["to_next_tier_amount"] == 5_000 - 1_700
        assert balance["expiring_30_days_points"] == 700

        lots = client.get(f"{BASE}/members/me/lots").json()["lots"]
        # The proto says soonest expiry first; the ledger pages by lot id (reported), so sort.
        assert sorted(lot["remaining_points"] for lot in lots) == [700, 1_000]
        assert {lot["vesting_state"] for lot in lots} == {"vested"}

        history = client.get(f"{BASE}/members/me/history", params={"page_size": 1}).json()
        assert len(history["postings"]) == 1 and history["next_page_token"]
        assert history["postings"][0]["kind"] == "earn"
        rest = client.get(
            f"{BASE}/members/me/history",
            params={"page_token": history["next_page_token"], "kinds": ["earn"]},
        ).json()
        assert len(rest["postings"]) == 1
        newest = history["postings"][0]["posted_at"]
        before_newest = client.get(f"{BASE}/members/me/history", params={"end_time": newest}).json()
        assert [p["points"] for p in before_newest["postings"]] == [1_000]
        refused = client.get(
            f"{BASE}/members/me/history", params={"start_time": newest, "end_time": newest}
        )
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "end_time"

        changes = client.get(f"{BASE}/members/me/tier-history").json()["tier_changes"]
        assert changes[0]["to_tier_code"] == "silver"
        assert changes[0]["direction"] == "upgrade"
