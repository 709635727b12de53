"""period_keys: the day, week and month keys of the member caps, as the kernel counts them."""

import zoneinfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_core_builders import local_seconds, rate

from ledger_core import (
    InputError,
    RuleSet,
    TransactionBatch,
    accrue,
    compile_rules,
    limits,
    new_cap_counters,
    offset_table,
    period_keys,
    reference,
)

# Amsterdam changes at 02:00/03:00; Santiago and Beirut at local midnight, where a day starts
# twice or not at all; Kathmandu is 5:45 ahead; Pacific/Apia skipped 30 December 2011.
ZONES = [
    "Europe/Amsterdam",
    "America/Santiago",
    "Asia/Beirut",
    "Asia/Kathmandu",
    "Pacific/Apia",
    "UTC",
]


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    seconds=st.lists(
        st.integers(limits.TIMESTAMP_SECONDS_MIN, limits.TIMESTAMP_SECONDS_MAX),
        min_size=1,
        max_size=20,
    ),
)
def test_keys_equal_the_reference_calendar(zone: str, seconds: list[int]) -> None:
    keys = period_keys(zone, np.array(seconds, dtype=np.int64))
    local = [reference.local_time(s, zoneinfo.ZoneInfo(zone)) for s in seconds]
    assert keys[limits.CAP_DAY].tolist() == [t.day for t in local]
    assert keys[limits.CAP_WEEK].tolist() == [t.week_key for t in local]
    assert keys[limits.CAP_MONTH].tolist() == [t.month_key for t in local]


@pytest.mark.parametrize("zone", ZONES)
def test_keys_around_every_offset_change_equal_the_reference_calendar(zone: str) -> None:
    table = offset_table(zone, start_seconds=1_293_840_000, end_seconds=1_767_225_599)  # 2011-2025
    seconds = np.unique(
        np.concatenate([table.transitions_seconds + step for step in (-3_601, -1, 0, 1, 3_600)])
    )
    keys = period_keys(zone, seconds)
    local = [reference.local_time(s, zoneinfo.ZoneInfo(zone)) for s in seconds.tolist()]
    assert keys.tolist() == [
        [t.day for t in local],
        [t.week_key for t in local],
        [t.month_key for t in local],
    ]


def test_keys_are_those_the_kernel_writes_into_the_counters() -> None:
    # One transaction per member, every period capped: each member's counters take its keys.
    moments = [
        local_seconds(2024, 10, 27, 2, 30, 0),  # the hour Amsterdam lives twice
        local_seconds(2024, 3, 31, 23, 59, 59),  # the last second of a month
        local_seconds(2024, 12, 30, 0, 0, 0),  # ISO week 1 of 2025, month December 2024
        local_seconds(2025, 1, 1, 0, 0, 0),
    ]
    rules = RuleSet(
        "caps",
        "Europe/Amsterdam",
        1,
        (rate(),),
        points_max_per_member_day=1_000,
        points_max_per_member_week=1_000,
        points_max_per_member_month=1_000,
    )
    count = len(moments)
    zeros = np.zeros(count, dtype=np.int32)
    accrual = accrue(
        TransactionBatch(
            member_indexes=np.arange(count, dtype=np.int32),
            amounts_minor=np.full(count, 500, dtype=np.int64),
            categories=zeros,
            skus=zeros,
            channels=zeros,
            stores=zeros,
            timestamps_seconds=np.array(moments, dtype=np.int64),
        ),
        member_tiers=np.zeros(count, dtype=np.int8),
        cap_counters=new_cap_counters(count),
        rules=compile_rules(rules),
    )
    assert (
        accrual.cap_counters[:, :, limits.CAP_KEY] == period_keys(rules.time_zone, moments)
    ).all()


def test_keys_of_no_timestamps_and_of_one_out_of_range() -> None:
    assert period_keys("UTC", []).shape == (limits.CAP_PERIODS, 0)
    with pytest.raises(InputError) as refused:
        period_keys("UTC", [0, limits.TIMESTAMP_SECONDS_MAX + 1])
    assert refused.value.argument == "timestamps_seconds"
