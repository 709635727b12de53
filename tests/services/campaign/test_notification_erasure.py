"""An erasure takes the member's locale out of campaign's notification intents, on real identity,
ledger and campaign processes, PostgreSQL, NATS and a local SMTP server: when campaign consumes
identity's member_erased, its outbox rows are blanked and the intents in its stream (read
directly, by sequence) and in the dead letters are replaced by copies without the locale, the
e-mail deliveries forget it too, other members' intents are untouched, the e-mail consumer goes
on, and neither a second member_erased nor a late event of the member brings anything back."""

import datetime as dt
import smtplib
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import nats
import nats.js.errors
from nats.js import api

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2
from tests.services.campaign.streams import consumed, eventually, publish
from tests.services.campaign.support import PROGRAM
from tests.services.campaign.test_notifications import (  # the fixtures platform and smtp too
    EMAIL,
    EXPIRING,
    Platform,
    expiring_event,
    platform,
    settled,
    smtp,
)

__all__ = ["platform", "smtp"]

ANN_LOCALE = "nl-NL"
BOB_LOCALE = "fr-FR"
DELIVERY_SENT = 2
DELIVERY_FAILED = 3
DELIVERY_SKIPPED = 4


async def enrol(platform: Platform, email: str, locale: str) -> str:
    response = await platform.identity.EnrollMember(
        identity_pb2.EnrollMemberRequest(
            program_id=PROGRAM,
            idempotency_key=uuid.uuid4().hex,
            channel=common_pb2.CHANNEL_APP,
            profile=identity_pb2.Profile(locale=locale),
            identifiers=[
                identity_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_EMAIL, value=email)
            ],
            consents=[identity_pb2.Consent(channel=EMAIL, granted=True)],
        )
    )
    member = response.member.member_id
    await platform.knows_member(member)
    return member


async def erase(platform: Platform, member: str) -> None:
    await platform.identity.EraseMember(
        identity_pb2.EraseMemberRequest(
            program_id=PROGRAM,
            idempotency_key=uuid.uuid4().hex,
            member_id=member,
            operator_id="dpo",
            reason="GDPR-7",
        )
    )


async def stored(servers, namespace: str, stream: str) -> dict[int, api.RawStreamMsg]:  # type: ignore[no-untyped-def]
    """Every message the stream holds ("campaign", "dead_letter"), read directly by sequence."""
    client = await nats.connect(servers.nats_url)
    try:
        manager = client.jetstream()
        name = f"{namespace}_{stream}".upper()
        state = (await manager.stream_info(name)).state
        held = {}
        if not state.messages:
            return held
        for seq in range(state.first_seq, state.last_seq + 1):
            try:
                held[seq] = await manager.get_msg(name, seq)
            except nats.js.errors.NotFoundError:
                continue
        return held
    finally:
        await client.close()


async def intents(servers, namespace: str, stream: str = "campaign") -> dict[int, events_pb2.Event]:  # type: ignore[no-untyped-def]
    """The NotificationIntent events the stream holds, by sequence."""
    held = {}
    for seq, message in (await stored(servers, namespace, stream)).items():
        event = events_pb2.Event.FromString(message.data or b"")
        if event.WhichOneof("payload") == "notification_intent":
            held[seq] = event
    return held


def of(member: str, events: dict[int, events_pb2.Event]) -> dict[int, events_pb2.Event]:
    return {s: e for s, e in events.items() if e.notification_intent.member_id == member}


def without_locale(event: events_pb2.Event) -> events_pb2.Event:
    expected = events_pb2.Event()
    expected.CopyFrom(event)
    expected.notification_intent.locale = ""
    return expected


async def replaced(servers, namespace: str, member: str) -> events_pb2.Event:  # type: ignore[no-untyped-def]
    """The member's one intent in campaign's stream once the relay replaced it by a copy without
    the locale (and deleted the original)."""

    async def copy() -> events_pb2.Event | None:
        held = list(of(member, await intents(servers, namespace)).values())
        return held[0] if len(held) == 1 and not held[0].notification_intent.locale else None

    return await eventually(copy)


async def outbox_intents(pool: asyncpg.Pool) -> dict[str, tuple[events_pb2.Event, bool]]:
    """Campaign's outbox rows of intents by member: the event, and whether it was erased."""
    rows = await pool.fetch("SELECT payload, personal_erased FROM outbox ORDER BY seq")
    events = [(events_pb2.Event.FromString(r["payload"]), r["personal_erased"]) for r in rows]
    return {
        e.notification_intent.member_id: (e, erased)
        for e, erased in events
        if e.WhichOneof("payload") == "notification_intent"
    }


async def delivered_intents(pool: asyncpg.Pool) -> dict[str, events_pb2.NotificationIntent]:
    rows = await pool.fetch("SELECT intent FROM email_deliveries")
    return {
        i.member_id: i
        for i in (events_pb2.NotificationIntent.FromString(r["intent"]) for r in rows)
    }


async def holding(pool: asyncpg.Pool, needle: str) -> list[str]:
    """The tables of campaign's schema with a value holding `needle`, in text or in bytes."""
    tables = await pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'campaign' ORDER BY tablename"
    )
    found = []
    for table in tables:
        for row in await pool.fetch(f'SELECT * FROM campaign."{table["tablename"]}"'):
            if any(
                needle.encode() in value if isinstance(value, bytes) else needle in str(value)
                for value in row.values()
            ):
                found.append(table["tablename"])
                break
    return found


async def intents_sent(
    platform: Platform, servers, namespace: str, *members: str
) -> dict[int, events_pb2.Event]:  # type: ignore[no-untyped-def]
    """Publish a points-expiring fact for each member and wait for the e-mails; the intents the
    stream then holds."""
    await platform.policy(enabled_kinds=[EXPIRING], channel_preferences=[EMAIL])
    already = len(platform.inbox.messages)
    for member in members:
        await publish(servers, namespace, "ledger.points_expiring", expiring_event(member, 300))

    async def all_sent() -> bool:
        return len(platform.inbox.messages) == already + len(members)

    await eventually(all_sent)
    return await intents(servers, namespace)


async def nothing(check: Callable[[], Awaitable[int]]) -> bool:
    return await check() == 0


async def test_an_erased_members_intent_loses_the_locale_in_the_outbox_and_the_stream(
    platform, servers, nats_namespace
):
    pool = platform.campaign.service.runtime.pool
    ann = await enrol(platform, "ann@example.com", ANN_LOCALE)
    bob = await enrol(platform, "bob@example.com", BOB_LOCALE)
    before = await intents_sent(platform, servers, nats_namespace, ann, bob)
    [(ann_seq, original)] = of(ann, before).items()
    [(bob_seq, bobs)] = of(bob, before).items()
    assert original.notification_intent.locale == ANN_LOCALE
    assert bobs.notification_intent.locale == BOB_LOCALE

    await erase(platform, ann)

    # The stream: the original is deleted, a copy without the locale replaces it, the same
    # intent otherwise (event and intent id, kind, channel, template data).
    copy = await replaced(servers, nats_namespace, ann)
    assert copy == without_locale(original)
    held = await intents(servers, nats_namespace)
    assert ann_seq not in held
    assert held[bob_seq] == bobs  # somebody else's stays as it was
    # The outbox: blanked in the consumer's transaction.
    outbox = await outbox_intents(pool)
    assert outbox[ann] == (without_locale(original), True)
    assert outbox[bob] == (bobs, False)
    # The e-mail deliveries keep the intent without it.
    delivered = await delivered_intents(pool)
    assert delivered[ann] == without_locale(original).notification_intent
    assert delivered[bob].locale == BOB_LOCALE
    # Nothing of campaign holds Ann's locale any more; the relay is done.
    assert await holding(pool, ANN_LOCALE) == []
    assert await holding(pool, BOB_LOCALE) != []
    await eventually(lambda: nothing(lambda: pool.fetchval("SELECT count(*) FROM stream_erasures")))

    # The e-mail consumer takes the copy for a redelivery: nothing is sent again, nothing fails,
    # and it goes on with the next intent.
    await settled(servers, nats_namespace)
    assert sorted(m["To"] for m in platform.inbox.messages) == [
        "ann@example.com",
        "bob@example.com",
    ]
    states = await pool.fetch("SELECT state FROM email_deliveries")
    assert [r["state"] for r in states] == [DELIVERY_SENT, DELIVERY_SENT]
    await intents_sent(platform, servers, nats_namespace, bob)
    assert of(ann, await intents(servers, nats_namespace, "dead_letter")) == {}


async def test_a_second_member_erased_or_a_late_event_changes_nothing_more(
    platform, servers, nats_namespace
):
    pool = platform.campaign.service.runtime.pool
    ann = await enrol(platform, "ann@example.com", ANN_LOCALE)
    await intents_sent(platform, servers, nats_namespace, ann)
    await erase(platform, ann)
    await replaced(servers, nats_namespace, ann)

    async def identity_done() -> bool:
        # Identity's copy of the enrolment, without the locale, has come (and gone to campaign).
        held = (await stored(servers, nats_namespace, "identity")).values()
        enrolments = [
            e.member_enrolled
            for e in (events_pb2.Event.FromString(m.data or b"") for m in held)
            if e.member_enrolled.member_id == ann
        ]
        return len(enrolments) == 1 and not enrolments[0].locale

    await eventually(identity_done)
    await consumed(servers, nats_namespace, "identity", "campaign_consents")
    await eventually(lambda: nothing(lambda: pool.fetchval("SELECT count(*) FROM stream_erasures")))
    await eventually(
        lambda: nothing(lambda: pool.fetchval("SELECT count(*) FROM dead_letter_sweeps"))
    )
    stream_before = {
        s: m.data for s, m in (await stored(servers, nats_namespace, "campaign")).items()
    }
    outbox_before = await pool.fetch("SELECT * FROM outbox ORDER BY seq")
    deliveries_before = await pool.fetch("SELECT * FROM email_deliveries")

    # member_erased again, as JetStream redelivers it, and Ann's locale change of before the
    # erasure redelivered after it.
    now = dt.datetime.now(dt.UTC)
    again = events_pb2.Event(
        event_id=str(uuid.uuid4()),
        program_id=PROGRAM,
        member_erased=events_pb2.MemberErased(member_id=ann),
    )
    again.member_erased.erased_at.FromDatetime(now)
    late = events_pb2.Event(
        event_id=str(uuid.uuid4()),
        program_id=PROGRAM,
        member_updated=events_pb2.MemberUpdated(
            member_id=ann, changed_fields=["locale"], locale=ANN_LOCALE
        ),
    )
    for event, subject in ((again, "identity.member_erased"), (late, "identity.member_updated")):
        await publish(servers, nats_namespace, subject, event)
    await consumed(servers, nats_namespace, "identity", "campaign_consents")

    # Nothing asked of the relay, nothing changed.
    assert await pool.fetchval("SELECT count(*) FROM stream_erasures") == 0
    assert await pool.fetchval("SELECT count(*) FROM dead_letter_sweeps") == 0
    assert await platform.campaign.service.relay.eraser.erase_due() == 0
    stream_after = {
        s: m.data for s, m in (await stored(servers, nats_namespace, "campaign")).items()
    }
    assert stream_after == stream_before
    assert await pool.fetch("SELECT * FROM outbox ORDER BY seq") == outbox_before
    assert await pool.fetch("SELECT * FROM email_deliveries") == deliveries_before
    member = await pool.fetchrow(
        "SELECT locale, closed, erased FROM notification_members WHERE member_id = $1", ann
    )
    assert tuple(member) == ("", True, True)
    assert await holding(pool, ANN_LOCALE) == []


async def test_an_erased_members_dead_lettered_intent_is_replaced_by_one_without_the_locale(
    platform, servers, nats_namespace
):
    """The e-mail consumer failed on an intent every time and copied it whole to the dead
    letters; the erasure's sweep replaces the erased member's, keeping its headers."""
    ann = await enrol(platform, "ann@example.com", ANN_LOCALE)
    bob = await enrol(platform, "bob@example.com", BOB_LOCALE)
    sent = await intents_sent(platform, servers, nats_namespace, ann, bob)
    client = await nats.connect(servers.nats_url)
    try:
        for event in sent.values():
            # As PullConsumer._failed copies it.
            await client.jetstream().publish(
                f"{nats_namespace}.dead_letter.campaign.campaign_email",
                event.SerializeToString(),
                headers={
                    "Nats-Msg-Id": event.event_id,
                    "Loyalty-Original-Subject": f"{nats_namespace}.campaign.notification_intent",
                    "Loyalty-Error": "boom",
                },
            )
    finally:
        await client.close()
    [original] = of(ann, sent).values()
    [bobs] = of(bob, sent).values()

    await erase(platform, ann)
    await replaced(servers, nats_namespace, ann)

    async def swept() -> dict[int, events_pb2.Event] | None:
        held = of(ann, await intents(servers, nats_namespace, "dead_letter"))
        return held if [e.notification_intent.locale for e in held.values()] == [""] else None

    [(seq, copy)] = (await eventually(swept)).items()
    assert copy == without_locale(original)
    headers = (await stored(servers, nats_namespace, "dead_letter"))[seq].headers or {}
    assert headers["Loyalty-Error"] == "boom"
    assert list(of(bob, await intents(servers, nats_namespace, "dead_letter")).values()) == [bobs]


async def test_an_intent_reaching_the_email_consumer_after_the_erasure_is_kept_without_the_locale(
    platform, servers, nats_namespace
):
    """The e-mail consumer lagged: it takes an erased member's intent from the stream after
    campaign handled the erasure (before the relay replaced it). It stores it without the
    locale, and skips it: identity says the member has no consent."""
    pool = platform.campaign.service.runtime.pool
    ann = await enrol(platform, "ann@example.com", ANN_LOCALE)
    await erase(platform, ann)

    async def closed() -> bool:
        return bool(
            await pool.fetchval("SELECT closed FROM notification_members WHERE member_id = $1", ann)
        )

    await eventually(closed)
    intent_id = str(uuid.uuid4())
    await publish(
        servers,
        nats_namespace,
        "campaign.notification_intent",
        events_pb2.Event(
            event_id=intent_id,
            program_id=PROGRAM,
            notification_intent=events_pb2.NotificationIntent(
                intent_id=intent_id,
                member_id=ann,
                kind=EXPIRING,
                channel=EMAIL,
                locale=ANN_LOCALE,
                template_data={"points": "300"},
            ),
        ),
    )
    await settled(servers, nats_namespace)
    row = await pool.fetchrow("SELECT state, intent, last_error FROM email_deliveries")
    intent = events_pb2.NotificationIntent.FromString(row["intent"])
    assert (intent.intent_id, intent.locale, intent.template_data["points"]) == (
        intent_id,
        "",
        "300",
    )
    assert (row["state"], row["last_error"]) == (DELIVERY_SKIPPED, "no_consent")
    assert platform.inbox.messages == []
    assert of(ann, await intents(servers, nats_namespace, "dead_letter")) == {}


async def test_an_erased_members_failed_email_keeps_only_the_kind_of_its_error(
    platform, servers, nats_namespace
):
    """What the SMTP server answered may quote the address: the erasure keeps only the kind of
    error a delivery that failed for good ended with."""
    pool = platform.campaign.service.runtime.pool
    ann = await enrol(platform, "ann@example.com", ANN_LOCALE)
    bob = await enrol(platform, "bob@example.com", BOB_LOCALE)
    await intents_sent(platform, servers, nats_namespace, ann, bob)
    refusals = {
        member: repr(smtplib.SMTPRecipientsRefused({address: (550, b"mailbox unavailable")}))
        for member, address in ((ann, "ann@example.com"), (bob, "bob@example.com"))
    }
    for member, refusal in refusals.items():
        # As EmailDelivery._failed stores the last attempt's error.
        await pool.execute(
            "UPDATE email_deliveries SET state = $2, last_error = $3 WHERE member_id = $1",
            member,
            DELIVERY_FAILED,
            refusal,
        )
    await erase(platform, ann)
    await replaced(servers, nats_namespace, ann)
    errors = {
        r["member_id"]: (r["state"], r["last_error"])
        for r in await pool.fetch("SELECT member_id, state, last_error FROM email_deliveries")
    }
    assert errors == {
        ann: (DELIVERY_FAILED, "SMTPRecipientsRefused"),
        bob: (DELIVERY_FAILED, refusals[bob]),
    }
    assert await holding(pool, "ann@example.com") == []
    assert await holding(pool, "bob@example.com") == ["email_deliveries"]
