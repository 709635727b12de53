"""Segments: rule-based definitions computed in SQL, kept current from events, exported, checked,
and targeted by earning rules."""

import datetime as dt
from zoneinfo import ZoneInfo

import grpc
import pytest
from prometheus_client import generate_latest

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2, segments_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.campaign.repository_segments import iterate_segment_members
from services.campaign.segment_refresh import SegmentRefresh
from tests.services.campaign.insight_support import (
    compute,
    consent,
    create_segment,
    enrolled,
    eventually,
    field_of,
    publish,
    segment,
    segments_of,
)
from tests.services.campaign.support import (
    PROGRAM,
    available,
    batch,
    earning,
    eur,
    key,
    ledger_and_campaign,
    rate,
)

EMAIL = common_pb2.CONSENT_CHANNEL_EMAIL
SMS = common_pb2.CONSENT_CHANNEL_SMS


def monetary(days: int, spend_min: int) -> segments_pb2.SegmentCondition:
    return segments_pb2.SegmentCondition(
        monetary=segments_pb2.MonetaryCondition(window_days=days, spend_min=eur(spend_min))
    )


def consented(channel: int, granted: bool = True, **fields) -> segments_pb2.SegmentCondition:  # type: ignore[no-untyped-def]
    return segments_pb2.SegmentCondition(
        consent=segments_pb2.ConsentCondition(channel=channel, granted=granted), **fields
    )


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_membership_follows_purchases_consents_and_erasure(
    start_service, servers, nats_namespace
) -> None:
    async with ledger_and_campaign(start_service, segments_interval_ms=200) as (_, campaign):
        made = await create_segment(
            campaign, segment("engaged_buyers", monetary(30, 10_000), consented(EMAIL))
        )
        assert made.member_count == 0 and not made.HasField("computed_at")
        await campaign.purchase("m1", "t1", 15_000, at=now())
        await campaign.purchase("m2", "t2", 20_000, at=now())
        await campaign.purchase("m3", "t3", 5_000, at=now())
        await publish(
            servers.nats_url,
            nats_namespace,
            "identity.member_enrolled",
            enrolled("m1", EMAIL),
            enrolled("m2"),
            enrolled("m3", EMAIL, SMS),
        )

        async def members() -> list[list[str]]:
            return [await segments_of(campaign, m, "engaged_buyers") for m in ("m1", "m2", "m3")]

        # The refresh job computes the new segment and then follows the events.
        assert await eventually(members, [["engaged_buyers"], [], []]) == [
            ["engaged_buyers"],
            [],
            [],
        ]
        computed = await compute(campaign, "engaged_buyers")
        assert (computed.member_count, computed.joined_count, computed.left_count) == (1, 0, 0)

        # A consent revoked (and a stale redelivery of the grant ignored), a purchase that
        # crosses the threshold.
        revoke = consent("m1", EMAIL, False)
        stale = consent("m1", EMAIL, True)
        stale.consent_changed.changed_at.FromDatetime(now() - dt.timedelta(hours=1))
        await publish(servers.nats_url, nats_namespace, "identity.consent_changed", revoke, stale)
        await campaign.purchase("m3", "t4", 6_000, at=now())
        assert await eventually(members, [[], [], ["engaged_buyers"]]) == [
            [],
            [],
            ["engaged_buyers"],
        ]
        got = await campaign.stub.GetSegment(
            campaign_pb2.GetSegmentRequest(program_id=PROGRAM, segment_id="engaged_buyers")
        )
        assert got.segment.member_count == 1

        await publish(
            servers.nats_url,
            nats_namespace,
            "identity.member_erased",
            events_pb2.Event(member_erased=events_pb2.MemberErased(member_id="m3")),
        )
        assert await eventually(members, [[], [], []]) == [[], [], []]
        assert (await compute(campaign, "engaged_buyers")).member_count == 0

        metrics = generate_latest(campaign.service.runtime.metrics.registry).decode()
        assert (
            'loyalty_segment_computation_duration_seconds_count{mode="full",program="acme"}'
            in metrics
        )
        assert (
            'loyalty_segment_computation_duration_seconds_count{mode="incremental",program="acme"}'
            in metrics
        )
        assert 'loyalty_segment_members{program="acme",segment="engaged_buyers"} 0.0' in metrics


async def test_every_condition_kind_on_demand(start_service, servers, nats_namespace) -> None:
    async with ledger_and_campaign(start_service, segments_enabled=False) as (_, campaign):
        old = now() - dt.timedelta(days=45)
        # ann: bought 45 days ago and twice this week, gold, reviews; bob: bought once today,
        # enrolled in store; cat: never bought, SMS consent only.
        await campaign.purchase("ann", "a1", 3_000, at=old)
        await campaign.purchase("ann", "a2", 4_000, at=now() - dt.timedelta(days=2))
        await campaign.purchase("ann", "a3", 5_000, at=now() - dt.timedelta(days=1))
        await campaign.purchase("bob", "b1", 90_000, at=now())
        for index in range(2):
            await campaign.stub.RecordActivity(
                campaign_pb2.RecordActivityRequest(
                    program_id=PROGRAM,
                    idempotency_key=key(),
                    activity=engagement_pb2.Activity(
                        activity_id=f"rv{index}",
                        member_id="ann",
                        kind=common_pb2.ACTIVITY_KIND_REVIEW,
                        channel=common_pb2.CHANNEL_WEBSHOP,
                    ),
                )
            )
        await publish(
            servers.nats_url,
            nats_namespace,
            "identity.member_enrolled",
            enrolled("ann", EMAIL),
            enrolled("bob", channel=common_pb2.CHANNEL_STORE),
            enrolled("cat", SMS),
        )
        cases = {
            # Tier, as the ledger has it (campaign reads it there on each tier event): nobody here
            # earned beyond the entry tier.
            "gold": (
                [
                    segments_pb2.SegmentCondition(
                        tier=segments_pb2.TierCondition(tier_codes=["gold"])
                    )
                ],
                {},
                [],
            ),
            "entry": (
                [
                    segments_pb2.SegmentCondition(
                        tier=segments_pb2.TierCondition(tier_codes=["member"])
                    )
                ],
                {},
                ["ann", "bob", "cat"],
            ),
            "recent": (
                [
                    segments_pb2.SegmentCondition(
                        recency=segments_pb2.RecencyCondition(days_since_purchase_max=7)
                    )
                ],
                {},
                ["ann", "bob"],
            ),
            "lapsed": (
                [
                    segments_pb2.SegmentCondition(
                        recency=segments_pb2.RecencyCondition(days_since_purchase_min=1)
                    )
                ],
                {},
                ["ann"],
            ),
            "frequent": (
                [
                    segments_pb2.SegmentCondition(
                        frequency=segments_pb2.FrequencyCondition(window_days=30, purchases_min=2)
                    )
                ],
                {},
                ["ann"],
            ),
            "rare": (
                [
                    segments_pb2.SegmentCondition(
                        frequency=segments_pb2.FrequencyCondition(window_days=30, purchases_max=1)
                    )
                ],
                {},
                ["bob", "cat"],
            ),
            "big": ([monetary(60, 50_000)], {}, ["bob"]),
            "reviewers": (
                [
                    segments_pb2.SegmentCondition(
                        engagement=segments_pb2.EngagementCondition(
                            activity_kind=common_pb2.ACTIVITY_KIND_REVIEW,
                            window_days=7,
                            activities_min=2,
                        )
                    )
                ],
                {},
                ["ann"],
            ),
            "store_enrolled": (
                [
                    segments_pb2.SegmentCondition(
                        enrollment=segments_pb2.EnrollmentCondition(
                            channels=[common_pb2.CHANNEL_STORE]
                        )
                    )
                ],
                {},
                ["bob"],
            ),
            "no_email": ([consented(EMAIL, negate=True)], {}, ["bob", "cat"]),
            "sms_or_big": (
                [consented(SMS), monetary(60, 50_000)],
                {"join": segments_pb2.CONDITION_JOIN_ANY},
                ["bob", "cat"],
            ),
        }
        for segment_id, (conditions, fields, _) in cases.items():
            await create_segment(campaign, segment(segment_id, *conditions, **fields))

        async def everyone() -> dict[str, list[str]]:
            found = {}
            for segment_id in cases:
                await compute(campaign, segment_id)
                listed = await campaign.stub.ListSegmentMembers(
                    campaign_pb2.ListSegmentMembersRequest(
                        program_id=PROGRAM, segment_id=segment_id
                    )
                )
                found[segment_id] = list(listed.member_ids)
            return found

        expected = {segment_id: members for segment_id, (_, _, members) in cases.items()}
        assert await eventually(everyone, expected) == expected


async def test_members_page_and_stream_for_exports(start_service) -> None:
    async with ledger_and_campaign(start_service, segments_enabled=False) as (_, campaign):
        members = [f"m{index:03d}" for index in range(25)]
        rows = [(f"t{m}", m, 2_000, now()) for m in members] + [("tx", "zed", 10, now())]
        await campaign.ingest(batch("b1", rows))
        await create_segment(campaign, segment("spenders", monetary(7, 1_000)))
        assert (await compute(campaign, "spenders")).member_count == 25
        listed, token = [], ""
        pages = 0
        while True:
            page = await campaign.stub.ListSegmentMembers(
                campaign_pb2.ListSegmentMembersRequest(
                    program_id=PROGRAM, segment_id="spenders", page_size=10, page_token=token
                )
            )
            pages += 1
            listed += page.member_ids
            assert page.HasField("computed_at")
            token = page.next_page_token
            if not token:
                break
        assert (listed, pages) == (members, 3)
        chunks = [
            chunk
            async for chunk in iterate_segment_members(
                campaign.service.runtime.pool, PROGRAM, "spenders", chunk_size=7
            )
        ]
        assert [len(chunk) for chunk in chunks] == [7, 7, 7, 4]
        assert [m for chunk in chunks for m in chunk] == members
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await campaign.stub.ListSegmentMembers(
                campaign_pb2.ListSegmentMembersRequest(
                    program_id=PROGRAM, segment_id="spenders", page_token="bogus"
                )
            )
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_of(error.value) == "page_token"


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        (segments_pb2.SegmentCondition(negate=True), "segment.conditions[0].condition"),
        (
            segments_pb2.SegmentCondition(
                frequency=segments_pb2.FrequencyCondition(purchases_min=2)
            ),
            "segment.conditions[0].frequency.window_days",
        ),
        (
            segments_pb2.SegmentCondition(recency=segments_pb2.RecencyCondition()),
            "segment.conditions[0].recency.days_since_purchase_min",
        ),
        (
            segments_pb2.SegmentCondition(
                monetary=segments_pb2.MonetaryCondition(
                    window_days=30, spend_min=common_pb2.Money(amount_minor=5, currency="USD")
                )
            ),
            "segment.conditions[0].monetary.spend_min.currency",
        ),
        (
            segments_pb2.SegmentCondition(consent=segments_pb2.ConsentCondition(granted=True)),
            "segment.conditions[0].consent.channel",
        ),
        (
            segments_pb2.SegmentCondition(tier=segments_pb2.TierCondition()),
            "segment.conditions[0].tier.tier_codes",
        ),
    ],
)
async def test_bad_definitions_name_the_field(start_service, condition, field) -> None:
    async with ledger_and_campaign(start_service, segments_enabled=False) as (_, campaign):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await create_segment(campaign, segment("bad", condition))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_of(error.value) == field
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await create_segment(campaign, segment("Bad Id", monetary(1, 1)))
        assert field_of(error.value) == "segment.segment_id"
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await create_segment(campaign, segment("x", monetary(1, 1), refresh_interval_seconds=5))
        assert field_of(error.value) == "segment.refresh_interval_seconds"


async def test_segment_changes_are_idempotent(start_service) -> None:
    async with ledger_and_campaign(start_service, segments_enabled=False) as (_, campaign):
        await campaign.purchase("ann", "a1", 20_000, at=now())
        request = campaign_pb2.CreateSegmentRequest(
            program_id=PROGRAM, idempotency_key="create-1", segment=segment("", monetary(7, 100))
        )
        first = await campaign.stub.CreateSegment(request)
        again = await campaign.stub.CreateSegment(request)
        assert first == again and first.segment.segment_id.startswith("seg-")
        segment_id = first.segment.segment_id
        listed = await campaign.stub.ListSegments(
            campaign_pb2.ListSegmentsRequest(program_id=PROGRAM)
        )
        assert [s.segment_id for s in listed.segments] == [segment_id]
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await create_segment(campaign, segment(segment_id, monetary(7, 100)))
        assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS

        compute_request = campaign_pb2.ComputeSegmentRequest(
            program_id=PROGRAM, idempotency_key="compute-1", segment_id=segment_id
        )
        computed = await campaign.stub.ComputeSegment(compute_request)
        assert (computed.member_count, computed.joined_count) == (1, 1)
        assert await campaign.stub.ComputeSegment(compute_request) == computed
        # A second computation with a new key changes nothing.
        assert (await compute(campaign, segment_id)).joined_count == 0

        update = campaign_pb2.UpdateSegmentRequest(
            program_id=PROGRAM,
            idempotency_key="update-1",
            segment=segment(segment_id, monetary(7, 50_000)),
        )
        updated = await campaign.stub.UpdateSegment(update)
        assert await campaign.stub.UpdateSegment(update) == updated
        assert updated.segment.conditions[0].monetary.spend_min.amount_minor == 50_000
        recomputed = await compute(campaign, segment_id)
        assert (recomputed.member_count, recomputed.left_count) == (0, 1)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await campaign.stub.UpdateSegment(
                campaign_pb2.UpdateSegmentRequest(
                    program_id=PROGRAM,
                    idempotency_key=key(),
                    segment=segment("nope", monetary(7, 1)),
                )
            )
        assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def newsletter_segment(campaign, servers, nats_namespace: str) -> None:  # type: ignore[no-untyped-def]
    """The segment "newsletter" of the members with e-mail consent: vip1 and vip2, not plain."""
    await publish(
        servers.nats_url,
        nats_namespace,
        "identity.member_enrolled",
        enrolled("vip1", EMAIL),
        enrolled("vip2", EMAIL),
        enrolled("plain"),
    )
    await create_segment(campaign, segment("newsletter", consented(EMAIL)))

    async def newsletter_count() -> int:
        return (await compute(campaign, "newsletter")).member_count

    assert await eventually(newsletter_count, 2) == 2


async def test_an_earning_rule_restricted_to_a_segment(
    start_service, servers, nats_namespace
) -> None:
    async with ledger_and_campaign(start_service, segments_enabled=False) as (ledger, campaign):
        await newsletter_segment(campaign, servers, nats_namespace)
        typo = earning("typo", fixed_bonus_points=5)
        typo.segment_ids.append("Not Valid")
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await campaign.live(typo)
        assert field_of(error.value) == "rule.segment_ids[0]"
        typo.segment_ids[0] = "no-such-segment"
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await campaign.live(typo)
        assert field_of(error.value) == "rule.segment_ids[0]"
        await campaign.live(earning("base", rate=rate(1, 100)))
        bonus = earning("newsletter_bonus", fixed_bonus_points=50)
        bonus.segment_ids.append("newsletter")
        await campaign.live(bonus)

        vip = await campaign.purchase("vip1", "p1", 1_000, at=now())
        plain = await campaign.purchase("plain", "p2", 1_000, at=now())
        assert (vip.accrual.points, plain.accrual.points) == (60, 10)
        assert [a.rule_id for a in vip.accrual.applications] == ["base", "newsletter_bonus"]
        await campaign.ingest(
            batch("b1", [("p3", "vip2", 2_000, now()), ("p4", "plain", 2_000, now())])
        )
        for member, points in (("vip1", 60), ("plain", 10)):
            preview = await campaign.stub.PreviewBasket(
                campaign_pb2.PreviewBasketRequest(
                    program_id=PROGRAM,
                    member_id=member,
                    amount=eur(1_000),
                    channel=common_pb2.CHANNEL_POS,
                )
            )
            assert preview.points == points, member
        assert await available(ledger, "vip1") == 60
        assert await available(ledger, "vip2") == 70
        assert await available(ledger, "plain") == 30


async def test_the_refresh_job_moves_time_relative_segments_with_the_clock(start_service) -> None:
    async with ledger_and_campaign(start_service, segments_enabled=False) as (_, campaign):
        await campaign.purchase("ann", "a1", 1_000, at=now() - dt.timedelta(days=2))
        await create_segment(
            campaign,
            segment(
                "recent",
                segments_pb2.SegmentCondition(
                    recency=segments_pb2.RecencyCondition(days_since_purchase_max=7)
                ),
                refresh_interval_seconds=3_600,
            ),
        )
        job = SegmentRefresh(
            campaign.service.runtime.pool,
            campaign.ledger_client(),
            None,
        )
        # Never computed: the first pass computes it.
        assert (await job.run_once(now()))["segments"] == 1
        assert await segments_of(campaign, "ann") == ["recent"]
        # Within the interval nothing is due; six days later ann's purchase is 8 days old.
        assert (await job.run_once(now() + dt.timedelta(minutes=30)))["segments"] == 0
        assert (await job.run_once(now() + dt.timedelta(days=6)))["segments"] == 1
        assert await segments_of(campaign, "ann") == []
        # A purchase marks ann; the next pass re-evaluates her alone and she is back.
        await campaign.purchase("ann", "a2", 1_000, at=now())
        assert (await job.run_once(now()))["members"] == 1
        assert await segments_of(campaign, "ann") == ["recent"]


async def test_a_merged_member_leaves_its_segments(start_service, servers, nats_namespace) -> None:
    async with ledger_and_campaign(start_service, segments_interval_ms=200) as (_, campaign):
        await create_segment(campaign, segment("newsletter", consented(EMAIL)))
        await publish(
            servers.nats_url,
            nats_namespace,
            "identity.member_enrolled",
            enrolled("card-only", EMAIL),
            enrolled("app-user", EMAIL),
        )

        async def both() -> list[list[str]]:
            return [await segments_of(campaign, m) for m in ("card-only", "app-user")]

        assert await eventually(both, [["newsletter"], ["newsletter"]]) == [
            ["newsletter"],
            ["newsletter"],
        ]
        await publish(
            servers.nats_url,
            nats_namespace,
            "identity.member_merged",
            events_pb2.Event(
                member_merged=events_pb2.MemberMerged(
                    survivor_member_id="app-user", merged_member_id="card-only"
                )
            ),
        )
        assert await eventually(both, [[], ["newsletter"]]) == [[], ["newsletter"]]
        got = await campaign.stub.GetSegment(
            campaign_pb2.GetSegmentRequest(program_id=PROGRAM, segment_id="newsletter")
        )
        assert got.segment.member_count == 1


async def test_a_mission_restricted_to_a_segment(start_service, servers, nats_namespace) -> None:
    async with ledger_and_campaign(start_service, segments_enabled=False) as (ledger, campaign):
        await newsletter_segment(campaign, servers, nats_namespace)
        await campaign.live(earning("base", rate=rate(1, 100)))
        first_buy = engagement_pb2.Mission(
            mission_id="first-buy",
            name="First purchase",
            reward_points=100,
            steps=[
                engagement_pb2.MissionStep(
                    step_code="buy", purchase=engagement_pb2.PurchaseRequirement()
                )
            ],
            segment_ids=["no-such-segment"],
        )

        async def create_mission() -> None:
            await campaign.stub.CreateMission(
                campaign_pb2.CreateMissionRequest(
                    program_id=PROGRAM, idempotency_key=key(), mission=first_buy
                )
            )

        with pytest.raises(grpc.aio.AioRpcError) as error:
            await create_mission()
        assert field_of(error.value) == "mission.segment_ids[0]"
        first_buy.segment_ids[0] = "newsletter"
        await create_mission()

        await campaign.purchase("vip1", "p1", 1_000, at=now())
        await campaign.purchase("plain", "p2", 1_000, at=now())
        await campaign.ingest(
            batch("b1", [("p3", "vip2", 2_000, now()), ("p4", "plain", 2_000, now())])
        )
        # The mission's 100 points went to the segment's members only.
        assert await available(ledger, "vip1") == 10 + 100
        assert await available(ledger, "vip2") == 20 + 100
        assert await available(ledger, "plain") == 10 + 20

        async def missions_of(member: str) -> dict[str, int]:
            response = await campaign.stub.GetMissionProgress(
                campaign_pb2.GetMissionProgressRequest(program_id=PROGRAM, member_id=member)
            )
            return {p.mission_id: p.state for p in response.progresses}

        assert await missions_of("vip1") == {
            "first-buy": engagement_pb2.MISSION_PROGRESS_STATE_COMPLETED
        }
        # Outside the segment, the mission is not the member's.
        assert await missions_of("plain") == {}


async def test_windows_of_days_count_local_days_across_a_change_of_the_clocks(
    start_service,
) -> None:
    """A segment's "purchased in the last 30 days" counts from the same local time 30 days
    before, in the program's time zone (Europe/Amsterdam). At 12:00 on 10 April 2026 that is
    12:00 on 11 March, winter time: a purchase at 11:30 that day is out. 30 x 24 hours went back
    to 11:00 and took it in. At 12:00 on 10 November it is 12:00 on 11 October, summer time: a
    purchase at 12:30 is in; 30 x 24 hours went back to 13:00 and left it out. The job runs on
    those clocks; "days since the last purchase" counts the same way."""

    def amsterdam(*fields: int) -> dt.datetime:
        return dt.datetime(*fields, tzinfo=ZoneInfo("Europe/Amsterdam")).astimezone(dt.UTC)

    async with ledger_and_campaign(start_service, segments_enabled=False) as (_, campaign):
        purchases = {
            "march-early": amsterdam(2026, 3, 11, 11, 30),
            "march-late": amsterdam(2026, 3, 11, 12, 30),
            "october-early": amsterdam(2026, 10, 11, 11, 30),
            "october-late": amsterdam(2026, 10, 11, 12, 30),
        }
        for member, at in purchases.items():
            await campaign.purchase(member, f"{member}-1", 1_000, at=at)
        for made in (
            segment(
                "bought",
                segments_pb2.SegmentCondition(
                    frequency=segments_pb2.FrequencyCondition(window_days=30, purchases_min=1)
                ),
                refresh_interval_seconds=3_600,
            ),
            segment(
                "recent",
                segments_pb2.SegmentCondition(
                    recency=segments_pb2.RecencyCondition(days_since_purchase_max=30)
                ),
                refresh_interval_seconds=3_600,
            ),
        ):
            await create_segment(campaign, made)
        job = SegmentRefresh(campaign.service.runtime.pool, campaign.ledger_client(), None)

        await job.run_once(amsterdam(2026, 4, 10, 12, 0))
        assert await segments_of(campaign, "march-early") == []
        assert sorted(await segments_of(campaign, "march-late")) == ["bought", "recent"]
        await job.run_once(amsterdam(2026, 11, 10, 12, 0))
        assert await segments_of(campaign, "october-early") == []
        assert sorted(await segments_of(campaign, "october-late")) == ["bought", "recent"]
