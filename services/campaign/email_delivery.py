"""E-mail delivery of notification intents over SMTP, once per intent.

The consumer of `campaign.notification_intent` keeps e-mail intents only. Each one is recorded
(email_deliveries, keyed by the intent id) before anything is sent, then sent under that row's
lock and marked sent in the same transaction: a redelivered intent finds its row sent and sends
nothing. A crash after the SMTP server took the message and before the commit sends it again
on recovery; the Message-ID is the intent's, so a receiving system can drop that copy.

At delivery the member is looked up in identity (GetMember): the address is the member's e-mail
identifier, and consent is checked again, so a withdrawal that came after the intent was
decided still stops the e-mail. Intents deferred by quiet hours arrive when campaign releases
them at their end (services/campaign/notifier.py); those published before that was so, and
failed attempts, wait in the table; the sweeper sends them when due, with a growing delay, up to
`attempts_max` attempts.
"""

import asyncio
import datetime as dt
import logging
import smtplib
import ssl
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage

import asyncpg
from nats.aio.msg import Msg

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.campaign import repository_notifications as store
from services.campaign.errors import CampaignError
from services.campaign.identity_client import MemberDirectory
from services.campaign.metrics import CampaignMetrics
from services.shared.periodic import IncompleteRun
from services.shared.personal_data import without_personal_data

logger = logging.getLogger(__name__)

SWEEP_BATCH_MAX = 100
RETRY_DELAY_MAX_S = 3_600.0
SUBJECTS = {
    common_pb2.NOTIFICATION_KIND_POINTS_EARNED: "You earned points",
    common_pb2.NOTIFICATION_KIND_TIER_REACHED: "You reached a new tier",
    common_pb2.NOTIFICATION_KIND_CLOSE_TO_NEXT_TIER: "You are close to the next tier",
    common_pb2.NOTIFICATION_KIND_POINTS_EXPIRING_SOON: "Some of your points expire soon",
    common_pb2.NOTIFICATION_KIND_MONTHLY_SUMMARY: "Your monthly summary",
}


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0


def compose(intent: events_pb2.NotificationIntent, *, sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = SUBJECTS.get(intent.kind, "News from your loyalty program")
    # The intent id: a copy sent again after a crash is recognisable as the same message.
    message["Message-ID"] = f"<{intent.intent_id}@loyalty>"
    lines = [SUBJECTS.get(intent.kind, "News from your loyalty program") + "."]
    lines += [f"{name}: {value}" for name, value in sorted(_shown(intent.template_data).items())]
    message.set_content("\n".join(lines) + "\n")
    return message


def _shown(template_data: Mapping[str, str]) -> dict[str, str]:
    """The template data as a member reads it: expiring points show the last day they can be
    spent (the program's local date the notifier worked out), not the UTC instant they expire:
    points expiring at local midnight on 1 January last through 31 December, and an instant in
    UTC falls on another day than the program's for part of every day."""
    shown = dict(template_data)
    if "last_day" in shown:
        shown.pop("expires_at", None)
        shown["last_day"] = _long_date(dt.date.fromisoformat(shown["last_day"]))
    return shown


MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _long_date(day: dt.date) -> str:
    """31 December 2027: the month spelled out, so no reader takes it for day and month swapped
    (and no process locale changes it)."""
    return f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}"


class SmtpSender:
    """stdlib smtplib in a worker thread: one connection per message, as deliveries are rare."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        settings = self.settings
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s) as client:
            if settings.starttls:
                client.starttls(context=ssl.create_default_context())
            if settings.username:
                client.login(settings.username, settings.password or "")
            client.send_message(message)


class EmailDelivery:
    def __init__(
        self,
        pool: asyncpg.Pool,
        directory: MemberDirectory,
        sender: SmtpSender,
        metrics: CampaignMetrics,
        *,
        attempts_max: int,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.pool = pool
        self.directory = directory
        self.sender = sender
        self.metrics = metrics
        self.attempts_max = attempts_max
        self.clock = clock

    async def __call__(self, message: Msg) -> None:
        """The JetStream handler: record an e-mail intent, and send it if it is due."""
        event = events_pb2.Event.FromString(message.data)
        if event.WhichOneof("payload") != "notification_intent":
            return
        intent = event.notification_intent
        if intent.channel != common_pb2.CONSENT_CHANNEL_EMAIL:
            return
        intent_id = uuid.UUID(intent.intent_id)
        # Stored instead if the member was erased: the locale does not come back with it.
        blanked = without_personal_data(event).notification_intent
        now = self.clock()
        deliver_after = (
            intent.deliver_after.ToDatetime(tzinfo=dt.UTC)
            if intent.HasField("deliver_after")
            else now
        )
        await store.insert_delivery(
            self.pool,
            event.program_id,
            intent.member_id,
            intent_id,
            deliver_after=deliver_after,
            intent=intent.SerializeToString(),
            intent_without_personal_data=blanked.SerializeToString(),
        )
        await self.deliver(event.program_id, intent.member_id, intent_id, skip_locked=False)

    async def deliver(
        self, program_id: str, member_id: str, intent_id: uuid.UUID, *, skip_locked: bool
    ) -> bool:
        """Send the delivery if it is pending and due; True if it was sent now."""
        async with self.pool.acquire() as connection, connection.transaction():
            row = await store.claim_delivery(
                connection,
                program_id,
                member_id,
                intent_id,
                now=self.clock(),
                skip_locked=skip_locked,
            )
            if row is None:
                return False
            intent = events_pb2.NotificationIntent.FromString(row["intent"])
            recipient = await self.directory.recipient(program_id, member_id)
            if recipient is None or not recipient.consents or not recipient.address:
                outcome = (
                    "no_consent" if recipient is None or not recipient.consents else "no_address"
                )
                await store.finish_delivery(
                    connection,
                    program_id,
                    member_id,
                    intent_id,
                    state=store.DELIVERY_SKIPPED,
                    error=outcome,
                )
                self.metrics.emails.labels(program_id, outcome).inc()
                return False
            try:
                await self.sender.send(
                    compose(intent, sender=self.sender.settings.sender, recipient=recipient.address)
                )
            except (smtplib.SMTPException, OSError) as error:
                await self._failed(connection, row, error)
                self.metrics.emails.labels(program_id, "failed").inc()
                return False
            await store.finish_delivery(
                connection, program_id, member_id, intent_id, state=store.DELIVERY_SENT
            )
        self.metrics.emails.labels(program_id, "sent").inc()
        return True

    async def _failed(
        self, connection: asyncpg.Connection, row: asyncpg.Record, error: Exception
    ) -> None:
        attempts = row["attempts"] + 1
        final = attempts >= self.attempts_max
        logger.warning(
            "e-mail of intent %s failed (attempt %d%s): %r",
            row["intent_id"],
            attempts,
            ", giving up" if final else "",
            error,
        )
        delay_s = min(5.0 * 2**attempts, RETRY_DELAY_MAX_S)
        await store.finish_delivery(
            connection,
            row["program_id"],
            row["member_id"],
            row["intent_id"],
            state=store.DELIVERY_FAILED if final else store.DELIVERY_PENDING,
            error=repr(error),
            retry_at=self.clock() + dt.timedelta(seconds=delay_s),
        )

    async def sweep(self) -> int:
        """Send the deliveries that are due (deferred or to retry); returns how many were sent, or
        ends with IncompleteRun naming those that must wait (after sending the others)."""
        sent = 0
        problems = []
        for program_id, member_id, intent_id in await store.due_deliveries(
            self.pool, now=self.clock(), limit=SWEEP_BATCH_MAX
        ):
            try:
                sent += await self.deliver(program_id, member_id, intent_id, skip_locked=True)
            except CampaignError as error:
                logger.warning("e-mail of intent %s waits: %s", intent_id, error.details())
                problems.append(f"intent {intent_id}: {error.details()}")
        if problems:
            raise IncompleteRun(problems)
        return sent
