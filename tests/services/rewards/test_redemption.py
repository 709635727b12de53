"""Redeem and CancelRedemption through real gRPC, PostgreSQL, NATS and the ledger."""

import asyncio
import re

import asyncpg
import grpc
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from loyalty.rewards.v1 import rewards_pb2
from services.shared.idempotency import request_hash
from tests.services.rewards.conftest import PROGRAM, key, reason, reward

CODE_SHAPE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")


async def test_a_redemption_spends_the_points_takes_the_stock_and_issues_a_code(platform) -> None:
    await platform.ledger.earn("m1", 1_200)
    coffee = await platform.create(reward())
    redemption = await platform.redeem("m1", coffee.reward_id)

    assert redemption.status == rewards_pb2.REDEMPTION_STATUS_COMPLETED
    assert redemption.points_spent == 500 and redemption.hold_id and redemption.posting_id
    [code] = redemption.codes
    assert CODE_SHAPE.match(code.code) and code.status == rewards_pb2.CODE_STATUS_VALID
    balance = await platform.ledger.balance("m1")
    assert balance.available_points == 700 and balance.held_points == 0
    hold = await platform.ledger.stub.GetHold(
        ledger_pb2.GetHoldRequest(program_id=PROGRAM, hold_id=redemption.hold_id)
    )
    assert hold.hold.status == ledger_pb2.HOLD_STATUS_COMMITTED
    stock = (await platform.get_reward(coffee.reward_id)).stock
    assert stock == rewards_pb2.Stock(available=9, reserved=0, redeemed=1)
    assert await platform.get_redemption(redemption.redemption_id) == redemption
    await platform.ledger.assert_clean()


async def test_a_retry_returns_the_first_redemption_and_spends_nothing_more(platform) -> None:
    await platform.ledger.earn("m1", 1_200)
    coffee = await platform.create(reward())
    first = await platform.redeem("m1", coffee.reward_id, idempotency_key="r1")
    again = await asyncio.gather(
        *(platform.redeem("m1", coffee.reward_id, idempotency_key="r1") for _ in range(3))
    )
    assert all(retry == first for retry in again)
    assert (await platform.ledger.balance("m1")).available_points == 700
    assert (await platform.get_reward(coffee.reward_id)).stock.redeemed == 1


async def test_the_same_key_for_another_redemption_is_refused(platform) -> None:
    await platform.ledger.earn("m1", 2_000)
    coffee = await platform.create(reward())
    await platform.redeem("m1", coffee.reward_id, idempotency_key="r1")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.redeem("m1", coffee.reward_id, quantity=2, idempotency_key="r1")
    assert reason(error.value) == "IDEMPOTENCY_KEY_REUSED"


async def test_too_few_points_is_a_clear_failed_precondition_and_holds_nothing(platform) -> None:
    await platform.ledger.earn("m1", 300)
    coffee = await platform.create(reward())
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.redeem("m1", coffee.reward_id)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(error.value) == "INSUFFICIENT_POINTS"
    balance = await platform.ledger.balance("m1")
    assert balance.available_points == 300 and balance.held_points == 0
    assert (await platform.get_reward(coffee.reward_id)).stock.available == 10


async def test_a_member_outside_the_tiers_is_not_eligible(platform) -> None:
    await platform.ledger.earn("m1", 900)
    gold_only = await platform.create(
        reward(eligibility=rewards_pb2.Eligibility(tier_codes=["gold"]))
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.redeem("m1", gold_only.reward_id)
    assert reason(error.value) == "NOT_ELIGIBLE"


async def test_segment_rewards_are_not_eligible_while_segments_cannot_be_checked(platform) -> None:
    # Campaign's CheckSegmentMembership is not there (UNIMPLEMENTED or down): no one is in a
    # segment for listings, and a redemption says the dependency is unavailable.
    await platform.ledger.earn("m1", 900)
    vip = await platform.create(reward(eligibility=rewards_pb2.Eligibility(segment_ids=["vip"])))
    listed = await platform.rewards.ListRewards(
        rewards_pb2.ListRewardsRequest(program_id=PROGRAM, member_id="m1")
    )
    assert vip.reward_id not in [listing.reward.reward_id for listing in listed.listings]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.redeem("m1", vip.reward_id)
    assert error.value.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.FAILED_PRECONDITION,
    )


async def test_the_per_member_limit_holds_under_concurrency(platform) -> None:
    await platform.ledger.earn("m1", 10_000)
    limited = await platform.create(reward(per_member_limit=2, points_price=100))
    results = await asyncio.gather(
        *(platform.redeem("m1", limited.reward_id) for _ in range(8)), return_exceptions=True
    )
    done = [r for r in results if isinstance(r, rewards_pb2.Redemption)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(done) == 2 and len(refused) == 6
    assert {reason(error) for error in refused} == {"MEMBER_LIMIT_REACHED"}
    balance = await platform.ledger.balance("m1")
    assert balance.available_points == 9_800 and balance.held_points == 0
    stock = (await platform.get_reward(limited.reward_id)).stock
    assert (stock.available, stock.reserved, stock.redeemed) == (8, 0, 2)


async def test_cancelling_returns_the_points_and_the_stock_and_cancels_the_code(platform) -> None:
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward())
    redemption = await platform.redeem("m1", coffee.reward_id)
    cancel_key = key()
    cancelled = await platform.cancel(redemption.redemption_id, idempotency_key=cancel_key)
    assert cancelled.returned_points == 500
    assert cancelled.redemption.status == rewards_pb2.REDEMPTION_STATUS_CANCELLED
    assert [c.status for c in cancelled.redemption.codes] == [rewards_pb2.CODE_STATUS_CANCELLED]
    assert (await platform.ledger.balance("m1")).available_points == 1_000
    # The points went back into the lot they came from (same expiry), not into a new lot.
    lots = await platform.ledger.stub.ListLots(
        ledger_pb2.ListLotsRequest(program_id="acme", member_id="m1")
    )
    assert [lot.remaining_points for lot in lots.lots] == [1_000]
    stock = (await platform.get_reward(coffee.reward_id)).stock
    assert (stock.available, stock.reserved, stock.redeemed) == (10, 0, 0)
    validated = await platform.validate(redemption.codes[0].code)
    assert validated.status == rewards_pb2.CODE_STATUS_CANCELLED

    # A retry answers the same; another key is refused; nothing is returned twice.
    again = await platform.cancel(redemption.redemption_id, idempotency_key=cancel_key)
    assert again.returned_points == 500
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.cancel(redemption.redemption_id)
    assert reason(error.value) == "REDEMPTION_CANCELLED"
    assert (await platform.ledger.balance("m1")).available_points == 1_000
    await platform.ledger.assert_clean()


async def test_a_redemption_whose_code_was_used_cannot_be_cancelled(platform) -> None:
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward())
    redemption = await platform.redeem("m1", coffee.reward_id)
    await platform.use(redemption.codes[0].code)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.cancel(redemption.redemption_id)
    assert reason(error.value) == "CODE_ALREADY_USED"
    assert (await platform.ledger.balance("m1")).available_points == 500


async def test_an_archived_or_unstarted_reward_cannot_be_redeemed(platform) -> None:
    await platform.ledger.earn("m1", 1_000)
    draft = await platform.create(reward(status=rewards_pb2.REWARD_STATUS_DRAFT))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.redeem("m1", draft.reward_id)
    assert reason(error.value) == "REWARD_NOT_AVAILABLE"


async def test_a_privilege_issues_no_code_and_unlimited_stock_counts_redemptions(platform) -> None:
    await platform.ledger.earn("m1", 1_000)
    privilege = await platform.create(
        reward(
            kind=5,  # REWARD_KIND_PRIVILEGE
            discount=rewards_pb2.Discount(),
            stock=rewards_pb2.Stock(unlimited=True),
            code_source=rewards_pb2.CODE_SOURCE_NONE,
            points_price=200,
        )
    )
    redemption = await platform.redeem("m1", privilege.reward_id, quantity=2)
    assert redemption.points_spent == 400 and list(redemption.codes) == []
    stock = (await platform.get_reward(privilege.reward_id)).stock
    assert stock.unlimited and stock.redeemed == 2


BAD_REDEMPTIONS = [
    ({"member_id": ""}, "member_id"),
    ({"reward_id": ""}, "reward_id"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": 11}, "quantity"),
    ({"store_id": "s" * 65}, "store_id"),
    ({"idempotency_key": ""}, "idempotency_key"),
    ({"program_id": "Bad Program"}, "program_id"),
]


async def test_bad_redemptions_name_the_field_and_write_nothing(platform) -> None:
    for fields, field in BAD_REDEMPTIONS:
        request = rewards_pb2.RedeemRequest(
            program_id=PROGRAM,
            idempotency_key="k",
            member_id="m1",
            reward_id="r",
            quantity=1,
            channel=common_pb2.CHANNEL_APP,
        )
        for name, value in fields.items():
            setattr(request, name, value)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await platform.rewards.Redeem(request)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, fields
        assert error.value.details().startswith(f"{field}:"), error.value.details()
    listed = await platform.rewards.ListRedemptions(
        rewards_pb2.ListRedemptionsRequest(program_id=PROGRAM)
    )
    assert list(listed.redemptions) == []


async def test_a_redemption_needs_a_known_channel_and_keeps_it(platform) -> None:
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward())
    for channel in (common_pb2.CHANNEL_UNSPECIFIED, 99, 40_000):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await platform.rewards.Redeem(
                rewards_pb2.RedeemRequest(
                    program_id=PROGRAM,
                    idempotency_key=key(),
                    member_id="m1",
                    reward_id=coffee.reward_id,
                    quantity=1,
                    channel=channel,  # type: ignore[arg-type]
                )
            )
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, channel
        assert error.value.details().startswith("channel:"), error.value.details()
    assert (await platform.ledger.balance("m1")).available_points == 1_000
    listed = await platform.rewards.ListRedemptions(
        rewards_pb2.ListRedemptionsRequest(program_id=PROGRAM)
    )
    assert list(listed.redemptions) == []
    redeemed = await platform.rewards.Redeem(
        rewards_pb2.RedeemRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            member_id="m1",
            reward_id=coffee.reward_id,
            quantity=1,
            channel=common_pb2.CHANNEL_STORE,
            store_id="ams-01",
        )
    )
    assert redeemed.redemption.channel == common_pb2.CHANNEL_STORE


async def test_a_retry_of_a_redemption_stored_before_channels_were_required_is_answered(
    platform, database_url
) -> None:
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward())
    first = await platform.redeem("m1", coffee.reward_id, idempotency_key="old")
    # Made as it was before a channel was required: no channel, stored and bound to the key so.
    old = rewards_pb2.RedeemRequest(
        program_id=PROGRAM,
        idempotency_key="old",
        member_id="m1",
        reward_id=coffee.reward_id,
        quantity=1,
    )
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE rewards.redemptions SET channel = 0, request_hash = $2 "
            "WHERE redemption_id = $1",
            first.redemption_id,
            request_hash(old),
        )
        await connection.execute(
            "UPDATE rewards.idempotency_keys SET request_hash = $1 WHERE idempotency_key = 'old'",
            request_hash(old),
        )
    finally:
        await connection.close()

    retried = await platform.rewards.Redeem(old)
    assert retried.redemption.redemption_id == first.redemption_id
    assert retried.redemption.status == rewards_pb2.REDEMPTION_STATUS_COMPLETED
    assert (await platform.ledger.balance("m1")).available_points == 500
    # The key still answers only its own request: another, with or without a channel, is refused.
    for changed in ({"quantity": 2}, {"channel": common_pb2.CHANNEL_APP}):
        other = rewards_pb2.RedeemRequest()
        other.CopyFrom(old)
        for name, value in changed.items():
            setattr(other, name, value)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await platform.rewards.Redeem(other)
        assert reason(error.value) == "IDEMPOTENCY_KEY_REUSED", changed
        assert ("loyalty-error-field", "idempotency_key") in tuple(error.value.trailing_metadata())
    assert (await platform.ledger.balance("m1")).available_points == 500


async def test_redemptions_list_newest_first_by_member_and_status_in_pages(platform) -> None:
    await platform.ledger.earn("m1", 5_000)
    await platform.ledger.earn("m2", 5_000)
    coffee = await platform.create(reward(points_price=100))
    made = [await platform.redeem("m1", coffee.reward_id) for _ in range(5)]
    await platform.redeem("m2", coffee.reward_id)
    await platform.cancel(made[0].redemption_id)
    seen: list[str] = []
    token = ""
    while True:
        page = await platform.rewards.ListRedemptions(
            rewards_pb2.ListRedemptionsRequest(
                program_id=PROGRAM, member_id="m1", page_size=2, page_token=token
            )
        )
        seen.extend(r.redemption_id for r in page.redemptions)
        token = page.next_page_token
        if not token:
            break
    assert seen == [r.redemption_id for r in reversed(made)]
    cancelled = await platform.rewards.ListRedemptions(
        rewards_pb2.ListRedemptionsRequest(
            program_id=PROGRAM, status=rewards_pb2.REDEMPTION_STATUS_CANCELLED
        )
    )
    assert [r.redemption_id for r in cancelled.redemptions] == [made[0].redemption_id]


async def test_a_member_sees_what_they_are_eligible_for_and_can_afford(platform) -> None:
    await platform.ledger.earn("m1", 700)
    cheap = await platform.create(reward(points_price=300, per_member_limit=2))
    dear = await platform.create(reward(points_price=900))
    await platform.create(
        reward(points_price=100, eligibility=rewards_pb2.Eligibility(tier_codes=["gold"]))
    )
    await platform.redeem("m1", cheap.reward_id)

    listed = await platform.rewards.ListRewards(
        rewards_pb2.ListRewardsRequest(program_id=PROGRAM, member_id="m1")
    )
    assert listed.available_points == 400
    assert [
        (item.reward.reward_id, item.eligible, item.affordable, item.remaining_member_limit)
        for item in listed.listings
    ] == [(cheap.reward_id, True, True, 1), (dear.reward_id, True, False, -1)]
    affordable = await platform.rewards.ListRewards(
        rewards_pb2.ListRewardsRequest(program_id=PROGRAM, member_id="m1", affordable_only=True)
    )
    assert [item.reward.reward_id for item in affordable.listings] == [cheap.reward_id]


async def test_a_store_redemption_of_a_reward_that_store_does_not_accept_is_refused(
    platform,
) -> None:
    # The reward's codes are accepted in s2 only: redeemed at a till of s1, the member paid for
    # a code that the same till then refused (CODE_STATUS_WRONG_STORE).
    await platform.ledger.earn("m1", 1_000)
    local = await platform.create(reward(store_ids=["s2"]))

    async def redeem_at(store_id: str) -> rewards_pb2.RedeemResponse:
        return await platform.rewards.Redeem(
            rewards_pb2.RedeemRequest(
                program_id=PROGRAM,
                idempotency_key=key(),
                member_id="m1",
                reward_id=local.reward_id,
                quantity=1,
                channel=common_pb2.CHANNEL_POS,
                store_id=store_id,
            )
        )

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await redeem_at("s1")
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(error.value) == "STORE_NOT_ACCEPTED"
    assert error.value.details().startswith("store_id: "), error.value.details()
    balance = await platform.ledger.balance("m1")
    assert (balance.available_points, balance.held_points) == (1_000, 0)
    # In a store that accepts it, or with no store (the app), it is redeemed.
    [code] = (await redeem_at("s2")).redemption.codes
    assert (
        await platform.validate(code.code, store_id="s2")
    ).status == rewards_pb2.CODE_STATUS_VALID
    assert (await platform.redeem("m1", local.reward_id)).status == (
        rewards_pb2.REDEMPTION_STATUS_COMPLETED
    )
