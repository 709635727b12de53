"""Credentials, scopes, other members' data, rate limits, request ids and the error shape."""

import asyncio
import time

import grpc
import httpx

from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from tests.gateway.conftest import OTHER_PROGRAM, PROGRAM, GatewayPlatform, unique

BASE = f"/v1/programs/{PROGRAM}"


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert set(error) == {"code", "message", "field", "request_id"}
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    return dict(error)


def test_no_credentials_is_401_in_the_error_shape(platform: GatewayPlatform) -> None:
    with platform.client() as client:
        response = client.get(f"{BASE}/members/me/balance")
    error = assert_error(response, 401, "UNAUTHENTICATED")
    assert error["field"] == "Authorization"
    assert "Bearer" in response.headers["www-authenticate"]


def test_unknown_api_key_and_bad_member_token_are_401(platform: GatewayPlatform) -> None:
    with platform.client(key="lk_not-a-key") as client:
        assert_error(client.get(BASE), 401, "API_KEY_REJECTED")
    with platform.client(token="not.a.token") as client:
        assert_error(client.get(BASE), 401, "MEMBER_TOKEN_REJECTED")


def test_both_forms_of_api_key_header_work(platform: GatewayPlatform) -> None:
    secret = platform.keys["reader"]
    with httpx.Client(base_url=platform.url) as client:
        assert client.get(BASE, headers={"X-Api-Key": secret}).status_code == 200
        assert client.get(BASE, headers={"Authorization": f"ApiKey {secret}"}).status_code == 200


def test_a_key_of_another_program_is_403(platform: GatewayPlatform) -> None:
    with platform.client(key="other-program") as client:
        assert_error(client.get(BASE), 403, "API_KEY_WRONG_PROGRAM")
        assert client.get(f"/v1/programs/{OTHER_PROGRAM}").status_code == 200


def test_scopes_limit_what_a_key_does(platform: GatewayPlatform) -> None:
    member_id = platform.enrol()
    with platform.client(key="pos") as pos:
        # A till posts transactions and checks codes but reads and exports no member.
        assert_error(pos.get(f"{BASE}/members/{member_id}/export"), 403, "SCOPE_MISSING")
        assert_error(pos.get(f"{BASE}/members/{member_id}"), 403, "SCOPE_MISSING")
        response = pos.post(f"{BASE}/codes/validate", json={"code": "NOPE-NOPE-NOPE-NOPE"})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "unknown"
    with platform.client(key="reader") as reader:
        assert reader.get(f"{BASE}/members/{member_id}").status_code == 200
        response = reader.post(
            f"{BASE}/purchases",
            headers={"Idempotency-Key": unique("k")},
            json={
                "member_id": member_id,
                "transaction_id": unique("t"),
                "channel": "pos",
                "amount": {"amount_minor": 100, "currency": "EUR"},
                "occurred_at": "2026-01-01T12:00:00Z",
            },
        )
        assert_error(response, 403, "SCOPE_MISSING")


def test_a_member_sees_only_its_own_data(platform: GatewayPlatform) -> None:
    mine, theirs = platform.enrol(given_name="Mine"), platform.enrol(given_name="Theirs")
    with platform.client(token=platform.member_token(mine)) as client:
        assert client.get(f"{BASE}/members/me").json()["member_id"] == mine
        assert client.get(f"{BASE}/members/{mine}/balance").status_code == 200
        for path in (
            "",
            "/balance",
            "/lots",
            "/history",
            "/tier-history",
            "/identifiers",
            "/qr-token",
            "/rewards",
            "/redemptions",
            "/export",
        ):
            assert_error(client.get(f"{BASE}/members/{theirs}{path}"), 404, "MEMBER_NOT_FOUND")
        response = client.patch(
            f"{BASE}/members/{theirs}/profile",
            headers={"Idempotency-Key": unique("k")},
            json={"given_name": "Hacked"},
        )
        assert_error(response, 404, "MEMBER_NOT_FOUND")


def test_a_member_cannot_do_what_only_integrations_do(platform: GatewayPlatform) -> None:
    member_id = platform.enrol()
    with platform.client(token=platform.member_token(member_id)) as client:
        response = client.post(
            f"{BASE}/purchases",
            headers={"Idempotency-Key": unique("k")},
            json={
                "member_id": member_id,
                "transaction_id": unique("t"),
                "channel": "app",
                "amount": {"amount_minor": 100_000, "currency": "EUR"},
                "occurred_at": "2026-01-01T12:00:00Z",
            },
        )
        assert_error(response, 403, "CREDENTIAL_NOT_ALLOWED")
        response = client.post(
            f"{BASE}/members/me/erase",
            headers={"Idempotency-Key": unique("k")},
            json={"operator_id": "me", "reason": "x"},
        )
        assert_error(response, 403, "CREDENTIAL_NOT_ALLOWED")


def test_a_read_only_member_token_cannot_change_anything(platform: GatewayPlatform) -> None:
    member_id = platform.enrol()
    token = platform.member_token(member_id, scopes=("member:read",))
    with platform.client(token=token) as client:
        response = client.patch(
            f"{BASE}/members/me/profile",
            headers={"Idempotency-Key": unique("k")},
            json={"given_name": "X"},
        )
        assert_error(response, 403, "SCOPE_MISSING")


def test_me_needs_a_member_token(admin: httpx.Client) -> None:
    error = assert_error(admin.get(f"{BASE}/members/me"), 400, "INVALID_ARGUMENT")
    assert error["field"] == "member_id"


def test_rate_limit_per_key_answers_429_with_retry_after(platform: GatewayPlatform) -> None:
    secret = platform.create_key(scopes=("members:read",), requests_per_minute_max=3)
    other = platform.create_key(scopes=("members:read",), requests_per_minute_max=3)
    with platform.client(key=secret) as client:
        statuses = [client.get(BASE).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        response = client.get(BASE)
    error = assert_error(response, 429, "RATE_LIMITED")
    assert 1 <= int(response.headers["retry-after"]) <= 60, error
    with platform.client(key=other) as client:
        assert client.get(BASE).status_code == 200  # limits are per key


def test_request_ids_are_echoed_made_and_passed_to_the_services(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    request_id = unique("trace")
    response = admin.get(BASE, headers={"X-Request-Id": request_id})
    assert response.headers["x-request-id"] == request_id
    made = admin.get(BASE).headers["x-request-id"]
    assert made and made != request_id
    assert admin.get("/nowhere").headers["x-request-id"]
    log = platform.cluster.log_dir / "identity.log"
    deadline = time.monotonic() + 5
    while request_id not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert request_id in log.read_text()
    assert request_id in (platform.cluster.log_dir / "gateway.log").read_text()


def test_unknown_routes_and_bad_input_use_the_error_shape(admin: httpx.Client) -> None:
    assert_error(admin.get("/v1/nowhere"), 404, "NOT_FOUND")
    error = assert_error(admin.get("/v1/programs/NOT VALID"), 400, "INVALID_ARGUMENT")
    assert error["field"] == "program_id"
    response = admin.post(
        f"{BASE}/members",
        headers={"Idempotency-Key": unique("k")},
        content=b"{not json",
    )
    assert_error(response, 400, "INVALID_ARGUMENT")


def test_an_expired_member_token_is_not_trusted_from_the_cache(platform: GatewayPlatform) -> None:
    # Identity accepts a token up to its clock skew (5 s) past its expiry; the gateway then
    # trusted it for its cache's 5 s more, so a token expired 6.5 s ago still read the member.
    member_id = platform.enrol()

    async def issue() -> identity_pb2.IssueMemberTokenResponse:
        async with grpc.aio.insecure_channel(platform.identity_address) as channel:
            return await identity_pb2_grpc.IdentityServiceStub(channel).IssueMemberToken(
                identity_pb2.IssueMemberTokenRequest(
                    program_id=PROGRAM, member_id=member_id, scopes=["member:read"], ttl_seconds=1
                )
            )

    issued = asyncio.run(issue())
    expires_at_s = issued.expires_at.seconds
    with platform.client(token=issued.token) as client:
        time.sleep(max(0.0, expires_at_s + 4 - time.time()))
        assert client.get(f"{BASE}/members/me").status_code == 200  # within identity's skew
        time.sleep(max(0.0, expires_at_s + 6.5 - time.time()))
        assert_error(client.get(f"{BASE}/members/me"), 401, "MEMBER_TOKEN_REJECTED")


def test_a_rejected_credential_is_401_with_a_challenge(platform: GatewayPlatform) -> None:
    # A 401 must say how to authenticate (RFC 9110); only a request without credentials did.
    with platform.client(key="lk_not-a-key") as client:
        response = client.get(BASE)
        assert_error(response, 401, "API_KEY_REJECTED")
        assert "ApiKey" in response.headers["www-authenticate"]
    with platform.client(token="not.a.token") as client:
        response = client.get(f"{BASE}/members/me")
        assert_error(response, 401, "MEMBER_TOKEN_REJECTED")
        assert "Bearer" in response.headers["www-authenticate"]


def test_two_credentials_or_a_header_given_twice_are_refused(platform: GatewayPlatform) -> None:
    # The first was taken: a reader key with a member token acted as the key, and of two
    # Idempotency-Keys the first was the one kept.
    member_id = platform.enrol()
    token = platform.member_token(member_id)
    with httpx.Client(base_url=platform.url) as client:
        both = [("X-Api-Key", platform.keys["reader"]), ("Authorization", f"Bearer {token}")]
        response = client.get(f"{BASE}/members/{member_id}", headers=both)
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "Authorization"
        keys = [("X-Api-Key", "lk_not-a-key"), ("X-Api-Key", platform.keys["admin"])]
        response = client.get(f"{BASE}/members/{member_id}", headers=keys)
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "X-Api-Key"
        twice = [
            ("X-Api-Key", platform.keys["admin"]),
            ("Idempotency-Key", unique("k")),
            ("Idempotency-Key", unique("k")),
        ]
        response = client.patch(
            f"{BASE}/members/{member_id}/profile", headers=twice, json={"given_name": "Twice"}
        )
        assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "Idempotency-Key"
        # A proxy's own Authorization scheme next to an API key is not a second credential.
        proxied = [("X-Api-Key", platform.keys["reader"]), ("Authorization", "Basic cHJveHk6eA==")]
        assert client.get(f"{BASE}/members/{member_id}", headers=proxied).status_code == 200
    with platform.client(key="admin") as admin:
        assert admin.get(f"{BASE}/members/{member_id}").json()["profile"]["given_name"] == "Test"
