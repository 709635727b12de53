"""Periods of "N days" counted in a program's local calendar days, the way retailers mean them.

"Within 14 days" or "valid for 30 days" ends at the same wall-clock time N calendar days later
in the program's time zone. Across a change of the clocks that is 13 x 24 + 23 or 25 hours:
N x 24 hours would end an hour early or late (at 23:00 or 01:00 local). Every service counts
such windows with this one function, as the ledger's return window (vesting) first did.
"""

import datetime as dt
from zoneinfo import ZoneInfo


def local_days_later(moment: dt.datetime, days: int, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant at which `zone`'s clock shows `moment`'s local wall-clock time again,
    `days` local calendar days later (earlier when negative).

    A wall-clock time the clocks skip (02:30 when they go from 02:00 to 03:00) is read with the
    offset before the jump, so it lands after it (03:30); a time they repeat keeps `moment`'s own
    fold (its first pass unless `moment` was in the second). That is zoneinfo's reading, which
    lots' vesting and expiry have always used, so every local-day count resolves them alike."""
    local = moment.astimezone(zone)
    wall = local.replace(tzinfo=None) + dt.timedelta(days=days)
    return wall.replace(tzinfo=zone, fold=local.fold).astimezone(dt.UTC)
