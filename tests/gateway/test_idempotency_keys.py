"""One Idempotency-Key is one change: the same key on another route is refused (409
IDEMPOTENCY_KEY_REUSED on the header) whichever service runs either route, not run as a second,
unrelated change. The record is identity's (ClaimIdempotencyKey), kept in its database."""

import asyncio

import asyncpg
import grpc
import httpx

from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error
from tests.gateway.test_transactions import purchase

BASE = f"/v1/programs/{PROGRAM}"


def _refused_as_reused(response: httpx.Response) -> None:
    assert assert_error(response, 409, "IDEMPOTENCY_KEY_REUSED")["field"] == "Idempotency-Key"


def test_a_key_used_on_one_route_is_refused_on_routes_of_other_services(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    member, other = platform.enrol(), platform.enrol()
    platform.earn(member, 1_000)
    key = unique("k")
    headers = {"Idempotency-Key": key}
    body = purchase(member, unique("t"), 1_000)
    first = admin.post(f"{BASE}/purchases", headers=headers, json=body)  # campaign
    assert first.status_code == 201, first.text

    redeemed = admin.post(  # rewards
        f"{BASE}/members/{member}/redemptions", headers=headers, json={"reward_id": "free-coffee"}
    )
    _refused_as_reused(redeemed)
    given = admin.post(  # ledger
        f"{BASE}/members/{member}/transfers",
        headers=headers,
        json={"to_member_id": other, "points": 10},
    )
    _refused_as_reused(given)
    enrolled = admin.post(  # identity
        f"{BASE}/members",
        headers=headers,
        json={
            "channel": "app",
            "identifiers": [{"kind": "email", "value": f"{unique('m')}@t.example"}],
        },
    )
    _refused_as_reused(enrolled)
    activity = admin.post(  # campaign again, another route
        f"{BASE}/activities",
        headers=headers,
        json={
            "member_id": member,
            "activity_id": unique("review"),
            "kind": "review",
            "channel": "webshop",
            "occurred_at": body["occurred_at"],
        },
    )
    _refused_as_reused(activity)

    # Nothing of those happened; the purchase's retry is answered as before.
    assert admin.get(f"{BASE}/members/{member}/redemptions").json()["redemptions"] == []
    assert admin.get(f"{BASE}/members/{other}/history").json()["postings"] == []
    retried = admin.post(f"{BASE}/purchases", headers=headers, json=body)
    assert retried.status_code == 201, retried.text
    assert retried.json() == first.json()


def test_keys_are_each_callers_own(platform: GatewayPlatform, admin: httpx.Client) -> None:
    """Another API key, or a member, may use the same key text for its own change."""
    member = platform.enrol()
    platform.earn(member, 1_000)
    key = unique("k")
    purchased = admin.post(
        f"{BASE}/purchases",
        headers={"Idempotency-Key": key},
        json=purchase(member, unique("t"), 500),
    )
    assert purchased.status_code == 201, purchased.text
    with platform.client(token=platform.member_token(member)) as client:
        redeemed = client.post(
            f"{BASE}/members/me/redemptions",
            headers={"Idempotency-Key": key},
            json={"reward_id": "free-coffee"},
        )
        assert redeemed.status_code == 201, redeemed.text


def test_a_claim_is_one_operations_and_kept_without_the_key(platform: GatewayPlatform) -> None:
    key = f"member/{unique('m')}/{unique('k')}"

    async def claims() -> list[grpc.StatusCode]:
        codes = []
        async with grpc.aio.insecure_channel(platform.identity_address) as channel:
            stub = identity_pb2_grpc.IdentityServiceStub(channel)
            for operation in ("POST /a", "POST /a", "POST /b", ""):
                try:
                    await stub.ClaimIdempotencyKey(
                        identity_pb2.ClaimIdempotencyKeyRequest(
                            program_id=PROGRAM, idempotency_key=key, operation=operation
                        )
                    )
                    codes.append(grpc.StatusCode.OK)
                except grpc.aio.AioRpcError as error:
                    codes.append(error.code())
        return codes

    assert asyncio.run(claims()) == [
        grpc.StatusCode.OK,
        grpc.StatusCode.OK,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.INVALID_ARGUMENT,
    ]

    async def stored_in_plain() -> int:
        connection = await asyncpg.connect(platform.cluster.database_url)
        try:
            count: int = await connection.fetchval(
                "SELECT count(*) FROM identity.idempotency_keys WHERE idempotency_key LIKE $1",
                f"%{key}%",
            )
        finally:
            await connection.close()
        return count

    # A member's key may name it: only its HMAC is kept, as an erased member's keys are.
    assert asyncio.run(stored_in_plain()) == 0


def test_a_claim_refuses_a_key_too_long_to_keep(platform: GatewayPlatform) -> None:
    """Kept with a prefix of its own, a key of 195 characters would pass the services' check of
    200 and then fail inside the claim, naming nothing."""

    async def claim() -> grpc.StatusCode:
        async with grpc.aio.insecure_channel(platform.identity_address) as channel:
            try:
                await identity_pb2_grpc.IdentityServiceStub(channel).ClaimIdempotencyKey(
                    identity_pb2.ClaimIdempotencyKeyRequest(
                        program_id=PROGRAM, idempotency_key="k" * 195, operation="POST /a"
                    )
                )
            except grpc.aio.AioRpcError as error:
                return error.code()
        return grpc.StatusCode.OK

    assert asyncio.run(claim()) == grpc.StatusCode.INVALID_ARGUMENT
