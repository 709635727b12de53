"""What the gateway makes of the services' messages, without a platform: pure conversions."""

import datetime as dt

from gateway import convert
from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def test_a_timestamp_at_the_epoch_is_an_instant_and_an_unset_one_is_none() -> None:
    # The ledger posts earns dated 1970-01-01T00:00:00Z; only an unset field is no instant.
    posted = ledger_pb2.Posting(posting_id="p1", kind=common_pb2.POSTING_KIND_EARN, points=5)
    posted.occurred_at.SetInParent()
    converted = convert.posting(posted)
    assert converted.occurred_at == EPOCH
    assert converted.posted_at is None
