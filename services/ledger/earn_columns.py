"""A batch's bulk earns as columns: the sums by member, the day buckets, the running balances.

Pure arithmetic on numpy arrays, no I/O: batches.py reads and writes the database around it. A
member is a code (its place in `members`, in order of first appearance), so every sum by member is
one numpy operation over the batch instead of a dictionary step per item.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.ledger.lot_calendar import LotCalendar, Moments

Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
# No date: below every day number (date ordinals start at 1).
NO_DAY = 0
# No next vesting: above every instant.
NO_INSTANT = np.iinfo(np.int64).max


@dataclass(frozen=True)
class EarnItems:
    """The bulk earns of a batch, in batch order."""

    indexes: list[int]  # the items' places in the request
    moments: Moments
    members: list[str]  # by member code
    codes: Int64s  # each item's member code
    points: Int64s
    vested: Bools
    qualifying: Int64s  # the amount the item adds to its member's qualifying total
    days: Int64s  # the item's local day (date ordinal)
    vests_micros: Int64s
    occurred_micros: Int64s  # when each item occurred (now if not given)

    @classmethod
    def of(
        cls,
        *,
        indexes: list[int],
        member_ids: Sequence[str],
        points: Sequence[int],
        qualifying_flags: Sequence[bool],
        qualifying_basis: Sequence[int],
        instants: tuple[Sequence[int], Sequence[int], Sequence[int]],
        calendar: LotCalendar,
    ) -> "EarnItems":
        """`qualifying_basis` is what a qualifying item adds (its spend or its points);
        `instants` the columns of occurred, vests and expires micros (0: by the program)."""
        count = len(indexes)
        moments = calendar.moments(
            *(np.asarray(column, dtype=np.int64)[indexes] for column in instants)
        )
        code_of: dict[str, int] = {}
        codes = np.fromiter(
            (code_of.setdefault(member_ids[i], len(code_of)) for i in indexes),
            dtype=np.int64,
            count=count,
        )
        flagged = np.fromiter((qualifying_flags[i] for i in indexes), dtype=bool, count=count)
        basis = np.fromiter((qualifying_basis[i] for i in indexes), dtype=np.int64, count=count)
        return cls(
            indexes=indexes,
            moments=moments,
            members=list(code_of),
            codes=codes,
            points=np.fromiter((points[i] for i in indexes), dtype=np.int64, count=count),
            vested=moments.vested,
            qualifying=np.where(flagged & moments.in_window, basis, 0),
            days=moments.days,
            vests_micros=moments.vests_micros,
            occurred_micros=moments.occurred_micros,
        )


@dataclass(frozen=True)
class MemberTotals:
    """By member code: what the batch adds to the account."""

    vested: Int64s
    pending: Int64s
    lifetime: Int64s
    qualifying: Int64s
    next_vest_micros: Int64s  # the earliest vesting of the member's pending lots, or NO_INSTANT
    # When the member's latest earn of the batch occurred: its activity (inactivity.py).
    latest_occurred_micros: Int64s
    # The member's latest qualifying day in the batch (NO_DAY if none) and its amount: the day
    # bucket of the account (migration 006).
    bucket_days: Int64s
    bucket_amounts: Int64s


def member_totals(items: EarnItems) -> MemberTotals:
    members, codes, points = len(items.members), items.codes, items.points
    pending = ~items.vested
    vested_sums = _sums(members, codes[items.vested], points[items.vested])
    pending_sums = _sums(members, codes[pending], points[pending])
    next_vest = np.full(members, NO_INSTANT, dtype=np.int64)
    np.minimum.at(next_vest, codes[pending], items.vests_micros[pending])
    latest = np.full(members, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(latest, codes, items.occurred_micros)
    qualifying = items.qualifying != 0
    qualifying_codes, qualifying_days = codes[qualifying], items.days[qualifying]
    bucket_days = np.full(members, NO_DAY, dtype=np.int64)
    np.maximum.at(bucket_days, qualifying_codes, qualifying_days)
    in_bucket = qualifying_days == bucket_days[qualifying_codes]
    return MemberTotals(
        vested=vested_sums,
        pending=pending_sums,
        lifetime=vested_sums + pending_sums,
        qualifying=_sums(members, codes, items.qualifying),
        next_vest_micros=next_vest,
        latest_occurred_micros=latest,
        bucket_days=bucket_days,
        bucket_amounts=_sums(
            members, qualifying_codes[in_bucket], items.qualifying[qualifying][in_bucket]
        ),
    )


def available_after(codes: Int64s, vested_points: Int64s, available_before: Int64s) -> Int64s:
    """Each item's member's available points after it, the items applied in order:
    `available_before` by member code, `vested_points` what each item makes available."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(codes, kind="stable")  # by member, batch order within each
    grouped_codes = codes[order]
    running = np.cumsum(vested_points[order])
    first = np.flatnonzero(np.r_[True, grouped_codes[1:] != grouped_codes[:-1]])
    # The running sum before each member's first item, spread over the member's items.
    before_member = np.repeat(
        running[first] - vested_points[order][first], np.diff(np.r_[first, len(codes)])
    )
    after = np.empty(len(codes), dtype=np.int64)
    after[order] = available_before[grouped_codes] + running - before_member
    return after


@dataclass(frozen=True)
class QualifyingDays:
    """Qualifying amounts by member code and day, for the qualifying_days table."""

    codes: Int64s
    days: Int64s  # date ordinals
    amounts: Int64s


def off_bucket_days(
    items: EarnItems,
    totals: MemberTotals,
    *,
    applied: Bools,
    stored_days: Int64s,
    moved_days: Int64s,
    moved_amounts: Int64s,
) -> QualifyingDays:
    """The qualifying amounts by (member, day) that the accounts' day buckets did not take: a
    batch's earlier days of a member, its day when the account already holds a later one, and the
    buckets the update moved out for a later day. By member code: `applied` the members whose
    account took the batch (the others were posted one by one, which writes their days), and the
    account's day bucket after the update and what it moved out (NO_DAY: none)."""
    qualifying = (items.qualifying != 0) & applied[items.codes]
    codes, days = items.codes[qualifying], items.days[qualifying]
    amounts = items.qualifying[qualifying]
    off = (days != totals.bucket_days[codes]) | (stored_days[codes] != days)
    codes, days, amounts = codes[off], days[off], amounts[off]
    moved = applied & (moved_days != NO_DAY) & (moved_amounts != 0)
    moved_codes = np.flatnonzero(moved)
    codes = np.concatenate([codes, moved_codes])
    days = np.concatenate([days, moved_days[moved_codes]])
    amounts = np.concatenate([amounts, moved_amounts[moved_codes]])
    if not len(codes):
        return QualifyingDays(codes=codes, days=days, amounts=amounts)
    # One row per (member, day).
    pairs, inverse = np.unique(np.stack([codes, days]), axis=1, return_inverse=True)
    return QualifyingDays(
        codes=pairs[0],
        days=pairs[1],
        amounts=_sums(pairs.shape[1], inverse.reshape(-1), amounts),
    )


def _sums(size: int, codes: Int64s, values: Int64s) -> Int64s:
    """values summed by code, exactly (np.bincount would sum in floating point)."""
    sums = np.zeros(size, dtype=np.int64)
    np.add.at(sums, codes, values)
    return sums
