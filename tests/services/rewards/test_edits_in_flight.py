"""A reward edited while a redemption of it is under way (between the hold and the stock).

The redemption pauses after its hold (`pause_after_hold_ms`, test-only) so that the edit lands
between the checks Redeem makes up front and the steps that take the stock and issue the code.
"""

import asyncio
import datetime

import grpc
import pytest
from google.protobuf import field_mask_pb2, timestamp_pb2

from loyalty.rewards.v1 import rewards_pb2
from tests.services.rewards.conftest import PROGRAM, key, reason, reward

# Long enough for the test to see the hold and edit the reward, well inside the lease (30 s).
PAUSED = {"pause_after_hold_ms": 4_000}


def _stamp(moment: datetime.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


async def _held(platform, member_id: str) -> rewards_pb2.Redemption:
    """The member's redemption once its points are held (it then pauses)."""
    for _ in range(200):
        listed = await platform.rewards.ListRedemptions(
            rewards_pb2.ListRedemptionsRequest(program_id=PROGRAM, member_id=member_id)
        )
        if listed.redemptions and listed.redemptions[0].hold_id:
            return listed.redemptions[0]
        await asyncio.sleep(0.02)
    raise AssertionError("the redemption placed no hold")


async def _update(platform, change: rewards_pb2.Reward, *paths: str) -> rewards_pb2.Reward:
    response = await platform.rewards.UpdateReward(
        rewards_pb2.UpdateRewardRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            reward=change,
            update_mask=field_mask_pb2.FieldMask(paths=list(paths)),
        )
    )
    return response.reward


@pytest.mark.parametrize("rewards_overrides", [PAUSED], indirect=True)
@pytest.mark.parametrize("code_validity_days", [0, 30])
async def test_a_reward_ended_while_a_redemption_is_under_way_spends_nothing(
    platform, code_validity_days
) -> None:
    # The operator ends the reward (valid_until moved to the past) while a member's redemption
    # holds its points. Finished, it would spend them on a reward no longer offered, and with
    # code_validity_days 0 on a code expired before the member ever saw it.
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward(code_validity_days=code_validity_days))
    redeeming = asyncio.ensure_future(platform.redeem("m1", coffee.reward_id))
    await _held(platform, "m1")
    ended = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    await _update(
        platform,
        rewards_pb2.Reward(reward_id=coffee.reward_id, valid_until=_stamp(ended)),
        "valid_until",
    )

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await redeeming
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(error.value) == "REWARD_NOT_AVAILABLE"
    balance = await platform.ledger.balance("m1")
    assert (balance.available_points, balance.held_points) == (1_000, 0)
    stock = (await platform.get_reward(coffee.reward_id)).stock
    assert (stock.available, stock.reserved, stock.redeemed) == (10, 0, 0)
    await platform.ledger.assert_clean()


@pytest.mark.parametrize("rewards_overrides", [PAUSED], indirect=True)
async def test_a_reward_not_started_again_while_a_redemption_is_under_way_spends_nothing(
    platform,
) -> None:
    # Postponed (valid_from moved to the future) under a redemption: not offered now.
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward())
    redeeming = asyncio.ensure_future(platform.redeem("m1", coffee.reward_id))
    await _held(platform, "m1")
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    await _update(
        platform,
        rewards_pb2.Reward(reward_id=coffee.reward_id, valid_from=_stamp(later)),
        "valid_from",
    )

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await redeeming
    assert reason(error.value) == "REWARD_NOT_AVAILABLE"
    balance = await platform.ledger.balance("m1")
    assert (balance.available_points, balance.held_points) == (1_000, 0)
    await platform.ledger.assert_clean()


@pytest.mark.parametrize("rewards_overrides", [PAUSED], indirect=True)
async def test_a_price_changed_under_a_redemption_is_not_charged_to_it(platform) -> None:
    # The member asked at 500 points, and the hold was placed for 500: the redemption completes
    # at the price it was asked at, whichever way the price moves meanwhile.
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward())
    redeeming = asyncio.ensure_future(platform.redeem("m1", coffee.reward_id))
    await _held(platform, "m1")
    await _update(
        platform, rewards_pb2.Reward(reward_id=coffee.reward_id, points_price=900), "points_price"
    )

    redemption = await redeeming
    assert redemption.status == rewards_pb2.REDEMPTION_STATUS_COMPLETED
    assert redemption.points_spent == 500
    assert (await platform.ledger.balance("m1")).available_points == 500
    await platform.ledger.assert_clean()


async def test_a_code_keeps_the_discount_it_was_redeemed_for(platform) -> None:
    # The member spent 500 points on 50 % off. The operator then changes the coupon to 10 % off
    # for redemptions to come: the till must still give this member 50 % (it gave 10 %, and a
    # raise would have given codes redeemed before more than was paid for).
    await platform.ledger.earn("m1", 1_000)
    half = rewards_pb2.Discount(percent_bps=5_000)
    coupon = await platform.create(reward(discount=half))
    [code] = (await platform.redeem("m1", coupon.reward_id)).codes
    tenth = rewards_pb2.Discount(percent_bps=1_000)
    await _update(
        platform, rewards_pb2.Reward(reward_id=coupon.reward_id, discount=tenth), "discount"
    )

    assert (await platform.validate(code.code)).discount == half
    [later] = (await platform.redeem("m1", coupon.reward_id)).codes
    assert (await platform.validate(later.code)).discount == tenth


async def _refused_spending_nothing(platform, redeeming, member_id: str, points: int) -> None:
    """The redemption under way ends NOT_ELIGIBLE, as Redeem's first check answers: its hold is
    voided and no stock stays reserved."""
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await redeeming
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(error.value) == "NOT_ELIGIBLE"
    assert error.value.details().startswith("member_id:")
    balance = await platform.ledger.balance(member_id)
    assert (balance.available_points, balance.held_points) == (points, 0)
    [failed] = (
        await platform.rewards.ListRedemptions(
            rewards_pb2.ListRedemptionsRequest(program_id=PROGRAM, member_id=member_id)
        )
    ).redemptions
    assert failed.status == rewards_pb2.REDEMPTION_STATUS_FAILED and not failed.codes
    await platform.ledger.assert_clean()


@pytest.mark.parametrize("rewards_overrides", [PAUSED], indirect=True)
async def test_a_reward_restricted_to_other_tiers_under_a_redemption_spends_nothing(
    platform,
) -> None:
    # The operator restricts the reward to Gold while a Member-tier redemption holds its points:
    # Redeem checked eligibility only when it started, so the redemption went on to the code.
    await platform.ledger.earn("m1", 600)
    coffee = await platform.create(reward())
    redeeming = asyncio.ensure_future(platform.redeem("m1", coffee.reward_id))
    await _held(platform, "m1")
    await _update(
        platform,
        rewards_pb2.Reward(
            reward_id=coffee.reward_id, eligibility=rewards_pb2.Eligibility(tier_codes=["gold"])
        ),
        "eligibility",
    )

    await _refused_spending_nothing(platform, redeeming, "m1", 600)
    stock = (await platform.get_reward(coffee.reward_id)).stock
    assert (stock.available, stock.reserved, stock.redeemed) == (10, 0, 0)


@pytest.mark.parametrize("rewards_overrides", [PAUSED], indirect=True)
async def test_a_member_leaving_the_rewards_tier_under_a_redemption_spends_nothing(
    platform,
) -> None:
    # A welcome offer for the entry tier only: the member reaches Gold while the redemption
    # holds its points, and is no longer in the tier the offer is for.
    await platform.ledger.earn("m1", 600)
    welcome = await platform.create(
        reward(
            eligibility=rewards_pb2.Eligibility(tier_codes=["member"]),
            stock=rewards_pb2.Stock(available=3),
        )
    )
    redeeming = asyncio.ensure_future(platform.redeem("m1", welcome.reward_id))
    await _held(platform, "m1")
    await platform.ledger.earn("m1", 5_000, qualifying=True)
    assert (await platform.ledger.balance("m1")).tier_code == "gold"

    await _refused_spending_nothing(platform, redeeming, "m1", 5_600)
    stock = (await platform.get_reward(welcome.reward_id)).stock
    assert (stock.available, stock.reserved, stock.redeemed) == (3, 0, 0)


@pytest.mark.parametrize("rewards_overrides", [PAUSED], indirect=True)
async def test_a_redemption_gets_the_discount_of_the_price_it_pays(platform) -> None:
    # The member asks for 50 % off at 500 points; while the points are held the operator makes
    # it 10 % off at 900. The hold's price stands, and the discount was taken when the code was
    # issued: 10 % for 500 points, a pair the reward never offered. Price and discount now both
    # come from the reward as Redeem read it: what the member accepted.
    await platform.ledger.earn("m1", 1_000)
    half = rewards_pb2.Discount(percent_bps=5_000)
    coupon = await platform.create(reward(discount=half))
    redeeming = asyncio.ensure_future(platform.redeem("m1", coupon.reward_id))
    await _held(platform, "m1")
    tenth = rewards_pb2.Discount(percent_bps=1_000)
    await _update(
        platform,
        rewards_pb2.Reward(reward_id=coupon.reward_id, points_price=900, discount=tenth),
        "points_price",
        "discount",
    )

    redemption = await redeeming
    assert redemption.status == rewards_pb2.REDEMPTION_STATUS_COMPLETED
    assert redemption.points_spent == 500
    [code] = redemption.codes
    assert (await platform.validate(code.code)).discount == half
    # A redemption asked after the edit pays the new price for the new discount.
    await platform.ledger.earn("m1", 1_000)
    later = await platform.redeem("m1", coupon.reward_id)
    assert later.points_spent == 900
    assert (await platform.validate(later.codes[0].code)).discount == tenth
    await platform.ledger.assert_clean()


@pytest.mark.parametrize("rewards_overrides", [PAUSED], indirect=True)
async def test_a_redemptions_code_has_the_stores_and_validity_the_member_accepted(
    platform,
) -> None:
    # The member redeems a coupon for the Amsterdam store, valid 30 days; while the points are
    # held the operator makes it Rotterdam's, valid one day. The code was made with the stores
    # and validity of the reward when issued: a code the member never accepted, refused at the
    # store it was redeemed for. Now they come from the reward as Redeem read it, as the price
    # and the discount do.
    await platform.ledger.earn("m1", 1_000)
    coupon = await platform.create(reward(store_ids=["ams-01"], code_validity_days=30))
    redeeming = asyncio.ensure_future(platform.redeem("m1", coupon.reward_id))
    await _held(platform, "m1")
    await _update(
        platform,
        rewards_pb2.Reward(reward_id=coupon.reward_id, store_ids=["rtm-02"], code_validity_days=1),
        "store_ids",
        "code_validity_days",
    )

    redemption = await redeeming
    assert redemption.status == rewards_pb2.REDEMPTION_STATUS_COMPLETED
    [code] = redemption.codes
    valid_for = code.expires_at.ToDatetime(datetime.UTC) - datetime.datetime.now(datetime.UTC)
    assert valid_for > datetime.timedelta(days=29)
    at_amsterdam = await platform.validate(code.code, store_id="ams-01")
    assert at_amsterdam.status == rewards_pb2.CODE_STATUS_VALID
    at_rotterdam = await platform.validate(code.code, store_id="rtm-02")
    assert at_rotterdam.status == rewards_pb2.CODE_STATUS_WRONG_STORE
    # A redemption asked after the edit gets the new stores and validity.
    later = await platform.redeem("m1", coupon.reward_id)
    valid_for = later.codes[0].expires_at.ToDatetime(datetime.UTC) - datetime.datetime.now(
        datetime.UTC
    )
    assert valid_for < datetime.timedelta(days=2)
    assert (await platform.validate(later.codes[0].code, store_id="rtm-02")).status == (
        rewards_pb2.CODE_STATUS_VALID
    )
    await platform.ledger.assert_clean()
