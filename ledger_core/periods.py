"""The local day, week and month keys the member caps count in, computed for whole columns.

The kernel keeps one counter per capped period and member, for the latest period it has seen
(see `new_cap_counters`); a transaction of an earlier period would start that period again at 0.
A caller whose transactions can arrive late (a till uploading yesterday's sales after today's)
finds them with these keys, which use the kernel's calendar and offset tables, and accrues them
against their own periods' counters.
"""

import numpy as np
import numpy.typing as npt

from ledger_core import limits
from ledger_core.batches import ArrayLike, integer_column
from ledger_core.errors import InputError
from ledger_core.time_zones import offset_table

SECONDS_PER_DAY = 86_400
# Week keys count ISO weeks from the one holding 1970-01-01, a Thursday: day 0 is weekday 3.
EPOCH_WEEKDAY = 3
EPOCH_MONTH_KEY = 1970 * 12


def period_keys(time_zone: str, timestamps_seconds: ArrayLike) -> npt.NDArray[np.int64]:
    """Shape (3, n): row `limits.CAP_DAY`, `CAP_WEEK`, `CAP_MONTH` the keys of each timestamp,
    as the kernel writes them into the cap counters, in `time_zone`."""
    seconds = integer_column("timestamps_seconds", timestamps_seconds, np.int64)
    keys = np.empty((limits.CAP_PERIODS, len(seconds)), dtype=np.int64)
    if not len(seconds):
        return keys
    low, high = int(seconds.min()), int(seconds.max())
    if low < limits.TIMESTAMP_SECONDS_MIN or high > limits.TIMESTAMP_SECONDS_MAX:
        raise InputError(
            "timestamps_seconds",
            "timestamps must be within 1970-01-01 to 2099-12-31 (unix seconds)",
        )
    table = offset_table(time_zone, start_seconds=low, end_seconds=high)
    entry = np.searchsorted(table.transitions_seconds, seconds, side="right") - 1
    days = (seconds + table.offsets_seconds[entry]) // SECONDS_PER_DAY
    keys[limits.CAP_DAY] = days
    keys[limits.CAP_WEEK] = (days + EPOCH_WEEKDAY) // 7
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    keys[limits.CAP_MONTH] = months + EPOCH_MONTH_KEY
    return keys
