"""A reward's validity at the far end of time: the last instant a Timestamp holds, which some
clients send to mean "never", would be stored as PostgreSQL's infinity and read back without a
time zone, so redeeming such a reward failed (INTERNAL)."""

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.services.rewards.conftest import reward

NEVER = Timestamp(seconds=253_402_300_799, nanos=999_999_999)
LAST_OF_2099 = Timestamp(seconds=4_102_444_799)


@pytest.mark.parametrize("field", ["valid_until", "valid_from"])
async def test_a_validity_from_2100_on_is_refused_on_its_field(platform, field) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.create(reward(**{field: NEVER}))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(f"reward.{field}: must be before 2100")


async def test_a_reward_valid_until_the_end_of_2099_is_redeemed(platform) -> None:
    await platform.ledger.earn("m1", 2_000)
    made = await platform.create(reward(valid_until=LAST_OF_2099))
    redemption = await platform.redeem("m1", made.reward_id)
    [code] = redemption.codes
    assert code.expires_at == LAST_OF_2099
    assert (await platform.get_redemption(redemption.redemption_id)).codes[0].code == code.code
