"""A batch's lot instants (local day, vesting, expiry) from integer arithmetic on offset tables.

policy.py says when a lot vests and expires with zoneinfo datetimes, which costs microseconds an
item; an import's purchases each have their own instant, so a batch of ten thousand earns spent
most of its Python time there. LotCalendar gives the same answers from the zone's offset table
(ledger_core's, which the accrual kernel uses too), for a whole batch in numpy operations: an
instant's local time is a binary search, and what depends on the local date alone (the expiry's
date, the day's place in the qualifying window) is computed once per date. Instants outside the
table's years go through policy.py, one by one.

Local wall-clock times are turned back into UTC as zoneinfo does, with the fold of the earning
instant, as policy.py's datetimes carry it: an expiry's wall time in a gap (the clocks went forward)
or repeated (they went back) takes the offset before the change when the points were earned in
the first occurrence of a repeated hour or any other time (fold 0), the one after when earned in
the second occurrence (fold 1).
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ledger_core import OffsetTable, offset_table
from services.ledger import policy
from services.ledger.domain import ExpiryKind, ProgramSettings
from services.shared.timestamps import from_unix_micros, unix_micros

MICROS_PER_SECOND = 1_000_000
MICROS_PER_DAY = 86_400 * MICROS_PER_SECOND
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()

Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


class Moment(NamedTuple):
    """What an item's instants mean for its lot: when it was earned, vests, expires (unix
    microseconds, as the lots are written), and its local day."""

    occurred_micros: int
    vests_micros: int
    expires_micros: int | None
    local_day: dt.date
    in_window: bool
    vested: bool  # by the batch's time

    @classmethod
    def of(
        cls,
        settings: ProgramSettings,
        now: dt.datetime,
        window_start: dt.date,
        occurred_micros: int,
        vests_micros: int,
        expires_micros: int,
    ) -> "Moment":
        """The reference: policy.py's datetimes, for any instant."""
        occurred = from_unix_micros(occurred_micros) if occurred_micros else now
        day = policy.local_day(settings, occurred)
        vests = (
            from_unix_micros(vests_micros)
            if vests_micros
            else policy.lot_vests_at(settings, occurred)
        )
        expires = (
            from_unix_micros(expires_micros)
            if expires_micros
            else policy.lot_expires_at(settings, occurred)
        )
        return cls(
            occurred_micros=unix_micros(occurred),
            vests_micros=unix_micros(vests),
            expires_micros=None if expires is None else unix_micros(expires),
            local_day=day,
            in_window=day >= window_start,
            vested=vests <= now,
        )


@dataclass(frozen=True)
class Moments:
    """Moment's fields as columns, a row an item."""

    occurred_micros: Int64s
    vests_micros: Int64s
    expires_micros: Int64s  # 0 where never_expires
    never_expires: Bools
    days: Int64s  # the local date's ordinal
    in_window: Bools
    vested: Bools

    def take(self, positions: npt.NDArray[np.intp]) -> "Moments":
        return Moments(**{name: column[positions] for name, column in vars(self).items()})


@dataclass(frozen=True)
class _Day:
    """A local date and what follows from it alone."""

    date: dt.date
    in_window: bool
    expiry_day: int | None  # the local day number the expiry falls on, if it expires by date
    # Whether the expiry keeps the earning's time of day (rolling months onto a day the month
    # has), or is that day's midnight (a calendar period's end, or the end of a shorter month).
    expiry_keeps_time: bool = False


class LotCalendar:
    """Moments for one batch of one program at `now`; the same answers as Moment.of."""

    def __init__(self, settings: ProgramSettings, now: dt.datetime, window_start: dt.date) -> None:
        self.settings, self.now, self.window_start = settings, now, window_start
        self.now_micros = unix_micros(now)
        # The return window in local days: vesting is the same wall-clock time that many days on.
        self.vesting_micros = settings.return_window_days * MICROS_PER_DAY
        self.rolling = settings.expiry_kind == ExpiryKind.ROLLING_MONTHS
        self.by_period = settings.expiry_kind == ExpiryKind.END_OF_CALENDAR_PERIOD
        # The years a batch's instants and their expiries nearly all fall in.
        year_micros = 366 * MICROS_PER_DAY
        years_ahead = 2 + settings.expiry_months // 12 + 1
        table = offset_table(
            settings.time_zone,
            start_seconds=(self.now_micros - 10 * year_micros) // MICROS_PER_SECOND,
            end_seconds=(self.now_micros + years_ahead * year_micros) // MICROS_PER_SECOND,
        )
        self._table(table)

    def _table(self, table: OffsetTable) -> None:
        self.transitions = table.transitions_seconds.astype(np.int64)
        self.offsets = table.offsets_seconds.astype(np.int64)
        self.first_second, self.end_second = int(self.transitions[0]), table.end_seconds
        # The local time at which each transition takes effect, by fold: zoneinfo compares a
        # local time with the transition's UTC instant plus the larger of the offsets around it
        # for fold 0, the smaller for fold 1.
        before = np.concatenate([self.offsets[:1], self.offsets[:-1]])
        self.wall_transitions = (
            self.transitions + np.maximum(before, self.offsets),
            self.transitions + np.minimum(before, self.offsets),
        )
        # Expiries this far ahead of the table's end are converted by policy.py.
        self.wall_end = self.end_second + int(self.offsets.min())

    def moments(
        self,
        occurred_micros: Sequence[int] | Int64s,
        vests_micros: Sequence[int] | Int64s,
        expires_micros: Sequence[int] | Int64s,
    ) -> Moments:
        """The items' moments, as Moment.of gives them; an instant of 0 is the program's choice
        (now for the earning, the return window for vesting, the expiry policy for expiry)."""
        occurred = np.asarray(occurred_micros, dtype=np.int64)
        occurred = np.where(occurred == 0, self.now_micros, occurred)
        vests_given = np.asarray(vests_micros, dtype=np.int64)
        expires_given = np.asarray(expires_micros, dtype=np.int64)
        second = occurred // MICROS_PER_SECOND
        inside = (self.first_second <= second) & (second < self.end_second)
        interval = np.maximum(np.searchsorted(self.transitions, second, side="right") - 1, 0)
        offset = self.offsets[interval]
        # Fold 1: the second occurrence of a local time the clocks went back over.
        fold = (interval > 0) & (
            self.offsets[np.maximum(interval - 1, 0)] - offset > second - self.transitions[interval]
        )
        day_number, time_of_day = np.divmod(occurred + offset * MICROS_PER_SECOND, MICROS_PER_DAY)
        # Items off the table are answered by Moment.of below; meanwhile they take today.
        day_number = np.where(inside, day_number, self.now_micros // MICROS_PER_DAY)
        numbers, day_of_item = np.unique(day_number, return_inverse=True)
        days = [self._day(number) for number in numbers.tolist()]
        ordinals = np.array([day.date.toordinal() for day in days], dtype=np.int64)[day_of_item]
        in_window = np.array([day.in_window for day in days], dtype=bool)[day_of_item]
        by_date = np.array([day.expiry_day is not None for day in days], dtype=bool)[day_of_item]
        expiry_day = np.array([day.expiry_day or 0 for day in days], dtype=np.int64)[day_of_item]
        keeps_time = np.array([day.expiry_keeps_time for day in days], dtype=bool)[day_of_item]
        if self.vesting_micros:
            local_micros = occurred + offset * MICROS_PER_SECOND
            vests_by_policy, vests_on_table = self._utc_of_wall(
                local_micros + self.vesting_micros, fold
            )
        else:
            vests_by_policy, vests_on_table = occurred, np.ones(len(occurred), dtype=bool)
        vests_policy = vests_given == 0
        vests = np.where(vests_policy, vests_by_policy, vests_given)
        wall = expiry_day * MICROS_PER_DAY + np.where(keeps_time, time_of_day, 0)
        converted, on_table = self._utc_of_wall(wall, fold)
        given = expires_given != 0
        expires = np.where(given, expires_given, np.where(by_date, converted, 0))
        never = ~given & ~by_date
        moments = Moments(
            occurred_micros=occurred,
            vests_micros=vests,
            expires_micros=expires,
            never_expires=never,
            days=ordinals,
            in_window=in_window,
            vested=vests <= self.now_micros,
        )
        for item in np.flatnonzero(vests_policy & ~vests_on_table & inside).tolist():
            # A vesting beyond the table's years.
            vests_at = policy.lot_vests_at(self.settings, from_unix_micros(int(occurred[item])))
            moments.vests_micros[item] = unix_micros(vests_at)
            moments.vested[item] = vests_at <= self.now
        for item in np.flatnonzero(~given & by_date & ~on_table & inside).tolist():
            # An expiry beyond the table's years.
            by_policy = policy.lot_expires_at(self.settings, from_unix_micros(int(occurred[item])))
            moments.never_expires[item] = by_policy is None
            moments.expires_micros[item] = 0 if by_policy is None else unix_micros(by_policy)
        for item in np.flatnonzero(~inside).tolist():
            moment = Moment.of(
                self.settings,
                self.now,
                self.window_start,
                int(occurred[item]),
                int(vests_given[item]),
                int(expires_given[item]),
            )
            moments.occurred_micros[item] = moment.occurred_micros
            moments.vests_micros[item] = moment.vests_micros
            moments.expires_micros[item] = moment.expires_micros or 0
            moments.never_expires[item] = moment.expires_micros is None
            moments.days[item] = moment.local_day.toordinal()
            moments.in_window[item] = moment.in_window
            moments.vested[item] = moment.vested
        return moments

    def _day(self, day_number: int) -> _Day:
        date = dt.date.fromordinal(EPOCH_ORDINAL + day_number)
        expiry_day = None
        keeps_time = False
        settings = self.settings
        if self.rolling or self.by_period:
            # policy.py's calendar arithmetic on the local date: the time of day plays no part
            # in which date an expiry falls on, nor in whether it is kept (months_after keeps it
            # unless the later month lacks the day).
            midnight = dt.datetime.combine(date, dt.time())
            if self.by_period:
                expires = policy.add_months(midnight, settings.expiry_months)
                expires = policy.end_of_period(expires, settings.expiry_period)
            else:
                expires = policy.months_after(midnight, settings.expiry_months)
                keeps_time = expires.day == date.day
            expiry_day = expires.toordinal() - EPOCH_ORDINAL
        return _Day(
            date=date,
            in_window=date >= self.window_start,
            expiry_day=expiry_day,
            expiry_keeps_time=keeps_time,
        )

    def _utc_of_wall(self, wall_micros: Int64s, fold: Bools) -> tuple[Int64s, Bools]:
        """The UTC instants of local wall-clock times, and which were on the table (the others
        are left as they came)."""
        second = wall_micros // MICROS_PER_SECOND
        walls = np.where(fold, self.wall_transitions[1][0], self.wall_transitions[0][0])
        on_table = (walls <= second) & (second < self.wall_end)
        interval = np.where(
            fold,
            np.searchsorted(self.wall_transitions[1], second, side="right"),
            np.searchsorted(self.wall_transitions[0], second, side="right"),
        )
        offset = self.offsets[np.maximum(interval - 1, 0)]
        return np.where(on_table, wall_micros - offset * MICROS_PER_SECOND, wall_micros), on_table
