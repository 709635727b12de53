"""UTC offset tables of a time zone, so the kernel turns UTC into local time without zoneinfo.

A table covers whole calendar years (UTC). `transitions_seconds[k]` is the unix second from which
`offsets_seconds[k]` applies, up to the next transition; the first entry is the start of the
covered range, `end_seconds` the first second past it. The kernel finds the entry by binary
search and keeps the last one found, since consecutive transactions nearly always fall in the same
interval.
"""

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ledger_core import limits

# Offsets are sampled every 6 hours and transitions located to the second in between; zones
# never change offset twice within 6 hours.
SAMPLE_STEP_SECONDS = 6 * 3600
FIRST_YEAR, LAST_YEAR = 1970, 2099


@dataclass(frozen=True, eq=False)
class OffsetTable:
    time_zone: str
    transitions_seconds: npt.NDArray[np.int64]
    offsets_seconds: npt.NDArray[np.int64]
    end_seconds: int


def offset_table(time_zone: str, *, start_seconds: int, end_seconds: int) -> OffsetTable:
    """The offsets of `time_zone` over [start_seconds, end_seconds], whole years, cached."""
    first_year = _utc_year(max(start_seconds, limits.TIMESTAMP_SECONDS_MIN))
    last_year = _utc_year(min(max(end_seconds, start_seconds), limits.TIMESTAMP_SECONDS_MAX))
    return _offset_table_for_years(time_zone, first_year, last_year)


def _utc_year(seconds: int) -> int:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).year


@functools.lru_cache(maxsize=64)
def _offset_table_for_years(time_zone: str, first_year: int, last_year: int) -> OffsetTable:
    zone = zoneinfo.ZoneInfo(time_zone)
    start = int(dt.datetime(first_year, 1, 1, tzinfo=dt.UTC).timestamp())
    end = int(dt.datetime(last_year + 1, 1, 1, tzinfo=dt.UTC).timestamp())
    transitions, offsets = [start], [_offset_at(zone, start)]
    for sample in range(
        start + SAMPLE_STEP_SECONDS, end + SAMPLE_STEP_SECONDS, SAMPLE_STEP_SECONDS
    ):
        offset = _offset_at(zone, sample)
        if offset != offsets[-1]:
            transitions.append(
                _first_second_with(zone, offset, sample - SAMPLE_STEP_SECONDS, sample)
            )
            offsets.append(offset)
    return OffsetTable(
        time_zone=time_zone,
        transitions_seconds=np.array(transitions, dtype=np.int64),
        offsets_seconds=np.array(offsets, dtype=np.int64),
        end_seconds=end,
    )


def _offset_at(zone: zoneinfo.ZoneInfo, seconds: int) -> int:
    offset = dt.datetime.fromtimestamp(seconds, zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def _first_second_with(zone: zoneinfo.ZoneInfo, offset: int, low: int, high: int) -> int:
    # Invariant: the offset at `low` differs, at `high` it is `offset`.
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(zone, middle) == offset:
            high = middle
        else:
            low = middle
    return high
