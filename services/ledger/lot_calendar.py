"""A batch's lot instants (local day, vesting, expiry) from integer arithmetic on offset tables.

policy.py says when a lot vests and expires with zoneinfo datetimes, which costs microseconds an
item; an import's purchases each have their own instant, so a batch of ten thousand earns spent
most of its Python time there. LotCalendar gives the same answers from the zone's offset table
(ledger_core's, which the accrual kernel uses too): an instant's local time is one binary search,
and what depends on the local date alone (the expiry's date, the day's place in the qualifying
window) is computed once per date. Instants outside the table's years go through policy.py.

Local wall-clock times are turned back into UTC as zoneinfo does, with the fold of the earning
instant, as policy.py's datetimes carry it: an expiry's wall time in a gap (the clocks went forward)
or repeated (they went back) takes the offset before the change when the points were earned in
the first occurrence of a repeated hour or any other time (fold 0), the one after when earned in
the second occurrence (fold 1).
"""

import bisect
import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from ledger_core import OffsetTable, offset_table
from services.ledger import policy
from services.ledger.domain import ExpiryKind, ProgramSettings
from services.shared.timestamps import from_unix_micros, unix_micros

MICROS_PER_SECOND = 1_000_000
MICROS_PER_DAY = 86_400 * MICROS_PER_SECOND
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


class Moment(NamedTuple):
    """What an item's instants mean for its lot: when it was earned, vests, expires (unix
    microseconds, as the lots are written), and its local day.

    A tuple rather than a dataclass: a batch makes one per item, and a tuple is made in a tenth of
    the time."""

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
class _Day:
    """A local date and what follows from it alone."""

    date: dt.date
    in_window: bool
    expiry_day: int | None  # the local day number the expiry falls on, if it expires by date


class LotCalendar:
    """Moments for one batch of one program at `now`; the same answers as Moment.of."""

    def __init__(self, settings: ProgramSettings, now: dt.datetime, window_start: dt.date) -> None:
        self.settings, self.now, self.window_start = settings, now, window_start
        self.now_micros = unix_micros(now)
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
        self.days: dict[int, _Day] = {}

    def _table(self, table: OffsetTable) -> None:
        self.transitions = table.transitions_seconds.tolist()
        self.offsets = table.offsets_seconds.tolist()
        self.first_second, self.end_second = self.transitions[0], table.end_seconds
        # The local time at which each transition takes effect, by fold: zoneinfo compares a
        # local time with the transition's UTC instant plus the larger of the offsets around it
        # for fold 0, the smaller for fold 1.
        self.wall_transitions = tuple(
            [self.transitions[0] + self.offsets[0]]
            + [
                self.transitions[k] + pick(self.offsets[k - 1], self.offsets[k])
                for k in range(1, len(self.transitions))
            ]
            for pick in (max, min)
        )
        # Expiries this far ahead of the table's end are converted by policy.py.
        self.wall_end = self.end_second + min(self.offsets)

    def moment(self, occurred_micros: int, vests_micros: int, expires_micros: int) -> Moment:
        occurred_micros = occurred_micros or self.now_micros
        second = occurred_micros // MICROS_PER_SECOND
        if not self.first_second <= second < self.end_second:
            return Moment.of(
                self.settings,
                self.now,
                self.window_start,
                occurred_micros,
                vests_micros,
                expires_micros,
            )
        interval = bisect.bisect_right(self.transitions, second) - 1
        offset = self.offsets[interval]
        # Fold 1: the second occurrence of a local time the clocks went back over.
        fold = int(
            interval > 0
            and self.offsets[interval - 1] - offset > second - self.transitions[interval]
        )
        local = occurred_micros + offset * MICROS_PER_SECOND
        day_number, time_of_day = divmod(local, MICROS_PER_DAY)
        day = self.days.get(day_number)
        if day is None:
            day = self.days[day_number] = self._day(day_number)
        vests = vests_micros or occurred_micros + self.vesting_micros
        expires: int | None
        if expires_micros:
            expires = expires_micros
        elif day.expiry_day is None:
            expires = None
        else:
            wall = day.expiry_day * MICROS_PER_DAY + (time_of_day if self.rolling else 0)
            expires = self._utc_of_wall(wall, fold)
            if expires is None:
                by_policy = policy.lot_expires_at(self.settings, from_unix_micros(occurred_micros))
                expires = None if by_policy is None else unix_micros(by_policy)
        return Moment(
            occurred_micros, vests, expires, day.date, day.in_window, vests <= self.now_micros
        )

    def _day(self, day_number: int) -> _Day:
        date = dt.date.fromordinal(EPOCH_ORDINAL + day_number)
        expiry_day = None
        settings = self.settings
        if self.rolling or self.by_period:
            # policy.py's calendar arithmetic on the local date: the time of day plays no part
            # in which date an expiry falls on.
            midnight = dt.datetime.combine(date, dt.time())
            expires = policy.add_months(midnight, settings.expiry_months)
            if self.by_period:
                expires = policy.end_of_period(expires, settings.expiry_period)
            expiry_day = expires.toordinal() - EPOCH_ORDINAL
        return _Day(date=date, in_window=date >= self.window_start, expiry_day=expiry_day)

    def _utc_of_wall(self, wall_micros: int, fold: int) -> int | None:
        """The UTC instant of a local wall-clock time, None outside the table."""
        second = wall_micros // MICROS_PER_SECOND
        walls = self.wall_transitions[fold]
        if not walls[0] <= second < self.wall_end:
            return None
        offset = self.offsets[bisect.bisect_right(walls, second) - 1]
        return wall_micros - offset * MICROS_PER_SECOND
