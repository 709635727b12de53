"""Notification intents and their e-mail on real identity, ledger and campaign processes,
PostgreSQL, NATS and a local SMTP server the test starts: each kind from the ledger's facts and
the monthly job, consent per channel (withdrawn consent stops everything), the frequency cap,
quiet hours, delivery exactly once under redelivery, and bad policies."""

import asyncio
import datetime as dt
import uuid
import zoneinfo
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message

import grpc
import nats
import nats.js.errors
import pytest
from aiosmtpd.controller import Controller

from deploy.local.servers import free_port
from loyalty.campaign.v1 import campaign_pb2, engagement_pb2, rules_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from services.campaign.email_delivery import EmailDelivery, SmtpSender, SmtpSettings
from services.campaign.identity_client import MemberDirectory
from services.campaign.metrics import CampaignMetrics
from services.campaign.notifier import Notifier
from services.identity.app import SPEC as IDENTITY
from services.identity.app import IdentityConfig
from tests.services.campaign.streams import consumed, eventually, publish
from tests.services.campaign.support import PROGRAM, Campaign, key, ledger_and_campaign, ts
from tests.services.ledger.support import Ledger
from tests.support.calls import program

KIND = common_pb2.NotificationKind
EMAIL = common_pb2.CONSENT_CHANNEL_EMAIL
PUBLISHED = engagement_pb2.NOTIFICATION_STATUS_PUBLISHED
NO_CONSENT = engagement_pb2.NOTIFICATION_STATUS_SUPPRESSED_NO_CONSENT
FREQUENCY_CAP = engagement_pb2.NOTIFICATION_STATUS_SUPPRESSED_FREQUENCY_CAP
DEFERRED = engagement_pb2.NOTIFICATION_STATUS_DEFERRED_QUIET_HOURS
POINTS_EARNED = common_pb2.NOTIFICATION_KIND_POINTS_EARNED
TIER_REACHED = common_pb2.NOTIFICATION_KIND_TIER_REACHED
CLOSE = common_pb2.NOTIFICATION_KIND_CLOSE_TO_NEXT_TIER
EXPIRING = common_pb2.NOTIFICATION_KIND_POINTS_EXPIRING_SOON
MONTHLY = common_pb2.NOTIFICATION_KIND_MONTHLY_SUMMARY
ALL_KINDS = [POINTS_EARNED, TIER_REACHED, CLOSE, EXPIRING, MONTHLY]
ZONE = zoneinfo.ZoneInfo("Europe/Amsterdam")


class Inbox:
    """aiosmtpd's handler: every message the SMTP server accepted, as parsed."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


@dataclass
class Platform:
    identity: identity_pb2_grpc.IdentityServiceStub
    ledger: Ledger
    campaign: Campaign
    inbox: Inbox
    smtp_port: int
    identity_address: str

    async def policy(self, **fields) -> engagement_pb2.NotificationPolicy:  # type: ignore[no-untyped-def]
        return await self.campaign.notification_policy(**fields)

    async def enrol(self, email: str, *, consent: bool) -> str:
        consents = [identity_pb2.Consent(channel=EMAIL, granted=True)] if consent else []
        response = await self.identity.EnrollMember(
            identity_pb2.EnrollMemberRequest(
                program_id=PROGRAM,
                idempotency_key=uuid.uuid4().hex,
                channel=common_pb2.CHANNEL_APP,
                identifiers=[
                    identity_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_EMAIL, value=email)
                ],
                consents=consents,
            )
        )
        member = response.member.member_id
        await self.knows_member(member)
        return member

    async def knows_member(self, member: str) -> None:
        pool = self.campaign.service.runtime.pool

        async def known() -> bool:
            return bool(
                await pool.fetchval(
                    "SELECT true FROM notification_members WHERE program_id = $1 AND member_id = $2",
                    PROGRAM,
                    member,
                )
            )

        await eventually(known)

    async def consent(self, member: str, *, granted: bool) -> None:
        await self.identity.UpdateConsents(
            identity_pb2.UpdateConsentsRequest(
                program_id=PROGRAM,
                idempotency_key=uuid.uuid4().hex,
                member_id=member,
                consent_updates=[identity_pb2.ConsentUpdate(channel=EMAIL, granted=granted)],
                source_channel=common_pb2.CHANNEL_APP,
            )
        )
        pool = self.campaign.service.runtime.pool

        async def recorded() -> bool:
            return (
                await pool.fetchval(
                    "SELECT granted FROM member_consents WHERE program_id = $1 "
                    "AND member_id = $2 AND channel = $3",
                    PROGRAM,
                    member,
                    EMAIL,
                )
                is granted
            )

        await eventually(recorded)

    async def intents(
        self, member: str = "", **filters
    ) -> list[engagement_pb2.NotificationIntentRecord]:  # type: ignore[no-untyped-def]
        return await self.campaign.notification_intents(member, **filters)

    def notifier(self) -> Notifier:
        return self.campaign.notifier()

    def metric(self, name: str, labels: dict[str, str]) -> float:
        value = self.campaign.service.metrics.registry.get_sample_value(name, labels)
        return value or 0.0


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    inbox.controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=30)
    inbox.controller.start()
    try:
        yield inbox, port
    finally:
        inbox.controller.stop()


@pytest.fixture
async def platform(start_service, smtp) -> AsyncIterator[Platform]:
    inbox, port = smtp
    async with start_service(IDENTITY, IdentityConfig) as (identity_service, identity_channel):
        identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
        await identity.CreateProgram(
            identity_pb2.CreateProgramRequest(
                program_id=PROGRAM, idempotency_key="create", program=program(PROGRAM)
            )
        )
        identity_address = f"127.0.0.1:{identity_service.port}"
        async with ledger_and_campaign(
            start_service,
            identity_address=identity_address,
            smtp_host="127.0.0.1",
            smtp_port=port,
            notification_interval_ms=200,
            monthly_summary_enabled=False,
        ) as (ledger, campaign):
            yield Platform(identity, ledger, campaign, inbox, port, identity_address)


async def settled(servers, namespace: str) -> None:  # type: ignore[no-untyped-def]
    """Every consumer of notifications has handled what was published."""
    await consumed(servers, namespace, "identity", "campaign_consents")
    await consumed(servers, namespace, "ledger", "campaign_notifications")
    await consumed(servers, namespace, "campaign", "campaign_email")


async def decided(
    platform: Platform, member: str, count: int, **filters
) -> list[engagement_pb2.NotificationIntentRecord]:  # type: ignore[no-untyped-def]
    """The member's intents once `count` are decided (the ledger's events come through its outbox,
    so a consumer that is idle may simply not have them yet)."""

    async def enough() -> list[engagement_pb2.NotificationIntentRecord] | None:
        intents = await platform.intents(member, **filters)
        return intents if len(intents) >= count else None

    return await eventually(enough)


async def earn(platform: Platform, member: str, points: int, *, qualifying: bool = False) -> None:
    await platform.ledger.earn(member, points, qualifying=qualifying)


async def test_an_email_arrives_once_even_when_its_intent_is_redelivered(
    platform, servers, nats_namespace
):
    await platform.policy(enabled_kinds=[POINTS_EARNED], channel_preferences=[EMAIL])
    ann = await platform.enrol("ann@example.com", consent=True)
    await earn(platform, ann, 120)
    [message] = await eventually(lambda: _async(platform.inbox.to("ann@example.com")))
    assert message["Subject"] == "You earned points"
    body = message.get_payload()
    assert "points: 120" in body and "available_points: 120" in body
    [intent] = await platform.intents(ann)
    assert (intent.kind, intent.channel, intent.status) == (POINTS_EARNED, EMAIL, PUBLISHED)
    assert intent.template_data["points"] == "120"
    assert message["Message-ID"] == f"<{intent.intent_id}@loyalty>"

    # The same intent event again, twice, as JetStream redelivers it after a lost ack.
    event = events_pb2.Event(
        event_id=intent.intent_id,
        program_id=PROGRAM,
        notification_intent=events_pb2.NotificationIntent(
            intent_id=intent.intent_id,
            member_id=ann,
            kind=POINTS_EARNED,
            channel=EMAIL,
            template_data=dict(intent.template_data),
        ),
    )
    for _ in range(2):
        await publish(servers, nats_namespace, "campaign.notification_intent", event)
    await settled(servers, nats_namespace)
    await asyncio.sleep(0.5)  # a sweeper pass
    assert len(platform.inbox.messages) == 1
    assert (
        platform.metric("loyalty_campaign_emails_total", {"program": PROGRAM, "outcome": "sent"})
        == 1
    )
    assert (
        platform.metric(
            "loyalty_campaign_notification_intents_total",
            {"program": PROGRAM, "kind": "points_earned", "outcome": "published"},
        )
        == 1
    )


async def test_no_message_goes_to_a_member_without_consent(platform, servers, nats_namespace):
    await platform.policy(enabled_kinds=ALL_KINDS)
    ann = await platform.enrol("ann@example.com", consent=True)
    bob = await platform.enrol("bob@example.com", consent=False)
    await earn(platform, bob, 10)
    await earn(platform, ann, 10)
    await eventually(lambda: _async(platform.inbox.to("ann@example.com")))

    # Ann withdraws her e-mail consent; then every kind of notification comes due.
    await platform.consent(ann, granted=False)
    for member in (ann, bob):
        await earn(platform, member, 1_000, qualifying=True)
        await publish(
            servers,
            nats_namespace,
            "ledger.points_expiring",
            expiring_event(member, 50),
        )
    for member in (ann, bob):
        await decided(platform, member, 4)
    # Summaries are switched on now (the job's first run sees them); the next month's run
    # summarises a month they were on in.
    await platform.notifier().monthly_summaries(dt.datetime.now(dt.UTC))
    as_of = dt.datetime.now(dt.UTC) + dt.timedelta(days=40)
    await platform.notifier().monthly_summaries(as_of)
    await settled(servers, nats_namespace)
    await asyncio.sleep(0.5)  # a sweeper pass

    assert [m["To"] for m in platform.inbox.messages] == ["ann@example.com"]
    assert platform.inbox.to("bob@example.com") == []
    for member, first_sent in ((ann, True), (bob, False)):
        intents = await platform.intents(member)
        kinds = {i.kind for i in intents}
        assert kinds == {POINTS_EARNED, TIER_REACHED, EXPIRING, MONTHLY}, kinds
        sent = [i for i in intents if i.status == PUBLISHED]
        assert len(sent) == (1 if first_sent else 0)
        assert all(i.status == NO_CONSENT for i in intents if i not in sent)
        assert all(not i.HasField("publish_time") for i in intents if i not in sent)
    suppressed = await platform.intents(status=NO_CONSENT)
    assert len(suppressed) == 4 + 5
    assert (
        platform.metric(
            "loyalty_campaign_notification_intents_total",
            {"program": PROGRAM, "kind": "points_earned", "outcome": "no_consent"},
        )
        == 3
    )


def expiring_event(member: str, points: int) -> events_pb2.Event:
    return events_pb2.Event(
        event_id=str(uuid.uuid4()),
        program_id=PROGRAM,
        occurred_at=ts(dt.datetime.now(dt.UTC)),
        points_expiring=events_pb2.PointsExpiring(
            member_id=member,
            points=points,
            expires_at=ts(dt.datetime.now(dt.UTC) + dt.timedelta(days=7)),
            days_ahead=7,
        ),
    )


async def test_expiring_points_show_the_last_local_day_they_can_be_spent(
    platform, servers, nats_namespace
):
    await platform.policy(enabled_kinds=[EXPIRING], channel_preferences=[EMAIL])
    eve = await platform.enrol("eve@example.com", consent=True)
    # The program is in Amsterdam. Local midnight on 1 January 2028 (23:00 UTC on 31 December)
    # ends 31 December; 01:00 on 1 July (23:00 UTC on 30 June) leaves an hour of 1 July.
    for points, expires_at in (
        (300, dt.datetime(2028, 1, 1, tzinfo=ZONE)),
        (40, dt.datetime(2027, 7, 1, 1, tzinfo=ZONE)),
    ):
        event = expiring_event(eve, points)
        event.points_expiring.expires_at.CopyFrom(ts(expires_at))
        await publish(servers, nats_namespace, "ledger.points_expiring", event)
    messages = await eventually(
        lambda: _async(m if len(m := platform.inbox.to("eve@example.com")) == 2 else None)
    )
    # SMTP carries lines ended by CRLF.
    bodies = sorted(message.get_payload().replace("\r\n", "\n") for message in messages)
    assert bodies == [
        "Some of your points expire soon.\ndays_ahead: 7\nlast_day: 1 July 2027\npoints: 40\n",
        "Some of your points expire soon.\n"
        "days_ahead: 7\n"
        "last_day: 31 December 2027\n"
        "points: 300\n",
    ], bodies
    # The intent keeps the instant for other channels, and the local day beside it.
    intents = {i.template_data["points"]: i for i in await decided(platform, eve, 2)}
    assert intents["300"].template_data["expires_at"] == "2027-12-31T23:00:00+00:00"
    assert intents["300"].template_data["last_day"] == "2027-12-31"
    assert intents["40"].template_data["last_day"] == "2027-07-01"


async def test_each_kind_and_the_frequency_cap(platform, servers, nats_namespace):
    await platform.policy(enabled_kinds=ALL_KINDS)
    dan = await platform.enrol("dan@example.com", consent=True)
    # 4600 qualifying points: silver (1000) reached, gold (5000) is 400 away, within 10 %.
    await earn(platform, dan, 4_600, qualifying=True)
    await publish(servers, nats_namespace, "ledger.points_expiring", expiring_event(dan, 300))
    intents = {i.kind: i for i in await decided(platform, dan, 4)}
    assert set(intents) == {POINTS_EARNED, TIER_REACHED, CLOSE, EXPIRING}
    assert all(i.status == PUBLISHED for i in intents.values())
    assert intents[TIER_REACHED].template_data["tier_code"] == "silver"
    assert intents[CLOSE].template_data["next_tier_code"] == "gold"
    assert intents[CLOSE].template_data["to_next_tier_amount"] == "400"
    assert intents[EXPIRING].template_data["points"] == "300"
    await eventually(lambda: _async(len(platform.inbox.to("dan@example.com")) == 4))
    subjects = sorted(m["Subject"] for m in platform.inbox.messages)
    assert subjects == [
        "Some of your points expire soon",
        "You are close to the next tier",
        "You earned points",
        "You reached a new tier",
    ]

    # Four today: with a cap of four a day the next one is suppressed, and counted.
    await platform.policy(enabled_kinds=ALL_KINDS, per_member_day_max=4)
    await earn(platform, dan, 10, qualifying=True)
    [capped] = await decided(platform, dan, 1, status=FREQUENCY_CAP)
    await settled(servers, nats_namespace)
    assert capped.kind == POINTS_EARNED
    # "Close to gold" was said this month already: not again.
    assert len(await platform.intents(dan, kind=CLOSE)) == 1
    assert len(platform.inbox.messages) == 4
    assert (
        platform.metric(
            "loyalty_campaign_notification_intents_total",
            {"program": PROGRAM, "kind": "points_earned", "outcome": "frequency_cap"},
        )
        == 1
    )
    # Listed in pages, newest first.
    first = await platform.campaign.stub.ListNotificationIntents(
        campaign_pb2.ListNotificationIntentsRequest(program_id=PROGRAM, page_size=3)
    )
    second = await platform.campaign.stub.ListNotificationIntents(
        campaign_pb2.ListNotificationIntentsRequest(
            program_id=PROGRAM, page_size=3, page_token=first.next_page_token
        )
    )
    assert len(first.intents) == 3 and len(second.intents) == 2 and not second.next_page_token
    times = [i.create_time.ToMicroseconds() for i in [*first.intents, *second.intents]]
    assert times == sorted(times, reverse=True)


async def test_the_monthly_summary_runs_once_per_month(platform, servers, nats_namespace):
    await platform.policy(enabled_kinds=[MONTHLY])
    ann = await platform.enrol("ann@example.com", consent=True)
    bob = await platform.enrol("bob@example.com", consent=True)
    await platform.campaign.live(
        rules_pb2.Rule(
            rule_id="base",
            name="base",
            priority=10,
            earning=rules_pb2.EarningRule(rate=rules_pb2.EarnRate(points=1, per_amount_minor=100)),
        )
    )
    # May 2025 in Amsterdam: the 1st at 00:30 local is still April 30 in UTC.
    await platform.campaign.purchase(ann, "t1", 2_500, at=dt.datetime(2025, 5, 20, 12, tzinfo=ZONE))
    await platform.campaign.purchase(
        ann, "t2", 1_000, at=dt.datetime(2025, 5, 1, 0, 30, tzinfo=ZONE)
    )
    await platform.campaign.purchase(
        ann, "t3", 9_900, at=dt.datetime(2025, 6, 1, 0, 30, tzinfo=ZONE)
    )
    as_of = dt.datetime(2025, 6, 1, 9, 0, tzinfo=ZONE)
    notifier = platform.notifier()
    # The job first sees summaries on in May: April is nobody's summary.
    assert await notifier.monthly_summaries(dt.datetime(2025, 5, 10, 9, tzinfo=ZONE)) == 0
    assert await notifier.monthly_summaries(as_of) == 2
    assert await notifier.monthly_summaries(as_of) == 0
    assert await notifier.monthly_summaries(as_of + dt.timedelta(days=3)) == 0
    [summary] = await platform.intents(ann)
    assert summary.kind == MONTHLY and summary.status == PUBLISHED
    data = dict(summary.template_data)
    assert (data["month"], data["purchases"], data["spend_minor"]) == ("2025-05", "2", "3500")
    assert data["purchase_points"] == "35" and data["tier_code"] == "member"
    assert summary.create_time.ToDatetime(tzinfo=dt.UTC) == as_of
    [bobs] = await platform.intents(bob)
    assert bobs.template_data["purchases"] == "0"
    await eventually(lambda: _async(len(platform.inbox.messages) == 2))
    # The next month is a run of its own.
    assert await notifier.monthly_summaries(dt.datetime(2025, 7, 1, 9, tzinfo=ZONE)) == 2


async def test_the_first_monthly_summary_is_of_the_month_they_were_switched_on(
    platform, servers, nats_namespace
):
    """A summary of the month before summaries were switched on went to every member at once, in
    the middle of a month, about a month the program sent none in; after switching them off and
    on again, the months they were off were summarised too."""
    await platform.policy(enabled_kinds=[MONTHLY])
    ann = await platform.enrol("ann@example.com", consent=True)
    notifier = platform.notifier()
    # Switched on (first seen by the job) on 15 March: nothing of February, then March.
    assert await notifier.monthly_summaries(dt.datetime(2025, 3, 15, 12, tzinfo=ZONE)) == 0
    assert await notifier.monthly_summaries(dt.datetime(2025, 3, 31, 23, tzinfo=ZONE)) == 0
    assert await notifier.monthly_summaries(dt.datetime(2025, 4, 1, 9, tzinfo=ZONE)) == 1
    # Off in April (the job skips the program), on again: April and May were not theirs.
    await platform.policy(enabled_kinds=[POINTS_EARNED])
    assert await notifier.monthly_summaries(dt.datetime(2025, 5, 1, 9, tzinfo=ZONE)) == 0
    await platform.policy(enabled_kinds=[MONTHLY])
    assert await notifier.monthly_summaries(dt.datetime(2025, 6, 2, 9, tzinfo=ZONE)) == 0
    # Changing another setting while they are on keeps them going.
    await platform.policy(enabled_kinds=[MONTHLY, POINTS_EARNED])
    assert await notifier.monthly_summaries(dt.datetime(2025, 7, 1, 9, tzinfo=ZONE)) == 1
    months = sorted(i.template_data["month"] for i in await platform.intents(ann))
    assert months == ["2025-03", "2025-06"]


async def test_quiet_hours_defer_the_email(platform, servers, nats_namespace):
    now = dt.datetime.now(ZONE)
    start, end = now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)
    await platform.policy(
        enabled_kinds=[POINTS_EARNED],
        quiet_hours_start=rules_pb2.LocalTime(hour=start.hour, minute=start.minute),
        quiet_hours_end=rules_pb2.LocalTime(hour=end.hour, minute=end.minute),
    )
    eve = await platform.enrol("eve@example.com", consent=True)
    await earn(platform, eve, 70)
    [intent] = await decided(platform, eve, 1)
    assert intent.status == DEFERRED
    deliver_after = intent.publish_time.ToDatetime(tzinfo=dt.UTC)
    assert deliver_after == end.replace(second=0, microsecond=0).astimezone(dt.UTC)
    pool = platform.campaign.service.runtime.pool

    # Held in campaign until the quiet hours end: nothing reaches the e-mail consumer before.
    await settled(servers, nats_namespace)
    assert await pool.fetchval("SELECT count(*) FROM email_deliveries") == 0
    notifier = platform.notifier()
    assert await notifier.release_held(deliver_after - dt.timedelta(seconds=1)) == 0
    assert await notifier.release_held(deliver_after) == 1
    assert await notifier.release_held(deliver_after) == 0

    async def waiting() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT state = 1 FROM email_deliveries WHERE program_id = $1 AND member_id = $2",
                PROGRAM,
                eve,
            )
        )

    await eventually(waiting)
    await asyncio.sleep(0.5)  # a sweeper pass: not due yet
    assert platform.inbox.messages == []

    # Past the quiet hours, the sweeper sends it, once.
    later = EmailDelivery(
        pool,
        MemberDirectory(
            identity_pb2_grpc.IdentityServiceStub(
                grpc.aio.insecure_channel(platform.identity_address)
            )
        ),
        SmtpSender(SmtpSettings(host="127.0.0.1", port=platform.smtp_port, sender="x@localhost")),
        CampaignMetrics.create(),
        attempts_max=3,
        clock=lambda: deliver_after + dt.timedelta(seconds=1),
    )
    assert await later.sweep() == 1
    assert await later.sweep() == 0
    assert [m["To"] for m in platform.inbox.messages] == ["eve@example.com"]


async def test_quiet_hours_ending_in_the_hour_the_clocks_go_back_over_end_at_its_second_pass(
    platform,
):
    # Quiet from 22:00 to 02:30; on 26 October 2025 Amsterdam's clocks go from 03:00 back to 02:00.
    await platform.policy(
        enabled_kinds=[EXPIRING],
        quiet_hours_start=rules_pb2.LocalTime(hour=22),
        quiet_hours_end=rules_pb2.LocalTime(hour=2, minute=30),
    )
    ann = await platform.enrol("ann@example.com", consent=True)
    notifier = platform.notifier()
    first_pass = dt.datetime(2025, 10, 26, 2, 15, tzinfo=ZONE)  # summer time
    second_pass = dt.datetime(2025, 10, 26, 2, 15, fold=1, tzinfo=ZONE)  # winter time, an hour on
    for at in (first_pass, second_pass):
        event = expiring_event(ann, 300)
        event.occurred_at.CopyFrom(ts(at.astimezone(dt.UTC)))
        assert await notifier.on_event(event) == 1
    intents = sorted(await platform.intents(ann), key=lambda i: i.create_time.ToMicroseconds())
    assert [i.status for i in intents] == [DEFERRED, DEFERRED]
    # Each waits for the next 02:30 on the clock: the first in summer time, the second an hour
    # later in winter time (it was sent at once, in the quiet hours).
    assert [i.publish_time.ToDatetime(tzinfo=dt.UTC) for i in intents] == [
        dt.datetime(2025, 10, 26, 2, 30, tzinfo=ZONE).astimezone(dt.UTC),
        dt.datetime(2025, 10, 26, 2, 30, fold=1, tzinfo=ZONE).astimezone(dt.UTC),
    ]


def night_event(member: str, at: dt.datetime) -> events_pb2.Event:
    event = expiring_event(member, 300)
    event.occurred_at.CopyFrom(ts(at.astimezone(dt.UTC)))
    return event


async def statuses(platform: Platform, member: str) -> list[tuple[int, dt.datetime | None]]:
    """(status, publish time) of the member's intents, oldest fact first."""
    intents = sorted(await platform.intents(member), key=lambda i: i.create_time.ToMicroseconds())
    return [
        (
            i.status,
            i.publish_time.ToDatetime(tzinfo=dt.UTC) if i.HasField("publish_time") else None,
        )
        for i in intents
    ]


async def test_a_message_held_overnight_counts_for_the_day_it_goes_out(platform):
    # One a day, quiet from 22:00 to 07:00. (A night to come: the service's own release job,
    # on the real clock, leaves these held ones alone.)
    await platform.policy(
        enabled_kinds=[EXPIRING],
        per_member_day_max=1,
        quiet_hours_start=rules_pb2.LocalTime(hour=22),
        quiet_hours_end=rules_pb2.LocalTime(hour=7),
    )
    ann = await platform.enrol("ann@example.com", consent=True)
    notifier = platform.notifier()
    evening = night_event(ann, dt.datetime(2027, 6, 10, 20, tzinfo=ZONE))
    night = night_event(ann, dt.datetime(2027, 6, 10, 23, tzinfo=ZONE))
    morning = night_event(ann, dt.datetime(2027, 6, 11, 9, tzinfo=ZONE))
    for event in (evening, night, morning):
        assert await notifier.on_event(event) == 1
    release = dt.datetime(2027, 6, 11, 7, tzinfo=ZONE).astimezone(dt.UTC)
    # The evening's goes out on the 10th; the night's is held to the 11th and counts there
    # (not for the 10th, which had its one), so the morning's is one too many on the 11th.
    assert await statuses(platform, ann) == [
        (PUBLISHED, dt.datetime(2027, 6, 10, 20, tzinfo=ZONE).astimezone(dt.UTC)),
        (DEFERRED, release),
        (FREQUENCY_CAP, None),
    ]
    # A redelivered fact decides nothing again, and counts nothing twice.
    assert await notifier.on_event(night) == 0
    assert await notifier.release_held(release) == 1
    assert await notifier.release_held(release) == 0
    assert [s for s, _ in await statuses(platform, ann)] == [PUBLISHED, DEFERRED, FREQUENCY_CAP]


async def test_a_held_message_over_the_cap_when_released_is_suppressed(platform):
    await platform.policy(
        enabled_kinds=[EXPIRING],
        per_member_day_max=2,
        quiet_hours_start=rules_pb2.LocalTime(hour=22),
        quiet_hours_end=rules_pb2.LocalTime(hour=7),
    )
    bob = await platform.enrol("bob@example.com", consent=True)
    notifier = platform.notifier()
    for at in (dt.datetime(2027, 6, 10, 23), dt.datetime(2027, 6, 10, 23, 30)):
        assert await notifier.on_event(night_event(bob, at.replace(tzinfo=ZONE))) == 1
    assert [s for s, _ in await statuses(platform, bob)] == [DEFERRED, DEFERRED]
    # The cap lowered overnight: at release only one of the two fits the 11th.
    await platform.policy(
        enabled_kinds=[EXPIRING],
        per_member_day_max=1,
        quiet_hours_start=rules_pb2.LocalTime(hour=22),
        quiet_hours_end=rules_pb2.LocalTime(hour=7),
    )
    release = dt.datetime(2027, 6, 11, 7, 0, 5, tzinfo=ZONE).astimezone(dt.UTC)
    # Two replicas releasing at once publish it once.
    replicas = [platform.notifier(), platform.notifier()]
    published = await asyncio.gather(*(r.release_held(release) for r in replicas))
    assert sorted(published) == [0, 1]
    assert await statuses(platform, bob) == [(DEFERRED, release), (FREQUENCY_CAP, None)]
    capped = sum(
        r.metrics.notification_intents.labels(
            PROGRAM, "points_expiring_soon", "frequency_cap"
        )._value.get()
        for r in replicas
    )
    assert capped == 1
    pool = platform.campaign.service.runtime.pool
    assert await pool.fetchval("SELECT count(*) FROM notification_intents WHERE held") == 0


async def test_a_failed_email_is_retried_until_it_is_sent(platform, servers, nats_namespace):
    await platform.policy(enabled_kinds=[POINTS_EARNED])
    gus = await platform.enrol("gus@example.com", consent=True)
    platform.inbox.controller.stop()  # the SMTP server is down
    await earn(platform, gus, 40)
    pool = platform.campaign.service.runtime.pool

    async def attempted() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT attempts FROM email_deliveries WHERE program_id = $1 AND member_id = $2 "
                "AND state = 1",
                PROGRAM,
                gus,
            )
        )

    await eventually(attempted)
    assert (
        platform.metric("loyalty_campaign_emails_total", {"program": PROGRAM, "outcome": "failed"})
        == 1
    )
    platform.inbox.controller = Controller(
        platform.inbox, hostname="127.0.0.1", port=platform.smtp_port, ready_timeout=30
    )
    platform.inbox.controller.start()
    # Ten seconds after the failure the retry is due; a sweep then sends it, once.
    later = EmailDelivery(
        pool,
        MemberDirectory(
            identity_pb2_grpc.IdentityServiceStub(
                grpc.aio.insecure_channel(platform.identity_address)
            )
        ),
        SmtpSender(SmtpSettings(host="127.0.0.1", port=platform.smtp_port, sender="x@localhost")),
        CampaignMetrics.create(),
        attempts_max=3,
        clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
    )
    assert await later.sweep() == 1
    assert await later.sweep() == 0
    assert [m["To"] for m in platform.inbox.messages] == ["gus@example.com"]


async def test_without_smtp_no_email_consumer_runs(start_service, servers, nats_namespace):
    async with ledger_and_campaign(start_service):
        client = await nats.connect(servers.nats_url)
        try:
            # The workers declare their consumers as they start, which a busy machine delays:
            # once the notifications consumer is there, the e-mail one would be too.
            for _ in range(300):
                try:
                    info = await client.jetstream().consumer_info(
                        f"{nats_namespace}_ledger".upper(), "campaign_notifications"
                    )
                    break
                except nats.js.errors.NotFoundError:
                    await asyncio.sleep(0.05)
            assert info.config.durable_name == "campaign_notifications"
            await asyncio.sleep(0.5)
            with pytest.raises(nats.js.errors.NotFoundError):
                await client.jetstream().consumer_info(
                    f"{nats_namespace}_campaign".upper(), "campaign_email"
                )
        finally:
            await client.close()


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"per_member_day_max": -1}, "policy.per_member_day_max"),
        ({"per_member_week_max": 5_000}, "policy.per_member_week_max"),
        ({"enabled_kinds": [POINTS_EARNED, 42]}, "policy.enabled_kinds[1]"),
        ({"enabled_kinds": [POINTS_EARNED, POINTS_EARNED]}, "policy.enabled_kinds[1]"),
        ({"channel_preferences": [9]}, "policy.channel_preferences[0]"),
        ({"close_to_next_tier_bps": 20_000}, "policy.close_to_next_tier_bps"),
        ({"quiet_hours_start": rules_pb2.LocalTime(hour=22)}, "policy.quiet_hours_end"),
        (
            {
                "quiet_hours_start": rules_pb2.LocalTime(hour=24),
                "quiet_hours_end": rules_pb2.LocalTime(hour=7),
            },
            "policy.quiet_hours_start.hour",
        ),
    ],
)
async def test_bad_policies_are_refused_naming_the_field(start_service, policy, field):
    async with ledger_and_campaign(start_service, notifications_enabled=False) as (_, campaign):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await campaign.stub.ConfigureNotificationPolicy(
                campaign_pb2.ConfigureNotificationPolicyRequest(
                    program_id=PROGRAM,
                    idempotency_key=key(),
                    policy=engagement_pb2.NotificationPolicy(**policy),
                )
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.details().startswith(f"{field}:"), refused.value.details()


async def test_the_policy_is_stored_idempotently(start_service):
    async with ledger_and_campaign(start_service, notifications_enabled=False) as (_, campaign):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await campaign.stub.GetNotificationPolicy(
                campaign_pb2.GetNotificationPolicyRequest(program_id=PROGRAM)
            )
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        request = campaign_pb2.ConfigureNotificationPolicyRequest(
            program_id=PROGRAM,
            idempotency_key="policy-1",
            policy=engagement_pb2.NotificationPolicy(
                enabled_kinds=[POINTS_EARNED], per_member_week_max=3
            ),
        )
        first = await campaign.stub.ConfigureNotificationPolicy(request)
        again = await campaign.stub.ConfigureNotificationPolicy(request)
        assert again == first
        stored = await campaign.stub.GetNotificationPolicy(
            campaign_pb2.GetNotificationPolicyRequest(program_id=PROGRAM)
        )
        assert stored.policy == first.policy
        assert list(stored.policy.enabled_kinds) == [POINTS_EARNED]
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await campaign.stub.ListNotificationIntents(
                campaign_pb2.ListNotificationIntentsRequest(program_id=PROGRAM, kind=77)
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert bad.value.details().startswith("kind:")


async def test_listing_intents_refuses_an_end_not_after_the_start(start_service):
    start = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)

    def listing(end: dt.datetime) -> campaign_pb2.ListNotificationIntentsRequest:
        return campaign_pb2.ListNotificationIntentsRequest(
            program_id=PROGRAM, start_time=ts(start), end_time=ts(end)
        )

    async with ledger_and_campaign(start_service, notifications_enabled=False) as (_, campaign):
        for end in (start - dt.timedelta(seconds=1), start):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await campaign.stub.ListNotificationIntents(listing(end))
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert refused.value.details().startswith("end_time:"), refused.value.details()
        listed = await campaign.stub.ListNotificationIntents(
            listing(start + dt.timedelta(microseconds=1))
        )
        assert list(listed.intents) == []


async def _async(value):  # type: ignore[no-untyped-def]
    return value


async def test_an_erased_member_is_never_notified_again(platform, servers, nats_namespace):
    await platform.policy(enabled_kinds=[POINTS_EARNED])
    fay = await platform.enrol("fay@example.com", consent=True)
    await platform.identity.EraseMember(
        identity_pb2.EraseMemberRequest(
            program_id=PROGRAM,
            idempotency_key=uuid.uuid4().hex,
            member_id=fay,
            operator_id="dpo",
            reason="GDPR-1",
        )
    )
    pool = platform.campaign.service.runtime.pool

    async def closed() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT closed FROM notification_members WHERE program_id = $1 AND member_id = $2",
                PROGRAM,
                fay,
            )
        )

    await eventually(closed)
    # A consent event that comes late (out of order) does not reopen the member.
    await publish(
        servers,
        nats_namespace,
        "identity.consent_changed",
        events_pb2.Event(
            event_id=str(uuid.uuid4()),
            program_id=PROGRAM,
            consent_changed=events_pb2.ConsentChanged(
                member_id=fay, channel=EMAIL, granted=True, changed_at=ts(dt.datetime.now(dt.UTC))
            ),
        ),
    )
    await earn(platform, fay, 30)
    [intent] = await decided(platform, fay, 1)
    await settled(servers, nats_namespace)
    assert intent.status == NO_CONSENT
    await asyncio.sleep(0.5)  # a sweeper pass
    assert platform.inbox.messages == []
