"""Cancellations that cannot give the points back: a partner's codes, once handed out, cannot be
taken back from the partner, and a code that expired unused has lapsed (PRODUCT.md: codes expire).
Each is refused FAILED_PRECONDITION naming the reason, and nothing changes."""

import asyncpg
import grpc
import pytest

from loyalty.rewards.v1 import rewards_pb2
from tests.services.rewards.conftest import PROGRAM, reason, reward


async def _refused(platform, redemption_id: str, expected_reason: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.cancel(redemption_id)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(error.value) == expected_reason
    assert error.value.details().startswith("redemption_id:")
    stands = await platform.get_redemption(redemption_id)
    assert stands.status == rewards_pb2.REDEMPTION_STATUS_COMPLETED


async def test_a_partner_code_redemption_cannot_be_cancelled(platform) -> None:
    # The member holds the partner's code (a cinema ticket) and may use it at the partner, where
    # this platform never hears of it: returning the points would give the ticket for nothing,
    # and putting the code back in the pool would hand one code to two members.
    await platform.ledger.earn("m1", 1_000)
    partner = await platform.create(
        reward(code_source=rewards_pb2.CODE_SOURCE_PARTNER_POOL, points_price=100)
    )
    await platform.import_codes(partner.reward_id, ["CINEMA-1"])
    redemption = await platform.redeem("m1", partner.reward_id)

    await _refused(platform, redemption.redemption_id, "PARTNER_CODE_ISSUED")
    assert (await platform.ledger.balance("m1")).available_points == 900
    assert (await platform.validate("CINEMA-1")).status == rewards_pb2.CODE_STATUS_VALID
    stock = (await platform.get_reward(partner.reward_id)).stock
    assert (stock.available, stock.redeemed) == (9, 1)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.redeem("m1", partner.reward_id)
    assert reason(error.value) == "CODES_EXHAUSTED"  # the code did not go back to the pool
    await platform.ledger.assert_clean()


async def test_a_redemption_whose_code_expired_unused_cannot_be_cancelled(
    platform, database_url
) -> None:
    # The code lapsed unused: a cancellation returning the points afterwards would make a code's
    # expiry a mere reminder (redeem, let it lapse, cancel). The points stay spent.
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward())
    redemption = await platform.redeem("m1", coffee.reward_id)
    connection = await asyncpg.connect(database_url)
    try:
        # Its expiry passes (as days of validity would).
        await connection.execute(
            "UPDATE rewards.codes SET expires_at = now() - interval '1 second' "
            "WHERE program_id = $1 AND redemption_id = $2",
            PROGRAM,
            redemption.redemption_id,
        )
    finally:
        await connection.close()

    await _refused(platform, redemption.redemption_id, "CODE_EXPIRED")
    assert (await platform.ledger.balance("m1")).available_points == 500
    [code] = (await platform.get_redemption(redemption.redemption_id)).codes
    assert code.status == rewards_pb2.CODE_STATUS_EXPIRED
    stock = (await platform.get_reward(coffee.reward_id)).stock
    assert (stock.available, stock.redeemed) == (9, 1)
    await platform.ledger.assert_clean()


async def test_a_redemption_with_a_valid_code_of_our_own_is_still_cancelled(platform) -> None:
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward())
    redemption = await platform.redeem("m1", coffee.reward_id)
    cancelled = await platform.cancel(redemption.redemption_id)
    assert cancelled.returned_points == 500
    assert (await platform.ledger.balance("m1")).available_points == 1_000
