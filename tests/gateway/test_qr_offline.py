"""A till's transactions with an app QR token: checked when the till scanned the card (perhaps
offline), within the offline window; and a retry answered from its record, however the
identifier resolves now."""

import asyncio
import datetime as dt
import time

import asyncpg
import grpc
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error
from tests.gateway.test_members import _card_number

BASE = f"/v1/programs/{PROGRAM}"
# The platform's identity allows its default 5 s of clock skew; waits go past it.
CLOCK_SKEW_S = 5
OFFLINE_WINDOW_S = 72 * 3600


def issue_qr_token(platform: GatewayPlatform, member_id: str, *, ttl_seconds: int) -> str:
    async def issue() -> str:
        async with grpc.aio.insecure_channel(platform.identity_address) as channel:
            issued = await identity_pb2_grpc.IdentityServiceStub(channel).IssueQrToken(
                identity_pb2.IssueQrTokenRequest(
                    program_id=PROGRAM, member_id=member_id, ttl_seconds=ttl_seconds
                )
            )
        return issued.token

    return asyncio.run(issue())


def qr_token_issued_at(platform: GatewayPlatform, member_id: str, issued_at: int) -> str:
    """A token of the program's key as identity would have issued it at `issued_at` (with the
    default two minutes to live): signed with the key read from identity's table, the key first
    made to have signed since before then, as a key in use for days has."""

    key_id = jwt.get_unverified_header(issue_qr_token(platform, member_id, ttl_seconds=60))["kid"]

    async def sign() -> str:
        connection = await asyncpg.connect(
            platform.cluster.database_url, server_settings={"search_path": "identity"}
        )
        try:
            private = await connection.fetchval(
                "UPDATE signing_keys SET not_before = LEAST(not_before, $2) WHERE key_id = $1 "
                "RETURNING private_key",
                key_id,
                dt.datetime.fromtimestamp(issued_at - 3600, dt.UTC),
            )
        finally:
            await connection.close()
        return jwt.encode(
            {
                "iss": "loyalty-identity",
                "aud": f"qr:{PROGRAM}",
                "sub": member_id,
                "iat": issued_at,
                "exp": issued_at + 120,
            },
            Ed25519PrivateKey.from_private_bytes(bytes(private)),
            algorithm="EdDSA",
            headers={"kid": key_id},
        )

    return asyncio.run(sign())


def at(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def purchase(identifier: dict[str, str], occurred_at: str) -> dict[str, object]:
    return {
        "identifier": identifier,
        "transaction_id": unique("t"),
        "channel": "pos",
        "amount": {"amount_minor": 500, "currency": "EUR"},
        "occurred_at": occurred_at,
    }


def qr(token: str) -> dict[str, str]:
    return {"kind": "app_qr_token", "value": token}


def post(pos: httpx.Client, body: dict[str, object], key: str | None = None) -> httpx.Response:
    return pos.post(f"{BASE}/purchases", headers={"Idempotency-Key": key or unique("k")}, json=body)


def points_of(platform: GatewayPlatform, member_id: str) -> int:
    with platform.client(key="admin") as admin:
        balance = admin.get(f"{BASE}/members/{member_id}/balance").json()
    return int(balance["available_points"]) + int(balance["pending_points"])


def test_a_retry_after_the_qr_token_expired_answers_the_first_result(
    platform: GatewayPlatform,
) -> None:
    member_id = platform.enrol()
    token = issue_qr_token(platform, member_id, ttl_seconds=1)
    body = purchase(qr(token), at(time.time()))
    key = unique("k")
    with platform.client(key="pos") as pos:
        first = post(pos, body, key)
        assert first.status_code == 201, first.text
        assert first.json()["points"] == 50 and first.json()["member_id"] == member_id
        time.sleep(1 + CLOCK_SKEW_S + 1)
        retry = post(pos, body, key)
        assert retry.status_code == 201, retry.text
        assert retry.json() == first.json()
        # The token is expired for a purchase made now.
        late = post(pos, purchase(qr(token), at(time.time())))
        error = assert_error(late, 400, "QR_TOKEN_REJECTED")
        assert error["field"] == "identifier.value" and "expired" in error["message"]
    assert points_of(platform, member_id) == 50


def test_an_offline_purchase_is_posted_an_hour_later_with_its_token(
    platform: GatewayPlatform,
) -> None:
    member_id = platform.enrol()
    now = int(time.time())
    token = qr_token_issued_at(platform, member_id, now - 3600)
    with platform.client(key="pos") as pos:
        # Scanned a minute after the app showed it, while the till was offline.
        posted = post(pos, purchase(qr(token), at(now - 3540)))
        assert posted.status_code == 201, posted.text
        assert posted.json()["points"] == 50 and posted.json()["member_id"] == member_id
        # Not for a purchase dated after the token expired, nor before it was issued.
        for occurred_at, reason in ((now - 3400, "expired"), (now - 3700, "not valid yet")):
            refused = post(pos, purchase(qr(token), at(occurred_at)))
            error = assert_error(refused, 400, "QR_TOKEN_REJECTED")
            assert error["field"] == "identifier.value" and reason in error["message"]
        # A forged token, dated in its window, signed by another key under the program's id.
        forged = jwt.encode(
            {**jwt.decode(token, options={"verify_signature": False}), "sub": member_id},
            Ed25519PrivateKey.generate(),
            algorithm="EdDSA",
            headers={"kid": jwt.get_unverified_header(token)["kid"]},
        )
        refused = post(pos, purchase(qr(forged), at(now - 3540)))
        error = assert_error(refused, 400, "QR_TOKEN_REJECTED")
        assert error["field"] == "identifier.value" and "signature" in error["message"]
    assert points_of(platform, member_id) == 50


def test_a_retry_is_answered_after_the_offline_window_closed(platform: GatewayPlatform) -> None:
    member_id = platform.enrol()
    scanned = int(time.time()) - OFFLINE_WINDOW_S + 2
    token = qr_token_issued_at(platform, member_id, scanned - 60)
    body = purchase(qr(token), at(scanned))
    key = unique("k")
    with platform.client(key="pos") as pos:
        first = post(pos, body, key)
        assert first.status_code == 201, first.text
        time.sleep(2 + CLOCK_SKEW_S + 1)
        # The window has closed for this token: a new transaction with it is refused...
        refused = post(pos, {**body, "transaction_id": unique("t")})
        error = assert_error(refused, 400, "QR_TOKEN_REJECTED")
        assert error["field"] == "identifier.value" and "72 hours" in error["message"]
        # ...but the retry of the recorded one gets its answer, with no second effect.
        retry = post(pos, body, key)
        assert retry.status_code == 201, retry.text
        assert retry.json() == first.json()
        # A key reused for another purchase is not answered with this one's result.
        reused = post(pos, {**body, "amount": {"amount_minor": 600, "currency": "EUR"}}, key)
        assert assert_error(reused, 400, "QR_TOKEN_REJECTED")["field"] == "identifier.value"
    assert points_of(platform, member_id) == 50


def test_a_retry_after_the_card_was_blocked_answers_the_first_result(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    member_id = platform.enrol()
    card = _card_number()
    path = f"{BASE}/members/{member_id}/identifiers"
    added = admin.post(
        path, headers={"Idempotency-Key": unique("k")}, json={"kind": "card_number", "value": card}
    )
    assert added.status_code == 201, added.text
    body = purchase({"kind": "card_number", "value": card}, at(time.time()))
    key = unique("k")
    with platform.client(key="pos") as pos:
        first = post(pos, body, key)
        assert first.status_code == 201, first.text
        blocked = admin.delete(
            path,
            headers={"Idempotency-Key": unique("k")},
            params={"kind": "card_number", "value": card, "reason": "stolen"},
        )
        assert blocked.status_code == 200, blocked.text
        retry = post(pos, body, key)
        assert retry.status_code == 201, retry.text
        assert retry.json() == first.json()
        # The card is refused for anything new, the same purchase under a new key included.
        refused = post(pos, body)
        assert assert_error(refused, 409, "IDENTIFIER_BLOCKED")["field"] == "identifier.value"
    assert points_of(platform, member_id) == 50


def test_a_retry_after_a_merge_moved_the_card_answers_the_first_result(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    merged, survivor = platform.enrol(), platform.enrol()
    card = _card_number()
    added = admin.post(
        f"{BASE}/members/{merged}/identifiers",
        headers={"Idempotency-Key": unique("k")},
        json={"kind": "card_number", "value": card},
    )
    assert added.status_code == 201, added.text
    body = purchase({"kind": "card_number", "value": card}, at(time.time()))
    key = unique("k")
    with platform.client(key="pos") as pos:
        first = post(pos, body, key)
        assert first.status_code == 201, first.text
        assert first.json()["member_id"] == merged

        async def merge() -> None:
            async with grpc.aio.insecure_channel(platform.identity_address) as channel:
                await identity_pb2_grpc.IdentityServiceStub(channel).MergeMembers(
                    identity_pb2.MergeMembersRequest(
                        program_id=PROGRAM,
                        idempotency_key=unique("merge"),
                        survivor_member_id=survivor,
                        merged_member_id=merged,
                        operator_id="test",
                    )
                )

        asyncio.run(merge())
        retry = post(pos, body, key)
        assert retry.status_code == 201, retry.text
        assert retry.json() == first.json()
        # A new purchase with the card is the survivor's.
        moved = post(pos, {**body, "transaction_id": unique("t")})
        assert moved.status_code == 201, moved.text
        assert moved.json()["member_id"] == survivor


def test_retries_of_a_return_and_an_activity_after_the_card_was_blocked(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    member_id = platform.enrol()
    card = _card_number()
    path = f"{BASE}/members/{member_id}/identifiers"
    added = admin.post(
        path, headers={"Idempotency-Key": unique("k")}, json={"kind": "card_number", "value": card}
    )
    assert added.status_code == 201, added.text
    identifier = {"kind": "card_number", "value": card}
    now = at(time.time())
    bought = purchase(identifier, now)
    refund = {
        "identifier": identifier,
        "return_id": unique("r"),
        "original_transaction_id": bought["transaction_id"],
        "refunded_amount": {"amount_minor": 200, "currency": "EUR"},
        "channel": "pos",
        "occurred_at": now,
    }
    review = {
        "identifier": identifier,
        "activity_id": unique("review"),
        "kind": "review",
        "channel": "webshop",
        "reference": "review-1",
        "occurred_at": now,
    }
    keys = {"returns": unique("k"), "activities": unique("k")}
    with platform.client(key="pos") as pos:
        assert post(pos, bought).status_code == 201
        first = {
            route: pos.post(f"{BASE}/{route}", headers={"Idempotency-Key": key}, json=body)
            for (route, key), body in zip(keys.items(), (refund, review), strict=True)
        }
        assert all(response.status_code == 201 for response in first.values()), first
        assert first["returns"].json()["reversed_points"] == 20
        blocked = admin.delete(
            path,
            headers={"Idempotency-Key": unique("k")},
            params={"kind": "card_number", "value": card, "reason": "stolen"},
        )
        assert blocked.status_code == 200, blocked.text
        for (route, key), body in zip(keys.items(), (refund, review), strict=True):
            retry = pos.post(f"{BASE}/{route}", headers={"Idempotency-Key": key}, json=body)
            assert retry.status_code == 201, retry.text
            assert retry.json() == first[route].json()
            assert retry.json()["member_id"] == member_id
