"""The three kernels in plain Python, written for clarity; tests hold the kernels equal to these.

Same inputs, outputs and errors as `ledger_core.accrue`, `evaluate_tiers` and `allocate_fifo`,
except that `accrue` here reads the `RuleSet` itself rather than its compiled tables, and local time
comes straight from zoneinfo rather than from an offset table.
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

import numpy as np

from ledger_core import limits
from ledger_core.batches import (
    Accrual,
    ArrayLike,
    TransactionBatch,
    batch_columns,
    checked_cap_counters,
    checked_member_tiers,
)
from ledger_core.errors import AccrualOverflowError, TransactionError
from ledger_core.fifo import BurnRequests, FifoAllocation, LotBook, checked_allocation_inputs
from ledger_core.rule_model import EarningRule, RoundingMode, RuleKind, RuleSet, days_since_epoch
from ledger_core.rule_validation import validate_rule_set
from ledger_core.tiers import TierEvaluation, TierPolicy, checked_tier_inputs


@dataclass(frozen=True)
class LocalTime:
    day: int  # days since 1970-01-01, local
    weekday: int  # 0 is Monday
    minute_of_day: int
    week_key: int  # ISO weeks (Monday first) since the week of 1970-01-01
    month_key: int  # year * 12 + month - 1


def local_time(timestamp_seconds: int, zone: zoneinfo.ZoneInfo) -> LocalTime:
    moment = dt.datetime.fromtimestamp(timestamp_seconds, zone)
    day = days_since_epoch(moment.date())
    return LocalTime(
        day=day,
        weekday=moment.weekday(),
        minute_of_day=moment.hour * 60 + moment.minute,
        week_key=(day + 3) // 7,
        month_key=moment.year * 12 + moment.month - 1,
    )


def rounded_quotient(numerator: int, denominator: int, rounding: RoundingMode) -> int:
    """numerator / denominator rounded, for numerator >= 0 and denominator > 0."""
    quotient, remainder = divmod(numerator, denominator)
    if rounding == RoundingMode.HALF_UP and 2 * remainder >= denominator and remainder:
        quotient += 1
    if (
        rounding == RoundingMode.HALF_EVEN
        and remainder
        and (2 * remainder > denominator or (2 * remainder == denominator and quotient % 2 == 1))
    ):
        quotient += 1
    return quotient


def matches(
    rule: EarningRule,
    *,
    tier: int,
    columns: dict[str, list[int]],
    index: int,
    spend: int,
    local: LocalTime,
) -> bool:
    conditions = rule.conditions
    checks = (
        (conditions.tiers, tier),
        (conditions.categories, columns["categories"][index]),
        (conditions.skus, columns["skus"][index]),
        (conditions.channels, columns["channels"][index]),
        (conditions.stores, columns["stores"][index]),
    )
    if any(accepted and value not in accepted for accepted, value in checks):
        return False
    window = conditions.window
    if window is not None and not window.contains(
        local_day=local.day, weekday=local.weekday, minute_of_day=local.minute_of_day
    ):
        return False
    return spend >= conditions.spend_min_minor


def contributions_of(
    matching: list[tuple[int, EarningRule]], spend: int, index: int
) -> list[tuple[int, int]]:
    """Steps 3 to 5: (rule index, points) of the base, the multipliers and the bonuses."""
    contributions: list[tuple[int, int]] = []
    rates = [(position, rule) for position, rule in matching if rule.kind == RuleKind.RATE]
    base, rounding = 0, RoundingMode.FLOOR
    if rates:
        position, rate = rates[0]
        rounding = rate.rounding
        base = rounded_quotient(spend * rate.points_per_unit, rate.unit_minor, rounding)
        base = min(_fitting(base, index), _rule_max(rate))
        contributions.append((position, base))
    for position, rule in matching:
        if rule.kind == RuleKind.MULTIPLIER:
            extra_basis_points = rule.multiplier_basis_points - limits.BASIS_POINTS_ONE
            extra = rounded_quotient(base * extra_basis_points, limits.BASIS_POINTS_ONE, rounding)
            contributions.append((position, min(_fitting(extra, index), _rule_max(rule))))
    for position, rule in matching:
        if rule.kind == RuleKind.BONUS:
            contributions.append((position, min(rule.bonus_points, _rule_max(rule))))
    _fitting(sum(points for _, points in contributions), index)
    return contributions


def _rule_max(rule: EarningRule) -> int:
    return (
        limits.INT64_MAX
        if rule.points_max_per_transaction is None
        else rule.points_max_per_transaction
    )


def _fitting(points: int, index: int) -> int:
    if points > limits.INT64_MAX:
        raise AccrualOverflowError(index)
    return points


def cap_periods(rule_set: RuleSet, local: LocalTime) -> list[tuple[int, int, int]]:
    """(period, key, points max) of each period the rule set caps."""
    periods = (
        (limits.CAP_DAY, local.day, rule_set.points_max_per_member_day),
        (limits.CAP_WEEK, local.week_key, rule_set.points_max_per_member_week),
        (limits.CAP_MONTH, local.month_key, rule_set.points_max_per_member_month),
    )
    return [
        (period, key, points_max) for period, key, points_max in periods if points_max is not None
    ]


def member_capped(
    rule_set: RuleSet, counters: list[list[list[int]]], member: int, local: LocalTime, points: int
) -> int:
    """Step 7: cut `points` to the room left in each capped period, a new period starting at 0,
    and consume it."""
    periods = cap_periods(rule_set, local)
    for period, key, _ in periods:
        if counters[period][member][limits.CAP_KEY] != key:
            counters[period][member] = [key, 0]
    for period, _, points_max in periods:
        used = counters[period][member][limits.CAP_POINTS]
        points = min(points, max(points_max - used, 0))
    for period, _, _ in periods:
        counters[period][member][limits.CAP_POINTS] += points
    return points


def trimmed_from_last(contributions: list[tuple[int, int]], excess: int) -> list[tuple[int, int]]:
    """Step 8: a cap takes its points off the contributions in reverse stacking order."""
    trimmed = []
    for position, points in reversed(contributions):
        taken = min(points, excess)
        excess -= taken
        trimmed.append((position, points - taken))
    return list(reversed(trimmed))


def check_transaction(columns: dict[str, list[int]], index: int, member_count: int) -> None:
    member = columns["member_indexes"][index]
    timestamp = columns["timestamps_seconds"][index]
    problems = (
        (
            "member_indexes",
            not 0 <= member < member_count,
            "member index outside the member arrays",
        ),
        (
            "timestamps_seconds",
            not limits.TIMESTAMP_SECONDS_MIN <= timestamp <= limits.TIMESTAMP_SECONDS_MAX,
            "timestamp outside 1970-01-01 to 2099-12-31 (unix seconds)",
        ),
    )
    for field, bad, message in problems:
        if bad:
            raise TransactionError(index, field, f"{message}, got {columns[field][index]}")
    if columns["amounts_minor"][index] == limits.INT64_MIN:
        raise AccrualOverflowError(index)


def accrue(
    batch: TransactionBatch,
    *,
    member_tiers: ArrayLike,
    cap_counters: ArrayLike,
    rules: RuleSet,
) -> Accrual:
    """The stacking order of ledger_core.rules, one transaction at a time."""
    validate_rule_set(rules)
    zone = zoneinfo.ZoneInfo(rules.time_zone)
    columns = {name: array.tolist() for name, array in batch_columns(batch).items()}
    tiers = checked_member_tiers(member_tiers, tier_count=rules.tier_count).tolist()
    counters = checked_cap_counters(cap_counters, member_count=len(tiers)).tolist()
    points: list[int] = []
    counts: list[int] = []
    rule_indexes: list[int] = []
    attribution_points: list[int] = []
    for index in range(len(columns["member_indexes"])):
        check_transaction(columns, index, len(tiers))
        member, amount = columns["member_indexes"][index], columns["amounts_minor"][index]
        sign, spend = (-1 if amount < 0 else 1), abs(amount)
        local = local_time(columns["timestamps_seconds"][index], zone)
        matching = [
            (position, rule)
            for position, rule in enumerate(rules.rules)
            if matches(
                rule, tier=tiers[member], columns=columns, index=index, spend=spend, local=local
            )
        ]
        if any(rule.kind == RuleKind.EXCLUSION for _, rule in matching):
            contributions, earned = [], 0
        else:
            contributions = contributions_of(matching, spend, index)
            total = sum(p for _, p in contributions)
            earned = min(
                total,
                limits.INT64_MAX
                if rules.points_max_per_transaction is None
                else rules.points_max_per_transaction,
            )
            if sign > 0 and earned > 0:
                earned = member_capped(rules, counters, member, local, earned)
            contributions = trimmed_from_last(contributions, total - earned)
        kept = [(position, sign * points) for position, points in contributions if points]
        rule_indexes.extend(position for position, _ in kept)
        attribution_points.extend(points for _, points in kept)
        counts.append(len(kept))
        points.append(sign * earned)
    return Accrual(
        points=np.array(points, dtype=np.int64),
        attribution_counts=np.array(counts, dtype=np.uint8),
        attribution_rule_indexes=np.array(rule_indexes, dtype=np.uint8),
        attribution_points=np.array(attribution_points, dtype=np.int64),
        cap_counters=np.array(counters, dtype=np.int64).reshape(limits.CAP_PERIODS, len(tiers), 2),
        rule_ids=tuple(rule.rule_id for rule in rules.rules),
    )


def evaluate_tiers(
    *,
    qualifying_points: ArrayLike,
    current_tiers: ArrayLike,
    thresholds_points: ArrayLike,
    policy: TierPolicy,
) -> TierEvaluation:
    """Earned tier: the highest whose threshold the member's points reach (tier 0 at least).

    A normal run only upgrades; a re-qualification run moves to the earned tier, but down by at
    most `policy.tiers_down_max` tiers.
    """
    points, tiers, thresholds = checked_tier_inputs(
        qualifying_points, current_tiers, thresholds_points
    )
    new_tiers = []
    for member_points, tier in zip(points.tolist(), tiers.tolist(), strict=True):
        earned = max(sum(1 for t in thresholds.tolist() if member_points >= t) - 1, 0)
        if policy.is_requalification:
            new_tiers.append(max(earned, tier - policy.tiers_down_max))
        else:
            new_tiers.append(max(earned, tier))
    new = np.array(new_tiers, dtype=np.int8)
    return TierEvaluation(
        tiers=new, changed_member_indexes=np.flatnonzero(new != tiers).astype(np.int64)
    )


def allocate_fifo(lots: LotBook, requests: BurnRequests, *, as_of_seconds: int) -> FifoAllocation:
    """Each request, in order, takes points from its account's eligible lots, earliest first."""
    book, burns = checked_allocation_inputs(lots, requests, as_of_seconds=as_of_seconds)
    offsets = book["account_offsets"].tolist()
    remaining = book["remaining_points"].tolist()
    vests_at, expires_at = book["vests_at_seconds"].tolist(), book["expires_at_seconds"].tolist()
    consumed = [0] * len(remaining)
    shortfalls = []
    for account, wanted in zip(
        burns["account_indexes"].tolist(), burns["points"].tolist(), strict=True
    ):
        for lot in range(offsets[account], offsets[account + 1]):
            if wanted == 0:
                break
            if vests_at[lot] <= as_of_seconds < expires_at[lot]:
                taken = min(wanted, remaining[lot] - consumed[lot])
                consumed[lot] += taken
                wanted -= taken
        shortfalls.append(wanted)
    return FifoAllocation(
        consumed_points=np.array(consumed, dtype=np.int64),
        shortfall_points=np.array(shortfalls, dtype=np.int64),
    )
