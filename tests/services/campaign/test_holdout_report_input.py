"""GetHoldoutReport's period: a start or end that is no date is INVALID_ARGUMENT naming the field
(it was INTERNAL: the bound was converted without a check; found by the learn-loop audit)."""

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.campaign.v1 import campaign_pb2
from tests.services.campaign.insight_support import field_of
from tests.services.campaign.support import PROGRAM, ledger_and_campaign

# Before 0001-01-01, after 9999-12-31, and nanoseconds past a second.
NO_DATES = [
    Timestamp(seconds=-62_135_596_801),
    Timestamp(seconds=253_402_300_800),
    Timestamp(seconds=1_700_000_000, nanos=1_000_000_000),
]


@pytest.mark.parametrize("field", ["start_time", "end_time"])
async def test_a_holdout_report_period_that_is_no_date_names_the_field(
    start_service, field: str
) -> None:
    async with ledger_and_campaign(
        start_service, segments_enabled=False, consumers_enabled=False
    ) as (_, campaign):
        await campaign.configure_holdout(1_000)
        for stamp in NO_DATES:
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await campaign.stub.GetHoldoutReport(
                    campaign_pb2.GetHoldoutReportRequest(program_id=PROGRAM, **{field: stamp})
                )
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, stamp
            assert field_of(error.value) == field
