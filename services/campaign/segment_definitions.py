"""Checks of segment definitions as they come in, and what a definition depends on: pure.

Each failure names the field (`segment.conditions[2].frequency.window_days`). Open bounds are 0
(or an unset Money), but a condition with every bound open would match everybody and is refused
as a mistake. A member who never purchased matches no recency condition (use `negate` to target
members without purchases).
"""

from dataclasses import dataclass

from loyalty.campaign.v1 import segments_pb2
from loyalty.common.v1 import common_pb2
from services.shared import validation
from services.shared.errors import InvalidArgument

CONDITIONS_MAX = 32
TIER_CODES_MAX = 100
WINDOW_DAYS_MAX = 3_660
COUNT_MAX = 10**9
SPEND_MINOR_MAX = 10**13
NAME_LENGTH_MAX = 200
REFRESH_INTERVAL_S_MIN = 60
REFRESH_INTERVAL_S_MAX = 366 * 86_400
JOINS = frozenset(segments_pb2.ConditionJoin.values())
CONSENT_CHANNELS = frozenset(common_pb2.ConsentChannel.values()) - {0}
CHANNELS = frozenset(common_pb2.Channel.values()) - {0}
ACTIVITY_KINDS = frozenset(common_pb2.ActivityKind.values())
CONDITION_KINDS = tuple(segments_pb2.SegmentCondition.DESCRIPTOR.oneofs_by_name["condition"].fields)
PURCHASE_KINDS = frozenset({"recency", "frequency", "monetary"})
TIME_RELATIVE_KINDS = frozenset({"recency", "frequency", "monetary", "engagement"})


@dataclass(frozen=True)
class Dependencies:
    """Which events can change a member's membership, and whether time alone can."""

    purchase_driven: bool
    activity_driven: bool
    time_relative: bool


def check_segment(segment: segments_pb2.Segment, *, currency: str, field: str = "segment") -> None:
    if segment.segment_id:
        validation.code(segment.segment_id, f"{field}.segment_id")
    validation.text(segment.name, f"{field}.name", length_max=NAME_LENGTH_MAX)
    validation.text(segment.description, f"{field}.description", required=False)
    if segment.join not in JOINS:
        raise InvalidArgument(f"{field}.join", "is not a known condition join")
    if not segment.conditions:
        raise InvalidArgument(f"{field}.conditions", "name at least one condition")
    if len(segment.conditions) > CONDITIONS_MAX:
        raise InvalidArgument(f"{field}.conditions", f"at most {CONDITIONS_MAX} conditions")
    for index, condition in enumerate(segment.conditions):
        check_condition(condition, currency=currency, field=f"{field}.conditions[{index}]")
    interval = segment.refresh_interval_seconds
    if interval and not REFRESH_INTERVAL_S_MIN <= interval <= REFRESH_INTERVAL_S_MAX:
        raise InvalidArgument(
            f"{field}.refresh_interval_seconds",
            f"must be 0 (on demand only) or {REFRESH_INTERVAL_S_MIN} to {REFRESH_INTERVAL_S_MAX}",
        )


def check_condition(condition: segments_pb2.SegmentCondition, *, currency: str, field: str) -> None:
    kind = condition.WhichOneof("condition")
    if kind is None:
        names = ", ".join(f.name for f in CONDITION_KINDS)
        raise InvalidArgument(
            f"{field}.condition", f"is an unknown or empty condition; set one of {names}"
        )
    where = f"{field}.{kind}"
    if kind == "tier":
        _check_tier(condition.tier, where)
    elif kind == "recency":
        recency = condition.recency
        _bounds(
            recency.days_since_purchase_min,
            recency.days_since_purchase_max,
            where,
            ("days_since_purchase_min", "days_since_purchase_max"),
            WINDOW_DAYS_MAX * 10,
        )
    elif kind == "frequency":
        frequency = condition.frequency
        _window(frequency.window_days, where)
        _bounds(
            frequency.purchases_min,
            frequency.purchases_max,
            where,
            ("purchases_min", "purchases_max"),
            COUNT_MAX,
        )
    elif kind == "monetary":
        _check_monetary(condition.monetary, currency, where)
    elif kind == "engagement":
        engagement = condition.engagement
        if engagement.activity_kind not in ACTIVITY_KINDS:
            raise InvalidArgument(f"{where}.activity_kind", "is not a known activity kind")
        _window(engagement.window_days, where)
        validation.in_range(
            engagement.activities_min, f"{where}.activities_min", low=0, high=COUNT_MAX
        )
    elif kind == "consent":
        if condition.consent.channel not in CONSENT_CHANNELS:
            raise InvalidArgument(f"{where}.channel", "is required (EMAIL, SMS or PUSH)")
    elif kind == "enrollment":
        _check_enrollment(condition.enrollment, where)


def dependencies(segment: segments_pb2.Segment) -> Dependencies:
    kinds = [c.WhichOneof("condition") for c in segment.conditions]
    enrolment_age = any(
        c.WhichOneof("condition") == "enrollment"
        and (c.enrollment.enrolled_days_min or c.enrollment.enrolled_days_max)
        for c in segment.conditions
    )
    return Dependencies(
        purchase_driven=any(kind in PURCHASE_KINDS for kind in kinds),
        activity_driven="engagement" in kinds,
        time_relative=enrolment_age or any(kind in TIME_RELATIVE_KINDS for kind in kinds),
    )


def _check_tier(tier: segments_pb2.TierCondition, field: str) -> None:
    if not tier.tier_codes:
        raise InvalidArgument(f"{field}.tier_codes", "name at least one tier")
    if len(tier.tier_codes) > TIER_CODES_MAX:
        raise InvalidArgument(f"{field}.tier_codes", f"at most {TIER_CODES_MAX} tiers")
    for index, code in enumerate(tier.tier_codes):
        validation.text(code, f"{field}.tier_codes[{index}]", length_max=64)


def _check_monetary(monetary: segments_pb2.MonetaryCondition, currency: str, field: str) -> None:
    _window(monetary.window_days, field)
    bounds = []
    for name in ("spend_min", "spend_max"):
        if not monetary.HasField(name):
            bounds.append(0)
            continue
        money = getattr(monetary, name)
        if money.currency != currency:
            raise InvalidArgument(
                f"{field}.{name}.currency", f"must be the program's currency {currency}"
            )
        validation.in_range(
            money.amount_minor, f"{field}.{name}.amount_minor", low=0, high=SPEND_MINOR_MAX
        )
        bounds.append(money.amount_minor)
    if not monetary.HasField("spend_min") and not monetary.HasField("spend_max"):
        raise InvalidArgument(f"{field}.spend_min", "set spend_min or spend_max")
    if monetary.HasField("spend_min") and monetary.HasField("spend_max") and bounds[1] < bounds[0]:
        raise InvalidArgument(f"{field}.spend_max", "is below spend_min")


def _check_enrollment(enrollment: segments_pb2.EnrollmentCondition, field: str) -> None:
    for index, channel in enumerate(enrollment.channels):
        if channel not in CHANNELS:
            raise InvalidArgument(f"{field}.channels[{index}]", "is not a known channel")
    for name in ("enrolled_days_min", "enrolled_days_max"):
        validation.in_range(
            getattr(enrollment, name), f"{field}.{name}", low=0, high=WINDOW_DAYS_MAX * 10
        )
    if enrollment.enrolled_days_max and enrollment.enrolled_days_max < enrollment.enrolled_days_min:
        raise InvalidArgument(f"{field}.enrolled_days_max", "is below enrolled_days_min")
    if (
        not enrollment.channels
        and not enrollment.enrolled_days_min
        and not enrollment.enrolled_days_max
    ):
        raise InvalidArgument(f"{field}.channels", "set channels or an enrolment age")


def _window(days: int, field: str) -> None:
    validation.in_range(days, f"{field}.window_days", low=1, high=WINDOW_DAYS_MAX)


def _bounds(low: int, high: int, field: str, names: tuple[str, str], maximum: int) -> None:
    validation.in_range(low, f"{field}.{names[0]}", low=0, high=maximum)
    validation.in_range(high, f"{field}.{names[1]}", low=0, high=maximum)
    if not low and not high:
        raise InvalidArgument(f"{field}.{names[0]}", f"set {names[0]} or {names[1]}")
    if high and high < low:
        raise InvalidArgument(f"{field}.{names[1]}", f"is below {names[0]}")
