"""Points given to another member (a gift, a household): by the member itself with a token that
holds points:transfer, or by a back office; once per Idempotency-Key, and never to a member
identity does not know as active."""

import asyncio

import grpc
import httpx

from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error

BASE = f"/v1/programs/{PROGRAM}"
GIVER_SCOPES = ("member:read", "points:transfer")


def _available(client: httpx.Client, member_id: str) -> int:
    return int(client.get(f"{BASE}/members/{member_id}/balance").json()["available_points"])


def test_a_member_gives_points_once_per_key(platform: GatewayPlatform, admin: httpx.Client) -> None:
    giver, receiver = platform.enrol(), platform.enrol()
    platform.earn(giver, 500)
    body = {"to_member_id": receiver, "points": 200, "note": "Happy birthday"}
    key = unique("gift")
    with platform.client(token=platform.member_token(giver, scopes=GIVER_SCOPES)) as client:
        given = client.post(
            f"{BASE}/members/me/transfers", headers={"Idempotency-Key": key}, json=body
        )
        assert given.status_code == 201, given.text
        result = given.json()
        assert result["transferred_points"] == 200 and result["transfer_id"]
        assert result["balance"]["member_id"] == giver
        assert result["balance"]["available_points"] == 300
        again = client.post(
            f"{BASE}/members/me/transfers", headers={"Idempotency-Key": key}, json=body
        )
        assert again.status_code == 201 and again.json() == result

        too_much = client.post(
            f"{BASE}/members/me/transfers",
            headers={"Idempotency-Key": unique("gift")},
            json=body | {"points": 301},
        )
        assert assert_error(too_much, 409, "INSUFFICIENT_POINTS")["field"] == "points"
        # The same key for another transfer is refused, not a second transfer.
        reused = client.post(
            f"{BASE}/members/me/transfers",
            headers={"Idempotency-Key": key},
            json=body | {"points": 100},
        )
        assert reused.status_code == 409, reused.text
    assert (_available(admin, giver), _available(admin, receiver)) == (300, 200)
    history = admin.get(f"{BASE}/members/{receiver}/history").json()["postings"]
    assert [p["kind"] for p in history] == ["transfer_in"]


def test_a_transfer_needs_an_active_recipient_a_key_and_the_scope(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    giver, erased = platform.enrol(), platform.enrol()
    platform.earn(giver, 100)
    erasure = admin.post(
        f"{BASE}/members/{erased}/erase",
        headers={"Idempotency-Key": unique("erase")},
        json={"operator_id": "support-1", "reason": "member asked"},
    )
    assert erasure.status_code == 200, erasure.text
    path = f"{BASE}/members/me/transfers"
    with platform.client(token=platform.member_token(giver, scopes=GIVER_SCOPES)) as client:
        for recipient in (erased, unique("nobody")):
            response = client.post(
                path,
                headers={"Idempotency-Key": unique("gift")},
                json={"to_member_id": recipient, "points": 10},
            )
            assert assert_error(response, 404, "MEMBER_NOT_FOUND")["field"] == "to_member_id"
        to_self = client.post(
            path,
            headers={"Idempotency-Key": unique("gift")},
            json={"to_member_id": giver, "points": 10},
        )
        assert assert_error(to_self, 400, "INVALID_ARGUMENT")["field"] == "to_member_id"
        for points in (0, "10", 1.5):
            response = client.post(
                path,
                headers={"Idempotency-Key": unique("gift")},
                json={"to_member_id": erased, "points": points},
            )
            assert assert_error(response, 400, "INVALID_ARGUMENT")["field"] == "points"
        no_key = client.post(path, json={"to_member_id": erased, "points": 10})
        assert_error(no_key, 400, "IDEMPOTENCY_KEY_REQUIRED")
    with platform.client(token=platform.member_token(giver)) as client:
        refused = client.post(
            path,
            headers={"Idempotency-Key": unique("gift")},
            json={"to_member_id": erased, "points": 10},
        )
        assert_error(refused, 403, "SCOPE_MISSING")
    assert _available(admin, giver) == 100


def test_a_back_office_moves_points_between_members(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    giver, receiver = platform.enrol(), platform.enrol()
    platform.earn(giver, 100)
    moved = admin.post(
        f"{BASE}/members/{giver}/transfers",
        headers={"Idempotency-Key": unique("move")},
        json={"to_member_id": receiver, "points": 100},
    )
    assert moved.status_code == 201, moved.text
    assert moved.json()["balance"]["available_points"] == 0
    assert _available(admin, receiver) == 100
    with platform.client(key="reader") as reader:
        refused = reader.post(
            f"{BASE}/members/{giver}/transfers",
            headers={"Idempotency-Key": unique("move")},
            json={"to_member_id": receiver, "points": 1},
        )
        assert_error(refused, 403, "SCOPE_MISSING")


def test_a_retry_after_the_recipient_was_erased_answers_the_transfer_made(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    """The recipient is checked with identity before the ledger's call; a retry of a transfer
    that happened is answered from the ledger's record of its key, not refused by that check."""
    giver, receiver = platform.enrol(), platform.enrol()
    platform.earn(giver, 100)
    key = unique("gift")
    body = {"to_member_id": receiver, "points": 40, "note": "for you"}
    path = f"{BASE}/members/me/transfers"
    with platform.client(token=platform.member_token(giver, scopes=GIVER_SCOPES)) as client:
        given = client.post(path, headers={"Idempotency-Key": key}, json=body)
        assert given.status_code == 201, given.text
        erasure = admin.post(
            f"{BASE}/members/{receiver}/erase",
            headers={"Idempotency-Key": unique("erase")},
            json={"operator_id": "support-1", "reason": "member asked"},
        )
        assert erasure.status_code == 200, erasure.text

        retried = client.post(path, headers={"Idempotency-Key": key}, json=body)
        assert retried.status_code == 201, retried.text
        assert retried.json() == given.json()
        # Anything but the same request is refused as before: a new key by the recipient
        # check, another transfer under the key as a reused key.
        fresh = client.post(path, headers={"Idempotency-Key": unique("gift")}, json=body)
        assert assert_error(fresh, 404, "MEMBER_NOT_FOUND")["field"] == "to_member_id"
        changed = client.post(path, headers={"Idempotency-Key": key}, json=body | {"points": 41})
        assert assert_error(changed, 409, "IDEMPOTENCY_KEY_REUSED")["field"] == "Idempotency-Key"
    assert _available(admin, giver) == 60


def test_the_ledger_finds_no_answer_for_a_key_it_does_not_hold(platform: GatewayPlatform) -> None:
    """FindRecordedAnswer writes nothing: a key never used has no answer (the gateway then
    refuses as before), and a request without its retry is refused naming it."""

    async def find() -> tuple[bool, grpc.StatusCode]:
        async with grpc.aio.insecure_channel(platform.ledger_address) as channel:
            stub = ledger_pb2_grpc.LedgerServiceStub(channel)
            unused = await stub.FindRecordedAnswer(
                ledger_pb2.FindRecordedAnswerRequest(
                    transfer=ledger_pb2.TransferPointsRequest(
                        program_id=PROGRAM,
                        idempotency_key=unique("never-used"),
                        source_member_id="a",
                        target_member_id="b",
                        points=1,
                    )
                )
            )
            try:
                await stub.FindRecordedAnswer(ledger_pb2.FindRecordedAnswerRequest())
            except grpc.aio.AioRpcError as error:
                return unused.HasField("transfer"), error.code()
        return unused.HasField("transfer"), grpc.StatusCode.OK

    assert asyncio.run(find()) == (False, grpc.StatusCode.INVALID_ARGUMENT)
