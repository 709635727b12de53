"""Rule management, RecordPurchase and PreviewBasket through real gRPC, ledger and PostgreSQL."""

import asyncio
import datetime as dt

import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2, rules_pb2
from loyalty.common.v1 import common_pb2
from tests.services.campaign.support import (
    PROGRAM,
    available,
    earning,
    eur,
    history,
    key,
    ledger_and_campaign,
    rate,
    ts,
)

# A Saturday noon in Amsterdam (10:00 UTC in summer time).
SATURDAY = dt.datetime(2025, 5, 3, 10, 0, tzinfo=dt.UTC)
TUESDAY = dt.datetime(2025, 5, 6, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
async def services(start_service):
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        yield ledger, campaign


async def test_rules_are_versioned_activated_and_archived(services) -> None:
    _, campaign = services
    stub = campaign.stub
    created = await stub.CreateRule(
        campaign_pb2.CreateRuleRequest(
            program_id=PROGRAM, idempotency_key="create-base", rule=earning("base", rate=rate())
        )
    )
    assert (created.rule.version, created.rule.status) == (1, rules_pb2.RULE_STATUS_DRAFT)
    again = await stub.CreateRule(
        campaign_pb2.CreateRuleRequest(
            program_id=PROGRAM, idempotency_key="create-base", rule=earning("base", rate=rate())
        )
    )
    assert again == created
    with pytest.raises(grpc.aio.AioRpcError) as exists:
        await stub.CreateRule(
            campaign_pb2.CreateRuleRequest(
                program_id=PROGRAM, idempotency_key=key(), rule=earning("base", rate=rate())
            )
        )
    assert exists.value.code() == grpc.StatusCode.ALREADY_EXISTS
    await stub.ActivateRule(
        campaign_pb2.ActivateRuleRequest(
            program_id=PROGRAM, idempotency_key=key(), rule_id="base", version=1
        )
    )
    updated = await stub.UpdateRule(
        campaign_pb2.UpdateRuleRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            rule=earning("base", rate=rate(2)),
            base_version=1,
        )
    )
    assert (updated.rule.version, updated.rule.status) == (2, rules_pb2.RULE_STATUS_DRAFT)
    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await stub.UpdateRule(
            campaign_pb2.UpdateRuleRequest(
                program_id=PROGRAM,
                idempotency_key=key(),
                rule=earning("base", rate=rate(3)),
                base_version=1,
            )
        )
    assert stale.value.code() == grpc.StatusCode.ABORTED
    live = await stub.GetRule(campaign_pb2.GetRuleRequest(program_id=PROGRAM, rule_id="base"))
    assert (live.rule.version, live.rule.status) == (1, rules_pb2.RULE_STATUS_ACTIVE)
    await stub.ActivateRule(
        campaign_pb2.ActivateRuleRequest(
            program_id=PROGRAM, idempotency_key=key(), rule_id="base", version=2
        )
    )
    first = await stub.GetRule(
        campaign_pb2.GetRuleRequest(program_id=PROGRAM, rule_id="base", version=1)
    )
    assert first.rule.status == rules_pb2.RULE_STATUS_SUPERSEDED
    listed = await stub.ListRules(campaign_pb2.ListRulesRequest(program_id=PROGRAM))
    assert [(r.rule_id, r.version) for r in listed.rules] == [("base", 2)]
    every = await stub.ListRules(
        campaign_pb2.ListRulesRequest(program_id=PROGRAM, all_versions=True, page_size=1)
    )
    assert [(r.rule_id, r.version) for r in every.rules] == [("base", 1)] and every.next_page_token
    archived = await stub.ArchiveRule(
        campaign_pb2.ArchiveRuleRequest(program_id=PROGRAM, idempotency_key=key(), rule_id="base")
    )
    assert archived.rule.status == rules_pb2.RULE_STATUS_ARCHIVED
    assert not (await stub.ListRules(campaign_pb2.ListRulesRequest(program_id=PROGRAM))).rules


BAD_RULES = [
    (earning("x"), "rule.earning.rate"),
    (earning("x", rate=rate(0)), "rule.earning.rate.points"),
    (
        earning(
            "x",
            rate=rate(),
            multipliers=[rules_pb2.Multiplier(category="shoes", multiplier_bps=5_000)],
        ),
        "rule.earning.multipliers[0].multiplier_bps",
    ),
    (
        earning("x", rate=rate(), time_windows=[rules_pb2.TimeWindow(weekdays=[0])]),
        "rule.earning.time_windows[0].weekdays[0]",
    ),
    (
        earning("x", rate=rate(), minimum_spend=common_pb2.Money(amount_minor=100, currency="USD")),
        "rule.earning.minimum_spend.currency",
    ),
    (rules_pb2.Rule(rule_id="x", name="x"), "rule.kind"),
    (earning("Bad Id", rate=rate()), "rule.rule_id"),
    (
        rules_pb2.Rule(
            rule_id="x",
            name="x",
            engagement=rules_pb2.EngagementRule(activity_kind=1, referred_points=5),
        ),
        "rule.engagement.referred_points",
    ),
]


async def test_bad_rules_are_refused_naming_the_field(services) -> None:
    _, campaign = services
    for rule, field in BAD_RULES:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await campaign.stub.CreateRule(
                campaign_pb2.CreateRuleRequest(program_id=PROGRAM, idempotency_key=key(), rule=rule)
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.details().startswith(f"{field}:"), refused.value.details()


async def test_a_purchase_earns_with_a_breakdown_per_rule_once(services) -> None:
    ledger, campaign = services
    await campaign.live(
        earning(
            "base",
            name="1 point per euro",
            rate=rate(),
            multipliers=[rules_pb2.Multiplier(category="shoes", multiplier_bps=20_000)],
            qualifying=True,
        )
    )
    await campaign.live(
        earning(
            "weekend",
            priority=20,
            fixed_bonus_points=50,
            time_windows=[
                rules_pb2.TimeWindow(
                    weekdays=[rules_pb2.WEEKDAY_SATURDAY, rules_pb2.WEEKDAY_SUNDAY]
                )
            ],
            caps=rules_pb2.EarningCaps(per_member_day_points_max=80),
        )
    )
    lines = [
        campaign_pb2.LineItem(sku="s1", category="shoes", amount=eur(4_050), quantity=1),
        campaign_pb2.LineItem(sku="b1", category="books", amount=eur(1_000), quantity=1),
    ]
    first = await campaign.purchase("ann", "t1", 5_050, at=SATURDAY, line_items=lines)
    # 40.50 EUR of shoes at 2x: 80; 10 EUR of books: 10; the weekend bonus 50.
    assert first.accrual.points == 140 and not first.duplicate
    by_rule = {a.rule_id: a for a in first.accrual.applications}
    # The effective multiplier over the basket: 90 points on a base of 50.
    assert (by_rule["base"].points, by_rule["base"].multiplier_bps, by_rule["base"].version) == (
        90,
        18_000,
        1,
    )
    assert by_rule["weekend"].points == 50 and first.accrual.posting_id
    # The second purchase that day: the weekend bonus is capped at 80 a day.
    second = await campaign.purchase("ann", "t2", 1_000, at=SATURDAY)
    assert second.accrual.points == 10 + 30
    weekend = {a.rule_id: a for a in second.accrual.applications}["weekend"]
    assert (weekend.points, weekend.uncapped_points) == (30, 50)
    # A weekday purchase gets no bonus; a replay is the first answer, a new key a duplicate.
    third = await campaign.purchase("ann", "t3", 1_000, at=TUESDAY)
    assert third.accrual.points == 10
    assert await campaign.purchase("ann", "t3", 1_000, at=TUESDAY) == third
    duplicate = await campaign.purchase("ann", "t3", 1_000, at=TUESDAY, idempotency_key="other")
    assert duplicate.duplicate and duplicate.accrual.points == 10
    assert await available(ledger, "ann") == 140 + 40 + 10
    postings = await history(ledger, "ann")
    assert sorted(p.points for p in postings) == sorted([90, 50, 10, 30, 10])
    reasons = {tuple(p.reason.rule_ids) for p in postings}
    assert reasons == {("base@1",), ("weekend@1",)}


async def test_a_purchase_sent_again_under_a_new_key_gets_the_first_answer_as_a_duplicate(
    services,
) -> None:
    # A till that lost its answer sends the purchase again under a key of its own: the purchase
    # is not recorded twice, and the answer is the first one (breakdown, explanation, posting
    # and vesting), flagged as a duplicate.
    _, campaign = services
    await campaign.live(
        earning(
            "base",
            name="1 point per euro",
            rate=rate(),
            multipliers=[rules_pb2.Multiplier(category="shoes", multiplier_bps=20_000)],
        )
    )
    await campaign.live(earning("weekend", priority=20, name="Weekend", fixed_bonus_points=50))
    lines = [campaign_pb2.LineItem(sku="s1", category="shoes", amount=eur(4_050), quantity=1)]
    first = await campaign.purchase("ann", "t1", 4_050, at=SATURDAY, line_items=lines)
    assert first.accrual.points == 80 + 50 and first.accrual.posting_id
    assert all(a.name and a.explanation for a in first.accrual.applications)
    again = await campaign.purchase(
        "ann", "t1", 4_050, at=SATURDAY, line_items=lines, idempotency_key="till-2"
    )
    assert again.duplicate and again.member_id == "ann"
    assert again.accrual == first.accrual
    # Two at once under two more keys (written as one group): each gets the first answer.
    both = await asyncio.gather(
        *(
            campaign.purchase(
                "ann", "t1", 4_050, at=SATURDAY, line_items=lines, idempotency_key=key
            )
            for key in ("till-3", "till-4")
        )
    )
    assert [(b.duplicate, b.accrual) for b in both] == [(True, first.accrual)] * 2


async def test_multipliers_of_different_dimensions_multiply_rounded_once(services) -> None:
    _, campaign = services
    await campaign.live(
        earning(
            "base",
            rate=rate(),
            rounding_mode=common_pb2.ROUNDING_MODE_FLOOR,
            multipliers=[
                rules_pb2.Multiplier(category="shoes", multiplier_bps=20_000),
                rules_pb2.Multiplier(category="socks", multiplier_bps=30_000),
                rules_pb2.Multiplier(channel=common_pb2.CHANNEL_WEBSHOP, multiplier_bps=15_000),
                rules_pb2.Multiplier(store_id="flagship", multiplier_bps=12_500),
                rules_pb2.Multiplier(store_id="outlet", multiplier_bps=400_000),
            ],
        )
    )

    async def points(transaction_id: str, category: str, **fields) -> int:  # type: ignore[no-untyped-def]
        line = campaign_pb2.LineItem(sku="s", category=category, amount=eur(1_100), quantity=1)
        answer = await campaign.purchase(
            "ann", transaction_id, 1_100, at=TUESDAY, line_items=[line], **fields
        )
        return answer.accrual.points

    web = {"channel": common_pb2.CHANNEL_WEBSHOP}
    # 11 points of base: x2 x1.5 is 33, not 11 + 11 + 5 + 5 with each extra rounded down.
    assert await points("t1", "shoes", **web) == 33
    assert await points("t2", "socks", **web) == 49  # x4.5: 49.5
    assert await points("t3", "shoes", store_id="flagship", **web) == 41  # x3.75: 41.25
    assert await points("t4", "books", store_id="flagship") == 13  # x1.25 alone: 13.75
    assert await points("t5", "books") == 11
    # x3 x40 is past the kernel's largest multiplier (100x): still 120 times the base.
    assert await points("t6", "socks", store_id="outlet") == 1_320


async def test_a_new_version_never_rewrites_past_accruals(services) -> None:
    ledger, campaign = services
    await campaign.live(earning("base", rate=rate()))
    before = await campaign.purchase("bob", "t1", 1_000, at=TUESDAY)
    await campaign.stub.UpdateRule(
        campaign_pb2.UpdateRuleRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            rule=earning("base", rate=rate(3)),
            base_version=1,
        )
    )
    await campaign.stub.ActivateRule(
        campaign_pb2.ActivateRuleRequest(
            program_id=PROGRAM, idempotency_key=key(), rule_id="base", version=2
        )
    )
    after = await campaign.purchase("bob", "t2", 1_000, at=TUESDAY)
    assert (before.accrual.points, after.accrual.points) == (10, 30)
    assert [(a.rule_id, a.version) for a in before.accrual.applications] == [("base", 1)]
    assert [(a.rule_id, a.version) for a in after.accrual.applications] == [("base", 2)]
    replay = await campaign.purchase("bob", "t1", 1_000, at=TUESDAY)
    assert replay.accrual.points == 10
    assert sorted(tuple(p.reason.rule_ids) for p in await history(ledger, "bob")) == [
        ("base@1",),
        ("base@2",),
    ]


async def test_preview_tells_what_a_basket_would_earn_without_posting(services) -> None:
    ledger, campaign = services
    await campaign.live(earning("base", rate=rate()))
    draft = await campaign.stub.CreateRule(
        campaign_pb2.CreateRuleRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            rule=earning(
                "promo", priority=5, stacking=rules_pb2.STACKING_MODE_EXCLUSIVE, rate=rate(5)
            ),
        )
    )
    request = campaign_pb2.PreviewBasketRequest(
        program_id=PROGRAM,
        member_id="cat",
        amount=eur(2_000),
        channel=common_pb2.CHANNEL_WEBSHOP,
        occurred_at=ts(TUESDAY),
    )
    assert (await campaign.stub.PreviewBasket(request)).points == 20
    request.draft_rule_ids.append(f"promo@{draft.rule.version}")
    preview = await campaign.stub.PreviewBasket(request)
    # The exclusive promotion comes first and stops the base rule.
    assert preview.points == 100 and [a.rule_id for a in preview.applications] == ["promo"]
    assert await available(ledger, "cat") == 0
