"""An erasure takes the member's personal data out of identity's events too, across identity,
the ledger and campaign, all real and fed by identity's own events: after it, neither the
outbox nor the identity stream (read directly) holds the birthday, campaign has forgotten it,
and the consumers go on working."""

import asyncpg
import nats
import nats.js.errors

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from services.identity.app import SPEC, IdentityConfig
from services.shared.personal_data import personal_member
from tests.conftest import Servers
from tests.services.campaign.insight_support import eventually
from tests.services.campaign.support import ledger_and_campaign
from tests.services.identity.conftest import PROGRAM, email, enrol
from tests.support.calls import program

BIRTHDAY = common_pb2.LocalDate(year=1987, month=6, day=5)


def profile() -> identity_pb2.Profile:
    return identity_pb2.Profile(given_name="Zebedee", birthday=BIRTHDAY, locale="nl-NL")


async def identity_stream(servers: Servers, namespace: str) -> list[events_pb2.Event]:
    """Every message the identity stream holds, read by sequence."""
    client = await nats.connect(servers.nats_url)
    try:
        manager = client.jetstream()
        stream = f"{namespace}_identity".upper()
        state = (await manager.stream_info(stream)).state
        held = []
        for seq in range(state.first_seq, state.last_seq + 1):
            try:
                message = await manager.get_msg(stream, seq)
            except nats.js.errors.NotFoundError:
                continue
            held.append(events_pb2.Event.FromString(message.data or b""))
        return held
    finally:
        await client.close()


async def age_out(servers: Servers, namespace: str, member_id: str) -> None:
    """Delete the member's enrolment from the identity stream, as its max age would."""
    client = await nats.connect(servers.nats_url)
    try:
        manager = client.jetstream()
        stream = f"{namespace}_identity".upper()
        state = (await manager.stream_info(stream)).state
        for seq in range(state.first_seq, state.last_seq + 1):
            message = await manager.get_msg(stream, seq)
            event = events_pb2.Event.FromString(message.data or b"")
            if event.member_enrolled.member_id == member_id:
                await manager.delete_msg(stream, seq)
    finally:
        await client.close()


async def birthdays(connection: asyncpg.Connection) -> dict[str, tuple[int, int] | None]:
    rows = await connection.fetch("SELECT member_id, birthday_month, birthday_day FROM members")
    return {
        r["member_id"]: None
        if r["birthday_month"] is None
        else (r["birthday_month"], r["birthday_day"])
        for r in rows
    }


async def test_an_erased_members_birthday_leaves_the_outbox_the_stream_and_campaign(
    start_service, database_url: str, servers: Servers, nats_namespace: str
) -> None:
    campaign_db = await asyncpg.connect(database_url, server_settings={"search_path": "campaign"})
    identity_db = await asyncpg.connect(database_url, server_settings={"search_path": "identity"})
    try:
        async with (
            ledger_and_campaign(start_service) as (_, campaign),
            start_service(SPEC, IdentityConfig, ledger_address=campaign.ledger_address) as (
                service,
                channel,
            ),
        ):
            stub = identity_pb2_grpc.IdentityServiceStub(channel)
            await stub.CreateProgram(
                identity_pb2.CreateProgramRequest(
                    program_id=PROGRAM, idempotency_key="c", program=program(PROGRAM)
                )
            )
            erased = (await enrol(stub, email("z@example.org"), profile=profile())).member
            kept = (await enrol(stub, email("k@example.org"), profile=profile())).member
            # One whose enrolment the stream no longer holds when it is erased.
            aged = (await enrol(stub, email("a@example.org"), profile=profile())).member
            await service.relay.flush(timeout_s=10)
            all_three = {m.member_id: (6, 5) for m in (erased, kept, aged)}
            assert await eventually(lambda: birthdays(campaign_db), all_three) == all_three
            published = await identity_stream(servers, nats_namespace)
            assert {personal_member(e) for e in published} >= {erased.member_id}
            await age_out(servers, nats_namespace, aged.member_id)

            for member in (erased, aged):
                await stub.EraseMember(
                    identity_pb2.EraseMemberRequest(
                        program_id=PROGRAM,
                        idempotency_key=f"erase:{member.member_id}",
                        member_id=member.member_id,
                        operator_id="dpo-1",
                        reason="ticket 4711",
                    )
                )
            await service.relay.flush(timeout_s=10)

            # The outbox: the enrolment is kept (published), without the birthday.
            payloads = await identity_db.fetch("SELECT payload FROM outbox")
            in_outbox = [events_pb2.Event.FromString(r["payload"]) for r in payloads]
            assert erased.member_id not in {personal_member(e) for e in in_outbox}
            assert kept.member_id in {personal_member(e) for e in in_outbox}

            # The stream: the original is deleted, a copy without the birthday replaces it.
            async def still_personal() -> set[str | None]:
                return {personal_member(e) for e in await identity_stream(servers, nats_namespace)}

            assert erased.member_id not in await eventually(still_personal, {kept.member_id, None})
            enrolments = [
                e
                for e in await identity_stream(servers, nats_namespace)
                if e.member_enrolled.member_id == erased.member_id
            ]
            assert len(enrolments) == 1 and enrolments[0].event_id
            assert not enrolments[0].member_enrolled.HasField("birthday")
            assert enrolments[0].member_enrolled.entry_tier_code

            # Campaign forgot the birthdays on member_erased (the aged-out member's too, of
            # which no copy came), and the copy did not restore one.
            after = {erased.member_id: None, kept.member_id: (6, 5), aged.member_id: None}
            assert await eventually(lambda: birthdays(campaign_db), after) == after

            # The consumers go on: a later member's birthday reaches campaign.
            later = (await enrol(stub, email("l@example.org"), profile=profile())).member
            await service.relay.flush(timeout_s=10)
            expected = {**after, later.member_id: (6, 5)}
            assert await eventually(lambda: birthdays(campaign_db), expected) == expected
            assert await identity_db.fetchval("SELECT count(*) FROM stream_erasures") == 0
    finally:
        await campaign_db.close()
        await identity_db.close()
