"""ledger_core kernels: accrual, tier evaluation and FIFO allocation throughput.

Figures (BENCH.md): `baseline.bare_loop` (bare Cython amount * rate // unit over the batch's
amounts), `ledger_core.accrue` (baseline: the bare loop), `ledger_core.reference` (the plain-Python
reference on a sample; its baseline is the accrue figure, so its ratio is reference / accrue, and
`ledger_core.accrue_vs_reference` states accrue / reference directly),
`ledger_core.accrue_reusing_buffers` (accrue into the same `out=` buffers call after call, as a
service accruing batch after batch would; baseline: the bare loop), `ledger_core.evaluate_tiers`
and `ledger_core.allocate_fifo`. All single-threaded, on data built here with a fixed seed.
"""

import datetime as dt

import numpy as np

from bench.harness import Figure, Reporter, median_seconds, throughput
from ledger_core import (
    BurnRequests,
    Conditions,
    EarningRule,
    LotBook,
    RoundingMode,
    RuleKind,
    RuleSet,
    TierPolicy,
    TimeWindow,
    TransactionBatch,
    _accrual,
    accrue,
    allocate_fifo,
    compile_rules,
    evaluate_tiers,
    new_accrual_buffers,
    new_cap_counters,
    reference,
)
from ledger_core._bench_baseline import bare_loop

TRANSACTIONS = 10_000_000
MEMBERS = 1_000_000
REFERENCE_SAMPLE_TRANSACTIONS = 100_000
TIER_MEMBERS = 10_000_000
LOT_ACCOUNTS = 1_000_000
LOTS_PER_ACCOUNT = 10
SEED = 20_240_301
# March 2024 in Amsterdam: five weekends and the change to summer time.
MONTH_START_SECONDS = int(dt.datetime(2024, 3, 1, tzinfo=dt.UTC).timestamp())
MONTH_SECONDS = 31 * 86_400
TIERS = 4
CATEGORIES = 50
MULTIPLIED_CATEGORIES = 20


def realistic_rule_set() -> RuleSet:
    """A base rate, 3 tier and 20 category multipliers, a weekend window and two caps."""
    tier_rules = [
        EarningRule(
            f"tier-{tier}",
            RuleKind.MULTIPLIER,
            Conditions(tiers=frozenset({tier})),
            multiplier_basis_points=10_000 + 2_500 * tier,
        )
        for tier in range(1, TIERS)
    ]
    category_rules = [
        EarningRule(
            f"category-{category}",
            RuleKind.MULTIPLIER,
            Conditions(categories=frozenset({category})),
            multiplier_basis_points=11_000 + 1_000 * category,
        )
        for category in range(MULTIPLIED_CATEGORIES)
    ]
    weekend = EarningRule(
        "weekend-double",
        RuleKind.MULTIPLIER,
        Conditions(window=TimeWindow(weekdays=frozenset({5, 6}))),
        multiplier_basis_points=20_000,
    )
    base = EarningRule(
        "base", RuleKind.RATE, points_per_unit=10, unit_minor=100, rounding=RoundingMode.HALF_EVEN
    )
    return RuleSet(
        rule_set_id="bench-v1",
        time_zone="Europe/Amsterdam",
        tier_count=TIERS,
        rules=(base, *tier_rules, *category_rules, weekend),
        points_max_per_transaction=5_000,
        points_max_per_member_month=20_000,
    )


def transactions(count: int, *, member_count: int, rng: np.random.Generator) -> TransactionBatch:
    amounts = rng.integers(100, 20_000, count, dtype=np.int64)
    amounts[rng.random(count) < 0.05] *= -1  # returns
    return TransactionBatch(
        member_indexes=rng.integers(0, member_count, count, dtype=np.int32),
        amounts_minor=amounts,
        categories=rng.integers(0, CATEGORIES, count, dtype=np.int32),
        skus=rng.integers(0, 1_000_000, count, dtype=np.int64),
        channels=rng.integers(0, 4, count, dtype=np.int32),
        stores=rng.integers(0, 200, count, dtype=np.int32),
        # A batch is a slice of time: timestamps ascend, members come in random order.
        timestamps_seconds=np.sort(
            rng.integers(MONTH_START_SECONDS, MONTH_START_SECONDS + MONTH_SECONDS, count)
        ).astype(np.int64),
    )


def run(reporter: Reporter) -> None:
    accrual_names = (
        "baseline.bare_loop",
        "ledger_core.accrue",
        "ledger_core.accrue_reusing_buffers",
        "ledger_core.reference",
    )
    if reporter.wants(*accrual_names, "ledger_core.accrue_vs_reference"):
        run_accrual(reporter)
    if reporter.wants("ledger_core.evaluate_tiers"):
        run_tiers(reporter)
    if reporter.wants("ledger_core.allocate_fifo"):
        run_fifo(reporter)


def run_accrual(reporter: Reporter) -> None:
    rng = np.random.default_rng(SEED)
    reporter.progress(f"ledger_core: building {TRANSACTIONS:,} transactions")
    rule_set = realistic_rule_set()
    compiled = compile_rules(rule_set)
    batch = transactions(TRANSACTIONS, member_count=MEMBERS, rng=rng)
    tiers = rng.integers(0, TIERS, MEMBERS, dtype=np.int8)
    counters = new_cap_counters(MEMBERS)
    # Which vector path the processor gives accrue (the best it has), or none: the scalar loop.
    vector = (_accrual.vector_instructions_supported() or ["none"])[0]
    params = {
        "transactions": TRANSACTIONS,
        "members": MEMBERS,
        "rules": len(rule_set.rules),
        "vector_instructions": vector,
    }

    points = np.empty(TRANSACTIONS, dtype=np.int64)
    reporter.progress("ledger_core: bare loop")
    seconds = median_seconds(lambda: bare_loop(batch.amounts_minor, points, 10, 100))
    bare = Figure("baseline.bare_loop", throughput(TRANSACTIONS, seconds), "tx/s", params)
    if reporter.wants(bare.name, "ledger_core.accrue"):
        reporter.emit(bare)

    reporter.progress("ledger_core: accrue")
    seconds = median_seconds(
        lambda: accrue(batch, member_tiers=tiers, cap_counters=counters, rules=compiled)
    )
    kernel = Figure("ledger_core.accrue", throughput(TRANSACTIONS, seconds), "tx/s", params)
    if reporter.wants(kernel.name):
        reporter.emit(kernel, baseline=bare)

    if reporter.wants("ledger_core.accrue_reusing_buffers"):
        reporter.progress("ledger_core: accrue into reused buffers")
        out = new_accrual_buffers(
            transactions_max=TRANSACTIONS,
            member_count=MEMBERS,
            attribution_entries_max=4 * TRANSACTIONS,
        )
        seconds = median_seconds(
            lambda: accrue(
                batch, member_tiers=tiers, cap_counters=counters, rules=compiled, out=out
            )
        )
        reusing = Figure(
            "ledger_core.accrue_reusing_buffers", throughput(TRANSACTIONS, seconds), "tx/s", params
        )
        reporter.emit(reusing, baseline=bare)
        del out

    reporter.progress(f"ledger_core: reference on {REFERENCE_SAMPLE_TRANSACTIONS:,} transactions")
    sample = transactions(REFERENCE_SAMPLE_TRANSACTIONS, member_count=MEMBERS, rng=rng)
    # Members of the sample renumbered densely, so the reference does not copy 1,000,000 rows.
    sample_members, dense = np.unique(sample.member_indexes, return_inverse=True)
    sample = TransactionBatch(**{**vars(sample), "member_indexes": dense.astype(np.int32)})
    sample_tiers, sample_counters = tiers[sample_members], new_cap_counters(len(sample_members))
    seconds = median_seconds(
        lambda: reference.accrue(
            sample, member_tiers=sample_tiers, cap_counters=sample_counters, rules=rule_set
        ),
        warmups=0,
    )
    sample_params = {**params, "transactions": REFERENCE_SAMPLE_TRANSACTIONS}
    slow = Figure(
        "ledger_core.reference",
        throughput(REFERENCE_SAMPLE_TRANSACTIONS, seconds),
        "tx/s",
        sample_params,
    )
    if reporter.wants(slow.name):
        reporter.emit(slow, baseline=kernel)
    if reporter.wants("ledger_core.accrue_vs_reference"):
        speedup = Figure("ledger_core.accrue_vs_reference", kernel.value / slow.value, "x", params)
        reporter.emit(speedup)


def run_tiers(reporter: Reporter) -> None:
    rng = np.random.default_rng(SEED + 1)
    reporter.progress(f"ledger_core: tiers of {TIER_MEMBERS:,} members")
    qualifying = rng.integers(0, 50_000, TIER_MEMBERS, dtype=np.int64)
    current = rng.integers(0, TIERS, TIER_MEMBERS, dtype=np.int8)
    thresholds = np.array([0, 5_000, 15_000, 40_000], dtype=np.int64)
    policy = TierPolicy(is_requalification=True, tiers_down_max=1)
    seconds = median_seconds(
        lambda: evaluate_tiers(
            qualifying_points=qualifying,
            current_tiers=current,
            thresholds_points=thresholds,
            policy=policy,
        )
    )
    params = {"members": TIER_MEMBERS, "tiers": TIERS, "requalification": True}
    figure = Figure(
        "ledger_core.evaluate_tiers", throughput(TIER_MEMBERS, seconds), "members/s", params
    )
    reporter.emit(figure)


def run_fifo(reporter: Reporter) -> None:
    rng = np.random.default_rng(SEED + 2)
    lot_count = LOT_ACCOUNTS * LOTS_PER_ACCOUNT
    reporter.progress(f"ledger_core: FIFO over {lot_count:,} lots")
    expires = np.sort(
        rng.integers(0, 400, (LOT_ACCOUNTS, LOTS_PER_ACCOUNT)).astype(np.int64), axis=1
    )
    lots = LotBook(
        account_offsets=np.arange(0, lot_count + 1, LOTS_PER_ACCOUNT, dtype=np.int64),
        remaining_points=rng.integers(0, 2_000, lot_count, dtype=np.int64),
        vests_at_seconds=rng.integers(-50, 100, lot_count, dtype=np.int64),
        expires_at_seconds=(expires.reshape(-1) + 100) * 86_400,
    )
    # Two requests per account in random order, about half the balance each.
    accounts = rng.permutation(np.repeat(np.arange(LOT_ACCOUNTS, dtype=np.int64), 2))
    requests = BurnRequests(
        account_indexes=accounts,
        points=rng.integers(0, 5_000, len(accounts), dtype=np.int64),
    )
    seconds = median_seconds(lambda: allocate_fifo(lots, requests, as_of_seconds=0))
    params = {"lots": lot_count, "accounts": LOT_ACCOUNTS, "requests": len(accounts)}
    figure = Figure("ledger_core.allocate_fifo", throughput(lot_count, seconds), "lots/s", params)
    reporter.emit(figure)
