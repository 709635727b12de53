"""An erased member's personal data out of campaign's notifications, on identity's member_erased.

What campaign keeps of a member for notifications, and what the erasure does with it, in the
consumer's transaction:

- notification_members: the locale is blanked and the consents deleted, the member closed (no
  intent is decided for them again; one held by quiet hours is suppressed, NO_CONSENT, when
  released) and marked erased, so a member_erased delivered again does nothing more;
- the NotificationIntent events carry the locale: the outbox rows are blanked and the relay
  replaces the messages in campaign's stream and in the dead letters by copies without it, then
  deletes the originals (services/shared/outbox_erasure.py, as identity's erasure does for its
  events). A copy has the original's event and intent id, so the e-mail consumer takes it for a
  redelivery, or, if it had not got there yet, handles it as any intent of an erased member
  (identity answers that it has no consent: skipped);
- email_deliveries: the intent as received, locale included, is blanked the same way; an SMTP
  server's refusal stored as the last error may quote the address, so only the error's type is
  kept. The e-mail consumer stores an intent of an erased member without the locale
  (repository_notifications.insert_delivery), so one it takes from the stream after the erasure
  and before the relay's copy does not bring it back;
- notification_intents keep kind, channel, cause and template data (points, tier codes, the
  month's purchases): the member's account under the pseudonym, as the ledger keeps the points,
  for the audit of what was decided. They never held the locale (it is read when published).

Intents published by a campaign that did not yet name their member in the outbox were not
recorded by stream sequence: they keep the locale in the stream until its max age.
"""

import asyncpg

from loyalty.events.v1 import events_pb2
from services.campaign import repository_notifications as store
from services.shared.outbox_erasure import forget_member_events
from services.shared.personal_data import without_personal_data


async def forget_member(connection: asyncpg.Connection, program_id: str, member_id: str) -> bool:
    """Close the member and take their personal data out of campaign's notifications; False if
    the member was erased already (a redelivery), which changes nothing."""
    erased_before = await connection.fetchval(
        "SELECT erased FROM notification_members WHERE program_id = $1 AND member_id = $2 "
        "FOR UPDATE",
        program_id,
        member_id,
    )
    if erased_before:
        return False
    await store.close_member(connection, program_id, member_id)
    await connection.execute(
        "UPDATE notification_members SET erased = true WHERE program_id = $1 AND member_id = $2",
        program_id,
        member_id,
    )
    await forget_member_events(connection, program_id, [member_id])
    await _forget_deliveries(connection, program_id, member_id)
    return True


async def _forget_deliveries(
    connection: asyncpg.Connection, program_id: str, member_id: str
) -> None:
    rows = await connection.fetch(
        "SELECT intent_id, intent FROM email_deliveries WHERE program_id = $1 AND member_id = $2 "
        "FOR UPDATE",
        program_id,
        member_id,
    )
    if not rows:
        return
    await connection.execute(
        "UPDATE email_deliveries SET intent = t.intent, "
        "last_error = split_part(last_error, '(', 1) "
        "FROM unnest($3::uuid[], $4::bytea[]) AS t (intent_id, intent) "
        "WHERE program_id = $1 AND member_id = $2 AND email_deliveries.intent_id = t.intent_id",
        program_id,
        member_id,
        [row["intent_id"] for row in rows],
        [scrubbed_intent(row["intent"]) for row in rows],
    )


def scrubbed_intent(intent: bytes) -> bytes:
    """A serialised NotificationIntent without the member's personal data."""
    event = events_pb2.Event(notification_intent=events_pb2.NotificationIntent.FromString(intent))
    return without_personal_data(event).notification_intent.SerializeToString()
