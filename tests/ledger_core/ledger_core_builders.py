"""Builders shared by the ledger_core tests: rule sets, batches, local timestamps, and the
comparison of a kernel accrual with the reference's."""

import datetime as dt
import zoneinfo
from typing import Any

import numpy as np

from ledger_core import (
    Conditions,
    EarningRule,
    RoundingMode,
    RuleKind,
    RuleSet,
    TransactionBatch,
    accrue,
    compile_rules,
    new_cap_counters,
)

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
# A Wednesday noon in Amsterdam: no weekend, no DST change near.
WEDNESDAY_NOON = int(dt.datetime(2024, 5, 15, 12, 0, tzinfo=AMSTERDAM).timestamp())


def local_seconds(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    """Unix seconds of a wall-clock time in Amsterdam."""
    return int(dt.datetime(year, month, day, hour, minute, second, tzinfo=AMSTERDAM).timestamp())


def rate(
    rule_id: str = "base",
    *,
    points_per_unit: int = 10,
    unit_minor: int = 100,
    rounding: RoundingMode = RoundingMode.FLOOR,
    **conditions: Any,
) -> EarningRule:
    return EarningRule(
        rule_id,
        RuleKind.RATE,
        Conditions(**conditions),
        points_per_unit=points_per_unit,
        unit_minor=unit_minor,
        rounding=rounding,
    )


def multiplier(rule_id: str, basis_points: int, **conditions: Any) -> EarningRule:
    return EarningRule(
        rule_id,
        RuleKind.MULTIPLIER,
        Conditions(**conditions),
        multiplier_basis_points=basis_points,
    )


def bonus(rule_id: str, points: int, **conditions: Any) -> EarningRule:
    return EarningRule(
        rule_id,
        RuleKind.BONUS,
        Conditions(**conditions),
        bonus_points=points,
    )


def exclusion(rule_id: str, **conditions: Any) -> EarningRule:
    return EarningRule(rule_id, RuleKind.EXCLUSION, Conditions(**conditions))


def rule_set(*rules: EarningRule, tier_count: int = 3, **caps: Any) -> RuleSet:
    return RuleSet(
        rule_set_id="test-v1",
        time_zone="Europe/Amsterdam",
        tier_count=tier_count,
        rules=rules,
        **caps,
    )


def batch(
    amounts_minor: list[int],
    *,
    members: list[int] | None = None,
    categories: list[int] | None = None,
    skus: list[int] | None = None,
    channels: list[int] | None = None,
    stores: list[int] | None = None,
    timestamps_seconds: list[int] | None = None,
) -> TransactionBatch:
    count = len(amounts_minor)
    zeros = [0] * count
    return TransactionBatch(
        member_indexes=np.array(members or zeros, dtype=np.int32),
        amounts_minor=np.array(amounts_minor, dtype=np.int64),
        categories=np.array(categories or zeros, dtype=np.int32),
        skus=np.array(skus or zeros, dtype=np.int64),
        channels=np.array(channels or zeros, dtype=np.int32),
        stores=np.array(stores or zeros, dtype=np.int32),
        timestamps_seconds=np.array(timestamps_seconds or [WEDNESDAY_NOON] * count, dtype=np.int64),
    )


def points_of(
    rules: RuleSet,
    transactions: TransactionBatch,
    *,
    tiers: list[int] | None = None,
    member_count: int = 1,
) -> list[int]:
    result = accrue(
        transactions,
        member_tiers=np.array(tiers or [0] * member_count, dtype=np.int8),
        cap_counters=new_cap_counters(member_count),
        rules=compile_rules(rules),
    )
    return result.points.tolist()


def assert_same_accrual(kernel: Any, slow: Any) -> None:
    if isinstance(slow, tuple) or isinstance(kernel, tuple):
        assert kernel == slow
        return
    for name in (
        "points",
        "attribution_counts",
        "attribution_rule_indexes",
        "attribution_points",
        "cap_counters",
    ):
        assert np.array_equal(getattr(kernel, name), getattr(slow, name)), name
    assert np.array_equal(
        np.add.reduceat(kernel.attribution_points, kernel.attribution_offsets[:-1])
        if len(kernel.attribution_points) and kernel.attribution_counts.all()
        else kernel.points,
        kernel.points,
    )
