"""What notification intents consume from JetStream, each handler idempotent under redelivery.

- `ledger.points_posted` / `tier_changed` / `points_expiring`: the facts members are told about
  (services/campaign/notifier.py decides, once per member and cause);
- `identity.*`: each member's consent per channel and locale, kept so that nothing is sent
  without consent; an erased or merged-away member is closed and never notified again, and an
  erased member's locale is taken out of the intents published before
  (services/campaign/notification_erasure.py).
"""

import datetime as dt
import logging

import asyncpg
from nats.aio.msg import Msg

from loyalty.events.v1 import events_pb2
from services.campaign import repository_notifications as store
from services.campaign.notification_erasure import forget_member
from services.campaign.notifier import Notifier

logger = logging.getLogger(__name__)


def _occurred(event: events_pb2.Event) -> dt.datetime:
    if event.HasField("occurred_at"):
        return event.occurred_at.ToDatetime(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)


class NotificationHandler:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    async def __call__(self, message: Msg) -> None:
        await self.notifier.on_event(events_pb2.Event.FromString(message.data))


class ConsentHandler:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        payload = event.WhichOneof("payload")
        program_id, at = event.program_id, _occurred(event)
        async with self.pool.acquire() as connection, connection.transaction():
            if payload == "member_enrolled":
                enrolled = event.member_enrolled
                await store.ensure_member(
                    connection, program_id, enrolled.member_id, locale=enrolled.locale
                )
                for channel in enrolled.granted_consent_channels:
                    await store.set_consent(
                        connection,
                        program_id,
                        enrolled.member_id,
                        channel=channel,
                        granted=True,
                        changed_at=at,
                    )
            elif payload == "consent_changed":
                changed = event.consent_changed
                await store.ensure_member(connection, program_id, changed.member_id)
                await store.set_consent(
                    connection,
                    program_id,
                    changed.member_id,
                    channel=changed.channel,
                    granted=changed.granted,
                    changed_at=changed.changed_at.ToDatetime(tzinfo=dt.UTC)
                    if changed.HasField("changed_at")
                    else at,
                )
            elif payload == "member_updated" and "locale" in event.member_updated.changed_fields:
                updated = event.member_updated
                await store.ensure_member(
                    connection, program_id, updated.member_id, locale=updated.locale
                )
            elif payload == "member_erased":
                # Closed, and the locale out of the intents published and stored (once).
                await forget_member(connection, program_id, event.member_erased.member_id)
            elif payload == "member_merged":
                await store.close_member(
                    connection, program_id, event.member_merged.merged_member_id
                )
