"""Conversions between protobuf Timestamps and the instants the services store (UTC)."""

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp

UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def from_epoch_seconds(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMicroseconds(round(seconds * 1_000_000))
    return stamp


def timestamp(moment: dt.datetime | None) -> Timestamp | None:
    """The Timestamp of an instant; None (an unset field) for None."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # as Timestamp.FromDatetime reads it
        moment = moment.replace(tzinfo=dt.UTC)
    # The same Timestamp as FromDatetime, in a third of its time: a few per response add up.
    seconds, micros = divmod(unix_micros(moment), 1_000_000)
    return Timestamp(seconds=seconds, nanos=micros * 1000)


def instant(stamp: Timestamp) -> dt.datetime:
    return stamp.ToDatetime(tzinfo=dt.UTC)


def unix_micros(moment: dt.datetime) -> int:
    """An aware instant as microseconds since 1970-01-01 UTC, exactly."""
    return (moment - UNIX_EPOCH) // dt.timedelta(microseconds=1)


def from_unix_micros(micros: int) -> dt.datetime:
    """The UTC instant `micros` microseconds after 1970-01-01 UTC (unix_micros' inverse)."""
    return UNIX_EPOCH + dt.timedelta(microseconds=micros)
