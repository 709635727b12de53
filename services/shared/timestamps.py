"""Conversions between protobuf Timestamps and the instants the services store."""

from google.protobuf.timestamp_pb2 import Timestamp


def from_epoch_seconds(seconds: float) -> Timestamp:
    timestamp = Timestamp()
    timestamp.FromMicroseconds(round(seconds * 1_000_000))
    return timestamp
