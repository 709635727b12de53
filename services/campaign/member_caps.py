"""Member caps (day, week, month) that hold however late a purchase arrives: pure, no I/O.

ledger_core keeps one counter per capped period and member, that of the latest period it has
seen; a purchase of an earlier period would start that period again at 0. So a till uploading
yesterday's sales after today's, or a batch out of time order, could pass a cap twice over.

Here a purchase is late when one of its capped periods (in the program's time zone) is before
the member's counter or before a purchase earlier in the batch. The others are accrued first, as
ledger_core expects them. The late ones are then accrued against what their own periods used:
the counter when it is of that period, else the period's history (cap_history: what a period
used once the counter moved on from it, `PastUsage` here), plus what the batch has earned in it so
far. A member's late purchases go one per kernel call, in batch order, and each counts towards
the counters it shares a period with. What the batch adds to periods other than the counters'
comes out as history to store.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

import ledger_core
from ledger_core import limits

Int64Array = npt.NDArray[np.int64]
IntArray = npt.NDArray[np.signedinteger]  # type: ignore[type-arg]
BoolArray = npt.NDArray[np.bool_]

# Per capped period, what the history holds of periods before the counters': the (member index,
# period key) codes of `codes`, ascending, and the points of each.
PastUsage = dict[int, tuple["Int64Array", "Int64Array"]]
# Keys are below 2**32 until the year 2099: a member index above them keeps members apart.
MEMBER_STRIDE = 1 << 32


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
        running = np.maximum.accumulate(codes(sorted_members, period_keys))
        earlier = np.empty(len(order), dtype=np.int64)
        earlier[1:] = code_parts(running[:-1])[1]
        earlier[first_of_member] = -1
        latest = np.maximum(earlier, counters[period, sorted_members, limits.CAP_KEY])
        late[order] |= period_keys < latest
    return late


def history_needed(
    rules: ledger_core.CompiledRuleSet, members: IntArray, seconds: Int64Array, counters: Int64Array
) -> dict[int, Int64Array]:
    """Per capped period, the (member, key) codes (see `codes`) of the periods before their
    member's counter that the transactions fall in, ascending: what to read of the history."""
    periods = capped_periods(rules)
    if not len(members) or not periods:
        return {}
    keys = ledger_core.period_keys(rules.source.time_zone, seconds)
    needed = {}
    for period in periods:
        before = keys[period] < counters[period, members, limits.CAP_KEY]
        if before.any():
            needed[period] = np.unique(codes(members[before], keys[period, before]))
    return needed


def history_horizon(now_seconds: int, retention_days: int) -> tuple[int, int, int]:
    """Per capped period (day, week, month), the first key whose history is kept: the period
    holding the instant `retention_days` before `now_seconds`, and those after it. Keys are taken
    in UTC, so in a program's own time zone the horizon may fall a day either side."""
    horizon = now_seconds - retention_days * 86_400
    keys = ledger_core.period_keys("UTC", [max(horizon, limits.TIMESTAMP_SECONDS_MIN)])
    return (
        int(keys[limits.CAP_DAY, 0]),
        int(keys[limits.CAP_WEEK, 0]),
        int(keys[limits.CAP_MONTH, 0]),
    )


def codes(members: IntArray, keys: Int64Array) -> Int64Array:
    """One int64 per (member index, period key)."""
    return members.astype(np.int64) * MEMBER_STRIDE + keys


def code_parts(coded: Int64Array) -> tuple[Int64Array, Int64Array]:
    """The member indexes and period keys of `codes`."""
    return coded // MEMBER_STRIDE, coded % MEMBER_STRIDE


@dataclass(frozen=True, eq=False)
class CappedAccrual:
    points: Int64Array
    counters: Int64Array
    # Per capped period, the (member, key) codes of periods other than the counters' that the
    # batch earned in, and the points to add to their history.
    history: dict[int, tuple[Int64Array, Int64Array]]


def accrue_capped(
    rules: ledger_core.CompiledRuleSet,
    transactions: ledger_core.TransactionBatch,
    member_tiers: npt.NDArray[np.int8],
    counters: Int64Array,
    past: PastUsage,
) -> CappedAccrual:
    """The points of each transaction under a rule set with member caps, the counters after and
    the history the batch adds to."""
    periods = capped_periods(rules)
    members = np.asarray(transactions.member_indexes).astype(np.int64)
    keys = ledger_core.period_keys(rules.source.time_zone, transactions.timestamps_seconds)
    uses = {
        period: _PeriodUse.of(period, members, keys[period], counters, past.get(period))
        for period in periods
    }
    late = late_transactions(keys, members, counters, periods)
    on_time, late_ones = np.flatnonzero(~late), np.flatnonzero(late)
    first = ledger_core.accrue(
        _taken(transactions, on_time) if len(late_ones) else transactions,
        member_tiers=member_tiers,
        cap_counters=counters,
        rules=rules,
    )
    points = np.zeros(len(members), dtype=np.int64)
    points[on_time] = first.points
    after = first.cap_counters.copy()
    for use in uses.values():
        use.add(on_time, points[on_time])
    for round_indexes in _rounds(members, late_ones):
        round_members = members[round_indexes]
        round_counters = ledger_core.new_cap_counters(len(member_tiers))
        for period, use in uses.items():
            round_counters[period, round_members, limits.CAP_KEY] = keys[period, round_indexes]
            round_counters[period, round_members, limits.CAP_POINTS] = use.used_by(round_indexes)
        given = ledger_core.accrue(
            _taken(transactions, round_indexes),
            member_tiers=member_tiers,
            cap_counters=round_counters,
            rules=rules,
        ).points
        points[round_indexes] = given
        for period, use in uses.items():
            use.add(round_indexes, given)
            # A late purchase of the period the counter now holds counts in it too.
            shared = (
                after[period, round_members, limits.CAP_KEY] == keys[period, round_indexes]
            ) & (given > 0)
            np.add.at(after[period, :, limits.CAP_POINTS], round_members[shared], given[shared])
    for period, use in uses.items():
        use.advance(period, after, members[late_ones], keys[period, late_ones], points[late_ones])
    history = {period: use.history(period, after) for period, use in uses.items()}
    return CappedAccrual(points, after, history)


@dataclass
class _PeriodUse:
    """The points each (member, key) of one period used: before the batch (from the counter or
    the history), plus those of the batch's transactions accrued so far. `slots[i]` is
    transaction i's (member, key); `historic` is what the history already holds of each."""

    codes: Int64Array
    slots: IntArray
    used: Int64Array
    historic: Int64Array

    @classmethod
    def of(
        cls,
        period: int,
        members: IntArray,
        keys: Int64Array,
        counters: Int64Array,
        past: tuple[Int64Array, Int64Array] | None,
    ) -> "_PeriodUse":
        # The members' counters' own (member, key)s too: a counter that moves on leaves its
        # period, with what the batch added to it, to the history.
        batch_members = np.unique(members)
        counter_keys = counters[period, batch_members, limits.CAP_KEY]
        held = counter_keys > 0
        every = np.concatenate(
            [codes(members, keys), codes(batch_members[held], counter_keys[held])]
        )
        coded, slots = np.unique(every, return_inverse=True)
        slots = slots.reshape(-1)[: len(members)]
        code_members, code_keys = code_parts(coded)
        used = np.zeros(len(coded), dtype=np.int64)
        historic = np.zeros(len(coded), dtype=np.int64)
        # The counter when it is of that key; else what the history holds of it.
        counted = counters[period, code_members, limits.CAP_KEY] == code_keys
        used[counted] = counters[period, code_members[counted], limits.CAP_POINTS]
        if past is not None and len(past[0]) and len(coded):
            past_codes, past_used = past
            found = np.minimum(np.searchsorted(coded, past_codes), len(coded) - 1)
            wanted = (coded[found] == past_codes) & ~counted[found]
            historic[found[wanted]] = past_used[wanted]
            used[found[wanted]] += past_used[wanted]
        return cls(coded, slots, used, historic)

    def used_by(self, indexes: IntArray) -> Int64Array:
        return self.used[self.slots[indexes]]

    def add(self, indexes: IntArray, points: Int64Array) -> None:
        # Returns never count towards the caps (nor do they in ledger_core).
        earned = points > 0
        np.add.at(self.used, self.slots[indexes[earned]], points[earned])

    def advance(
        self,
        period: int,
        counters: Int64Array,
        members: IntArray,
        keys: Int64Array,
        points: Int64Array,
    ) -> None:
        """Move each member's counter on to the latest period a late purchase earned in, when
        that is after the counter's: late only next to a purchase that earned nothing (or next
        to another period's counter), it is the member's latest use, which the next batch's
        purchases of that period must find in the counter."""
        earned = points > 0
        if not earned.any():
            return
        coded = np.sort(codes(members[earned], keys[earned]))
        # Sorted codes: a member's latest key is its last.
        last_of_member = np.r_[np.diff(code_parts(coded)[0]) != 0, True]
        latest_members, latest_keys = code_parts(coded[last_of_member])
        ahead = latest_keys > counters[period, latest_members, limits.CAP_KEY]
        slots = np.searchsorted(self.codes, coded[last_of_member][ahead])
        counters[period, latest_members[ahead], limits.CAP_KEY] = latest_keys[ahead]
        counters[period, latest_members[ahead], limits.CAP_POINTS] = self.used[slots]

    def history(self, period: int, counters: Int64Array) -> tuple[Int64Array, Int64Array]:
        """The keys other than the counters' and what to add to their history."""
        code_members, code_keys = code_parts(self.codes)
        added = self.used - self.historic
        moved_on = (counters[period, code_members, limits.CAP_KEY] != code_keys) & (added > 0)
        return self.codes[moved_on], added[moved_on]


def _rounds(members: IntArray, late: IntArray) -> list[IntArray]:
    """The late transactions in rounds: a member's n-th late one in round n, in batch order."""
    if not len(late):
        return []
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
