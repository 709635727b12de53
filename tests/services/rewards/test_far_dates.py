"""A reward's validity at the far end of time: the last instant a Timestamp holds, which some
clients send to mean "never", would be stored as PostgreSQL's infinity and read back without a
time zone, so redeeming such a reward failed (INTERNAL)."""

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.rewards.v1 import rewards_pb2
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


# Timestamps no date can be read from: before year 1, or with nanos outside 0 to 999,999,999.
UNREADABLE = [
    Timestamp(seconds=-62_135_596_801),
    Timestamp(seconds=1_800_000_000, nanos=1_000_000_000),
    Timestamp(seconds=1_800_000_000, nanos=-1),
]


@pytest.mark.parametrize("stamp", UNREADABLE)
@pytest.mark.parametrize("field", ["valid_until", "valid_from"])
async def test_a_validity_that_is_no_date_is_refused_on_its_field(platform, field, stamp) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.create(reward(**{field: stamp}))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(f"reward.{field}: "), error.value.details()


@pytest.mark.parametrize("stamp", [*UNREADABLE, NEVER, Timestamp(seconds=10**11)])
async def test_a_partner_codes_expiry_that_is_no_date_or_from_2100_is_refused(
    platform, stamp
) -> None:
    # Past 2100 a partner code's expiry was stored (year 5138 for 10^11 s); past 9999 or with
    # bad nanos the import failed INTERNAL.
    partner = await platform.create(
        reward(code_source=rewards_pb2.CODE_SOURCE_PARTNER_POOL, points_price=100)
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.import_codes(partner.reward_id, ["CINEMA-1"], expires_at=stamp)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("expires_at: "), error.value.details()
    # Nothing was imported.
    imported = await platform.import_codes(partner.reward_id, ["CINEMA-1"])
    assert imported.imported_count == 1


async def test_a_validity_shorter_than_a_microsecond_is_refused_on_its_field(platform) -> None:
    # Instants are stored to the microsecond: 100 ns and 900 ns past the same second were "after"
    # each other when checked, the same instant when stored, and PostgreSQL's check refused the
    # row (INTERNAL).
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.create(
            reward(
                valid_from=Timestamp(seconds=1_800_000_000, nanos=100),
                valid_until=Timestamp(seconds=1_800_000_000, nanos=900),
            )
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("reward.valid_until: "), error.value.details()
    made = await platform.create(
        reward(
            valid_from=Timestamp(seconds=1_800_000_000, nanos=100),
            valid_until=Timestamp(seconds=1_800_000_000, nanos=1_000),
        )
    )
    assert made.valid_until.nanos == 1_000
