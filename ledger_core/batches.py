"""The columnar inputs and outputs of accrue, and their checks at the boundary.

Columns may be numpy arrays, array.array or sequences of ints; they are converted (without a copy
when the dtype already matches) to the kernel's dtypes after checking that every value fits.
"""

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ledger_core import limits
from ledger_core.errors import InputError

Int64Array = npt.NDArray[np.int64]
ArrayLike = Any  # numpy array, array.array or a sequence of ints

# Column name and the dtype the kernel reads it as.
BATCH_COLUMNS: tuple[tuple[str, type[np.integer[Any]]], ...] = (
    ("member_indexes", np.int32),
    ("amounts_minor", np.int64),
    ("categories", np.int32),
    ("skus", np.int64),
    ("channels", np.int32),
    ("stores", np.int32),
    ("timestamps_seconds", np.int64),
)


@dataclass(frozen=True, eq=False)
class TransactionBatch:
    """One batch of transactions, one entry per transaction in each column.

    `member_indexes` index the per-member arrays (tiers, cap counters); amounts are minor units,
    negative for returns; timestamps are unix seconds (UTC). Ids are non-negative integers.
    """

    member_indexes: ArrayLike
    amounts_minor: ArrayLike
    categories: ArrayLike
    skus: ArrayLike
    channels: ArrayLike
    stores: ArrayLike
    timestamps_seconds: ArrayLike


@dataclass(frozen=True, eq=False)
class Accrual:
    """Points per transaction, their attribution to rules, and the members' new cap counters.

    Transaction i has `attribution_counts[i]` attribution entries, following those of the
    transactions before it, in stacking order: `attribution_rule_indexes` (positions in the rule
    set; `rule_ids` names them) and `attribution_points`, which sum to points[i]. Rules that
    contributed 0 have no entry.
    """

    points: Int64Array
    attribution_counts: npt.NDArray[np.uint8]
    attribution_rule_indexes: npt.NDArray[np.uint8]
    attribution_points: Int64Array
    cap_counters: Int64Array
    rule_ids: tuple[str, ...]

    @functools.cached_property
    def attribution_offsets(self) -> Int64Array:
        """CSR offsets: the entries of transaction i are offsets[i] to offsets[i + 1]."""
        offsets = np.zeros(len(self.attribution_counts) + 1, dtype=np.int64)
        np.cumsum(self.attribution_counts, out=offsets[1:])
        return offsets

    def attribution_of(self, transaction_index: int) -> dict[str, int]:
        start, end = self.attribution_offsets[transaction_index : transaction_index + 2]
        return {
            self.rule_ids[int(rule)]: int(points)
            for rule, points in zip(
                self.attribution_rule_indexes[start:end],
                self.attribution_points[start:end],
                strict=True,
            )
        }

    def points_by_rule(self) -> dict[str, int]:
        # Python ints: a total over a batch may exceed int64 while each entry fits.
        exact = dict.fromkeys(self.rule_ids, 0)
        for rule, points in zip(
            self.attribution_rule_indexes.tolist(), self.attribution_points.tolist(), strict=True
        ):
            exact[self.rule_ids[rule]] += points
        return exact


@dataclass(frozen=True, eq=False)
class AccrualBuffers:
    """Where `accrue(..., out=...)` writes, to be reused from one batch to the next.

    `points` and `attribution_counts` hold at least one entry per transaction, the two attribution
    arrays the same number of entries (when a batch needs more, `accrue` grows copies and leaves
    these be), `cap_counters` the shape of `new_cap_counters`.
    """

    points: Int64Array
    attribution_counts: npt.NDArray[np.uint8]
    attribution_rule_indexes: npt.NDArray[np.uint8]
    attribution_points: Int64Array
    cap_counters: Int64Array


def new_accrual_buffers(
    *, transactions_max: int, member_count: int, attribution_entries_max: int
) -> AccrualBuffers:
    """Buffers for batches of up to `transactions_max` transactions over `member_count` members."""
    if not 0 <= transactions_max <= limits.TRANSACTIONS_PER_BATCH_MAX:
        raise InputError("transactions_max", f"must be 0 to {limits.TRANSACTIONS_PER_BATCH_MAX}")
    entries_max = limits.TRANSACTIONS_PER_BATCH_MAX * limits.RULES_PER_SET_MAX
    if not 0 <= attribution_entries_max <= entries_max:
        raise InputError("attribution_entries_max", f"must be 0 to {entries_max}")
    return AccrualBuffers(
        points=np.empty(transactions_max, dtype=np.int64),
        attribution_counts=np.empty(transactions_max, dtype=np.uint8),
        attribution_rule_indexes=np.empty(attribution_entries_max, dtype=np.uint8),
        attribution_points=np.empty(attribution_entries_max, dtype=np.int64),
        cap_counters=new_cap_counters(member_count),
    )


def checked_buffers(out: AccrualBuffers, *, transaction_count: int, member_count: int) -> None:
    expected = (
        ("points", np.int64, transaction_count),
        ("attribution_counts", np.uint8, transaction_count),
        ("attribution_rule_indexes", np.uint8, 0),
        ("attribution_points", np.int64, 0),
    )
    for name, dtype, length_min in expected:
        buffer = getattr(out, name)
        if not isinstance(buffer, np.ndarray) or buffer.dtype != dtype or buffer.ndim != 1:
            raise InputError(f"out.{name}", f"must be a one-dimensional {np.dtype(dtype)} array")
        if not buffer.flags.c_contiguous or not buffer.flags.writeable:
            raise InputError(f"out.{name}", "must be contiguous and writeable")
        if len(buffer) < length_min:
            raise InputError(f"out.{name}", f"length {len(buffer)}, the batch needs {length_min}")
    if len(out.attribution_rule_indexes) != len(out.attribution_points):
        raise InputError("out.attribution_points", "must be as long as attribution_rule_indexes")
    counters = out.cap_counters
    shape = (limits.CAP_PERIODS, member_count, 2)
    if (
        not isinstance(counters, np.ndarray)
        or counters.dtype != np.int64
        or counters.shape != shape
    ):
        raise InputError("out.cap_counters", f"must be an int64 array of shape {shape}")
    if not counters.flags.c_contiguous or not counters.flags.writeable:
        raise InputError("out.cap_counters", "must be contiguous and writeable")


def new_cap_counters(member_count: int) -> Int64Array:
    """Cap counters for members who have earned nothing yet, shape (3, member_count, 2).

    counters[period, member] is (period key, points earned in it) for period 0 the local day
    (days since 1970-01-01), 1 the ISO week (weeks since Monday 1969-12-29), 2 the month
    (year * 12 + month - 1). Only the periods the rule set caps are kept up to date.
    """
    if not 0 <= member_count <= limits.MEMBERS_MAX:
        raise InputError("member_count", f"must be 0 to {limits.MEMBERS_MAX}")
    return np.zeros((limits.CAP_PERIODS, member_count, 2), dtype=np.int64)


def integer_column(argument: str, values: ArrayLike, dtype: type[np.integer[Any]]) -> np.ndarray:
    """`values` as a contiguous 1-D array of `dtype`; every value must fit."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise InputError(argument, f"must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        return np.zeros(0, dtype=dtype)
    if array.dtype.kind not in "iu":
        raise InputError(argument, f"must hold integers, got dtype {array.dtype}")
    if array.dtype != dtype and not np.can_cast(array.dtype, dtype):
        bounds = np.iinfo(dtype)
        low, high = int(array.min()), int(array.max())
        if low < bounds.min or high > bounds.max:
            raise InputError(argument, f"values {low} to {high} do not fit in {np.dtype(dtype)}")
    return np.ascontiguousarray(array, dtype=dtype)


def batch_columns(batch: TransactionBatch) -> dict[str, np.ndarray]:
    columns = {
        name: integer_column(f"batch.{name}", getattr(batch, name), dtype)
        for name, dtype in BATCH_COLUMNS
    }
    count = len(columns["member_indexes"])
    if count > limits.TRANSACTIONS_PER_BATCH_MAX:
        raise InputError(
            "batch", f"{count} transactions, at most {limits.TRANSACTIONS_PER_BATCH_MAX}"
        )
    for name, column in columns.items():
        if len(column) != count:
            raise InputError(f"batch.{name}", f"length {len(column)}, member_indexes has {count}")
    return columns


def checked_member_tiers(member_tiers: ArrayLike, *, tier_count: int) -> npt.NDArray[np.int8]:
    tiers = integer_column("member_tiers", member_tiers, np.int8)
    if len(tiers) > limits.MEMBERS_MAX:
        raise InputError("member_tiers", f"at most {limits.MEMBERS_MAX} members")
    if len(tiers) and (int(tiers.min()) < 0 or int(tiers.max()) >= tier_count):
        bad = int(np.flatnonzero((tiers < 0) | (tiers >= tier_count))[0])
        raise InputError(
            "member_tiers", f"tier {tiers[bad]} of member {bad} outside 0 to {tier_count - 1}"
        )
    return tiers


def checked_cap_counters(cap_counters: ArrayLike, *, member_count: int) -> Int64Array:
    """A copy of the counters: the caller's array stays as it was, even when accrual fails."""
    expected = (limits.CAP_PERIODS, member_count, 2)
    return copied_cap_counters(cap_counters, into=np.empty(expected, dtype=np.int64))


def copied_cap_counters(cap_counters: ArrayLike, *, into: Int64Array) -> Int64Array:
    """`cap_counters` copied into `into` (int64, the expected shape); `into` is returned.

    Unless they are the same array, the caller's counters stay as they were, even when accrual
    fails.
    """
    given = np.asarray(cap_counters)
    if given.dtype.kind not in "iu":
        raise InputError("cap_counters", f"must hold integers, got dtype {given.dtype}")
    if given.shape != into.shape:
        raise InputError("cap_counters", f"shape {given.shape}, expected {into.shape}")
    if given.dtype != np.int64 and not np.can_cast(given.dtype, np.int64):
        low, high = int(given.min()) if given.size else 0, int(given.max()) if given.size else 0
        if low < limits.INT64_MIN or high > limits.INT64_MAX:
            raise InputError("cap_counters", f"values {low} to {high} do not fit in int64")
    if given is not into:
        np.copyto(into, given, casting="unsafe")
    return into
