"""Points of a batch of purchases under the program's earning rules: pure, no I/O.

The stacking order across rules (the proto's StackingMode, refined):

1. Rules are evaluated in ascending priority, then rule id.
2. A rule applies to a transaction when its start/end time, minimum spend (on the transaction's
   total) and time windows allow; within it ledger_core computes base, multipliers, exclusions,
   bonus and caps (see services/campaign/rule_compiler.py and ledger_core/rules.py).
3. STACKABLE rules add their points. A rule "matches" a transaction when it gives it points.
4. When an EXCLUSIVE rule matches, rules of a later priority are not evaluated for it.
5. Among BEST_OF_PRIORITY rules of one priority that match, only the one giving most points
   applies (ties go to the lower rule id); the others give nothing and consume no member cap.
6. Member caps (day, week, month) are kept per rule and member across batches; the counters go
   in and come out of this module, the caller stores them. A purchase of a period before the
   counter's is capped by what its own period used (services/campaign/member_caps.py).

Transactions without line detail are one line of their total, category and SKU.
"""

import itertools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

import ledger_core
from loyalty.campaign.v1 import rules_pb2
from services.campaign.member_caps import PastUsage, accrue_capped
from services.campaign.rule_compiler import RATE_INDEX, CompiledEarningRule, Dictionary

Int64Array = npt.NDArray[np.int64]
IntArray = npt.NDArray[np.signedinteger]  # type: ignore[type-arg]

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Codes:
    """A column of strings as the distinct values and one code per row."""

    values: list[str]
    codes: IntArray

    @classmethod
    def of(cls, column: "list[str]") -> "Codes":
        # dict.fromkeys and map run in C: no Python step per row.
        values = list(dict.fromkeys(column))
        if len(values) == 1:
            return cls(values, np.zeros(len(column), dtype=np.int32))
        index = {value: code for code, value in enumerate(values)}
        codes = np.fromiter(map(index.__getitem__, column), dtype=np.int32, count=len(column))
        return cls(values, codes)

    def local(self, dictionary: Dictionary) -> IntArray:
        """The rule-local id of every row (0 for values the rule does not mention)."""
        if not dictionary.ids or not self.values:
            return np.zeros(len(self.codes), dtype=np.int32)
        lookup = np.array(dictionary.lookup(self.values), dtype=np.int32)
        return lookup[self.codes]


@dataclass(frozen=True, eq=False)
class PurchaseBatch:
    """Purchases as columns (n transactions, L lines, m members)."""

    member_index: IntArray  # n, into member_tiers
    member_tiers: Codes  # m, each member's tier code
    amounts_minor: Int64Array  # n, non-negative totals
    channels: IntArray  # n
    stores: Codes  # n
    seconds: Int64Array  # n, unix seconds
    line_transaction: IntArray  # L, the transaction of each line
    line_amounts_minor: Int64Array  # L
    line_categories: Codes  # L
    line_skus: Codes  # L
    # Per rule id, the transactions the rule must not reward (True): the member is outside the
    # rule's segments or experiment arm, or in the program-wide holdout (services/campaign/
    # targeting.py). Rules not named here apply to every transaction.
    excluded: dict[str, BoolArray] = field(default_factory=dict)
    # n, unix microseconds, which a rule's start and end are compared with; None for archived
    # purchases (backtests), which keep whole seconds only.
    micros: Int64Array | None = None

    @property
    def size(self) -> int:
        return len(self.amounts_minor)

    @property
    def member_count(self) -> int:
        return len(self.member_tiers.codes)

    def times_micros(self) -> Int64Array:
        """n, each purchase's time in unix microseconds: to the microsecond where known, else
        the start of its second (archived purchases)."""
        return self.micros if self.micros is not None else self.seconds * 1_000_000


@dataclass
class RuleOutcome:
    rule: CompiledEarningRule
    points: Int64Array
    # Only when explaining: the points before caps, and the base before multipliers.
    uncapped: Int64Array | None = None
    base: Int64Array | None = None
    lines: Int64Array | None = None
    counters: Int64Array | None = None
    history: dict[int, tuple[Int64Array, Int64Array]] | None = None
    # Per line of the batch, the points the rule's line pass gave it (before the transaction's
    # bonus and caps); None for a rule without a line pass. line_points.py attributes from it.
    line_points: Int64Array | None = None


@dataclass
class BatchAccrual:
    points: Int64Array
    outcomes: list[RuleOutcome]
    # The member cap counters after the batch, per rule id with member caps, and what the batch
    # adds to the history of other periods (services/campaign/member_caps.py).
    counters: dict[str, Int64Array] = field(default_factory=dict)
    history: dict[str, dict[int, tuple[Int64Array, Int64Array]]] = field(default_factory=dict)

    def qualifying_points(self) -> Int64Array:
        total = np.zeros(len(self.points), dtype=np.int64)
        for outcome in self.outcomes:
            if outcome.rule.qualifying:
                total += outcome.points
        return total

    def applications_texts(self) -> list[str]:
        """Per transaction, "rule_id@version:points" of the rules that gave points, in stacking
        order, joined by commas."""
        # Object arrays: the strings are joined by numpy's loops, not a Python step per purchase.
        texts = np.full(len(self.points), "", dtype=object)
        for outcome in self.outcomes:
            given = np.flatnonzero(outcome.points)
            if not len(given):
                continue
            prefix = f"{outcome.rule.ref}:"
            labels = np.array(
                [prefix + value for value in map(str, outcome.points[given].tolist())],
                dtype=object,
            )
            before = texts[given]
            stacked = before != ""
            labels[stacked] = before[stacked] + "," + labels[stacked]
            texts[given] = labels
        return texts.tolist()  # type: ignore[no-any-return]

    def contributing_refs(self, *, qualifying: bool) -> list[str]:
        """Per transaction, the refs of the (non-)qualifying rules that gave it points."""
        masks = np.zeros(len(self.points), dtype=np.int64)
        refs: list[str] = []
        for outcome in self.outcomes:
            if outcome.rule.qualifying == qualifying:
                masks |= (outcome.points > 0).astype(np.int64) << len(refs)
                refs.append(outcome.rule.ref)
        names = {
            int(mask): ",".join(ref for bit, ref in enumerate(refs) if int(mask) >> bit & 1)
            for mask in np.unique(masks)
        }
        return [names[mask] for mask in masks.tolist()]


def parsed_applications(text: str) -> list[tuple[str, int, int]]:
    """(rule id, version, points) of each rule in a text of BatchAccrual.applications_texts."""
    applications = []
    for part in filter(None, text.split(",")):
        ref, points = part.rsplit(":", 1)
        rule_id, version = ref.rsplit("@", 1)
        applications.append((rule_id, int(version), int(points)))
    return applications


def accrue_purchases(
    rules: list[CompiledEarningRule],
    batch: PurchaseBatch,
    counters: dict[str, Int64Array],
    *,
    past: dict[str, PastUsage] | None = None,
    explain: bool = False,
) -> BatchAccrual:
    """The points of every purchase of `batch`; `counters` (per rule id) are not modified.

    `past` holds, per rule id, what the rule gave in the periods before a member's counter that
    the batch's late purchases fall in (see member_caps.history_needed).
    """
    past = past or {}
    ordered = sorted(rules, key=lambda rule: (rule.priority, rule.rule_id))
    counters = dict(counters)
    open_transactions = np.ones(batch.size, dtype=np.bool_)
    outcomes: list[RuleOutcome] = []
    history: dict[str, dict[int, tuple[Int64Array, Int64Array]]] = {}
    for _, grouped in itertools.groupby(ordered, key=lambda rule: rule.priority):
        group = list(grouped)
        selected = np.flatnonzero(open_transactions)
        trial = {
            rule.ref: evaluate_rule(
                rule, batch, selected, counters.get(rule.rule_id), past.get(rule.rule_id), explain
            )
            for rule in group
        }
        best_of = [r for r in group if r.stacking_mode == rules_pb2.STACKING_MODE_BEST_OF_PRIORITY]
        if len(best_of) > 1:
            _keep_best(best_of, trial, batch, selected, counters, past, explain)
        for rule in group:
            outcome = trial[rule.ref]
            outcomes.append(outcome)
            if outcome.counters is not None:
                counters[rule.rule_id] = outcome.counters
            if outcome.history:
                history[rule.rule_id] = outcome.history
            if rule.stacking_mode == rules_pb2.STACKING_MODE_EXCLUSIVE:
                open_transactions &= outcome.points <= 0
    total = np.zeros(batch.size, dtype=np.int64)
    for outcome in outcomes:
        total += outcome.points
    return BatchAccrual(
        total,
        outcomes,
        {r.rule_id: counters[r.rule_id] for r in rules if r.rule_id in counters},
        history,
    )


def _keep_best(
    best_of: list[CompiledEarningRule],
    trial: dict[str, RuleOutcome],
    batch: PurchaseBatch,
    selected: IntArray,
    counters: dict[str, Int64Array],
    past: dict[str, PastUsage],
    explain: bool,
) -> None:
    stacked = np.stack([trial[rule.ref].points for rule in best_of])
    winner = np.argmax(stacked, axis=0)
    for position, rule in enumerate(best_of):
        won = np.zeros(batch.size, dtype=np.bool_)
        won[selected] = True
        won &= (winner == position) & (stacked[position] > 0)
        if rule.member_caps:
            # Evaluated again from the counters before the group, so losers consume no cap.
            trial[rule.ref] = evaluate_rule(
                rule,
                batch,
                np.flatnonzero(won),
                counters.get(rule.rule_id),
                past.get(rule.rule_id),
                explain,
            )
            continue
        outcome = trial[rule.ref]
        outcome.points = np.where(won, outcome.points, 0)
        if outcome.uncapped is not None:
            outcome.uncapped = np.where(won, outcome.uncapped, 0)
        if outcome.base is not None:
            outcome.base = np.where(won, outcome.base, 0)
        if outcome.lines is not None:
            outcome.lines = np.where(won, outcome.lines, 0)


def evaluate_rule(
    rule: CompiledEarningRule,
    batch: PurchaseBatch,
    selected: IntArray,
    counters: Int64Array | None,
    past: PastUsage | None,
    explain: bool,
) -> RuleOutcome:
    """One rule over the selected transactions; the others get 0."""
    size, members = batch.size, batch.member_count
    points = np.zeros(size, dtype=np.int64)
    outcome = RuleOutcome(rule, points)
    if explain:
        outcome.uncapped = np.zeros(size, dtype=np.int64)
        outcome.base = np.zeros(size, dtype=np.int64)
        outcome.lines = np.zeros(size, dtype=np.int64)
    stores = batch.stores.local(rule.stores)
    selected = _eligible(rule, batch, selected, stores)
    if len(selected) == 0:
        if rule.member_caps:
            outcome.counters = (
                counters if counters is not None else ledger_core.new_cap_counters(members)
            )
        return outcome
    tiers = batch.member_tiers.local(rule.tiers).astype(np.int8)
    no_counters = ledger_core.new_cap_counters(members)
    line_points = np.zeros(size, dtype=np.int64)
    if rule.lines is not None and len(selected):
        chosen = np.zeros(size, dtype=np.bool_)
        chosen[selected] = True
        lines = np.flatnonzero(chosen[batch.line_transaction])
        owners = batch.line_transaction[lines]
        accrual = ledger_core.accrue(
            ledger_core.TransactionBatch(
                member_indexes=batch.member_index[owners],
                amounts_minor=batch.line_amounts_minor[lines],
                categories=batch.line_categories.local(rule.categories)[lines],
                skus=batch.line_skus.local(rule.skus)[lines],
                channels=batch.channels[owners],
                stores=stores[owners],
                timestamps_seconds=batch.seconds[owners],
            ),
            member_tiers=tiers,
            cap_counters=no_counters,
            rules=rule.lines,
        )
        np.add.at(line_points, owners, accrual.points)
        outcome.line_points = np.zeros(len(batch.line_transaction), dtype=np.int64)
        outcome.line_points[lines] = accrual.points
        if outcome.base is not None:
            np.add.at(outcome.base, owners, _rate_points(accrual))
    if outcome.lines is not None:
        outcome.lines[:] = line_points
    if rule.totals is None:
        points[:] = line_points
        if outcome.uncapped is not None:
            outcome.uncapped[:] = line_points
        return outcome
    categories = _has_category_line(rule, batch) if rule.bonus_needs_category else None
    transactions = _transactions(batch, selected, line_points, stores, categories)
    if rule.member_caps:
        given = counters if counters is not None else ledger_core.new_cap_counters(members)
        capped = accrue_capped(rule.totals, transactions, tiers, given, past or {})
        points[selected], outcome.counters, outcome.history = (
            capped.points,
            capped.counters,
            capped.history,
        )
    else:
        totals = ledger_core.accrue(
            transactions, member_tiers=tiers, cap_counters=no_counters, rules=rule.totals
        )
        points[selected] = totals.points
    if outcome.uncapped is not None and rule.totals_uncapped is not None:
        uncapped = ledger_core.accrue(
            _transactions(batch, selected, line_points, stores, categories),
            member_tiers=tiers,
            cap_counters=no_counters,
            rules=rule.totals_uncapped,
        )
        outcome.uncapped[selected] = uncapped.points
    return outcome


def cap_candidates(rule: CompiledEarningRule, batch: PurchaseBatch) -> IntArray:
    """The transactions of `batch` that `rule` may give points to, and so use its member caps
    with: those it is in force for, inside its windows. The others never touch its counters, so
    the history of their periods need not be read."""
    return _eligible(rule, batch, np.arange(batch.size), batch.stores.local(rule.stores))


def _eligible(
    rule: CompiledEarningRule, batch: PurchaseBatch, selected: IntArray, stores: IntArray
) -> IntArray:
    """The selected transactions the rule is in force for, inside its windows."""
    selected = _in_force(rule, batch, selected)
    if rule.windows is None or not len(selected):
        return selected
    windows = ledger_core.accrue(
        _transactions(batch, selected, batch.amounts_minor, stores, None),
        member_tiers=np.zeros(batch.member_count, dtype=np.int8),
        cap_counters=ledger_core.new_cap_counters(batch.member_count),
        rules=rule.windows,
    )
    return selected[windows.points > 0]


def _in_force(rule: CompiledEarningRule, batch: PurchaseBatch, selected: IntArray) -> IntArray:
    micros = batch.times_micros()[selected]
    keep = np.ones(len(selected), dtype=np.bool_)
    excluded = batch.excluded.get(rule.rule_id)
    if excluded is not None:
        keep &= ~excluded[selected]
    if rule.start_micros is not None:
        keep &= micros >= rule.start_micros
    if rule.end_micros is not None:
        keep &= micros < rule.end_micros
    if rule.spend_min_minor:
        keep &= batch.amounts_minor[selected] >= rule.spend_min_minor
    return selected[keep]


def _transactions(
    batch: PurchaseBatch,
    selected: IntArray,
    amounts: Int64Array,
    stores: IntArray,
    categories: IntArray | None,
) -> ledger_core.TransactionBatch:
    zeros = np.zeros(len(selected), dtype=np.int32)
    return ledger_core.TransactionBatch(
        member_indexes=batch.member_index[selected],
        amounts_minor=amounts[selected],
        categories=zeros if categories is None else categories[selected],
        skus=zeros,
        channels=batch.channels[selected],
        stores=stores[selected],
        timestamps_seconds=batch.seconds[selected],
    )


def _has_category_line(rule: CompiledEarningRule, batch: PurchaseBatch) -> IntArray:
    """1 for transactions with a line in one of the rule's categories, else 0."""
    flags = np.zeros(batch.size, dtype=np.int32)
    in_category = (batch.line_categories.local(rule.categories) > 0).astype(np.int32)
    np.maximum.at(flags, batch.line_transaction, in_category)
    return flags


def _rate_points(accrual: ledger_core.Accrual) -> Int64Array:
    """The base (RATE) points of each row: its first attribution entry when that is the rate."""
    counts = accrual.attribution_counts
    starts = accrual.attribution_offsets[:-1]
    base = np.zeros(len(counts), dtype=np.int64)
    has = np.flatnonzero(counts > 0)
    first = starts[has]
    is_rate = accrual.attribution_rule_indexes[first] == RATE_INDEX
    base[has[is_rate]] = accrual.attribution_points[first[is_rate]]
    return base
