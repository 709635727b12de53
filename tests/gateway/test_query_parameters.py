"""A route's query holds its own parameters only, each once (a list parameter once per value);
a path is matched as it is, a slash too many included."""

import httpx
import pytest

from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error
from tests.gateway.test_members import _card_number

BASE = f"/v1/programs/{PROGRAM}"


def test_a_misspelt_reason_does_not_release_a_stolen_card(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    # `reasn` was ignored: the card was detached and free for anyone to attach, not blocked.
    member_id = platform.enrol()
    card = {"kind": "card_number", "value": _card_number()}
    added = admin.post(
        f"{BASE}/members/{member_id}/identifiers",
        headers={"Idempotency-Key": unique("k")},
        json=card,
    )
    assert added.status_code == 201, added.text
    response = admin.delete(
        f"{BASE}/members/{member_id}/identifiers",
        headers={"Idempotency-Key": unique("k")},
        params={**card, "reasn": "stolen"},
    )
    error = assert_error(response, 400, "INVALID_ARGUMENT")
    assert error["field"] == "reasn"
    assert "reason" in error["message"], error
    listed = admin.get(f"{BASE}/members/{member_id}/identifiers").json()
    assert card["value"] in [i["value"] for i in listed["identifiers"]]


def test_a_query_parameter_on_a_route_that_takes_none_is_refused(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    # A client that believed in a dry run recorded the purchase.
    member_id = platform.enrol()
    platform.earn(member_id, 10)  # the member's account, whose history is read below
    response = admin.post(
        f"{BASE}/purchases",
        headers={"Idempotency-Key": unique("k")},
        params={"dry_run": "true"},
        json={
            "member_id": member_id,
            "transaction_id": unique("t"),
            "channel": "pos",
            "amount": {"amount_minor": 1_000, "currency": "EUR"},
            "occurred_at": "2026-01-01T12:00:00Z",
        },
    )
    assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "dry_run"
    history = admin.get(f"{BASE}/members/{member_id}/history").json()
    assert [posting["points"] for posting in history["postings"]] == [10]


@pytest.mark.parametrize(
    ("route", "query", "field"),
    [
        ("members/{m}/lots", [("pagesize", "5")], "pagesize"),
        ("rewards", [("status", "active")], "status"),
        ("members/{m}/history", [("page_size", "50"), ("page_size", "1")], "page_size"),
        ("members/{m}/redemptions", [("status", "failed"), ("status", "completed")], "status"),
        ("members/{m}", [("fields", "member_id")], "fields"),
    ],
    ids=["misspelt", "not-taken", "repeated", "repeated-filter", "read-without-query"],
)
def test_an_unknown_or_repeated_query_parameter_is_400(
    platform: GatewayPlatform,
    admin: httpx.Client,
    route: str,
    query: list[tuple[str, str]],
    field: str,
) -> None:
    # Each was answered 200: the unknown one ignored, the repeated one read as its last value.
    path = f"{BASE}/" + route.format(m=platform.enrol())
    assert assert_error(admin.get(path, params=query), 400, "INVALID_ARGUMENT")["field"] == field


def test_a_list_parameter_takes_a_value_per_repeat(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    member_id = platform.enrol()
    platform.earn(member_id, 10)
    path = f"{BASE}/members/{member_id}/history"
    response = admin.get(path, params=[("kinds", "earn"), ("kinds", "redeem"), ("page_size", "5")])
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["members/", "members/%2F", "members/me/balance/"])
def test_a_path_with_a_slash_too_many_is_404_not_a_redirect(admin: httpx.Client, path: str) -> None:
    # It was 307 with an empty body, redirected to the Host header's host.
    response = admin.post(
        f"{BASE}/{path}",
        headers={"Idempotency-Key": unique("k"), "Host": "attacker.example"},
        json={},
    )
    assert_error(response, 404, "NOT_FOUND")
    assert "location" not in response.headers
