"""The points of a purchase attributed to its lines, so a return by line takes back what the
returned lines earned: pure, no I/O.

Each rule's final points for a transaction (after its bonus, caps, exclusive and best-of
stacking: accrual.RuleOutcome.points) are split over the transaction's lines in whole points,
by largest remainder (ties to the earlier line), in proportion to:

1. the points the rule's own line pass gave each line (its rate and multipliers, 0 for lines it
   excludes), when that gave the transaction any: caps scale them down, a fixed bonus up;
2. else (a bonus-only rule, or one whose lines earned nothing) the points every rule's line pass
   gave each line, when any did: a bonus goes to the lines that earn, not to a gift card;
3. else the lines' amounts; else equally.

The lines' points of a transaction add up to its points exactly, and a line no rule rewards gets
0 unless no line of the transaction earned anything under any rule (3).
"""

import numpy as np

from services.campaign.accrual import BatchAccrual, Int64Array, IntArray, PurchaseBatch


def attribute(accrual: BatchAccrual, batch: PurchaseBatch) -> Int64Array:
    """Per line of `batch`, its share of its transaction's points (accrual.points)."""
    size, owners = batch.size, batch.line_transaction
    line_count = len(owners)
    result = np.zeros(line_count, dtype=np.int64)
    given = [outcome for outcome in accrual.outcomes if outcome.points.any()]
    if not given or not line_count:
        return result
    raw = np.zeros(line_count, dtype=np.int64)
    for outcome in accrual.outcomes:
        if outcome.line_points is not None:
            raw += outcome.line_points
    amounts = batch.line_amounts_minor
    fallback = _where_any(raw, owners, size, _where_any(amounts, owners, size, None))
    for outcome in given:
        own = outcome.line_points
        weights = fallback if own is None else _where_any(own, owners, size, fallback)
        result += apportion(outcome.points, weights, owners, size)
    return result


def apportion(totals: Int64Array, weights: Int64Array, owners: IntArray, size: int) -> Int64Array:
    """Split each transaction's total (>= 0) over its lines in proportion to `weights` (>= 0,
    some positive per transaction with a total) by largest remainder; ties to the earlier line."""
    assert (totals >= 0).all() and (weights >= 0).all(), "points and weights are not negative"
    sums = np.zeros(size, dtype=np.int64)
    np.add.at(sums, owners, weights)
    line_totals, line_sums = totals[owners], sums[owners]
    if _overflows(line_totals, weights):
        shares, remainders = _exact(line_totals, weights, line_sums)
    else:
        numerators = line_totals * weights
        divisors = np.maximum(line_sums, 1)
        shares, remainders = numerators // divisors, numerators % divisors
    given = np.zeros(size, dtype=np.int64)
    np.add.at(given, owners, shares)
    left = totals - given
    # Rank each transaction's lines by remainder, largest first, then by position.
    positions = np.arange(len(owners), dtype=np.int64)
    order = np.lexsort((positions, -remainders, owners))
    starts = np.searchsorted(owners[order], np.arange(size), side="left")
    rank = np.empty(len(owners), dtype=np.int64)
    rank[order] = positions - starts[owners[order]]
    return shares + (rank < left[owners]).astype(np.int64)


def _overflows(totals: Int64Array, weights: Int64Array) -> bool:
    """Whether totals * weights might not fit in int64 (amounts of 10^12 times many points)."""
    if not len(weights):
        return False
    return int(totals.max()) * int(weights.max()) >= 2**62


def _exact(
    totals: Int64Array, weights: Int64Array, sums: Int64Array
) -> tuple[Int64Array, Int64Array]:
    """Shares and remainders in Python integers (a remainder is below its transaction's sum of
    weights, an int64, and so is its share of a total of points)."""
    shares, remainders = [], []
    for total, weight, whole in zip(totals.tolist(), weights.tolist(), sums.tolist(), strict=True):
        share, remainder = divmod(total * weight, max(whole, 1))
        shares.append(share)
        remainders.append(remainder)
    return np.array(shares, dtype=np.int64), np.array(remainders, dtype=np.int64)


def _where_any(
    values: Int64Array, owners: IntArray, size: int, otherwise: Int64Array | None
) -> Int64Array:
    """`values` for the lines of transactions where some line's value is positive; `otherwise`
    (or 1, equal weights) for the lines of the others."""
    sums = np.zeros(size, dtype=np.int64)
    np.add.at(sums, owners, values)
    positive = sums[owners] > 0
    if positive.all():
        return values
    fill = np.ones(len(owners), dtype=np.int64) if otherwise is None else otherwise
    return np.where(positive, values, fill)
