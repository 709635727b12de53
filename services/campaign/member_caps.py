"""Member caps (day, week, month) that hold however late a purchase arrives: pure, no I/O.

ledger_core keeps one counter per capped period and member, that of the latest period it has
seen; a purchase of an earlier period would start that period again at 0. So a till uploading
yesterday's sales after today's, or a batch out of time order, could pass a cap twice over.

Here a purchase is late when one of its capped periods (in the program's time zone) is before
the member's counter or before a purchase earlier in the batch. The others are accrued first, as
ledger_core expects them. The late ones are then accrued against what their own periods used: what
the stored purchases of that period earned under the rule (`PastUsage`, read by the caller) or
the counter when it is of that period, plus what the batch has earned in it so far. A member's
late purchases go one per kernel call, in batch order, and each counts towards the counters it
shares a period with.
"""

import dataclasses
from collections import defaultdict

import numpy as np
import numpy.typing as npt

import ledger_core
from ledger_core import limits

Int64Array = npt.NDArray[np.int64]
IntArray = npt.NDArray[np.signedinteger]  # type: ignore[type-arg]
BoolArray = npt.NDArray[np.bool_]

# (member index, period, period key) -> the points the rule gave in that period before the batch.
PastUsage = dict[tuple[int, int, int], int]
# Keys are below 2**32 until the year 2099: a member index above them keeps members apart.
MEMBER_STRIDE = 1 << 32
# Of a late purchase's month, the earliest second: it is at most 31 days before.
MONTH_SECONDS_MAX = 31 * 86_400


def capped_periods(rules: ledger_core.CompiledRuleSet) -> tuple[int, ...]:
    caps = (
        (limits.CAP_DAY, rules.points_max_per_member_day),
        (limits.CAP_WEEK, rules.points_max_per_member_week),
        (limits.CAP_MONTH, rules.points_max_per_member_month),
    )
    return tuple(period for period, points_max in caps if points_max >= 0)


def late_transactions(
    keys: Int64Array, members: IntArray, counters: Int64Array, periods: tuple[int, ...]
) -> BoolArray:
    """Per transaction, whether a capped period of it is before the member's counter's or that
    of an earlier transaction of the member in the batch."""
    late = np.zeros(len(members), dtype=np.bool_)
    if not len(members) or not periods:
        return late
    order = np.argsort(members, kind="stable")
    sorted_members = members[order].astype(np.int64)
    first_of_member = np.ones(len(order), dtype=np.bool_)
    first_of_member[1:] = sorted_members[1:] != sorted_members[:-1]
    for period in periods:
        period_keys = keys[period, order]
        # A running maximum over (member, key): members ascend, so it restarts at each member.
        running = np.maximum.accumulate(sorted_members * MEMBER_STRIDE + period_keys)
        earlier = np.empty(len(order), dtype=np.int64)
        earlier[1:] = running[:-1] - sorted_members[1:] * MEMBER_STRIDE
        earlier[first_of_member] = -1
        latest = np.maximum(earlier, counters[period, sorted_members, limits.CAP_KEY])
        late[order] |= period_keys < latest
    return late


def history_needed(
    rules: ledger_core.CompiledRuleSet, members: IntArray, seconds: Int64Array, counters: Int64Array
) -> tuple[IntArray, int]:
    """The members whose stored purchases a late transaction needs, and the earliest second of
    the periods it needs; no members when none is before its counter."""
    periods = capped_periods(rules)
    if not len(members) or not periods:
        return np.zeros(0, dtype=np.int64), 0
    keys = ledger_core.period_keys(rules.source.time_zone, seconds)
    before = np.zeros(len(members), dtype=np.bool_)
    for period in periods:
        before |= keys[period] < counters[period, members, limits.CAP_KEY]
    if not before.any():
        return np.zeros(0, dtype=np.int64), 0
    return np.unique(members[before]), int(seconds[before].min()) - MONTH_SECONDS_MAX


def past_usage(
    rules: ledger_core.CompiledRuleSet, members: IntArray, seconds: Int64Array, points: Int64Array
) -> PastUsage:
    """What stored purchases (member index, time, the rule's points) used of each capped period."""
    usage: defaultdict[tuple[int, int, int], int] = defaultdict(int)
    keys = ledger_core.period_keys(rules.source.time_zone, seconds)
    periods = capped_periods(rules)
    for index, (member, given) in enumerate(zip(members.tolist(), points.tolist(), strict=True)):
        _count(usage, member, keys[:, index], periods, given)
    return dict(usage)


def accrue_capped(
    rules: ledger_core.CompiledRuleSet,
    transactions: ledger_core.TransactionBatch,
    member_tiers: npt.NDArray[np.int8],
    counters: Int64Array,
    past: PastUsage,
) -> tuple[Int64Array, Int64Array]:
    """The points of each transaction under a rule set with member caps, and the counters after."""
    periods = capped_periods(rules)
    members = np.asarray(transactions.member_indexes)
    keys = ledger_core.period_keys(rules.source.time_zone, transactions.timestamps_seconds)
    late = late_transactions(keys, members, counters, periods)
    if not late.any():
        accrual = ledger_core.accrue(
            transactions, member_tiers=member_tiers, cap_counters=counters, rules=rules
        )
        return accrual.points.copy(), accrual.cap_counters.copy()
    on_time, late_ones = np.flatnonzero(~late), np.flatnonzero(late)
    first = ledger_core.accrue(
        _taken(transactions, on_time), member_tiers=member_tiers, cap_counters=counters, rules=rules
    )
    points = np.zeros(len(members), dtype=np.int64)
    points[on_time] = first.points
    after = first.cap_counters.copy()
    late_members = set(members[late_ones].tolist())
    earned: defaultdict[tuple[int, int, int], int] = defaultdict(int)
    for index in on_time[np.isin(members[on_time], list(late_members))].tolist():
        _count(earned, int(members[index]), keys[:, index], periods, int(points[index]))
    for round_indexes in _rounds(members, late_ones):
        round_counters = ledger_core.new_cap_counters(len(member_tiers))
        for index in round_indexes.tolist():
            member = int(members[index])
            for period in periods:
                key = int(keys[period, index])
                stored_key, stored = counters[period, member].tolist()
                before = stored if key == stored_key else past.get((member, period, key), 0)
                round_counters[period, member] = (key, before + earned[(member, period, key)])
        accrual = ledger_core.accrue(
            _taken(transactions, round_indexes),
            member_tiers=member_tiers,
            cap_counters=round_counters,
            rules=rules,
        )
        points[round_indexes] = accrual.points
        for index, given in zip(round_indexes.tolist(), accrual.points.tolist(), strict=True):
            member = int(members[index])
            _count(earned, member, keys[:, index], periods, given)
            for period in periods:
                if given > 0 and after[period, member, limits.CAP_KEY] == keys[period, index]:
                    after[period, member, limits.CAP_POINTS] += given
    return points, after


def _count(
    earned: defaultdict[tuple[int, int, int], int],
    member: int,
    keys: Int64Array,
    periods: tuple[int, ...],
    points: int,
) -> None:
    # Returns never count towards the caps (nor do they in ledger_core).
    if points > 0:
        for period in periods:
            earned[(member, period, int(keys[period]))] += points


def _rounds(members: IntArray, late: IntArray) -> list[IntArray]:
    """The late transactions in rounds: a member's n-th late one in round n, in batch order."""
    order = np.argsort(members[late], kind="stable")
    sorted_members = members[late][order]
    starts = np.flatnonzero(np.r_[True, sorted_members[1:] != sorted_members[:-1]])
    rank = np.empty(len(late), dtype=np.int64)
    rank[order] = np.arange(len(late)) - np.repeat(starts, np.diff(np.r_[starts, len(late)]))
    return [late[rank == round_] for round_ in range(int(rank.max()) + 1)]


def _taken(batch: ledger_core.TransactionBatch, indexes: IntArray) -> ledger_core.TransactionBatch:
    return ledger_core.TransactionBatch(
        **{
            column.name: np.asarray(getattr(batch, column.name))[indexes]
            for column in dataclasses.fields(batch)
        }
    )
