"""Identity, ledger and campaign as real processes on real PostgreSQL and NATS: a POS batch of
purchases and a return, a review, a referral, a social share and a birthday arrive; balances,
rule attribution and history are what was computed by hand; redelivered JetStream messages and
replayed batches change nothing.

The program: 1 point per euro (floor), shoes double, qualifying; a review earns 50 once approved;
a social share 10, once a day; a referral 300 for the referrer and 100 for the referred member
after the referred member's first purchase; a birthday 250. Points vest at once (no return window).

By hand:
- ann: t1 120.00 EUR shoes 240, t3 20.00 EUR books 20, referral of bob 300, return of 30.00 of
  t1's 120.00 -60 (a quarter of 240), share 10 (the second share that day is capped), review 50,
  birthday 250: 810.
- bob: t2 35.50 EUR books 35, referred 100, t4 10.00 EUR shoes 20: 155.
"""

import asyncio
import datetime as dt
import uuid
import zoneinfo
from collections.abc import AsyncIterator

import asyncpg
import grpc
import nats
import pytest

from deploy.local.cluster import LocalCluster, free_endpoints
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, engagement_pb2, rules_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from tests.conftest import ARTIFACTS
from tests.services.campaign.support import (
    PROGRAM,
    earning,
    engagement,
    ledger_postings,
    micros,
    rate,
)
from tests.services.ledger.test_programs import TIERS, program_config
from tests.support.calls import create_program

pytestmark = pytest.mark.slow
ZONE = zoneinfo.ZoneInfo("Europe/Amsterdam")
EARN, REVERSE = common_pb2.POSTING_KIND_EARN, common_pb2.POSTING_KIND_REVERSE
POSTED = campaign_pb2.INGEST_ITEM_STATUS_POSTED


@pytest.fixture
async def platform(servers, database_url, nats_namespace, request) -> AsyncIterator[LocalCluster]:
    running = LocalCluster(
        database_url=database_url,
        nats_url=servers.nats_url,
        namespace=nats_namespace,
        endpoints=free_endpoints(),
        log_dir=ARTIFACTS / "logs" / f"{request.node.name}-{uuid.uuid4().hex[:6]}",
        extra_env={"CAMPAIGN_RECOGNITION_INTERVAL_MS": "300", "LEDGER_JOBS_ENABLED": "false"},
    )
    try:
        await asyncio.to_thread(running.start, "identity", "ledger", "campaign")
        yield running
    finally:
        await asyncio.to_thread(running.stop)


async def eventually(check, *, timeout_s: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.1)


async def publish(servers, namespace: str, subject: str, event: events_pb2.Event) -> None:  # type: ignore[no-untyped-def]
    client = await nats.connect(servers.nats_url)
    try:
        # Every publish has a message id of its own, so JetStream keeps redeliveries as copies.
        await client.jetstream().publish(
            f"{namespace}.{subject}",
            event.SerializeToString(),
            headers={"Nats-Msg-Id": uuid.uuid4().hex},
        )
    finally:
        await client.close()


def activity_event(
    activity_id: str, member: str, kind: int, at: dt.datetime, **fields
) -> events_pb2.Event:  # type: ignore[no-untyped-def]
    event = events_pb2.Event(
        event_id=str(uuid.uuid4()),
        program_id=PROGRAM,
        activity_recorded=events_pb2.ActivityRecorded(
            activity_id=activity_id,
            member_id=member,
            kind=kind,
            channel=common_pb2.CHANNEL_SOCIAL,
            **fields,  # type: ignore[arg-type]
        ),
    )
    event.activity_recorded.occurred_at.FromDatetime(at)
    return event


async def test_purchases_returns_engagement_referral_and_birthday_end_to_end(
    platform: LocalCluster, servers, nats_namespace, database_url
) -> None:
    address = {name: endpoint.grpc_address for name, endpoint in platform.endpoints.items()}
    async with (
        grpc.aio.insecure_channel(address["identity"]) as identity_channel,
        grpc.aio.insecure_channel(address["ledger"]) as ledger_channel,
        grpc.aio.insecure_channel(address["campaign"]) as campaign_channel,
    ):
        identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
        ledger = ledger_pb2_grpc.LedgerServiceStub(ledger_channel)
        campaign = campaign_pb2_grpc.CampaignServiceStub(campaign_channel)
        await create_program(identity_channel, PROGRAM)
        await ledger.ConfigureProgram(
            ledger_pb2.ConfigureProgramRequest(
                program_id=PROGRAM,
                idempotency_key="configure",
                config=program_config(
                    PROGRAM, return_window_days=0, rounding_mode=common_pb2.ROUNDING_MODE_FLOOR
                ),
            )
        )
        await ledger.SetTierDefinitions(
            ledger_pb2.SetTierDefinitionsRequest(
                program_id=PROGRAM, idempotency_key="tiers", tiers=TIERS
            )
        )
        rules = [
            earning(
                "base",
                rate=rate(),
                multipliers=[rules_pb2.Multiplier(category="shoes", multiplier_bps=20_000)],
                qualifying=True,
            ),
            engagement(
                "review",
                activity_kind=common_pb2.ACTIVITY_KIND_REVIEW,
                points=50,
                requires_verification=True,
            ),
            engagement(
                "share",
                activity_kind=common_pb2.ACTIVITY_KIND_SOCIAL_SHARE,
                points=10,
                caps=rules_pb2.ActivityCaps(per_day_count_max=1),
            ),
            engagement(
                "referral",
                activity_kind=common_pb2.ACTIVITY_KIND_REFERRAL,
                points=300,
                referred_points=100,
                requires_first_purchase=True,
            ),
        ]
        for rule in rules:
            await campaign.CreateRule(
                campaign_pb2.CreateRuleRequest(
                    program_id=PROGRAM, idempotency_key=f"create-{rule.rule_id}", rule=rule
                )
            )
            await campaign.ActivateRule(
                campaign_pb2.ActivateRuleRequest(
                    program_id=PROGRAM,
                    idempotency_key=f"activate-{rule.rule_id}",
                    rule_id=rule.rule_id,
                    version=1,
                )
            )
        await campaign.ConfigureRecognition(
            campaign_pb2.ConfigureRecognitionRequest(
                program_id=PROGRAM,
                idempotency_key="recognition",
                config=engagement_pb2.RecognitionConfig(birthday_bonus_points=250),
            )
        )

        # Enrolment: ann's birthday is today in Amsterdam; bob enrols with ann's referral code.
        today = dt.datetime.now(ZONE).date()
        ann = (
            await identity.EnrollMember(
                identity_pb2.EnrollMemberRequest(
                    program_id=PROGRAM,
                    idempotency_key="enrol-ann",
                    channel=common_pb2.CHANNEL_APP,
                    profile=identity_pb2.Profile(
                        given_name="Ann",
                        birthday=common_pb2.LocalDate(year=1990, month=today.month, day=today.day),
                    ),
                    identifiers=[
                        identity_pb2.Identifier(
                            kind=common_pb2.IDENTIFIER_KIND_EMAIL, value="ann@example.com"
                        )
                    ],
                )
            )
        ).member
        bob = (
            await identity.EnrollMember(
                identity_pb2.EnrollMemberRequest(
                    program_id=PROGRAM,
                    idempotency_key="enrol-bob",
                    channel=common_pb2.CHANNEL_STORE,
                    profile=identity_pb2.Profile(given_name="Bob"),
                    identifiers=[
                        identity_pb2.Identifier(
                            kind=common_pb2.IDENTIFIER_KIND_EMAIL, value="bob@example.com"
                        )
                    ],
                    referral_code=ann.referral_code,
                )
            )
        ).member
        a, b = ann.member_id, bob.member_id

        async def referral_recorded() -> list[engagement_pb2.Activity]:
            listed = await campaign.ListActivities(
                campaign_pb2.ListActivitiesRequest(
                    program_id=PROGRAM, kind=common_pb2.ACTIVITY_KIND_REFERRAL
                )
            )
            return list(listed.activities)

        [referral] = await eventually(referral_recorded)
        assert (referral.member_id, referral.referred_member_id) == (a, b)
        assert referral.outcome == engagement_pb2.ACTIVITY_OUTCOME_PENDING

        async def balance(member: str) -> ledger_pb2.Balance:
            return (
                await ledger.GetBalance(
                    ledger_pb2.GetBalanceRequest(program_id=PROGRAM, member_id=member)
                )
            ).balance

        # The birthday job runs every 300 ms in the campaign process: ann's birthday is today.
        async def birthday_given() -> bool:
            return (await balance(a)).available_points == 250

        await eventually(birthday_given)

        # The POS batch: purchases, then a return of part of ann's shoes.
        now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
        purchases = campaign_pb2.IngestTransactionsRequest(
            program_id=PROGRAM,
            batch_id="pos-1",
            currency="EUR",
            transaction_ids=["t1", "t2", "t3"],
            member_ids=[a, b, a],
            amounts_minor=[12_000, 3_550, 2_000],
            channels=[common_pb2.CHANNEL_POS] * 3,
            store_ids=["amsterdam-1"] * 3,
            occurred_at_unix_micros=[micros(now)] * 3,
            categories=["shoes", "books", "books"],
        )
        returns = campaign_pb2.IngestTransactionsRequest(
            program_id=PROGRAM,
            batch_id="pos-2",
            currency="EUR",
            transaction_ids=["r1", "t4"],
            member_ids=[a, b],
            amounts_minor=[3_000, 1_000],
            channels=[common_pb2.CHANNEL_POS] * 2,
            occurred_at_unix_micros=[micros(now + dt.timedelta(minutes=1))] * 2,
            categories=["shoes", "shoes"],
            kinds=[campaign_pb2.TRANSACTION_KIND_RETURN, campaign_pb2.TRANSACTION_KIND_PURCHASE],
            original_transaction_ids=["t1", ""],
        )

        async def ingest() -> list[campaign_pb2.IngestTransactionsResponse]:
            async def stream() -> AsyncIterator[campaign_pb2.IngestTransactionsRequest]:
                yield purchases
                yield returns

            return [response async for response in campaign.IngestTransactions(stream())]

        first, second = await ingest()
        assert (list(first.statuses), list(first.points)) == ([POSTED] * 3, [240, 35, 20])
        assert (list(second.statuses), list(second.points)) == ([POSTED] * 2, [-60, 20])
        assert second.progress.points_total == 240 + 35 + 20 - 60 + 20

        # A review (held for verification) and two shares the same day, from the channels.
        review = activity_event(
            "review-1", a, common_pb2.ACTIVITY_KIND_REVIEW, now, url="https://shop/r/1"
        )
        shares = [
            activity_event(
                f"share-{i}",
                a,
                common_pb2.ACTIVITY_KIND_SOCIAL_SHARE,
                now,
                url="https://social/p/1",
            )
            for i in (1, 2)
        ]
        await publish(servers, nats_namespace, "activity.review", review)
        await publish(servers, nats_namespace, "activity.social_share", shares[0])

        async def activities_of_ann() -> dict[str, engagement_pb2.Activity]:
            listed = await campaign.ListActivities(
                campaign_pb2.ListActivitiesRequest(program_id=PROGRAM, member_id=a)
            )
            return {x.activity_id: x for x in listed.activities}

        await eventually(lambda: _has(activities_of_ann, "review-1", "share-1"))
        await publish(servers, nats_namespace, "activity.social_share", shares[1])
        await eventually(lambda: _has(activities_of_ann, "share-2"))
        found = await activities_of_ann()
        assert found["review-1"].outcome == engagement_pb2.ACTIVITY_OUTCOME_PENDING
        assert found["share-2"].outcome == engagement_pb2.ACTIVITY_OUTCOME_CAPPED
        await campaign.VerifyActivity(
            campaign_pb2.VerifyActivityRequest(
                program_id=PROGRAM,
                idempotency_key="approve-review-1",
                activity_id="review-1",
                decision=campaign_pb2.VERIFICATION_DECISION_APPROVE,
                verifier_id="moderator",
            )
        )

        async def all_given() -> bool:
            return (await balance(a)).available_points == 810

        await eventually(all_given)
        expected_ann = [
            (EARN, 250, f"birthday:{today.year}", "birthday"),
            (EARN, 240, "t1", "base@1"),
            (EARN, 20, "t3", "base@1"),
            (EARN, 300, f"referral:{b}:referrer", "referral@1"),
            (REVERSE, -60, "t1", "return"),
            (EARN, 10, "share-1", "share@1"),
            (EARN, 50, "review-1", "review@1"),
        ]
        expected_bob = [
            (EARN, 20, "t4", "base@1"),
            (EARN, 35, "t2", "base@1"),
            (EARN, 100, f"referral:{b}:referred", "referral@1"),
        ]
        assert await ledger_postings(database_url, a) == expected_ann
        # A batch's bonuses are posted once the ledger has answered for its purchases, so the next
        # batch's purchase (t4) may come before or after pos-1's referral.
        assert sorted(await ledger_postings(database_url, b)) == expected_bob
        assert ((await balance(a)).available_points, (await balance(b)).available_points) == (
            810,
            155,
        )

        # Redelivered messages and replayed batches change nothing.
        await publish(servers, nats_namespace, "activity.review", review)
        for share in shares:
            await publish(servers, nats_namespace, "activity.social_share", share)
        enrolled = events_pb2.Event(
            event_id=str(uuid.uuid4()),
            program_id=PROGRAM,
            member_enrolled=events_pb2.MemberEnrolled(
                member_id=b,
                referrer_member_id=a,
                referrer_referral_code=ann.referral_code,
                entry_tier_code="member",
            ),
        )
        await publish(servers, nats_namespace, "identity.member_enrolled", enrolled)
        again_first, again_second = await ingest()
        assert (list(again_first.points), list(again_second.points)) == ([240, 35, 20], [-60, 20])
        await _consumers_idle(database_url)
        assert await ledger_postings(database_url, a) == expected_ann
        assert sorted(await ledger_postings(database_url, b)) == expected_bob
        assert ((await balance(a)).available_points, (await balance(b)).available_points) == (
            810,
            155,
        )
        verified = await ledger.Verify(ledger_pb2.VerifyRequest(program_id=PROGRAM))
        assert not verified.differences and verified.program_sum_points == 0


async def _has(read, *activity_ids: str) -> bool:  # type: ignore[no-untyped-def]
    found = await read()
    return all(activity_id in found for activity_id in activity_ids)


async def _consumers_idle(database_url: str) -> None:
    """Wait until campaign's activity and member consumers have nothing left to handle."""
    client_url = database_url
    connection = await asyncpg.connect(client_url, server_settings={"search_path": "campaign"})
    try:
        # The redelivered copies are recorded as duplicates without a row of their own; give the
        # consumers a moment and check the activity rows did not change.
        await asyncio.sleep(1.5)
        count = await connection.fetchval("SELECT count(*) FROM activities")
        assert count == 4  # the referral, the review and the two shares
    finally:
        await connection.close()
