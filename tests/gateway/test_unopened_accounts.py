"""A member identity enrolled whose account the ledger has not opened yet (its enrolment
consumer is behind, or the program's ledger part came after the enrolment) reads as the empty
account the ledger will open: balance, lots, history and tier history, with an API key and with
a member token. Set up for real: the member is enrolled in a program the ledger does not know
yet, the ledger's enrolment consumer reads the enrolment (and skips it: no program), then the
program's ledger part is configured, so the account stays unopened until a first earn."""

import asyncio
from dataclasses import dataclass

import grpc
import nats
import nats.js.errors

from deploy.local import demo
from deploy.local.programs import program_config
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from services.ledger.consumers import MEMBER_ENROLLED_CONSUMER
from tests.gateway.conftest import GatewayPlatform, _create_key, unique
from tests.gateway.test_auth import assert_error
from tests.support.streams import consumed

READS = ("balance", "lots", "history", "tier-history")
# Where the enrolment event is looked for, newest first: the gateway platform's identity stream
# holds every test's enrolments, and ours was published moments ago.
STREAM_SCAN_MAX = 2_000


@dataclass
class LateProgram:
    program_id: str
    key: str
    enrolled: str  # enrolled before the program's ledger part existed: no account
    token: str


def test_an_enrolled_member_without_an_account_reads_as_an_empty_one(
    platform: GatewayPlatform,
) -> None:
    late = asyncio.run(_late_program(platform))
    base = f"/v1/programs/{late.program_id}/members"
    with (
        platform.client(key=late.key) as by_key,
        platform.client(token=late.token) as by_token,
    ):
        callers = {"api key": (by_key, late.enrolled), "member token": (by_token, "me")}
        answers = {
            (caller, read): client.get(f"{base}/{member}/{read}")
            for caller, (client, member) in callers.items()
            for read in READS
        }
        statuses = {asked: response.status_code for asked, response in answers.items()}
        assert statuses == dict.fromkeys(answers, 200), statuses
        for caller in callers:
            reads = {read: answers[caller, read] for read in READS}
            balance = reads["balance"].json()
            assert balance["member_id"] == late.enrolled
            assert {name: value for name, value in balance.items() if name.endswith("_points")} == {
                "available_points": 0,
                "pending_points": 0,
                "held_points": 0,
                "lifetime_earned_points": 0,
                "debt_points": 0,
                "expiring_30_days_points": 0,
            }
            assert (balance["tier_code"], balance["qualifying_amount"]) == ("green", 0)
            assert (balance["next_tier_code"], balance["to_next_tier_amount"]) == ("silver", 1_500)
            assert balance["next_expiry_at"] is None
            assert reads["lots"].json()["lots"] == []
            assert reads["history"].json()["postings"] == []
            assert reads["tier-history"].json()["tier_changes"] == []
            # Still no account: a read opens none (the consumer or a first earn does).
            assert not asyncio.run(_has_account(platform, late.program_id, late.enrolled))

        # The same balance the ledger gives a member whose enrolment it did read.
        opened = asyncio.run(_enrol(platform, late.program_id))
        asyncio.run(_enrolment_read(platform, opened))
        fresh = by_key.get(f"{base}/{opened}/balance").json()
        assert asyncio.run(_has_account(platform, late.program_id, opened))
        unopened = by_key.get(f"{base}/{late.enrolled}/balance").json()
        for balance in (fresh, unopened):
            del balance["member_id"], balance["as_of"]
        assert unopened == fresh

        # A member id neither identity nor the ledger knows stays unknown.
        nobody = unique("nobody")
        for read in READS:
            error = assert_error(by_key.get(f"{base}/{nobody}/{read}"), 404, "MEMBER_NOT_FOUND")
            assert error["field"] == "member_id", read


async def _late_program(platform: GatewayPlatform) -> LateProgram:
    program_id = unique("late-ledger")
    async with grpc.aio.insecure_channel(platform.identity_address) as channel:
        await identity_pb2_grpc.IdentityServiceStub(channel).CreateProgram(
            identity_pb2.CreateProgramRequest(
                program_id=program_id,
                idempotency_key=unique("program"),
                program=identity_pb2.Program(
                    program_id=program_id,
                    name="Late ledger",
                    points_name="beans",
                    currency="EUR",
                    time_zone=demo.TIME_ZONE,
                    entry_tier_code="green",
                    default_locale="nl-NL",
                ),
            )
        )
    key = await _create_key(platform.identity_address, program_id, scopes=("members:read",))
    enrolled = await _enrol(platform, program_id)
    # The ledger's consumer has read the enrolment (and left it: the program was unknown).
    await _enrolment_read(platform, enrolled)
    async with grpc.aio.insecure_channel(platform.ledger_address) as channel:
        ledger = ledger_pb2_grpc.LedgerServiceStub(channel)
        await ledger.ConfigureProgram(
            ledger_pb2.ConfigureProgramRequest(
                program_id=program_id,
                idempotency_key=unique("config"),
                config=program_config(
                    program_id,
                    points_name="beans",
                    entry_tier_code="green",
                    time_zone=demo.TIME_ZONE,
                ),
            )
        )
        await ledger.SetTierDefinitions(
            ledger_pb2.SetTierDefinitionsRequest(
                program_id=program_id, idempotency_key=unique("tiers"), tiers=demo.TIERS
            )
        )
    async with grpc.aio.insecure_channel(platform.identity_address) as channel:
        issued = await identity_pb2_grpc.IdentityServiceStub(channel).IssueMemberToken(
            identity_pb2.IssueMemberTokenRequest(
                program_id=program_id, member_id=enrolled, scopes=["member:read"]
            )
        )
    return LateProgram(program_id=program_id, key=key, enrolled=enrolled, token=issued.token)


async def _enrol(platform: GatewayPlatform, program_id: str) -> str:
    async with grpc.aio.insecure_channel(platform.identity_address) as channel:
        enrolled = await identity_pb2_grpc.IdentityServiceStub(channel).EnrollMember(
            identity_pb2.EnrollMemberRequest(
                program_id=program_id,
                idempotency_key=unique("enrol"),
                channel=common_pb2.CHANNEL_APP,
                profile=identity_pb2.Profile(given_name="Late"),
                identifiers=[
                    identity_pb2.Identifier(
                        kind=common_pb2.IDENTIFIER_KIND_EMAIL, value=f"{unique('m')}@t.example"
                    )
                ],
            )
        )
    return enrolled.member.member_id


async def _enrolment_read(platform: GatewayPlatform, member_id: str) -> None:
    """Until the ledger's enrolment consumer has handled the member's MemberEnrolled: found in
    identity's stream (once its outbox relay published it), then waited for by sequence."""
    cluster = platform.cluster
    stream = f"{cluster.namespace}_{MEMBER_ENROLLED_CONSUMER.stream}".upper()
    client = await nats.connect(cluster.nats_url)
    try:
        manager = client.jetstream()
        sequence = 0
        scanned = (await manager.stream_info(stream)).state.last_seq - STREAM_SCAN_MAX
        for _ in range(600):  # bounded so a stalled relay fails the test instead of hanging it
            last = (await manager.stream_info(stream)).state.last_seq
            for seq in range(last, max(0, scanned), -1):
                try:
                    message = await manager.get_msg(stream, seq)
                except nats.js.errors.NotFoundError:
                    continue  # removed by the stream's limits
                event = events_pb2.Event.FromString(message.data or b"")
                if event.member_enrolled.member_id == member_id:
                    sequence = seq
                    break
            if sequence:
                break
            scanned = last
            await asyncio.sleep(0.05)
        assert sequence, f"identity never published the enrolment of {member_id}"
    finally:
        await client.close()
    await consumed(
        cluster,
        cluster.namespace,
        MEMBER_ENROLLED_CONSUMER.stream,
        MEMBER_ENROLLED_CONSUMER.durable,
        delivered_at_least=sequence,
    )


async def _has_account(platform: GatewayPlatform, program_id: str, member_id: str) -> bool:
    async with grpc.aio.insecure_channel(platform.ledger_address) as channel:
        try:
            await ledger_pb2_grpc.LedgerServiceStub(channel).GetBalance(
                ledger_pb2.GetBalanceRequest(program_id=program_id, member_id=member_id)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
            return False
    return True
