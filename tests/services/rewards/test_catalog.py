"""Reward creation through real gRPC and PostgreSQL."""

import grpc
import pytest
from google.protobuf import field_mask_pb2

from loyalty.common.v1 import common_pb2
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from services.rewards.app import SPEC, RewardsConfig
from tests.services.rewards.conftest import PROGRAM, key
from tests.services.rewards.conftest import reward as offer


@pytest.fixture
async def rewards(start_service):
    async with start_service(SPEC, RewardsConfig) as (_, channel):
        yield rewards_pb2_grpc.RewardsServiceStub(channel)


def coupon(**fields) -> rewards_pb2.Reward:
    reward = rewards_pb2.Reward(
        name="Free coffee",
        kind=common_pb2.REWARD_KIND_COUPON,
        points_price=450,
        discount=rewards_pb2.Discount(percent_bps=10_000),
        stock=rewards_pb2.Stock(available=10),
    )
    for field, value in fields.items():
        if isinstance(value, rewards_pb2.Discount | rewards_pb2.Stock):
            getattr(reward, field).CopyFrom(value)
        else:
            setattr(reward, field, value)
    return reward


def eur(amount_minor: int) -> common_pb2.Money:
    return common_pb2.Money(amount_minor=amount_minor, currency="EUR")


async def create(stub, reward, key: str = "k1"):
    return await stub.CreateReward(
        rewards_pb2.CreateRewardRequest(program_id="acme", idempotency_key=key, reward=reward)
    )


async def test_a_created_reward_reads_back_as_a_draft_with_its_stock(rewards) -> None:
    created = (await create(rewards, coupon())).reward
    assert created.reward_id and created.status == rewards_pb2.REWARD_STATUS_DRAFT
    assert created.stock == rewards_pb2.Stock(available=10)
    read = (
        await rewards.GetReward(
            rewards_pb2.GetRewardRequest(program_id="acme", reward_id=created.reward_id)
        )
    ).reward
    assert read == created


async def test_a_retry_returns_the_same_generated_id(rewards) -> None:
    first = (await create(rewards, coupon())).reward
    assert (await create(rewards, coupon())).reward.reward_id == first.reward_id


async def test_a_taken_reward_id_is_already_exists(rewards) -> None:
    await create(rewards, coupon(reward_id="coffee"))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create(rewards, coupon(reward_id="coffee"), key="k2")
    assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS


@pytest.mark.parametrize(
    ("reward", "field"),
    [
        (coupon(points_price=0), "reward.points_price"),
        (coupon(name=""), "reward.name"),
        (coupon(kind=common_pb2.REWARD_KIND_UNSPECIFIED), "reward.kind"),
        (coupon(discount=rewards_pb2.Discount(percent_bps=20_000)), "reward.discount.percent_bps"),
        (
            coupon(kind=common_pb2.REWARD_KIND_PRODUCT, discount=rewards_pb2.Discount()),
            "reward.sku",
        ),
        (coupon(stock=rewards_pb2.Stock(available=-1)), "reward.stock.available"),
        (coupon(status=rewards_pb2.REWARD_STATUS_ARCHIVED), "reward.status"),
        (
            coupon(discount=rewards_pb2.Discount(fixed_amount=eur(500), maximum_discount=eur(200))),
            "reward.discount.maximum_discount",
        ),
        (
            coupon(discount=rewards_pb2.Discount(percent_bps=1_000, maximum_discount=eur(0))),
            "reward.discount.maximum_discount.amount_minor",
        ),
        (
            coupon(discount=rewards_pb2.Discount(percent_bps=1_000, minimum_order=eur(-1))),
            "reward.discount.minimum_order.amount_minor",
        ),
        (
            coupon(
                discount=rewards_pb2.Discount(
                    percent_bps=1_000,
                    minimum_order=common_pb2.Money(amount_minor=100, currency="euro"),
                )
            ),
            "reward.discount.minimum_order.currency",
        ),
        (
            coupon(
                discount=rewards_pb2.Discount(
                    fixed_amount=eur(500),
                    minimum_order=common_pb2.Money(amount_minor=100, currency="USD"),
                )
            ),
            "reward.discount.minimum_order.currency",
        ),
        (
            coupon(discount=rewards_pb2.Discount(free_shipping=False)),
            "reward.discount.free_shipping",
        ),
    ],
)
async def test_bad_rewards_name_the_field(rewards, reward, field) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create(rewards, reward)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(f"{field}:")


async def test_a_discount_keeps_its_bounds(platform) -> None:
    # Money is checked against the program's currency, which the ledger holds: `platform` has it.
    discount = rewards_pb2.Discount(
        percent_bps=1_500, minimum_order=eur(2_000), maximum_discount=eur(1_000)
    )
    created = (await create(platform.rewards, coupon(discount=discount))).reward
    assert created.discount == discount


def usd(amount_minor: int) -> common_pb2.Money:
    return common_pb2.Money(amount_minor=amount_minor, currency="USD")


async def test_discount_money_is_in_the_program_currency(platform) -> None:
    # The ledger's program (tests/services/ledger/support.py) is in EUR.
    for discount, field in (
        (rewards_pb2.Discount(fixed_amount=usd(500)), "reward.discount.fixed_amount.currency"),
        (
            rewards_pb2.Discount(fixed_amount=usd(500), minimum_order=usd(1_000)),
            "reward.discount.fixed_amount.currency",
        ),
        (
            rewards_pb2.Discount(percent_bps=1_000, maximum_discount=usd(200)),
            "reward.discount.maximum_discount.currency",
        ),
        (
            rewards_pb2.Discount(percent_bps=1_000, minimum_order=usd(200)),
            "reward.discount.minimum_order.currency",
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await create(platform.rewards, coupon(discount=discount), key=f"usd-{field}")
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, discount
        assert error.value.details() == f"{field}: must be the program's currency EUR"

    created = await create(
        platform.rewards,
        coupon(reward_id="five-off", discount=rewards_pb2.Discount(fixed_amount=eur(500))),
    )
    assert created.reward.discount.fixed_amount == eur(500)
    change = rewards_pb2.UpdateRewardRequest(
        program_id="acme",
        idempotency_key="to-usd",
        reward=rewards_pb2.Reward(
            reward_id="five-off", discount=rewards_pb2.Discount(fixed_amount=usd(500))
        ),
        update_mask=field_mask_pb2.FieldMask(paths=["discount"]),
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.rewards.UpdateReward(change)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("reward.discount.fixed_amount.currency:")
    assert (await platform.get_reward("five-off")).discount.fixed_amount == eur(500)

    # A program the ledger does not know has no currency to check against.
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.rewards.CreateReward(
            rewards_pb2.CreateRewardRequest(
                program_id="nowhere",
                idempotency_key="k-nowhere",
                reward=coupon(discount=rewards_pb2.Discount(fixed_amount=eur(500))),
            )
        )
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.value.details().startswith("program_id:")


@pytest.mark.parametrize(
    "image_url",
    [
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "ftp://images.example/coffee.png",
        "/images/coffee.png",
        "images.example/coffee.png",
        "https://",
        "https:///coffee.png",
        "https://images.example/a coffee.png",
        "https://images.example/\ncoffee.png",
        "https://user:secret@images.example/coffee.png",
        "https://images.example:port/coffee.png",
        "https://[::1/coffee.png",
        "https://images.example/" + "c" * 2048,
    ],
)
async def test_an_image_url_is_an_absolute_web_url(rewards, image_url) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create(rewards, coupon(image_url=image_url))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("reward.image_url:"), error.value.details()
    # An update is checked alike.
    await create(rewards, coupon(reward_id="coffee"), key="k-coffee")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await rewards.UpdateReward(
            rewards_pb2.UpdateRewardRequest(
                program_id="acme",
                idempotency_key="u-image",
                reward=rewards_pb2.Reward(reward_id="coffee", image_url=image_url),
                update_mask=field_mask_pb2.FieldMask(paths=["image_url"]),
            )
        )
    assert error.value.details().startswith("reward.image_url:"), error.value.details()


async def test_an_image_url_may_be_https_http_or_empty(rewards) -> None:
    for index, image_url in enumerate(
        ["https://images.example/coffee.png?size=2x", "http://images.example:8080/c.png", ""]
    ):
        created = (await create(rewards, coupon(image_url=image_url), key=f"img-{index}")).reward
        assert created.image_url == image_url


async def test_an_unknown_reward_is_not_found(rewards) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await rewards.GetReward(rewards_pb2.GetRewardRequest(program_id="acme", reward_id="nope"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_an_update_changes_only_the_named_fields(rewards) -> None:
    created = (await create(rewards, coupon(reward_id="coffee"))).reward
    change = rewards_pb2.Reward(reward_id="coffee", name="Big coffee", points_price=600, sku="x")
    request = rewards_pb2.UpdateRewardRequest(
        program_id="acme",
        idempotency_key="u1",
        reward=change,
        update_mask=field_mask_pb2.FieldMask(paths=["name", "points_price"]),
    )
    updated = (await rewards.UpdateReward(request)).reward
    assert (updated.name, updated.points_price, updated.sku) == ("Big coffee", 600, "")
    assert updated.stock == created.stock and updated.discount == created.discount
    assert (await rewards.UpdateReward(request)).reward == updated  # a retry

    for paths, field in (
        (["stock"], "update_mask.paths[0]"),
        (["name", "nonsense"], "update_mask.paths[1]"),
        ([], "update_mask"),
        (["points_price"], "reward.points_price"),
    ):
        bad = rewards_pb2.UpdateRewardRequest(
            program_id="acme",
            idempotency_key=f"bad-{field}-{len(paths)}",
            reward=rewards_pb2.Reward(reward_id="coffee", points_price=0),
            update_mask=field_mask_pb2.FieldMask(paths=paths),
        )
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await rewards.UpdateReward(bad)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.value.details().startswith(f"{field}:"), error.value.details()


async def test_archiving_and_stock_adjustments(rewards) -> None:
    await create(rewards, coupon(reward_id="coffee"))

    async def adjust(delta: int, key: str):
        return await rewards.AdjustStock(
            rewards_pb2.AdjustStockRequest(
                program_id="acme", idempotency_key=key, reward_id="coffee", delta=delta
            )
        )

    assert (await adjust(5, "a1")).stock.available == 15
    assert (await adjust(5, "a1")).stock.available == 15  # a retry adds nothing
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await adjust(-16, "a2")
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await adjust(0, "a3")
    assert error.value.details().startswith("delta:")

    archived = await rewards.ArchiveReward(
        rewards_pb2.ArchiveRewardRequest(
            program_id="acme", idempotency_key="x1", reward_id="coffee"
        )
    )
    assert archived.reward.status == rewards_pb2.REWARD_STATUS_ARCHIVED
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await rewards.UpdateReward(
            rewards_pb2.UpdateRewardRequest(
                program_id="acme",
                idempotency_key="u2",
                reward=rewards_pb2.Reward(reward_id="coffee", name="Again"),
                update_mask=field_mask_pb2.FieldMask(paths=["name"]),
            )
        )
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_the_catalog_lists_active_rewards_cheapest_first_in_pages(rewards) -> None:
    for index, price in enumerate([300, 100, 200, 100, 500]):
        await create(
            rewards,
            coupon(
                reward_id=f"r{index}", points_price=price, status=rewards_pb2.REWARD_STATUS_ACTIVE
            ),
            key=f"c{index}",
        )
    await create(rewards, coupon(reward_id="draft"), key="c-draft")
    seen, token = [], ""
    while True:
        page = await rewards.ListRewards(
            rewards_pb2.ListRewardsRequest(program_id="acme", page_size=2, page_token=token)
        )
        seen.extend(listing.reward.reward_id for listing in page.listings)
        token = page.next_page_token
        if not token:
            break
    assert seen == ["r1", "r3", "r2", "r0", "r4"]
    everything = await rewards.ListRewards(
        rewards_pb2.ListRewardsRequest(program_id="acme", include_inactive=True)
    )
    assert len(everything.listings) == 6
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await rewards.ListRewards(
            rewards_pb2.ListRewardsRequest(program_id="acme", affordable_only=True)
        )
    assert error.value.details().startswith("affordable_only:")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await rewards.ListRewards(rewards_pb2.ListRewardsRequest(program_id="acme", page_token="x"))
    assert error.value.details().startswith("page_token:")
    # A blank member id is the caller's mistake, not the ledger being down.
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await rewards.ListRewards(rewards_pb2.ListRewardsRequest(program_id="acme", member_id=" "))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("member_id:")


async def test_a_stock_adjustment_keeps_its_reason(start_service) -> None:
    async with start_service(SPEC, RewardsConfig) as (service, channel):
        stub = rewards_pb2_grpc.RewardsServiceStub(channel)
        await create(stub, coupon(reward_id="coffee"))
        for delta, reason, key in (
            (5, "delivery 42", "a1"),
            (5, "delivery 42", "a1"),
            (-3, "", "a2"),
        ):
            await stub.AdjustStock(
                rewards_pb2.AdjustStockRequest(
                    program_id="acme",
                    idempotency_key=key,
                    reward_id="coffee",
                    delta=delta,
                    reason=reason,
                )
            )
        rows = await service.runtime.pool.fetch(
            "SELECT delta, available_after, reason FROM stock_adjustments "
            "WHERE program_id = 'acme' AND reward_id = 'coffee' ORDER BY adjusted_at"
        )
        assert [tuple(row) for row in rows] == [(5, 15, "delivery 42"), (-3, 12, "")]


async def test_a_members_listing_never_includes_drafts_or_archived_rewards(platform) -> None:
    # include_inactive with member_id listed drafts and archived rewards as eligible: a member's
    # app or an operator looking at the member's offers saw rewards nobody can redeem (Redeem
    # refuses them REWARD_NOT_AVAILABLE). The combination is refused, naming the field.
    await platform.ledger.earn("m1", 1_000)
    offered = await platform.create(offer(reward_id="offered"))
    await platform.create(offer(reward_id="draft", status=rewards_pb2.REWARD_STATUS_DRAFT))
    await platform.create(offer(reward_id="gone"))
    await platform.rewards.ArchiveReward(
        rewards_pb2.ArchiveRewardRequest(
            program_id=PROGRAM, idempotency_key=key(), reward_id="gone"
        )
    )

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.rewards.ListRewards(
            rewards_pb2.ListRewardsRequest(
                program_id=PROGRAM, member_id="m1", include_inactive=True
            )
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("include_inactive:")
    listed = await platform.rewards.ListRewards(
        rewards_pb2.ListRewardsRequest(program_id=PROGRAM, member_id="m1")
    )
    assert [(r.reward.reward_id, r.eligible) for r in listed.listings] == [
        (offered.reward_id, True)
    ]
    # Without a member, operators still see every reward.
    everything = await platform.rewards.ListRewards(
        rewards_pb2.ListRewardsRequest(program_id=PROGRAM, include_inactive=True)
    )
    assert {r.reward.reward_id for r in everything.listings} == {"offered", "draft", "gone"}
