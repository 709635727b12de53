"""evaluate_tiers: upgrade at once, downgrade only on a re-qualification run."""

import numpy as np
import pytest

from ledger_core import InputError, TierPolicy, evaluate_tiers

THRESHOLDS = [0, 1_000, 5_000, 20_000]


def evaluate(
    points: list[int], tiers: list[int], policy: TierPolicy
) -> tuple[list[int], list[int]]:
    result = evaluate_tiers(
        qualifying_points=np.array(points, dtype=np.int64),
        current_tiers=np.array(tiers, dtype=np.int8),
        thresholds_points=THRESHOLDS,
        policy=policy,
    )
    return result.tiers.tolist(), result.changed_member_indexes.tolist()


def test_normal_run_only_upgrades() -> None:
    tiers, changed = evaluate([999, 1_000, 25_000, 0, -5], [0, 0, 1, 3, 0], TierPolicy())
    assert tiers == [0, 1, 3, 3, 0]
    assert changed == [1, 2]


def test_requalification_moves_down_as_well() -> None:
    policy = TierPolicy(is_requalification=True)
    tiers, changed = evaluate([0, 6_000, 25_000], [3, 1, 3], policy)
    assert (tiers, changed) == ([0, 2, 3], [0, 1])


def test_requalification_with_a_soft_landing_of_one_tier() -> None:
    policy = TierPolicy(is_requalification=True, tiers_down_max=1)
    assert evaluate([0, 0], [3, 1], policy) == ([2, 0], [0, 1])


def test_thresholds_that_decrease_are_refused() -> None:
    with pytest.raises(InputError) as raised:
        evaluate_tiers(
            qualifying_points=[1],
            current_tiers=[0],
            thresholds_points=[0, 5, 3],
            policy=TierPolicy(),
        )
    assert raised.value.argument == "thresholds_points"


def test_current_tier_without_a_threshold_is_refused() -> None:
    with pytest.raises(InputError) as raised:
        evaluate([1], [4], TierPolicy())
    assert raised.value.argument == "current_tiers"
