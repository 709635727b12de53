"""The kernel's plans (one per matched mask) and its rule-by-rule path agree with the reference.

The property tests draw small rule sets; these build the shapes a plan cannot take or that fill
the kernel's table of plans, so that the rule-by-rule path runs beside the planned one.
"""

import numpy as np
from ledger_core_builders import assert_same_accrual, local_seconds, multiplier, rate, rule_set

from ledger_core import (
    RoundingMode,
    RuleSet,
    TransactionBatch,
    accrue,
    compile_rules,
    new_cap_counters,
    reference,
)

# Stores 0 to 4095: store s matches the multipliers of the bits set in s, so a batch over many
# stores meets thousands of distinct masks, more than the kernel keeps plans for (1,024).
STORE_BITS = 12
MEMBERS = 50
START_SECONDS = local_seconds(2024, 3, 25, 0, 0, 0)  # a week with the change to summer time


def many_multipliers(rounding: RoundingMode, unit_minor: int) -> RuleSet:
    by_store_bit = [
        multiplier(f"store-bit-{bit}", 10_000 + 1_250 * (bit + 1), stores=_stores_with_bit(bit))
        for bit in range(STORE_BITS)
    ]
    return rule_set(
        rate(points_per_unit=7, unit_minor=unit_minor, rounding=rounding),
        *by_store_bit,
        multiplier("silver", 15_000, tiers=frozenset({1})),
        multiplier("gold", 20_000, tiers=frozenset({2})),
        points_max_per_transaction=40_000,
        points_max_per_member_week=150_000,
    )


def _stores_with_bit(bit: int) -> frozenset[int]:
    return frozenset(store for store in range(1 << STORE_BITS) if store >> bit & 1)


def random_batch(count: int, seed: int) -> TransactionBatch:
    rng = np.random.default_rng(seed)
    amounts = rng.integers(1, 30_000, count, dtype=np.int64)
    amounts[rng.random(count) < 0.1] *= -1
    return TransactionBatch(
        member_indexes=rng.integers(0, MEMBERS, count, dtype=np.int32),
        amounts_minor=amounts,
        categories=np.zeros(count, dtype=np.int32),
        skus=np.zeros(count, dtype=np.int64),
        channels=np.zeros(count, dtype=np.int32),
        stores=rng.integers(0, 1 << STORE_BITS, count, dtype=np.int32),
        timestamps_seconds=np.sort(
            rng.integers(START_SECONDS, START_SECONDS + 7 * 86_400, count, dtype=np.int64)
        ),
    )


def test_masks_beyond_the_plans_and_the_slots_accrue_as_the_reference() -> None:
    # Up to 14 multipliers match at once (more than a plan's 8 slots), over ~2,000 distinct masks.
    tiers = np.arange(MEMBERS, dtype=np.int8) % 3
    for rounding, unit_minor in [(RoundingMode.HALF_EVEN, 100), (RoundingMode.HALF_UP, 3)]:
        rules = many_multipliers(rounding, unit_minor)
        transactions = random_batch(3_000, seed=unit_minor)
        assert len(np.unique(transactions.stores)) > 1_024
        arguments = {"member_tiers": tiers, "cap_counters": new_cap_counters(MEMBERS)}
        kernel = accrue(transactions, rules=compile_rules(rules), **arguments)
        slow = reference.accrue(transactions, rules=rules, **arguments)
        assert_same_accrual(kernel, slow)
        assert (kernel.attribution_counts > 9).any()


def test_a_plan_drops_the_entries_of_rules_that_earn_nothing() -> None:
    # Small bases: the 1.05x rule adds 0 up to a base of 10 (10 x 0.05 is a tie, to even), so
    # the same plan writes 0, 2 or 3 entries depending on the amount.
    rules = rule_set(
        rate(points_per_unit=1, unit_minor=100, rounding=RoundingMode.HALF_EVEN),
        multiplier("double", 20_000),
        multiplier("a-little", 10_500),
    )
    amounts = list(range(-2_000, 2_000, 7))
    transactions = TransactionBatch(
        member_indexes=np.zeros(len(amounts), dtype=np.int32),
        amounts_minor=np.array(amounts, dtype=np.int64),
        categories=np.zeros(len(amounts), dtype=np.int32),
        skus=np.zeros(len(amounts), dtype=np.int64),
        channels=np.zeros(len(amounts), dtype=np.int32),
        stores=np.zeros(len(amounts), dtype=np.int32),
        timestamps_seconds=np.full(len(amounts), START_SECONDS, dtype=np.int64),
    )
    arguments = {"member_tiers": [0], "cap_counters": new_cap_counters(1)}
    kernel = accrue(transactions, rules=compile_rules(rules), **arguments)
    assert_same_accrual(kernel, reference.accrue(transactions, rules=rules, **arguments))
    assert set(kernel.attribution_counts.tolist()) == {0, 2, 3}
