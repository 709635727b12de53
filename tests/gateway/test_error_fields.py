"""A service's refusal names the field as the HTTP client sent it: the JSON body's path, the path
or query parameter, or the header, even where the request proto names or nests it otherwise.

Each case is refused by the service behind the route (the gateway's own checks let it through),
so the field comes back from the service's trailer and through the route's renames.
"""

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from gateway import models
from gateway.enums import IdentifierKind
from gateway.errors import json_field
from gateway.routes.common import member_field
from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error

BASE = f"/v1/programs/{PROGRAM}"
OCCURRED_AT = "2026-01-01T12:00:00Z"


def euros(minor: int, currency: str = "EUR") -> dict[str, object]:
    return {"amount_minor": minor, "currency": currency}


def a_return(**changes: object) -> dict[str, object]:
    return {
        "member_id": "m-1",
        "return_id": unique("r"),
        "original_transaction_id": unique("t"),
        "channel": "pos",
        "occurred_at": OCCURRED_AT,
        **changes,
    }


def an_activity(**changes: object) -> dict[str, object]:
    return {
        "member_id": "m-1",
        "activity_id": unique("a"),
        "kind": "review",
        "channel": "webshop",
        "occurred_at": OCCURRED_AT,
        **changes,
    }


@dataclass(frozen=True)
class Refusal:
    method: str
    path: str  # under BASE, or from the root when it starts with "/"; {member}: a fresh member
    status: int
    code: str
    field: str
    body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    # The credential: an API key by purpose, a `member` token, or none.
    caller: str = "admin"


def send(platform: GatewayPlatform, case: Refusal) -> httpx.Response:
    member_id = platform.enrol() if "{member}" in case.path or case.caller == "member" else ""
    path = case.path.format(member=member_id)
    path = path if path.startswith("/") else f"{BASE}/{path}"
    if case.caller == "member":
        client = platform.client(token=platform.member_token(member_id))
    elif case.caller == "none":
        client = platform.client()
    else:
        client = platform.client(key=case.caller)
    with client:
        return client.request(
            case.method,
            path,
            headers={"Idempotency-Key": unique("k")},
            json=case.body,
            params=case.params,
        )


# Routes whose JSON names or nests a field otherwise than the request proto.
RENAMED = {
    "identifier-provider-of-a-purchase": Refusal(
        "POST",
        "purchases",
        400,
        "INVALID_ARGUMENT",
        "identifier.provider",
        body={
            "identifier": {"kind": "email", "value": "a@t.example", "provider": "google"},
            "transaction_id": "t-1",
            "amount": euros(500),
            "channel": "pos",
            "occurred_at": OCCURRED_AT,
        },
        caller="pos",
    ),
    "identifier-provider-of-a-return": Refusal(
        "POST",
        "returns",
        400,
        "INVALID_ARGUMENT",
        "identifier.provider",
        body=a_return(
            member_id="",
            identifier={"kind": "phone", "value": "+31612345678", "provider": "x"},
            refunded_amount=euros(100),
        ),
        caller="pos",
    ),
    "identifier-provider-of-an-activity": Refusal(
        "POST",
        "activities",
        400,
        "INVALID_ARGUMENT",
        "identifier.provider",
        body=an_activity(
            member_id="",
            identifier={"kind": "card_number", "value": "6280000000000005", "provider": "x"},
        ),
    ),
    "return-line-in-a-plain-list": Refusal(
        "POST",
        "returns",
        400,
        "INVALID_ARGUMENT",
        "lines[1].amount.currency",
        body=a_return(
            lines=[{"sku": "A", "amount": euros(100)}, {"sku": "B", "amount": euros(100, "USD")}]
        ),
        caller="pos",
    ),
    "return-without-lines": Refusal(
        "POST",
        "returns",
        400,
        "INVALID_ARGUMENT",
        "lines",
        body=a_return(lines=[]),
        caller="pos",
    ),
    "return-refunding-nothing": Refusal(
        "POST",
        "returns",
        400,
        "INVALID_ARGUMENT",
        "lines",
        body=a_return(lines=[{"sku": "A", "amount": euros(0)}]),
        caller="pos",
    ),
    "activity-member-id": Refusal(
        "POST",
        "activities",
        400,
        "INVALID_ARGUMENT",
        "member_id",
        body=an_activity(member_id=" m-1"),
    ),
    "activity-referred-member": Refusal(
        "POST",
        "activities",
        400,
        "INVALID_ARGUMENT",
        "referred_member_id",
        body=an_activity(referred_member_id="m-2"),
    ),
    "activity-reference": Refusal(
        "POST",
        "activities",
        400,
        "INVALID_ARGUMENT",
        "reference",
        body=an_activity(reference="r" * 200),
    ),
    "activity-url": Refusal(
        "POST",
        "activities",
        400,
        "INVALID_ARGUMENT",
        "url",
        body=an_activity(url="https://t.example/" + "u" * 2_000),
    ),
    "demo-login-email": Refusal(
        "POST",
        "demo-login",
        400,
        "INVALID_ARGUMENT",
        "email",
        body={"email": "not an e-mail"},
        caller="none",
    ),
    "demo-login-unknown-email": Refusal(
        "POST",
        "demo-login",
        404,
        "IDENTIFIER_NOT_FOUND",
        "email",
        body={"email": "nobody-at-all@t.example"},
        caller="none",
    ),
}


@pytest.mark.parametrize("case", list(RENAMED.values()), ids=list(RENAMED))
def test_a_refused_field_is_named_as_the_client_sent_it(
    platform: GatewayPlatform, case: Refusal
) -> None:
    error = assert_error(send(platform, case), case.status, case.code)
    assert error["field"] == case.field, error


def test_a_refused_api_key_names_the_header_it_came_in(platform: GatewayPlatform) -> None:
    with httpx.Client(base_url=platform.url) as client:
        response = client.get(BASE, headers={"Authorization": "ApiKey lk_not-a-key"})
        assert assert_error(response, 401, "API_KEY_REJECTED")["field"] == "Authorization"
        response = client.get(BASE, headers={"X-Api-Key": "lk_not-a-key"})
        assert assert_error(response, 401, "API_KEY_REJECTED")["field"] == "X-Api-Key"
        response = client.get(BASE, headers={"Authorization": "Bearer not.a.token"})
        assert assert_error(response, 401, "MEMBER_TOKEN_REJECTED")["field"] == "Authorization"


# The renames that were there before, and names that are the same in the proto and the request
# (path and query parameters): they stay as they are.
KEPT = {
    "profile-field": Refusal(
        "PATCH",
        "members/me/profile",
        400,
        "INVALID_ARGUMENT",
        "locale",
        body={"locale": "english"},
        caller="member",
    ),
    "profile-with-nothing-to-change": Refusal(
        "PATCH", "members/{member}/profile", 400, "INVALID_ARGUMENT", "", body={}
    ),
    "consent-channel-twice": Refusal(
        "PATCH",
        "members/{member}/consents",
        400,
        "INVALID_ARGUMENT",
        "consents[1].channel",
        body={
            "consents": [{"channel": "sms", "granted": True}, {"channel": "sms", "granted": False}]
        },
    ),
    "added-identifier": Refusal(
        "POST",
        "members/{member}/identifiers",
        400,
        "INVALID_ARGUMENT",
        "value",
        body={"kind": "email", "value": "not an e-mail"},
    ),
    "removed-identifier-query": Refusal(
        "DELETE",
        "members/{member}/identifiers",
        400,
        "INVALID_ARGUMENT",
        "value",
        params={"kind": "email", "value": "not an e-mail"},
    ),
    "member-id-path": Refusal("GET", "members/ m-1", 400, "INVALID_ARGUMENT", "member_id"),
    "reward-id-path": Refusal("GET", "rewards/" + "r" * 100, 400, "INVALID_ARGUMENT", "reward_id"),
    "purchase-line": Refusal(
        "POST",
        "purchases",
        400,
        "INVALID_ARGUMENT",
        "line_items[1].amount.currency",
        body={
            "member_id": "m-1",
            "transaction_id": "t-1",
            "amount": euros(500),
            "line_items": [{"amount": euros(200)}, {"amount": euros(300, "USD")}],
            "channel": "pos",
            "occurred_at": OCCURRED_AT,
        },
        caller="pos",
    ),
}


@pytest.mark.parametrize("case", list(KEPT.values()), ids=list(KEPT))
def test_fields_named_alike_or_renamed_before_keep_their_names(
    platform: GatewayPlatform, case: Refusal
) -> None:
    error = assert_error(send(platform, case), case.status, case.code)
    assert error["field"] == case.field, error


def test_a_member_found_by_identifier_is_the_identifier() -> None:
    # Campaign names the member id the gateway resolved (a concurrent change of its counters, say);
    # a client that named the member by identifier sent no member_id.
    lookup = models.IdentifierLookup(kind=IdentifierKind.email, value="a@t.example")
    by_identifier = models.MemberRef(identifier=lookup)
    by_id = models.MemberRef(member_id="m-1")
    activity = {"activity": "", "activity.member_id": member_field(by_identifier)}
    assert json_field("activity.member_id", activity) == "identifier"
    assert json_field("activity.kind", activity) == "kind"
    assert json_field("member_id", {"member_id": member_field(by_id)}) == "member_id"
    assert json_field("member_id", {"member_id": member_field(by_identifier)}) == "identifier"
