"""What the gateway takes as a request body: JSON values of the documented types only."""

import gzip
import json

import httpx
import pytest

from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error

BASE = f"/v1/programs/{PROGRAM}"


@pytest.mark.parametrize("amount_minor", [True, "1000", 1000.0], ids=["true", "string", "float"])
def test_an_amount_is_a_json_integer(
    platform: GatewayPlatform, admin: httpx.Client, amount_minor: object
) -> None:
    # `true` was taken as 1 cent and "1000" as 1000: a purchase the till never meant.
    response = admin.post(
        f"{BASE}/purchases",
        headers={"Idempotency-Key": unique("k")},
        json={
            "member_id": platform.enrol(),
            "transaction_id": unique("t"),
            "channel": "pos",
            "amount": {"amount_minor": amount_minor, "currency": "EUR"},
            "occurred_at": "2026-01-01T12:00:00Z",
        },
    )
    assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "amount.amount_minor"


def test_a_quantity_and_a_consent_are_json_integer_and_boolean(platform: GatewayPlatform) -> None:
    member_id = platform.enrol()
    platform.earn(member_id, 1_000)
    with platform.client(token=platform.member_token(member_id)) as client:
        response = client.post(
            f"{BASE}/members/me/redemptions",
            headers={"Idempotency-Key": unique("k")},
            json={"reward_id": "free-coffee", "quantity": True},
        )
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "quantity"
        response = client.patch(
            f"{BASE}/members/me/consents",
            headers={"Idempotency-Key": unique("k")},
            json={"consents": [{"channel": "email", "granted": "no"}]},
        )
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "consents[0].granted"
        assert client.get(f"{BASE}/members/me/balance").json()["available_points"] == 1_000


@pytest.mark.parametrize("route", ["purchases", "returns", "activities"])
@pytest.mark.parametrize(
    "occurred_at", ["2026-05-17T23:30:00", 1_779_053_400, 1_779_053_400_000, 1_779_053_400.5]
)
def test_occurred_at_without_an_offset_is_refused(
    platform: GatewayPlatform, admin: httpx.Client, route: str, occurred_at: object
) -> None:
    # A till's local 23:30 sent without its offset was taken as 23:30 UTC: hours off, perhaps
    # on another day, outside a promotion's or a return window's dates. A number was taken as
    # Unix seconds, or milliseconds when large: a guess about the till's clock format.
    member = {"member_id": platform.enrol(), "channel": "pos", "occurred_at": occurred_at}
    bodies = {
        "purchases": {
            "transaction_id": unique("t"),
            "amount": {"amount_minor": 1_000, "currency": "EUR"},
        },
        "returns": {
            "return_id": unique("r"),
            "original_transaction_id": unique("t"),
            "refunded_amount": {"amount_minor": 1_000, "currency": "EUR"},
        },
        "activities": {"activity_id": unique("a"), "kind": "review"},
    }
    response = admin.post(
        f"{BASE}/{route}",
        headers={"Idempotency-Key": unique("k")},
        json={**member, **bodies[route]},
    )
    assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "occurred_at"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "Expecting property name"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"channel": "app", "referral_code": ' + b"9" * 5_000 + b"}", "too long"),
        (b'{"channel": "\xff"}', "not UTF-8"),
    ],
    ids=["malformed", "deep", "long-number", "not-utf8"],
)
def test_a_body_that_is_not_json_is_invalid_argument_saying_why(
    admin: httpx.Client, content: bytes, reason: str
) -> None:
    # All but the malformed one were 400 HTTP_400 "There was an error parsing the body", and the
    # malformed one named its character position as a field ("[1]").
    response = admin.post(
        f"{BASE}/members",
        headers={"Idempotency-Key": unique("k"), "Content-Type": "application/json"},
        content=content,
    )
    error = assert_error(response, 400, "INVALID_ARGUMENT")
    assert error["field"] == ""
    assert reason in error["message"], error


def test_a_key_twice_in_one_object_is_refused(admin: httpx.Client) -> None:
    # It was read as its last value: this enrolled the member on the channel "pos".
    email = f"{unique('dup')}@t.example"
    identifiers = json.dumps([{"kind": "email", "value": email}])
    content = f'{{"channel": "app", "channel": "pos", "identifiers": {identifiers}}}'
    response = admin.post(
        f"{BASE}/members",
        headers={"Idempotency-Key": unique("k"), "Content-Type": "application/json"},
        content=content,
    )
    error = assert_error(response, 400, "INVALID_ARGUMENT")
    assert "'channel' appears twice" in error["message"], error


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_body_of_another_media_type_is_415(admin: httpx.Client, content_type: str) -> None:
    # It was 400 "Input should be a valid dictionary" on the field "body".
    email = f"{unique('media')}@t.example"
    content = json.dumps({"channel": "app", "identifiers": [{"kind": "email", "value": email}]})
    response = admin.post(
        f"{BASE}/members",
        headers={"Idempotency-Key": unique("k"), "Content-Type": content_type},
        content=content,
    )
    error = assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "application/json" in error["message"]


def test_a_json_media_type_with_parameters_or_a_suffix_is_read(admin: httpx.Client) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        email = f"{unique('media')}@t.example"
        content = json.dumps({"channel": "app", "identifiers": [{"kind": "email", "value": email}]})
        response = admin.post(
            f"{BASE}/members",
            headers={"Idempotency-Key": unique("k"), "Content-Type": content_type},
            content=content,
        )
        assert response.status_code == 201, (content_type, response.text)


def _dated(route: str, member_id: str, occurred_at: str) -> tuple[str, dict[str, object]]:
    """A route's path and a body for it that is valid but for its occurred_at."""
    euros = {"amount_minor": 1_000, "currency": "EUR"}
    dated = {"channel": "pos", "occurred_at": occurred_at}
    if route == "basket-preview":
        return f"{BASE}/members/{member_id}/basket-preview", {"amount": euros, **dated}
    bodies: dict[str, dict[str, object]] = {
        "purchases": {"transaction_id": unique("t"), "amount": euros},
        "returns": {
            "return_id": unique("r"),
            "original_transaction_id": unique("t"),
            "refunded_amount": euros,
        },
        "activities": {"activity_id": unique("a"), "kind": "review"},
    }
    return f"{BASE}/{route}", {"member_id": member_id, **dated, **bodies[route]}


@pytest.mark.parametrize("route", ["purchases", "returns", "activities", "basket-preview"])
@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_date_time_outside_the_years_1_to_9999_in_utc_is_400(
    platform: GatewayPlatform, admin: httpx.Client, route: str, occurred_at: str
) -> None:
    # Valid date-time texts whose UTC instant is in year 0 or 10000: converting them to a
    # protobuf Timestamp raised OverflowError, a 500 INTERNAL.
    path, body = _dated(route, platform.enrol(), occurred_at)
    response = admin.post(path, headers={"Idempotency-Key": unique("k")}, json=body)
    error = assert_error(response, 400, "INVALID_ARGUMENT")
    assert error["field"] == "occurred_at", error
    assert "9999-12-31" in error["message"], error


@pytest.mark.parametrize("parameter", ["start_time", "end_time"])
def test_a_history_bound_outside_the_years_1_to_9999_in_utc_is_400(
    platform: GatewayPlatform, admin: httpx.Client, parameter: str
) -> None:
    member_id = platform.enrol()
    platform.earn(member_id, 10)  # its ledger account, which enrolment opens asynchronously
    for value in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        response = admin.get(f"{BASE}/members/{member_id}/history", params={parameter: value})
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == parameter
    # Without an offset a bound is UTC, and the first instant a Timestamp holds is fine.
    response = admin.get(
        f"{BASE}/members/{member_id}/history", params={parameter: "0001-01-01T00:00:00"}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("birthday", [0, 19_900_517, "1990-05-17T00:00:00", "1990-5-17"])
def test_a_birthday_is_a_date_text(platform: GatewayPlatform, birthday: object) -> None:
    # 0 was taken as Unix seconds, so the member's birthday became 1970-01-01 (a number of whole
    # days' seconds the same), and a date-time at midnight was cut to its date.
    member_id = platform.enrol()
    with platform.client(token=platform.member_token(member_id)) as client:
        response = client.patch(
            f"{BASE}/members/me/profile",
            headers={"Idempotency-Key": unique("k")},
            json={"birthday": birthday},
        )
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "birthday"
        assert client.get(f"{BASE}/members/me").json()["profile"]["birthday"] is None
        response = client.patch(
            f"{BASE}/members/me/profile",
            headers={"Idempotency-Key": unique("k")},
            json={"birthday": "1990-05-17"},
        )
        assert response.json()["birthday"] == "1990-05-17", response.text


def test_a_nul_in_a_preference_or_an_attribute_is_400_on_it(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    # A preference's NUL failed at identity's insert: 400 INVALID_CHARACTER naming no field. An
    # activity's attribute with one was recorded (201).
    member_id = platform.enrol()
    response = admin.patch(
        f"{BASE}/members/{member_id}/profile",
        headers={"Idempotency-Key": unique("k")},
        json={"preferences": {"milk": "oat\u0000"}},
    )
    assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "preferences.milk"
    activity = {
        "member_id": member_id,
        "activity_id": unique("a"),
        "kind": "review",
        "channel": "webshop",
        "occurred_at": "2026-01-01T12:00:00Z",
    }
    for attributes, field in (
        ({"stars": "5\u0000"}, "attributes.stars"),
        ({"\u0000": "5"}, "attributes"),
    ):
        response = admin.post(
            f"{BASE}/activities",
            headers={"Idempotency-Key": unique("k")},
            json={**activity, "attributes": attributes},
        )
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == field
    response = admin.post(
        f"{BASE}/activities",
        headers={"Idempotency-Key": unique("k")},
        json={**activity, "attributes": {"stars": "5"}},
    )
    assert response.status_code == 201, response.text
    assert response.json()["duplicate"] is False


@pytest.mark.parametrize("route", ["purchases", "basket-preview"])
def test_a_line_amount_is_bounded_as_the_purchase_amount_is(
    platform: GatewayPlatform, admin: httpx.Client, route: str
) -> None:
    # A line of 2^63 - 1 cents in a 10 euro purchase: the preview promised 922337203685477580
    # points and the purchase was 409 LEDGER_REFUSED (naming no field) once campaign had
    # computed them and the ledger refused to post them.
    path, body = _dated(route, platform.enrol(), "2026-01-01T12:00:00Z")
    line = {"sku": "espresso", "amount": {"amount_minor": 2**63 - 1, "currency": "EUR"}}
    response = admin.post(
        path, headers={"Idempotency-Key": unique("k")}, json={**body, "line_items": [line]}
    )
    error = assert_error(response, 400, "INVALID_ARGUMENT")
    assert error["field"] == "line_items[0].amount.amount_minor", error


@pytest.mark.parametrize("content", [b"", b"null", b"[]", b'"member"', b"1"])
def test_a_body_that_is_not_a_json_object_names_no_field(
    platform: GatewayPlatform, admin: httpx.Client, content: bytes
) -> None:
    # Its field was "body", FastAPI's name for the whole body (no field of the request's JSON),
    # with pydantic's "Input should be a valid dictionary or object to extract fields from".
    for method, path in (
        ("POST", f"{BASE}/members"),
        ("PATCH", f"{BASE}/members/{platform.enrol()}/profile"),
    ):
        response = admin.request(
            method,
            path,
            headers={"Idempotency-Key": unique("k"), "Content-Type": "application/json"},
            content=content,
        )
        error = assert_error(response, 400, "INVALID_ARGUMENT")
        assert error["field"] == "", error
        assert "must be a JSON object" in error["message"], error


def test_an_encoded_body_is_415(admin: httpx.Client) -> None:
    # A gzipped body was read as JSON text: 400 "the body is not UTF-8".
    email = f"{unique('gzip')}@t.example"
    body = json.dumps({"channel": "app", "identifiers": [{"kind": "email", "value": email}]})
    response = admin.post(
        f"{BASE}/members",
        headers={
            "Idempotency-Key": unique("k"),
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
        content=gzip.compress(body.encode()),
    )
    error = assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "gzip" in error["message"], error
