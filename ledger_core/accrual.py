"""accrue: the checked Python face of the accrual kernel (ledger_core/_accrual.pyx)."""

import numpy as np

from ledger_core import _accrual, limits
from ledger_core.batches import (
    Accrual,
    AccrualBuffers,
    ArrayLike,
    TransactionBatch,
    batch_columns,
    checked_buffers,
    checked_member_tiers,
    copied_cap_counters,
)
from ledger_core.errors import AccrualOverflowError, TransactionError
from ledger_core.rules import CompiledRuleSet
from ledger_core.time_zones import OffsetTable, offset_table

# Kernel status codes (ledger_core/_accrual.pxd, AccrualStatus).
STATUS_DONE, STATUS_NEEDS_CAPACITY, STATUS_OVERFLOW, STATUS_OUTSIDE_OFFSET_TABLE = 0, 1, 2, 5
FIELD_OF_STATUS = {
    3: ("member_indexes", "member index outside the member arrays"),
    4: ("timestamps_seconds", "timestamp outside 1970-01-01 to 2099-12-31 (unix seconds)"),
}
# Attribution entries reserved per transaction at first; the buffers double when needed.
ATTRIBUTION_ENTRIES_PER_TRANSACTION_INITIAL = 4


def accrue(
    batch: TransactionBatch,
    *,
    member_tiers: ArrayLike,
    cap_counters: ArrayLike,
    rules: CompiledRuleSet,
    out: AccrualBuffers | None = None,
) -> Accrual:
    """Points for every transaction of `batch` under `rules` (see ledger_core.rules for the order).

    `member_tiers[m]` is member m's tier, `cap_counters` the members' counters from
    `new_cap_counters` or the previous call; they are not modified, the result holds new ones.
    With `out` (from `new_accrual_buffers`) the result's arrays are views of those buffers, so a
    caller accruing batch after batch skips allocating and first touching fresh memory; the next
    call with the same `out` overwrites them. Raises InputError, TransactionError or
    AccrualOverflowError; then nothing was accrued (though `out` may have been written to).
    """
    columns = batch_columns(batch)
    tiers = checked_member_tiers(member_tiers, tier_count=rules.source.tier_count)
    count = len(columns["member_indexes"])
    rule_count = len(rules.rule_ids)
    if out is None:
        capacity = count * min(rule_count, ATTRIBUTION_ENTRIES_PER_TRANSACTION_INITIAL) + rule_count
        out = AccrualBuffers(
            points=np.empty(count, dtype=np.int64),
            attribution_counts=np.empty(count, dtype=np.uint8),
            attribution_rule_indexes=np.empty(capacity, dtype=np.uint8),
            attribution_points=np.empty(capacity, dtype=np.int64),
            cap_counters=np.empty((limits.CAP_PERIODS, len(tiers), 2), dtype=np.int64),
        )
    else:
        checked_buffers(out, transaction_count=count, member_count=len(tiers))
    counters = copied_cap_counters(cap_counters, into=out.cap_counters)
    timestamps = columns["timestamps_seconds"]
    # The first timestamp's year, widened to the whole batch's years if one falls outside.
    first = int(timestamps[0]) if count else 0
    table = offset_table(rules.source.time_zone, start_seconds=first, end_seconds=first)
    points, counts = out.points[:count], out.attribution_counts[:count]
    rule_indexes, attribution_points = out.attribution_rule_indexes, out.attribution_points
    start_index, used = 0, 0
    while True:
        status, index, used = _accrual.accrue_columns(
            rules,
            transitions_seconds=table.transitions_seconds,
            offsets_seconds=table.offsets_seconds,
            table_end_seconds=table.end_seconds,
            **columns,
            member_tiers=tiers,
            cap_counters=counters.reshape(-1),
            points=points,
            attribution_counts=counts,
            attribution_rule_indexes=rule_indexes,
            attribution_points=attribution_points,
            start_index=start_index,
            attribution_used=used,
        )
        if status == STATUS_DONE:
            break
        if status == STATUS_NEEDS_CAPACITY:
            rule_indexes = _grown(rule_indexes, used)
            attribution_points = _grown(attribution_points, used)
        elif status == STATUS_OUTSIDE_OFFSET_TABLE:
            table = _table_of_the_batch(rules, timestamps)
        else:
            raise _error_of(status, index, columns)
        start_index = index
    return Accrual(
        points=points,
        attribution_counts=counts,
        attribution_rule_indexes=rule_indexes[:used],
        attribution_points=attribution_points[:used],
        cap_counters=counters,
        rule_ids=rules.rule_ids,
    )


def _table_of_the_batch(rules: CompiledRuleSet, timestamps: np.ndarray) -> OffsetTable:
    # offset_table clamps to the valid years; the kernel names a bad timestamp itself.
    return offset_table(
        rules.source.time_zone,
        start_seconds=int(timestamps.min()),
        end_seconds=int(timestamps.max()),
    )


def _grown(buffer: np.ndarray, used: int) -> np.ndarray:
    grown = np.empty(max(2 * len(buffer), limits.RULES_PER_SET_MAX), dtype=buffer.dtype)
    grown[:used] = buffer[:used]
    return grown


def _error_of(status: int, index: int, columns: dict[str, np.ndarray]) -> Exception:
    if status == STATUS_OVERFLOW:
        return AccrualOverflowError(index)
    field, message = FIELD_OF_STATUS[status]
    return TransactionError(index, field, f"{message}, got {columns[field][index]}")
