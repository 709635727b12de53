"""Programs, tiers and members: enrol, read, profile, consents, identifiers, the QR card."""

import datetime as dt
import secrets

import httpx

from services.identity.identifiers import luhn_check_digit
from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error

BASE = f"/v1/programs/{PROGRAM}"


def enrolment(email: str) -> dict[str, object]:
    return {
        "channel": "webshop",
        "profile": {"given_name": "Ada", "birthday": "1990-05-17", "preferences": {"size": "M"}},
        "identifiers": [{"kind": "email", "value": email}],
        "consents": [{"channel": "email", "granted": True}],
    }


def test_program_and_tiers(admin: httpx.Client) -> None:
    program = admin.get(BASE).json()
    assert program["points_name"] == "beans" and program["currency"] == "EUR"
    tiers = admin.get(f"{BASE}/tiers").json()["tiers"]
    assert [t["code"] for t in tiers] == ["green", "silver", "gold"]


def test_enrol_is_idempotent_and_needs_a_key(admin: httpx.Client) -> None:
    email = f"{unique('ada')}@t.example"
    key = unique("enrol")
    first = admin.post(f"{BASE}/members", headers={"Idempotency-Key": key}, json=enrolment(email))
    assert first.status_code == 201, first.text
    member = first.json()["member"]
    assert first.json()["created"] is True
    assert member["profile"]["birthday"] == "1990-05-17"
    assert member["identifiers"][0] == {**member["identifiers"][0], "kind": "email", "value": email}
    assert member["consents"][0]["channel"] == "email" and member["consents"][0]["granted"]

    again = admin.post(f"{BASE}/members", headers={"Idempotency-Key": key}, json=enrolment(email))
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["member"]["member_id"] == member["member_id"]

    other = enrolment(f"{unique('eve')}@t.example")
    reused = admin.post(f"{BASE}/members", headers={"Idempotency-Key": key}, json=other)
    assert_error(reused, 409, "IDEMPOTENCY_KEY_REUSED")

    missing = admin.post(f"{BASE}/members", json=other)
    assert assert_error(missing, 400, "IDEMPOTENCY_KEY_REQUIRED")["field"] == "Idempotency-Key"

    taken = admin.post(
        f"{BASE}/members", headers={"Idempotency-Key": unique("k")}, json=enrolment(email)
    )
    assert_error(taken, 409, "IDENTIFIER_TAKEN")


def test_invalid_input_names_the_field(admin: httpx.Client) -> None:
    body = enrolment(f"{unique('x')}@t.example")
    body["identifiers"] = [{"kind": "email", "value": "not an e-mail"}]
    response = admin.post(f"{BASE}/members", headers={"Idempotency-Key": unique("k")}, json=body)
    error = assert_error(response, 400, "INVALID_ARGUMENT")
    assert error["field"].startswith("identifiers")
    body["identifiers"] = [{"kind": "fingerprint", "value": "x"}]
    response = admin.post(f"{BASE}/members", headers={"Idempotency-Key": unique("k")}, json=body)
    assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "identifiers[0].kind"


def test_unknown_member_is_404(admin: httpx.Client) -> None:
    assert_error(admin.get(f"{BASE}/members/{unique('nobody')}"), 404, "MEMBER_NOT_FOUND")


def test_a_member_changes_its_profile_and_consents(platform: GatewayPlatform) -> None:
    member_id = platform.enrol(given_name="Before")
    with platform.client(token=platform.member_token(member_id)) as client:
        response = client.patch(
            f"{BASE}/members/me/profile",
            headers={"Idempotency-Key": unique("k")},
            json={"given_name": "After", "locale": "en-GB"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["given_name"] == "After"
        response = client.patch(
            f"{BASE}/members/me/consents",
            headers={"Idempotency-Key": unique("k")},
            json={"consents": [{"channel": "sms", "granted": True}], "source_channel": "app"},
        )
        assert response.status_code == 200, response.text
        consents = {c["channel"]: c["granted"] for c in response.json()["consents"]}
        assert consents["sms"] is True
        member = client.get(f"{BASE}/members/me").json()
        assert member["profile"]["given_name"] == "After"
        assert member["profile"]["locale"] == "en-GB"
        # null clears a field, as "" does; the fields not sent stay.
        response = client.patch(
            f"{BASE}/members/me/profile",
            headers={"Idempotency-Key": unique("k")},
            json={"given_name": None},
        )
        assert response.status_code == 200, response.text
        assert (response.json()["given_name"], response.json()["locale"]) == ("", "en-GB")
        # Identity's limit (100 characters) is below the gateway's: its error names the JSON field.
        response = client.patch(
            f"{BASE}/members/me/profile",
            headers={"Idempotency-Key": unique("k")},
            json={"given_name": "A" * 150},
        )
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "given_name"


def test_identifiers_are_added_listed_and_removed(
    admin: httpx.Client, platform: GatewayPlatform
) -> None:
    member_id = platform.enrol()
    card = "6280000000000005"
    path = f"{BASE}/members/{member_id}/identifiers"
    added = admin.post(
        path,
        headers={"Idempotency-Key": unique("k")},
        json={"kind": "pos_customer_id", "value": card},
    )
    assert added.status_code == 201, added.text
    kinds = {i["kind"] for i in admin.get(path).json()["identifiers"]}
    assert kinds == {"email", "pos_customer_id"}
    removed = admin.delete(
        path,
        headers={"Idempotency-Key": unique("k")},
        params={"kind": "pos_customer_id", "value": card},
    )
    assert removed.status_code == 200, removed.text
    assert {i["kind"] for i in admin.get(path).json()["identifiers"]} == {"email"}


def _card_number() -> str:
    payload = "6281" + str(secrets.randbelow(10**11)).zfill(11)
    return payload + luhn_check_digit(payload)


def _purchase(card: str) -> dict[str, object]:
    return {
        "identifier": {"kind": "card_number", "value": card},
        "transaction_id": unique("t"),
        "channel": "pos",
        "amount": {"amount_minor": 500, "currency": "EUR"},
        "occurred_at": "2026-01-01T12:00:00Z",
    }


def test_a_stolen_card_is_blocked_at_the_till_and_the_member_keeps_the_points(
    admin: httpx.Client, platform: GatewayPlatform
) -> None:
    member_id = platform.enrol()
    platform.earn(member_id, 1_000)
    stolen, replacement = _card_number(), _card_number()
    path = f"{BASE}/members/{member_id}/identifiers"
    added = admin.post(
        path,
        headers={"Idempotency-Key": unique("k")},
        json={"kind": "card_number", "value": stolen},
    )
    assert added.status_code == 201, added.text
    response = admin.delete(
        path,
        headers={"Idempotency-Key": unique("k")},
        params={"kind": "card_number", "value": stolen, "reason": "nonsense"},
    )
    assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "reason"
    response = admin.delete(
        path,
        headers={"Idempotency-Key": unique("k")},
        params={"kind": "card_number", "value": stolen, "reason": "stolen"},
    )
    assert response.status_code == 200, response.text
    with platform.client(key="pos") as pos:
        response = pos.post(
            f"{BASE}/purchases", headers={"Idempotency-Key": unique("k")}, json=_purchase(stolen)
        )
        assert assert_error(response, 409, "IDENTIFIER_BLOCKED")["field"] == "identifier.value"
    finder = enrolment(f"{unique('finder')}@t.example")
    finder["identifiers"] = [*finder["identifiers"], {"kind": "card_number", "value": stolen}]  # type: ignore[misc]
    response = admin.post(f"{BASE}/members", headers={"Idempotency-Key": unique("k")}, json=finder)
    assert assert_error(response, 409, "IDENTIFIER_BLOCKED")["field"] == "identifiers[1].value"
    assert admin.get(f"{BASE}/members/{member_id}/balance").json()["available_points"] == 1_000
    added = admin.post(
        path,
        headers={"Idempotency-Key": unique("k")},
        json={"kind": "card_number", "value": replacement},
    )
    assert added.status_code == 201, added.text
    with platform.client(key="pos") as pos:
        response = pos.post(
            f"{BASE}/purchases",
            headers={"Idempotency-Key": unique("k")},
            json=_purchase(replacement),
        )
    assert response.status_code == 201, response.text


def test_the_last_identifier_cannot_be_removed(
    admin: httpx.Client, platform: GatewayPlatform
) -> None:
    email = f"{unique('last')}@t.example"
    member_id = platform.enrol(email=email)
    path = f"{BASE}/members/{member_id}/identifiers"
    response = admin.delete(
        path, headers={"Idempotency-Key": unique("k")}, params={"kind": "email", "value": email}
    )
    assert assert_error(response, 409, "LAST_IDENTIFIER")["field"] == "value"
    assert [i["value"] for i in admin.get(path).json()["identifiers"]] == [email]


def test_qr_token_is_signed_and_drawn_as_svg(platform: GatewayPlatform) -> None:
    member_id = platform.enrol()
    with platform.client(token=platform.member_token(member_id)) as client:
        card = client.get(f"{BASE}/members/me/qr-token").json()
    assert card["token"].count(".") == 2 and card["key_id"] and card["expires_at"]
    assert card["qr_svg"].startswith("<svg") and "</svg>" in card["qr_svg"]
    # A till scanning the card resolves it to the member (the token is an identifier).
    with platform.client(key="pos") as pos:
        response = pos.post(
            f"{BASE}/purchases",
            headers={"Idempotency-Key": unique("k")},
            json={
                "identifier": {"kind": "app_qr_token", "value": card["token"]},
                "transaction_id": unique("t"),
                "channel": "pos",
                "amount": {"amount_minor": 500, "currency": "EUR"},
                # The token is checked at the purchase's time: it was scanned just now.
                "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
            },
        )
    assert response.status_code == 201, response.text
    assert response.json()["member_id"] == member_id


def test_a_members_blocked_cards_are_shown_until_a_lost_one_is_attached_again(
    admin: httpx.Client, platform: GatewayPlatform
) -> None:
    member_id = platform.enrol()
    path = f"{BASE}/members/{member_id}/identifiers"
    lost, stolen = _card_number(), _card_number()
    for number, reason in ((lost, "lost"), (stolen, "stolen")):
        card = {"kind": "card_number", "value": number}
        added = admin.post(path, headers={"Idempotency-Key": unique("k")}, json=card)
        assert added.status_code == 201, added.text
        response = admin.delete(
            path, headers={"Idempotency-Key": unique("k")}, params={**card, "reason": reason}
        )
        assert response.status_code == 200, response.text

    def blocked(body: dict) -> list[tuple[str, str, str]]:
        return [(b["kind"], b["value"], b["reason"]) for b in body["blocked_identifiers"]]

    expected = [("card_number", lost, "lost"), ("card_number", stolen, "stolen")]
    member = admin.get(f"{BASE}/members/{member_id}").json()
    assert blocked(member) == expected
    assert all(b["blocked_at"] and b["added_at"] for b in member["blocked_identifiers"])
    assert [i["kind"] for i in member["identifiers"]] == ["email"]
    assert blocked(admin.get(path).json()) == expected
    with platform.client(token=platform.member_token(member_id)) as own:
        assert blocked(own.get(f"{BASE}/members/me").json()) == expected
    export = admin.get(f"{BASE}/members/{member_id}/export")
    assert blocked(export.json()["member"]) == expected

    # The lost card found again is the member's again, and blocked no more.
    again = admin.post(
        path,
        headers={"Idempotency-Key": unique("k")},
        json={"kind": "card_number", "value": lost},
    )
    assert again.status_code == 201, again.text
    listed = admin.get(path).json()
    assert blocked(listed) == [("card_number", stolen, "stolen")]
    assert lost in {i["value"] for i in listed["identifiers"]}
