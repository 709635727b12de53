"""line_points.apportion: whole points split by largest remainder, exactly, in proportion."""

from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.campaign.line_points import apportion

transactions = st.lists(
    st.tuples(
        st.integers(0, 10**6),
        st.lists(st.integers(0, 10**12), min_size=1, max_size=6).map(
            lambda ws: [*ws[:-1], ws[-1] or 1]
        ),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transactions)
def test_shares_add_up_and_are_within_one_point_of_the_exact_share(rows) -> None:  # type: ignore[no-untyped-def]
    totals = np.array([total for total, _ in rows], dtype=np.int64)
    weights = np.array([w for _, ws in rows for w in ws], dtype=np.int64)
    owners = np.repeat(np.arange(len(rows)), [len(ws) for _, ws in rows]).astype(np.int32)
    shares = apportion(totals, weights, owners, len(rows)).tolist()
    line = 0
    for total, ws in rows:
        mine = shares[line : line + len(ws)]
        line += len(ws)
        assert sum(mine) == total
        for share, weight in zip(mine, ws, strict=True):
            exact = Fraction(total * weight, sum(ws))
            assert exact - 1 < share < exact + 1
            if weight == 0:
                assert share == 0


def test_the_point_left_goes_to_the_largest_remainder_then_the_earlier_line() -> None:
    owners = np.array([0, 0, 1, 1, 1], dtype=np.int32)
    shares = apportion(
        np.array([50, 2], dtype=np.int64), np.array([60, 30, 1, 1, 1], dtype=np.int64), owners, 2
    )
    assert shares.tolist() == [33, 17, 1, 1, 0]
