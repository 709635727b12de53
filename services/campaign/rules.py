"""Checks of earning and engagement rules as they come in; each failure names the field.

What the kernel checks again when a version is compiled (ledger_core.compile_rules) is checked
here first with the proto's field names, so an operator reads `rule.earning.multipliers[1]...`
rather than the kernel's own names.
"""

from loyalty.campaign.v1 import rules_pb2
from loyalty.common.v1 import common_pb2
from services.shared import validation
from services.shared.errors import InvalidArgument

NAME_LENGTH_MAX = 200
VALUE_LENGTH_MAX = 128
VALUES_MAX = 1_000
MULTIPLIERS_MAX = 16
TIME_WINDOWS_MAX = 8
PRIORITY_MAX = 1_000_000
POINTS_MAX = 10_000_000
RATE_POINTS_MAX = 1_000_000
PER_AMOUNT_MINOR_MAX = 1_000_000_000
MULTIPLIER_BPS_MIN, MULTIPLIER_BPS_MAX = 10_000, 1_000_000
CAP_POINTS_MAX = 10**12
COUNT_MAX = 1_000_000
VESTING_DELAY_SECONDS_MAX = 366 * 86_400
SPEND_MINOR_MAX = 10**12
SEGMENTS_PER_RULE_MAX = 16
ACTIVITY_KINDS = frozenset(common_pb2.ActivityKind.values()) - {0}
CHANNELS = frozenset(common_pb2.Channel.values()) - {0}
ROUNDING_MODES = frozenset(common_pb2.RoundingMode.values())
STACKING_MODES = frozenset(rules_pb2.StackingMode.values())
WEEKDAYS = frozenset(rules_pb2.Weekday.values()) - {0}
EARNING, ENGAGEMENT = "earning", "engagement"


def check_rule(rule: rules_pb2.Rule, *, field: str = "rule") -> str:
    """Refuse a rule that could not be applied; returns its kind, earning or engagement."""
    validation.text(rule.name, f"{field}.name", length_max=NAME_LENGTH_MAX)
    validation.text(rule.description, f"{field}.description", required=False)
    validation.in_range(rule.priority, f"{field}.priority", low=0, high=PRIORITY_MAX)
    if rule.stacking_mode not in STACKING_MODES:
        raise InvalidArgument(f"{field}.stacking_mode", "is not a known stacking mode")
    if (
        rule.HasField("start_time")
        and rule.HasField("end_time")
        and rule.end_time.ToMicroseconds() <= rule.start_time.ToMicroseconds()
    ):
        raise InvalidArgument(f"{field}.end_time", "must be after start_time")
    if len(rule.segment_ids) > SEGMENTS_PER_RULE_MAX:
        raise InvalidArgument(f"{field}.segment_ids", f"at most {SEGMENTS_PER_RULE_MAX} segments")
    for index, segment_id in enumerate(rule.segment_ids):
        validation.code(segment_id, f"{field}.segment_ids[{index}]")
    validation.text(rule.campaign_id, f"{field}.campaign_id", required=False, length_max=128)
    kind = rule.WhichOneof("kind")
    if kind == EARNING:
        check_earning(rule.earning, f"{field}.earning")
        return EARNING
    if kind == ENGAGEMENT:
        check_engagement(rule.engagement, f"{field}.engagement")
        return ENGAGEMENT
    raise InvalidArgument(f"{field}.kind", "set earning or engagement")


def check_earning(earning: rules_pb2.EarningRule, field: str) -> None:
    if earning.HasField("rate"):
        validation.in_range(
            earning.rate.points, f"{field}.rate.points", low=1, high=RATE_POINTS_MAX
        )
        validation.in_range(
            earning.rate.per_amount_minor,
            f"{field}.rate.per_amount_minor",
            low=1,
            high=PER_AMOUNT_MINOR_MAX,
        )
    elif earning.fixed_bonus_points == 0:
        raise InvalidArgument(f"{field}.rate", "is required unless fixed_bonus_points is set")
    if earning.rounding_mode not in ROUNDING_MODES:
        raise InvalidArgument(f"{field}.rounding_mode", "is not a known rounding mode")
    if earning.HasField("minimum_spend"):
        validation.in_range(
            earning.minimum_spend.amount_minor,
            f"{field}.minimum_spend.amount_minor",
            low=0,
            high=SPEND_MINOR_MAX,
        )
        validation.currency(earning.minimum_spend.currency, f"{field}.minimum_spend.currency")
    _check_multipliers(earning.multipliers, f"{field}.multipliers")
    if earning.apply_tier_multipliers:
        if not earning.HasField("rate"):
            raise InvalidArgument(
                f"{field}.apply_tier_multipliers", "needs a rate: tiers multiply the rate's points"
            )
        if any(m.WhichOneof("target") == "tier_code" for m in earning.multipliers):
            # Both would apply to a tier's members: the kernel adds matching multipliers.
            raise InvalidArgument(
                f"{field}.apply_tier_multipliers",
                "a rule taking the tiers' multipliers has no multiplier by tier of its own",
            )
    if len(earning.time_windows) > TIME_WINDOWS_MAX:
        raise InvalidArgument(f"{field}.time_windows", f"at most {TIME_WINDOWS_MAX} windows")
    for index, window in enumerate(earning.time_windows):
        _check_window(window, f"{field}.time_windows[{index}]")
    validation.in_range(
        earning.fixed_bonus_points, f"{field}.fixed_bonus_points", low=0, high=POINTS_MAX
    )
    exclusions = earning.exclusions
    _check_values(exclusions.categories, f"{field}.exclusions.categories")
    _check_values(exclusions.skus, f"{field}.exclusions.skus")
    _check_values(exclusions.store_ids, f"{field}.exclusions.store_ids")
    _check_channels(exclusions.channels, f"{field}.exclusions.channels")
    for cap in (
        "per_transaction_points_max",
        "per_member_day_points_max",
        "per_member_week_points_max",
        "per_member_month_points_max",
    ):
        validation.in_range(
            getattr(earning.caps, cap), f"{field}.caps.{cap}", low=0, high=CAP_POINTS_MAX
        )
    _check_channels(earning.channels, f"{field}.channels")
    _check_values(earning.store_ids, f"{field}.store_ids")
    _check_values(earning.categories, f"{field}.categories")
    _check_values(earning.tier_codes, f"{field}.tier_codes")


def _check_multipliers(multipliers: "list[rules_pb2.Multiplier]", field: str) -> None:
    if len(multipliers) > MULTIPLIERS_MAX:
        raise InvalidArgument(field, f"at most {MULTIPLIERS_MAX} multipliers")
    seen: set[tuple[str, object]] = set()
    for index, multiplier in enumerate(multipliers):
        item = f"{field}[{index}]"
        target = multiplier.WhichOneof("target")
        if target is None:
            raise InvalidArgument(
                f"{item}.target", "set one of tier_code, category, sku, channel, store_id"
            )
        value = getattr(multiplier, target)
        if target == "channel":
            _check_channels([value], f"{item}.channel")
        else:
            _check_values([value], f"{item}.{target}")
        if (target, value) in seen:
            raise InvalidArgument(f"{item}.{target}", f"{value!r} has a multiplier already")
        seen.add((target, value))
        validation.in_range(
            multiplier.multiplier_bps,
            f"{item}.multiplier_bps",
            low=MULTIPLIER_BPS_MIN,
            high=MULTIPLIER_BPS_MAX,
        )


def _check_window(window: rules_pb2.TimeWindow, field: str) -> None:
    for name in ("start_date", "end_date"):
        if window.HasField(name):
            check_local_date(getattr(window, name), f"{field}.{name}")
    if window.HasField("start_date") and window.HasField("end_date"):
        start, end = window.start_date, window.end_date
        if (end.year, end.month, end.day) < (start.year, start.month, start.day):
            raise InvalidArgument(f"{field}.end_date", "is before start_date")
    for index, weekday in enumerate(window.weekdays):
        if weekday not in WEEKDAYS:
            raise InvalidArgument(f"{field}.weekdays[{index}]", "must be MONDAY to SUNDAY")
    for name in ("start_time", "end_time"):
        if window.HasField(name):
            local = getattr(window, name)
            validation.in_range(local.hour, f"{field}.{name}.hour", low=0, high=23)
            validation.in_range(local.minute, f"{field}.{name}.minute", low=0, high=59)
    if minute_of_day(window, "start_time", 0) == minute_of_day(window, "end_time", 1440):
        raise InvalidArgument(f"{field}.end_time", "must differ from start_time")


def minute_of_day(window: rules_pb2.TimeWindow, name: str, default: int) -> int:
    if not window.HasField(name):
        return default
    local = getattr(window, name)
    return int(local.hour * 60 + local.minute)


def check_local_date(value: common_pb2.LocalDate, field: str) -> None:
    import datetime as dt

    try:
        dt.date(value.year, value.month, value.day)
    except ValueError:
        raise InvalidArgument(field, "is not a valid date") from None
    if not 1970 <= value.year <= 2099:
        raise InvalidArgument(f"{field}.year", "must be 1970 to 2099")


def check_engagement(engagement: rules_pb2.EngagementRule, field: str) -> None:
    if engagement.activity_kind not in ACTIVITY_KINDS:
        raise InvalidArgument(f"{field}.activity_kind", "is required (a known activity kind)")
    validation.in_range(engagement.points, f"{field}.points", low=0, high=POINTS_MAX)
    referral = engagement.activity_kind == common_pb2.ACTIVITY_KIND_REFERRAL
    if not referral and engagement.referred_points:
        raise InvalidArgument(f"{field}.referred_points", "is for referral rules only")
    if not referral and engagement.requires_first_purchase:
        raise InvalidArgument(f"{field}.requires_first_purchase", "is for referral rules only")
    validation.in_range(
        engagement.referred_points, f"{field}.referred_points", low=0, high=POINTS_MAX
    )
    if engagement.points == 0 and engagement.referred_points == 0:
        raise InvalidArgument(f"{field}.points", "the rule gives no points")
    for cap in ("per_day_count_max", "per_week_count_max", "per_month_count_max"):
        validation.in_range(
            getattr(engagement.caps, cap), f"{field}.caps.{cap}", low=0, high=COUNT_MAX
        )
    validation.in_range(
        engagement.caps.lifetime_count_max,
        f"{field}.caps.lifetime_count_max",
        low=0,
        high=COUNT_MAX,
    )
    validation.in_range(
        engagement.vesting_delay_seconds,
        f"{field}.vesting_delay_seconds",
        low=0,
        high=VESTING_DELAY_SECONDS_MAX,
    )
    _check_channels(engagement.channels, f"{field}.channels")


def _check_values(values: "list[str]", field: str) -> None:
    if len(values) > VALUES_MAX:
        raise InvalidArgument(field, f"at most {VALUES_MAX} values")
    for index, value in enumerate(values):
        if not value or len(value) > VALUE_LENGTH_MAX or value.strip() != value:
            raise InvalidArgument(
                f"{field}[{index}]",
                f"must be 1 to {VALUE_LENGTH_MAX} characters without surrounding spaces",
            )


def _check_channels(values: "list[int]", field: str) -> None:
    for index, value in enumerate(values):
        if value not in CHANNELS:
            raise InvalidArgument(f"{field}[{index}]", "is not a known channel")


def named_tier_codes(rule: rules_pb2.Rule) -> list[tuple[str, str]]:
    """(field, code) of each tier code an earning rule names: its tier filter and its tier
    multipliers."""
    earning = rule.earning
    named = [
        (f"rule.earning.tier_codes[{index}]", code) for index, code in enumerate(earning.tier_codes)
    ]
    named += [
        (f"rule.earning.multipliers[{index}].tier_code", multiplier.tier_code)
        for index, multiplier in enumerate(earning.multipliers)
        if multiplier.WhichOneof("target") == "tier_code"
    ]
    return named


def check_tier_codes(rule: rules_pb2.Rule, defined: frozenset[str]) -> None:
    """A rule may only name tiers the ledger defines (once it defines any): a code renamed or
    removed there matches no member, so its multiplier or filter would silently never apply."""
    if not defined:
        return
    for field, code in named_tier_codes(rule):
        if code not in defined:
            raise InvalidArgument(
                field,
                f"the program's tiers define no tier {code!r} (renamed or removed?); "
                f"they are {', '.join(sorted(defined))}",
            )
