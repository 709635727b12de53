"""Surprise and recognition: birthdays (29 February, the program's time zone), milestones and the
top members of the month, each given once; and Backtest, which changes nothing."""

import asyncio
import datetime as dt

import grpc
import nats
import pytest

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2, rules_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from services.campaign.ledger_client import LedgerClient
from services.campaign.recognition import Recognition
from tests.services.campaign.support import (
    PROGRAM,
    available,
    batch,
    earning,
    eur,
    ledger_and_campaign,
    rate,
    ts,
)

APRIL = dt.datetime(2025, 4, 10, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
async def services(start_service):
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(), qualifying=True))
        await campaign.configure_recognition(
            engagement_pb2.RecognitionConfig(
                birthday_bonus_points=250,
                milestones=[
                    engagement_pb2.Milestone(
                        code="second",
                        kind=engagement_pb2.MILESTONE_KIND_NTH_PURCHASE,
                        threshold=2,
                        points=25,
                    ),
                    engagement_pb2.Milestone(
                        code="big-spender",
                        kind=engagement_pb2.MILESTONE_KIND_SPEND_THRESHOLD,
                        threshold=10_000,
                        points=0,
                        badge_code="big-spender",
                    ),
                ],
                top_members_of_month=engagement_pb2.TopMembersOfMonth(
                    count=1, points=500, basis=engagement_pb2.TOP_MEMBERS_BASIS_SPEND
                ),
            )
        )
        yield ledger, campaign


async def enrol(servers, namespace: str, member: str, birthday: tuple[int, int, int]) -> None:  # type: ignore[no-untyped-def]
    event = events_pb2.Event(
        event_id=f"00000000-0000-0000-0000-{abs(hash(member)) % 10**12:012d}",
        program_id=PROGRAM,
        member_enrolled=events_pb2.MemberEnrolled(
            member_id=member,
            entry_tier_code="member",
            birthday=common_pb2.LocalDate(year=birthday[0], month=birthday[1], day=birthday[2]),
        ),
    )
    await publish(servers, f"{namespace}.identity.member_enrolled", event)


async def publish(servers, subject: str, *events: events_pb2.Event) -> None:  # type: ignore[no-untyped-def]
    client = await nats.connect(servers.nats_url)
    try:
        for event in events:
            await client.jetstream().publish(
                subject, event.SerializeToString(), headers={"Nats-Msg-Id": event.event_id}
            )
    finally:
        await client.close()


async def test_birthdays_in_the_program_time_zone_with_29_february_once_a_year(
    services, servers, nats_namespace
) -> None:
    ledger, campaign = services
    await enrol(servers, nats_namespace, "leap", (2000, 2, 29))
    await enrol(servers, nats_namespace, "march", (1990, 3, 1))
    pool = campaign.service.runtime.pool
    for _ in range(100):
        if (
            await pool.fetchval("SELECT count(*) FROM members WHERE birthday_month IS NOT NULL")
            == 2
        ):
            break
        await asyncio.sleep(0.05)
    jobs = campaign.recognition()
    # 23:30 UTC on 27 February is already 28 February in Amsterdam: the leap-day member's day.
    assert (await jobs.run_once(dt.datetime(2025, 2, 27, 23, 30, tzinfo=dt.UTC)))["birthday"] == 1
    assert (await jobs.run_once(dt.datetime(2025, 2, 28, 12, 0, tzinfo=dt.UTC)))["birthday"] == 0
    assert (await jobs.run_once(dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)))["birthday"] == 1
    # In a leap year the leap-day member waits for 29 February.
    assert (await jobs.run_once(dt.datetime(2028, 2, 28, 12, 0, tzinfo=dt.UTC)))["birthday"] == 0
    assert (await jobs.run_once(dt.datetime(2028, 2, 29, 12, 0, tzinfo=dt.UTC)))["birthday"] == 1
    assert await available(ledger, "leap") == 500 and await available(ledger, "march") == 250


async def test_birthdays_missed_while_the_job_did_not_run_are_caught_up(
    services, servers, nats_namespace
) -> None:
    ledger, campaign = services
    birthdays = {"before": (6, 8), "missed": (6, 10), "today": (6, 11), "new-year": (12, 31)}
    for member, (month, day) in birthdays.items():
        await enrol(servers, nats_namespace, member, (1990, month, day))
    pool = campaign.service.runtime.pool
    for _ in range(100):
        if await pool.fetchval(
            "SELECT count(*) FROM members WHERE birthday_month IS NOT NULL"
        ) == len(birthdays):
            break
        await asyncio.sleep(0.05)
    jobs = campaign.recognition()
    # The job's first run gives today's birthdays only, not those of the days before it.
    assert (await jobs.run_once(dt.datetime(2025, 6, 9, 12, 0, tzinfo=dt.UTC)))["birthday"] == 0
    # Down on 10 June (Amsterdam time); the first run on the 11th gives that day's birthday too.
    assert (await jobs.run_once(dt.datetime(2025, 6, 11, 7, 0, tzinfo=dt.UTC)))["birthday"] == 2
    assert (await jobs.run_once(dt.datetime(2025, 6, 11, 8, 0, tzinfo=dt.UTC)))["birthday"] == 0
    assert [await available(ledger, m) for m in ("before", "missed", "today")] == [0, 250, 250]
    # 31 December missed: caught up on 1 January as 2025's bonus, so 2026's is still given.
    assert (await jobs.run_once(dt.datetime(2025, 12, 30, 12, 0, tzinfo=dt.UTC)))["birthday"] == 0
    assert (await jobs.run_once(dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)))["birthday"] == 1
    assert (await jobs.run_once(dt.datetime(2026, 12, 31, 12, 0, tzinfo=dt.UTC)))["birthday"] == 1
    assert await available(ledger, "new-year") == 500


async def test_milestones_and_the_top_member_of_the_month_are_given_once(services) -> None:
    ledger, campaign = services
    await campaign.ingest(
        batch(
            "april",
            [
                ("t1", "ann", 6_000, APRIL, ""),
                ("t2", "ann", 6_000, APRIL, ""),  # the second purchase; 120 EUR spent
                ("t3", "bob", 9_000, APRIL, ""),
                ("t4", "cat", 500, APRIL + dt.timedelta(days=25), ""),  # in May, Amsterdam time
            ],
        )
    )
    assert await available(ledger, "ann") == 120 + 25
    jobs = campaign.recognition()
    # The job runs in April, as it does every few minutes: top-N has been on since then.
    assert (await jobs.run_once(APRIL))["top_of_month"] == 0
    assert (await jobs.run_once(dt.datetime(2025, 5, 1, 8, 0, tzinfo=dt.UTC)))["top_of_month"] == 1
    assert (await jobs.run_once(dt.datetime(2025, 5, 20, 8, 0, tzinfo=dt.UTC)))["top_of_month"] == 0
    assert await available(ledger, "ann") == 120 + 25 + 500
    assert await available(ledger, "bob") == 90
    # A purchase replayed in another batch reaches no milestone again.
    await campaign.ingest(batch("again", [("t2", "ann", 6_000, APRIL, "")]))
    await campaign.purchase("ann", "t5", 100, at=APRIL)
    assert await available(ledger, "ann") == 120 + 25 + 500 + 1


async def test_backtest_replays_a_draft_over_stored_purchases_and_changes_nothing(services) -> None:
    ledger, campaign = services
    await campaign.ingest(
        batch(
            "history",
            [
                ("t1", "ann", 10_000, APRIL, "shoes"),
                ("t2", "bob", 2_000, APRIL, "books"),
                ("t3", "cat", 4_000, APRIL, "shoes"),
                ("t4", "ann", 1_000, APRIL + dt.timedelta(days=40), "shoes"),  # outside the period
            ],
        )
    )
    before = {m: await available(ledger, m) for m in ("ann", "bob", "cat")}
    draft = earning(
        "shoes-promo",
        rate=rate(),
        categories=["shoes"],
        multipliers=[rules_pb2.Multiplier(category="shoes", multiplier_bps=30_000)],
        caps=rules_pb2.EarningCaps(per_member_month_points_max=200),
    )
    result = await campaign.stub.Backtest(
        campaign_pb2.BacktestRequest(
            program_id=PROGRAM,
            rule_draft=draft,
            start_time=ts(dt.datetime(2025, 4, 1, tzinfo=dt.UTC)),
            end_time=ts(dt.datetime(2025, 5, 1, tzinfo=dt.UTC)),
            cost_per_thousand_points=eur(1_000),
            top_members_count=5,
        )
    )
    # ann: 100 EUR of shoes at 3x = 300, capped at 200 a month; cat: 40 EUR at 3x = 120.
    assert (result.transactions_count, result.rewarded_transactions_count) == (3, 2)
    assert (result.points_total, result.members_rewarded_count, result.baseline_points_total) == (
        320,
        2,
        160,
    )
    assert [(m.member_id, m.points) for m in result.top_members] == [("ann", 200), ("cat", 120)]
    assert result.cost == eur(320)
    assert [b.member_count for b in result.distribution] == [0, 0, 2, 0, 0, 0]
    assert {m: await available(ledger, m) for m in ("ann", "bob", "cat")} == before
    stored = await campaign.stub.Backtest(
        campaign_pb2.BacktestRequest(
            program_id=PROGRAM,
            rule_ref="base@1",
            start_time=ts(dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
        )
    )
    assert stored.points_total == stored.baseline_points_total == 100 + 20 + 40 + 10


async def test_milestones_configured_later_count_the_purchases_before(services) -> None:
    ledger, campaign = services
    await campaign.configure_recognition(engagement_pb2.RecognitionConfig())
    await campaign.ingest(
        batch("before", [("t1", "dan", 1_000, APRIL, ""), ("t2", "dan", 1_000, APRIL, "")])
    )
    await campaign.configure_recognition(
        engagement_pb2.RecognitionConfig(
            milestones=[
                engagement_pb2.Milestone(
                    code="third",
                    kind=engagement_pb2.MILESTONE_KIND_NTH_PURCHASE,
                    threshold=3,
                    points=30,
                )
            ]
        )
    )
    await campaign.purchase("dan", "t3", 1_000, at=APRIL)
    assert await available(ledger, "dan") == 10 + 10 + 10 + 30


async def test_a_birthday_change_redelivered_late_does_not_undo_a_later_one(
    services, servers, nats_namespace
) -> None:
    _, campaign = services
    enrolled_at = dt.datetime(2025, 1, 5, 9, 0, tzinfo=dt.UTC)

    def event(number: int, at: dt.datetime, **payload) -> events_pb2.Event:  # type: ignore[no-untyped-def]
        made = events_pb2.Event(
            event_id=f"00000000-0000-0000-0000-{number:012d}", program_id=PROGRAM, **payload
        )
        made.occurred_at.FromDatetime(at)
        return made

    def updated(number: int, at: dt.datetime, month: int, day: int) -> events_pb2.Event:
        return event(
            number,
            at,
            member_updated=events_pb2.MemberUpdated(
                member_id="ann",
                changed_fields=["birthday"],
                birthday=common_pb2.LocalDate(year=1990, month=month, day=day),
            ),
        )

    enrolment = event(
        700,
        enrolled_at,
        member_enrolled=events_pb2.MemberEnrolled(
            member_id="ann",
            entry_tier_code="member",
            birthday=common_pb2.LocalDate(year=1990, month=1, day=1),
        ),
    )
    # The newest change arrives first; the enrolment and an older change come back after it.
    await publish(
        servers,
        f"{nats_namespace}.identity.member_updated",
        updated(702, enrolled_at + dt.timedelta(days=2), 7, 14),
    )
    pool = campaign.service.runtime.pool

    async def birthday() -> tuple[int, int] | None:
        row = await pool.fetchrow(
            "SELECT birthday_month, birthday_day FROM members WHERE program_id = $1 "
            "AND member_id = 'ann'",
            PROGRAM,
        )
        return None if row is None else (row["birthday_month"], row["birthday_day"])

    for _ in range(200):
        if await birthday() == (7, 14):
            break
        await asyncio.sleep(0.05)
    assert await birthday() == (7, 14)
    await publish(servers, f"{nats_namespace}.identity.member_enrolled", enrolment)
    await publish(
        servers,
        f"{nats_namespace}.identity.member_updated",
        updated(701, enrolled_at + dt.timedelta(days=1), 3, 3),
    )
    # Then a change for another member: the consumer handles the stream's messages in order, so
    # once that one is applied the late ones have been handled too.
    sentinel = updated(703, enrolled_at, 5, 5)
    sentinel.member_updated.member_id = "bob"
    await publish(servers, f"{nats_namespace}.identity.member_updated", sentinel)
    for _ in range(200):
        if await pool.fetchval(
            "SELECT birthday_month FROM members WHERE program_id = $1 AND member_id = 'bob'",
            PROGRAM,
        ):
            break
        await asyncio.sleep(0.05)
    enrolled = await pool.fetchval(
        "SELECT enrolled_at FROM members WHERE program_id = $1 AND member_id = 'ann'", PROGRAM
    )
    assert enrolled == enrolled_at
    assert await birthday() == (7, 14)


async def test_the_signup_bonus_is_given_once_on_enrolment(
    services, servers, nats_namespace
) -> None:
    ledger, campaign = services
    await campaign.configure_recognition(engagement_pb2.RecognitionConfig(signup_bonus_points=150))

    def enrolment(number: int, member: str) -> events_pb2.Event:
        return events_pb2.Event(
            event_id=f"00000000-0000-0000-0000-{number:012d}",
            program_id=PROGRAM,
            member_enrolled=events_pb2.MemberEnrolled(member_id=member, entry_tier_code="member"),
        )

    # The same enrolment told twice (another event id) gives one bonus; then a sentinel member.
    await publish(
        servers,
        f"{nats_namespace}.identity.member_enrolled",
        enrolment(801, "newbie"),
        enrolment(802, "newbie"),
        enrolment(803, "sentinel"),
    )
    for _ in range(200):
        if await available(ledger, "sentinel") == 150:
            break
        await asyncio.sleep(0.05)
    assert await available(ledger, "sentinel") == 150
    assert await available(ledger, "newbie") == 150


async def test_a_merged_member_gets_no_birthday_bonus_and_no_top_place(
    services, servers, nats_namespace
) -> None:
    _, campaign = services
    await enrol(servers, nats_namespace, "gone", (1990, 5, 2))
    await campaign.ingest(
        batch("april", [("g1", "gone", 9_000, APRIL, ""), ("a1", "ann", 6_000, APRIL, "")])
    )
    await publish(
        servers,
        f"{nats_namespace}.identity.member_merged",
        events_pb2.Event(
            event_id="00000000-0000-0000-0000-000000000001",
            program_id=PROGRAM,
            member_merged=events_pb2.MemberMerged(
                survivor_member_id="ann", merged_member_id="gone"
            ),
        ),
    )
    pool = campaign.service.runtime.pool
    for _ in range(100):
        if await pool.fetchval("SELECT merged_into FROM members WHERE member_id = 'gone'"):
            break
        await asyncio.sleep(0.05)
    jobs = campaign.recognition()
    assert (await jobs.run_once(APRIL))["top_of_month"] == 0  # top-N on in April
    given = await jobs.run_once(dt.datetime(2025, 5, 2, 8, 0, tzinfo=dt.UTC))
    assert (given["top_of_month"], given["birthday"]) == (1, 0)
    awards = await pool.fetch("SELECT member_id, kind FROM bonus_awards ORDER BY member_id, kind")
    # The top spender of April was merged away: the place goes to the next one.
    assert [tuple(row) for row in awards] == [("ann", "top_of_month")]


async def test_a_settle_delay_lets_late_uploads_of_the_months_last_day_count(services) -> None:
    _, campaign = services
    await campaign.configure_recognition(
        engagement_pb2.RecognitionConfig(
            top_members_of_month=engagement_pb2.TopMembersOfMonth(
                count=1,
                points=500,
                basis=engagement_pb2.TOP_MEMBERS_BASIS_SPEND,
                settle_delay_hours=24,
            )
        )
    )
    last_evening = dt.datetime(2025, 4, 30, 19, 0, tzinfo=dt.UTC)  # 21:00 in Amsterdam
    await campaign.ingest(batch("april", [("o1", "early", 6_000, APRIL, "")]))
    jobs = campaign.recognition()
    assert (await jobs.run_once(APRIL))["top_of_month"] == 0  # top-N on in April
    # 1 May, 10:00 in Amsterdam: April ended 10 hours ago, within the delay.
    assert (await jobs.run_once(dt.datetime(2025, 5, 1, 8, 0, tzinfo=dt.UTC)))["top_of_month"] == 0
    # The store's file for 30 April comes in during the night of 1 May.
    await campaign.ingest(batch("night", [("n1", "late", 9_000, last_evening, "")]))
    assert (await jobs.run_once(dt.datetime(2025, 5, 2, 8, 0, tzinfo=dt.UTC)))["top_of_month"] == 1
    pool = campaign.service.runtime.pool
    awarded = await pool.fetch(
        "SELECT member_id, period FROM bonus_awards WHERE kind = 'top_of_month'"
    )
    assert [tuple(row) for row in awarded] == [("late", "2025-04")]


def top_n(points: int = 500) -> engagement_pb2.RecognitionConfig:
    return engagement_pb2.RecognitionConfig(
        top_members_of_month=engagement_pb2.TopMembersOfMonth(
            count=1, points=points, basis=engagement_pb2.TOP_MEMBERS_BASIS_SPEND
        )
    )


def day_2025(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, 0, tzinfo=dt.UTC)


async def top_awards(campaign) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    rows = await campaign.service.runtime.pool.fetch(
        "SELECT member_id, period FROM bonus_awards WHERE kind = 'top_of_month' ORDER BY period"
    )
    return [tuple(row) for row in rows]


async def top_start(campaign) -> dt.datetime | None:  # type: ignore[no-untyped-def]
    return await campaign.service.runtime.pool.fetchval("SELECT since FROM top_of_month_starts")


async def test_top_n_switched_on_mid_month_pays_that_month_and_not_the_one_before(
    services,
) -> None:
    ledger, campaign = services
    await campaign.configure_recognition(engagement_pb2.RecognitionConfig())
    await campaign.ingest(
        batch(
            "autumn",
            [
                ("o1", "october", 9_000, day_2025(10, 20), ""),
                ("n1", "early", 6_000, day_2025(11, 3), ""),  # before the switch, in its month
                ("n2", "late", 3_000, day_2025(11, 20), ""),
            ],
        )
    )
    jobs = campaign.recognition()
    assert (await jobs.run_once(day_2025(10, 25)))["top_of_month"] == 0
    # Switched on on 15 November; the job's next run, minutes later, does not settle October.
    await campaign.configure_recognition(top_n())
    assert (await jobs.run_once(day_2025(11, 15, hour=9)))["top_of_month"] == 0
    assert (await jobs.run_once(day_2025(11, 16)))["top_of_month"] == 0
    assert (await jobs.run_once(day_2025(12, 1, hour=8)))["top_of_month"] == 1
    assert await top_awards(campaign) == [("early", "2025-11")]
    assert await available(ledger, "early") == 60 + 500
    assert await available(ledger, "october") == 90


@pytest.mark.parametrize(
    ("first_run", "paid"),
    [
        # 23:30 on 31 October in Amsterdam (UTC+1 since the 26th): switched on in October.
        (dt.datetime(2025, 10, 31, 22, 30, tzinfo=dt.UTC), ["2025-10", "2025-11"]),
        # Still 31 October in UTC, but 00:30 on 1 November in Amsterdam: November is the first.
        (dt.datetime(2025, 10, 31, 23, 30, tzinfo=dt.UTC), ["2025-11"]),
    ],
)
async def test_the_month_switched_on_in_is_the_programs_local_month(
    services, first_run: dt.datetime, paid: list[str]
) -> None:
    _, campaign = services
    await campaign.ingest(
        batch(
            "autumn",
            [
                ("o1", "ann", 5_000, day_2025(10, 10), ""),
                ("n1", "ann", 5_000, day_2025(11, 10), ""),
            ],
        )
    )
    jobs = campaign.recognition()
    assert (await jobs.run_once(first_run))["top_of_month"] == 0
    await jobs.run_once(day_2025(11, 1, hour=8))
    await jobs.run_once(day_2025(12, 1, hour=8))
    assert [period for _, period in await top_awards(campaign)] == paid


async def test_top_n_switched_off_and_on_again_skips_the_months_it_was_off(services) -> None:
    ledger, campaign = services
    await campaign.ingest(
        batch(
            "spring",
            [
                (f"t{month}", name, 1_000, day_2025(month, 20), "")
                for month, name in enumerate(["jan", "feb", "mar", "apr", "may"], start=1)
            ],
        )
    )
    jobs = campaign.recognition()
    assert (await jobs.run_once(day_2025(1, 10)))["top_of_month"] == 0
    assert (await jobs.run_once(day_2025(2, 1)))["top_of_month"] == 1  # January's
    await campaign.configure_recognition(engagement_pb2.RecognitionConfig())  # off on 10 February
    for off in (day_2025(2, 15), day_2025(3, 1), day_2025(4, 1)):
        assert (await jobs.run_once(off))["top_of_month"] == 0
    assert await top_start(campaign) is None
    # On again on 10 April: March, which ended while it was off, is not paid.
    await campaign.configure_recognition(top_n())
    assert (await jobs.run_once(day_2025(4, 10)))["top_of_month"] == 0
    # Changing only its points keeps the start: April is paid, with the new points.
    await campaign.configure_recognition(top_n(points=700))
    assert (await jobs.run_once(day_2025(4, 20)))["top_of_month"] == 0
    assert await top_start(campaign) == day_2025(4, 10)
    assert (await jobs.run_once(day_2025(5, 1)))["top_of_month"] == 1
    assert await top_awards(campaign) == [("jan", "2025-01"), ("apr", "2025-04")]
    assert await available(ledger, "apr") == 10 + 700
    # Off and on again with no run in between starts afresh too: May ended before the new start.
    assert (await jobs.run_once(day_2025(5, 10)))["top_of_month"] == 0
    await campaign.configure_recognition(engagement_pb2.RecognitionConfig())
    await campaign.configure_recognition(top_n())
    assert (await jobs.run_once(day_2025(6, 2)))["top_of_month"] == 0
    assert await top_start(campaign) == day_2025(6, 2)
    assert await top_awards(campaign) == [("jan", "2025-01"), ("apr", "2025-04")]


async def test_replicas_racing_keep_one_start_and_pay_the_month_once(services) -> None:
    ledger, campaign = services
    await campaign.ingest(batch("november", [("n1", "ann", 5_000, day_2025(11, 3), "")]))
    replicas = [campaign.recognition() for _ in range(4)]
    # Their first runs after the switch, on clocks a few seconds apart.
    clocks = [day_2025(11, 15) + dt.timedelta(seconds=n) for n in range(len(replicas))]
    given = await asyncio.gather(*(r.run_once(at) for r, at in zip(replicas, clocks, strict=True)))
    assert [g["top_of_month"] for g in given] == [0] * len(replicas)
    start = await top_start(campaign)
    assert start in clocks
    # Later runs keep the first claim.
    await asyncio.gather(*(r.run_once(day_2025(11, 20)) for r in replicas))
    assert await top_start(campaign) == start
    december = day_2025(12, 1, hour=8)
    settled = await asyncio.gather(*(r.run_once(december) for r in replicas))
    assert sum(g["top_of_month"] for g in settled) == 1
    assert await top_awards(campaign) == [("ann", "2025-11")]
    assert await available(ledger, "ann") == 50 + 500


class HeldLedger(LedgerClient):
    """A replica's real ledger client that stalls before posting a batch (a slow network, a
    pause) until the test lets it go on."""

    def __init__(self, address: str) -> None:
        super().__init__(ledger_pb2_grpc.LedgerServiceStub(grpc.aio.insecure_channel(address)))
        self.posting = asyncio.Event()
        self.release = asyncio.Event()

    async def post_batches(
        self, requests: list[ledger_pb2.PostBatchRequest]
    ) -> list[ledger_pb2.PostBatchResponse]:
        self.posting.set()
        await self.release.wait()
        return await super().post_batches(requests)


async def test_two_replicas_running_the_birthday_job_at_once_count_each_birthday_once(
    services, servers, nats_namespace
) -> None:
    ledger, campaign = services
    members = [f"bday-{n}" for n in range(5)]
    for member in members:
        await enrol(servers, nats_namespace, member, (1990, 6, 11))
    pool = campaign.service.runtime.pool
    for _ in range(100):
        if await pool.fetchval(
            "SELECT count(*) FROM members WHERE birthday_month IS NOT NULL"
        ) == len(members):
            break
        await asyncio.sleep(0.05)
    now = dt.datetime(2025, 6, 11, 12, 0, tzinfo=dt.UTC)
    held = HeldLedger(campaign.ledger_address)
    # Replica A has recorded the birthdays and stalls before posting them; replica B runs
    # meanwhile and finds the same members (A has not committed), then waits for A's records.
    first = asyncio.create_task(Recognition(pool, held).run_once(now))
    await held.posting.wait()
    second = asyncio.create_task(campaign.recognition().run_once(now))
    try:
        for _ in range(600):
            if second.done() or await waiting_on_a_lock(pool):
                break
            await asyncio.sleep(0.05)
    finally:
        held.release.set()
    given = await asyncio.gather(first, second)
    assert sum(run["birthday"] for run in given) == len(members), given
    assert [await available(ledger, m) for m in members] == [250] * len(members)


async def waiting_on_a_lock(pool) -> bool:  # type: ignore[no-untyped-def]
    return bool(
        await pool.fetchval(
            "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
    )
