"""Merges of merges (A into B, then B into C), across identity, the ledger and campaign, all
real and fed by identity's own events: every service says A is C's, and nothing merges back."""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import asyncpg
import grpc
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from services.identity.app import SPEC, IdentityConfig
from tests.services.campaign.insight_support import eventually
from tests.services.campaign.support import earning, ledger_and_campaign, rate
from tests.services.identity.conftest import KIND, PROGRAM, email, enrol, failure, identifier
from tests.support.calls import program

CARD = "4000001234567899"
MONDAY = dt.datetime(2025, 5, 5, 9, 0, tzinfo=dt.UTC)


async def merge(stub, survivor: str, merged: str) -> identity_pb2.MergeMembersResponse:  # type: ignore[no-untyped-def]
    return await stub.MergeMembers(
        identity_pb2.MergeMembersRequest(
            program_id=PROGRAM,
            idempotency_key=f"merge:{merged}:{survivor}",
            survivor_member_id=survivor,
            merged_member_id=merged,
            operator_id="desk-7",
        )
    )


async def refusal_naming(call: Callable[[], Awaitable[object]], survivor: str) -> str:
    """What the call is refused with once it names the survivor (the services consume the
    merges in their own time); the last refusal, or success, fails the test."""
    last = "the call succeeded"
    for _ in range(200):
        try:
            await call()
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
            last = error.details()
            if f"merged into {survivor!r}" in last:
                return last
        await asyncio.sleep(0.05)
    pytest.fail(f"never refused naming {survivor!r}; last: {last}")


async def test_after_a_into_b_then_b_into_c_every_service_says_a_is_c_s(
    start_service, database_url: str
) -> None:
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate()))
        async with start_service(SPEC, IdentityConfig, ledger_address=campaign.ledger_address) as (
            service,
            channel,
        ):
            stub = identity_pb2_grpc.IdentityServiceStub(channel)
            await stub.CreateProgram(
                identity_pb2.CreateProgramRequest(
                    program_id=PROGRAM, idempotency_key="c", program=program(PROGRAM)
                )
            )
            a = (await enrol(stub, identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, CARD))).member
            b = (await enrol(stub, email("b@example.com"))).member
            c = (await enrol(stub, email("c@example.com"))).member
            await ledger.earn(a.member_id, 100)
            await merge(stub, b.member_id, a.member_id)
            await merge(stub, c.member_id, b.member_id)
            await service.relay.flush(timeout_s=10)

            # Identity: A's record and A's card name C.
            gone = (
                await stub.GetMember(
                    identity_pb2.GetMemberRequest(program_id=PROGRAM, member_id=a.member_id)
                )
            ).member
            assert (gone.status, gone.merged_into_member_id) == (
                common_pb2.MEMBER_STATUS_MERGED,
                c.member_id,
            )
            resolved = await stub.ResolveIdentifier(
                identity_pb2.ResolveIdentifierRequest(
                    program_id=PROGRAM, kind=KIND.IDENTIFIER_KIND_CARD_NUMBER, value=CARD
                )
            )
            assert resolved.member_id == c.member_id

            # The ledger: an earn for A is refused naming C; A's points are C's.
            await refusal_naming(lambda: ledger.earn(a.member_id, 1), c.member_id)
            assert (await ledger.balance(c.member_id)).available_points >= 100

            # Campaign: A is recorded as C's, and A's purchases are refused naming C.
            connection = await asyncpg.connect(
                database_url, server_settings={"search_path": "campaign"}
            )
            try:

                async def recorded() -> dict[str, str]:
                    rows = await connection.fetch(
                        "SELECT member_id, merged_into FROM members WHERE merged_into IS NOT NULL"
                    )
                    return {r["member_id"]: r["merged_into"] for r in rows}

                expected = {a.member_id: c.member_id, b.member_id: c.member_id}
                assert await eventually(recorded, expected) == expected
            finally:
                await connection.close()
            error = await failure(campaign.purchase(a.member_id, "t1", 1_000, at=MONDAY))
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert error.details() == (
                f"member_id: member {a.member_id!r} was merged into {c.member_id!r}"
            )

            # No cycle: C cannot be merged back into A (or B), nor A into anyone again.
            for survivor, merged in ((a, c), (b, c), (c, a)):
                error = await failure(merge(stub, survivor.member_id, merged.member_id))
                assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert ("loyalty-error-reason", "MEMBER_CLOSED") in tuple(error.trailing_metadata())
            error = await failure(merge(stub, a.member_id, c.member_id))
            assert error.details() == (
                f"survivor_member_id: member {a.member_id!r} is merged into {c.member_id!r}, "
                "which holds its identifiers and points now; act on that member"
            )
            await ledger.assert_clean()
