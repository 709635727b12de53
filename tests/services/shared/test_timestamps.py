import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from services.shared.timestamps import from_unix_micros, instant, timestamp, unix_micros

ZONES = st.sampled_from(
    [
        None,
        dt.UTC,
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        dt.timezone(-dt.timedelta(hours=8)),
    ]
)
MOMENTS = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=ZONES
)


@given(MOMENTS)
def test_timestamp_is_what_protobuf_makes_of_the_instant(moment: dt.datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(moment)  # a naive datetime is read as UTC
    assert timestamp(moment) == expected
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    assert instant(expected) == aware


@given(MOMENTS.filter(lambda moment: moment.tzinfo is not None))
def test_unix_micros_and_back_is_the_same_instant(moment: dt.datetime) -> None:
    assert from_unix_micros(unix_micros(moment)) == moment


def test_an_unset_instant_is_an_unset_field() -> None:
    assert timestamp(None) is None
