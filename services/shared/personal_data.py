"""Which events carry a member's personal data, and the same events without it (no I/O).

An erasure must not leave the member's personal data readable in our own stores, and published
events are one of them: the outbox keeps rows a day after relaying them and JetStream keeps
messages for the stream's max age. Member ids are pseudonymous keys and stay. The personal
fields are the ones identity itself blanks in `members` on an erasure (birthday, locale, home
store), so what an erasure removes from identity's tables it also removes from its events.
Identity's erasure blanks its own events; campaign's NotificationIntent carries the member's
locale too (to choose the template's language), which campaign blanks in its own outbox and
stream when it consumes `member_erased` (services/campaign/notification_erasure.py). An intent's
template data (points, tier codes, the month's purchase count and spend) and cause are the
member's account, kept under the pseudonym as the ledger keeps the points.

The rest of an event is kept: consumers still need the fact (an enrolment opens the ledger
account and pays the sign-up bonus, an intent is still a notification decided), only not the
person. The other events (postings among them) carry no profile fields and are never matched,
so their outbox paths pay nothing for this.
"""

from loyalty.events.v1 import events_pb2

# Payload (the Event oneof's field name) -> (its member id field, its personal fields).
_PERSONAL_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "member_enrolled": ("member_id", ("birthday", "locale", "store_id")),
    "member_updated": ("member_id", ("birthday", "locale", "home_store_id")),
    "notification_intent": ("member_id", ("locale",)),
}


def personal_member(event: events_pb2.Event) -> str | None:
    """The member whose personal data the event carries, or None if it carries none."""
    described = _PERSONAL_FIELDS.get(event.WhichOneof("payload") or "")
    if described is None:
        return None
    member_field, fields = described
    payload = getattr(event, event.WhichOneof("payload") or "")
    if not any(
        payload.HasField(f) if _is_message(payload, f) else getattr(payload, f) for f in fields
    ):
        return None
    return str(getattr(payload, member_field))


def without_personal_data(event: events_pb2.Event) -> events_pb2.Event:
    """A copy of the event with the member's personal fields cleared; the same event otherwise,
    event id included, so a consumer that handled the original takes the copy for a redelivery.

    A cleared birthday in a MemberUpdated that names "birthday" among its changed fields reads
    as "the birthday was removed", which is what the erasure did."""
    copy = events_pb2.Event()
    copy.CopyFrom(event)
    described = _PERSONAL_FIELDS.get(copy.WhichOneof("payload") or "")
    if described is not None:
        payload = getattr(copy, copy.WhichOneof("payload") or "")
        for field in described[1]:
            payload.ClearField(field)
    return copy


def scrubbed_payload(payload: bytes) -> bytes:
    """`without_personal_data` of a serialised Event."""
    return without_personal_data(events_pb2.Event.FromString(payload)).SerializeToString()


def _is_message(payload: object, field: str) -> bool:
    return payload.DESCRIPTOR.fields_by_name[field].message_type is not None  # type: ignore[attr-defined]
