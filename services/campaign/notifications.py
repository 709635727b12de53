"""Notification intents: the policy's checks and the decision for one intent (no I/O).

An intent is decided once per member and cause (the fact it is about, such as a ledger event or
a month), in this order:

1. a kind the policy does not enable is dropped (counted as suppressed "disabled", not stored);
2. the channel is the first of the policy's preferences (e-mail if none) the member consents to;
   none, or an erased or merged-away member: SUPPRESSED_NO_CONSENT;
3. the member's intents going out in the local day / ISO week this one would go out in (the
   fact's, or the end of the quiet hours it falls in) reach the policy's cap:
   SUPPRESSED_FREQUENCY_CAP;
4. the fact falls in the quiet hours (local time): held until their end, DEFERRED_QUIET_HOURS;
5. else PUBLISHED.

Published and deferred intents count toward the cap on the day they go out, not the day of
their fact: one held overnight counts for the morning it is released, with that morning's
others. A held intent is decided again when released (`decide_release`): over the cap of the
day it goes out then (the policy lowered, a release late onto a busier day), or without
consent any more, it is suppressed instead. Days, weeks and quiet hours are the program's time
zone's.
"""

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass, field

from loyalty.campaign.v1 import engagement_pb2
from loyalty.common.v1 import common_pb2
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.timestamps import from_unix_micros

PUBLISHED = engagement_pb2.NOTIFICATION_STATUS_PUBLISHED
NO_CONSENT = engagement_pb2.NOTIFICATION_STATUS_SUPPRESSED_NO_CONSENT
FREQUENCY_CAP = engagement_pb2.NOTIFICATION_STATUS_SUPPRESSED_FREQUENCY_CAP
DEFERRED = engagement_pb2.NOTIFICATION_STATUS_DEFERRED_QUIET_HOURS
DISABLED = engagement_pb2.NOTIFICATION_STATUS_SUPPRESSED_DISABLED
SENT_STATUSES = (PUBLISHED, DEFERRED)

POINTS_EARNED = common_pb2.NOTIFICATION_KIND_POINTS_EARNED
TIER_REACHED = common_pb2.NOTIFICATION_KIND_TIER_REACHED
CLOSE_TO_NEXT_TIER = common_pb2.NOTIFICATION_KIND_CLOSE_TO_NEXT_TIER
POINTS_EXPIRING_SOON = common_pb2.NOTIFICATION_KIND_POINTS_EXPIRING_SOON
MONTHLY_SUMMARY = common_pb2.NOTIFICATION_KIND_MONTHLY_SUMMARY

EMAIL = common_pb2.CONSENT_CHANNEL_EMAIL
KINDS = frozenset(common_pb2.NotificationKind.values()) - {0}
CHANNELS = frozenset(common_pb2.ConsentChannel.values()) - {0}
CAP_MAX = 1_000
# "Close to the next tier" is within 10 % of its threshold unless the policy says otherwise.
CLOSE_TO_NEXT_TIER_BPS_DEFAULT = 1_000
# Points are news for a day after what earned them: a member is told of points earned only if
# the latest earn a ledger batch gave it happened within this of the batch's commit. An import of
# past purchases (`loyalty-admin import`, IngestTransactions of old ones) tells no one of points
# for purchases of long ago; a purchase reported a few hours late by an offline till still is.
POINTS_EARNED_RECENT_MAX = dt.timedelta(hours=24)
INTENT_NAMESPACE = uuid.UUID("5b0f3c0e-4a57-4d8e-9a0c-6f1f0c7e2d11")

OUTCOMES = {
    PUBLISHED: "published",
    DEFERRED: "deferred",
    NO_CONSENT: "no_consent",
    FREQUENCY_CAP: "frequency_cap",
    DISABLED: "disabled",
}


def check_policy(policy: engagement_pb2.NotificationPolicy) -> None:
    """INVALID_ARGUMENT naming the field of the first problem of a policy to store."""
    validation.in_range(policy.per_member_day_max, "policy.per_member_day_max", low=0, high=CAP_MAX)
    validation.in_range(
        policy.per_member_week_max, "policy.per_member_week_max", low=0, high=CAP_MAX
    )
    if policy.HasField("quiet_hours_start") != policy.HasField("quiet_hours_end"):
        raise InvalidArgument("policy.quiet_hours_end", "set both ends of the quiet hours or none")
    for name in ("quiet_hours_start", "quiet_hours_end"):
        if policy.HasField(name):
            moment = getattr(policy, name)
            validation.in_range(moment.hour, f"policy.{name}.hour", low=0, high=23)
            validation.in_range(moment.minute, f"policy.{name}.minute", low=0, high=59)
    _check_unique(policy.enabled_kinds, KINDS, "policy.enabled_kinds", "notification kind")
    validation.in_range(
        policy.close_to_next_tier_bps, "policy.close_to_next_tier_bps", low=0, high=10_000
    )
    _check_unique(
        policy.channel_preferences, CHANNELS, "policy.channel_preferences", "consent channel"
    )


def _check_unique(values: list[int], known: frozenset[int], field: str, what: str) -> None:
    seen: set[int] = set()
    for index, value in enumerate(values):
        if value not in known:
            raise InvalidArgument(f"{field}[{index}]", f"is not a known {what}")
        if value in seen:
            raise InvalidArgument(f"{field}[{index}]", "appears twice")
        seen.add(value)


def close_bps(policy: engagement_pb2.NotificationPolicy) -> int:
    return policy.close_to_next_tier_bps or CLOSE_TO_NEXT_TIER_BPS_DEFAULT


def is_close_to_next_tier(*, qualifying: int, to_next: int, bps: int) -> bool:
    """Within `bps` of the next tier's threshold (qualifying + to_next), not yet there."""
    if to_next <= 0:
        return False
    return to_next * 10_000 <= (qualifying + to_next) * bps


def intent_id(program_id: str, member_id: str, cause: str) -> uuid.UUID:
    """The same for the same member and cause, so a decision made again publishes the same event."""
    return uuid.uuid5(INTENT_NAMESPACE, f"{program_id}\x1f{member_id}\x1f{cause}")


@dataclass(frozen=True)
class Candidate:
    """An intent to decide: for whom, what, why, and when the fact happened."""

    member_id: str
    kind: int
    cause: str
    at: dt.datetime
    template_data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reach:
    """What campaign knows of a member: consented channels, whether closed, the locale."""

    channels: frozenset[int] = frozenset()
    closed: bool = False
    locale: str = ""


@dataclass(frozen=True)
class Decision:
    status: int
    channel: int
    deliver_after: dt.datetime | None = None


@dataclass(frozen=True)
class LocalPeriods:
    """The local day and ISO week of an instant, as UTC bounds [start, end)."""

    day_start: dt.datetime
    day_end: dt.datetime
    week_start: dt.datetime
    week_end: dt.datetime

    @classmethod
    def of(cls, moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> "LocalPeriods":
        day = moment.astimezone(zone).date()
        week = day - dt.timedelta(days=day.weekday())
        return cls(
            _midnight(day, zone),
            _midnight(day + dt.timedelta(days=1), zone),
            _midnight(week, zone),
            _midnight(week + dt.timedelta(days=7), zone),
        )

    def counts(self, sent: list[dt.datetime]) -> tuple[int, int]:
        """How many of the instants fall in the day, and in the week."""
        today = sum(1 for moment in sent if self.day_start <= moment < self.day_end)
        week = sum(1 for moment in sent if self.week_start <= moment < self.week_end)
        return today, week


def _midnight(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def preferences(policy: engagement_pb2.NotificationPolicy) -> list[int]:
    return list(policy.channel_preferences) or [EMAIL]


def quiet_until(
    policy: engagement_pb2.NotificationPolicy, moment: dt.datetime, zone: zoneinfo.ZoneInfo
) -> dt.datetime | None:
    """The end of the quiet hours `moment` falls in, or None outside them (local time)."""
    if not policy.HasField("quiet_hours_start"):
        return None
    start = dt.time(policy.quiet_hours_start.hour, policy.quiet_hours_start.minute)
    end = dt.time(policy.quiet_hours_end.hour, policy.quiet_hours_end.minute)
    if start == end:
        return None
    local = moment.astimezone(zone)
    now = local.time()
    # Quiet hours may wrap midnight (22:00 to 07:00).
    inside = start <= now < end if start < end else now >= start or now < end
    if not inside:
        return None
    day = local.date() if now < end else local.date() + dt.timedelta(days=1)
    until = wall_clock_instant(day, end, zone)
    if until <= moment:
        # The clocks went back over the end, and `moment` is in the repeated hour's second pass
        # before the end: the clock shows a quiet time again, so it waits for the end's second
        # pass (quiet hours are the clock's; what was held before is released at the first).
        until = dt.datetime.combine(day, end.replace(fold=1), tzinfo=zone).astimezone(dt.UTC)
    return until


def wall_clock_instant(day: dt.date, wall: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The UTC instant the local clock first shows `wall` on `day`, or, when the clocks jump over
    it (spring forward), the first instant after the jump.

    Quiet hours ending at 02:30 on the night the clocks go from 02:00 to 03:00 end at 03:00:
    Python reads a time in the gap with the offset before it (03:30 here, an hour late for a
    one-hour jump). A repeated time (autumn) is its first occurrence.
    """
    naive = dt.datetime.combine(day, wall)
    instant = naive.replace(tzinfo=zone).astimezone(dt.UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # In the gap. Read with the offset after the jump, the time falls before the jump; with the
    # offset before it, after: the jump lies between. Zones' transitions fall on whole seconds.
    low = int(naive.replace(fold=1, tzinfo=zone).timestamp())
    high = int(instant.timestamp())
    after = _offset(high, zone)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(middle, zone) == after:
            high = middle
        else:
            low = middle
    return dt.datetime.fromtimestamp(high, dt.UTC)


def _offset(seconds: int, zone: zoneinfo.ZoneInfo) -> dt.timedelta | None:
    return dt.datetime.fromtimestamp(seconds, zone).utcoffset()


def decide(
    policy: engagement_pb2.NotificationPolicy,
    candidate: Candidate,
    reach: Reach,
    *,
    sent_today: int,
    sent_this_week: int,
    zone: zoneinfo.ZoneInfo,
) -> Decision:
    """The decision for an enabled kind (steps 2 to 5 above)."""
    ordered = preferences(policy)
    channel = next((c for c in ordered if c in reach.channels and not reach.closed), 0)
    if not channel:
        return Decision(NO_CONSENT, ordered[0])
    if over_cap(policy, sent_today=sent_today, sent_this_week=sent_this_week):
        return Decision(FREQUENCY_CAP, channel)
    until = quiet_until(policy, candidate.at, zone)
    if until is not None:
        return Decision(DEFERRED, channel, until)
    return Decision(PUBLISHED, channel)


def goes_out_at(
    policy: engagement_pb2.NotificationPolicy, moment: dt.datetime, zone: zoneinfo.ZoneInfo
) -> dt.datetime:
    """When an intent for a fact at `moment` would go out: the end of the quiet hours it falls
    in, else at once. The frequency cap counts it on this instant's local day and week."""
    return quiet_until(policy, moment, zone) or moment


def over_cap(
    policy: engagement_pb2.NotificationPolicy, *, sent_today: int, sent_this_week: int
) -> bool:
    day_max, week_max = policy.per_member_day_max, policy.per_member_week_max
    return bool((day_max and sent_today >= day_max) or (week_max and sent_this_week >= week_max))


def decide_release(
    policy: engagement_pb2.NotificationPolicy | None,
    channel: int,
    reach: Reach,
    *,
    sent_today: int,
    sent_this_week: int,
) -> int:
    """The status of a held intent at the end of its quiet hours: DEFERRED (it goes out now),
    or suppressed if the member no longer consents to its channel or the cap of the day and
    week it goes out in is reached (counting the others going out, not this one)."""
    if reach.closed or channel not in reach.channels:
        return NO_CONSENT
    if policy is not None and over_cap(
        policy, sent_today=sent_today, sent_this_week=sent_this_week
    ):
        return FREQUENCY_CAP
    return DEFERRED


def month_key(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


def last_day(expires_at: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.date:
    """The last local day points expiring at `expires_at` can be spent: the day of the instant
    before it. Points expiring at local midnight on 1 January last through 31 December, as the
    ledger's liability report counts them (services/ledger/verification.py)."""
    return (expires_at - dt.timedelta(microseconds=1)).astimezone(zone).date()


def previous_month(
    moment: dt.datetime, zone: zoneinfo.ZoneInfo
) -> tuple[str, dt.datetime, dt.datetime]:
    """The local month before `moment`'s: its key and UTC bounds [start, end)."""
    local = moment.astimezone(zone)
    end_day = local.date().replace(day=1)
    start_day = (end_day - dt.timedelta(days=1)).replace(day=1)
    return (
        f"{start_day.year:04d}-{start_day.month:02d}",
        _midnight(start_day, zone),
        _midnight(end_day, zone),
    )


def earned_recently(earned_micros: int, at: dt.datetime) -> bool:
    """Whether an earn at `earned_micros` (unix microseconds; 0 for none) is news at `at`, the
    commit of the batch that posted it (POINTS_EARNED_RECENT_MAX)."""
    if earned_micros <= 0:
        return False
    return at - from_unix_micros(earned_micros) <= POINTS_EARNED_RECENT_MAX
