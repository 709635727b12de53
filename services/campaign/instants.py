"""Instants as campaign compares them: unix microseconds, the precision purchases and activities
carry and PostgreSQL stores."""

from google.protobuf.timestamp_pb2 import Timestamp


def bound_micros(stamp: Timestamp) -> int:
    """A period's bound (a rule's, an experiment's, the holdout's) in unix microseconds. Its
    nanoseconds round up, so a purchase at the bound's microsecond is not taken to be before a
    start that lies after it."""
    return -(-stamp.ToNanoseconds() // 1000)
