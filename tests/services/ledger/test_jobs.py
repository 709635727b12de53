"""Scheduled jobs and tiers: hold timeouts, expiry, vesting, notices, re-qualification, replicas."""

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import asyncpg
import grpc
import nats
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from services.ledger.jobs import EXPIRY_NOTICES, Jobs
from services.ledger.ledger import Ledger as LedgerBook
from tests.conftest import Servers
from tests.services.ledger.support import Ledger, batch, key, post, ts
from tests.services.ledger.test_grouped_earns import close_account
from tests.services.ledger.test_programs import TIERS


@pytest.fixture
async def service(start_service):
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (running, channel):
        client = Ledger(channel)
        await client.setup()
        yield running, client
        await client.assert_clean()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def run(ledger: Ledger, job: int) -> ledger_pb2.RunMaintenanceResponse:
    return await ledger.stub.RunMaintenance(
        ledger_pb2.RunMaintenanceRequest(program_id="acme", idempotency_key=key(), job=job)
    )


async def test_lapsed_holds_are_voided_and_their_points_return(service) -> None:
    _, ledger = service
    await ledger.earn("ann", 100)
    lapsing = await ledger.hold("ann", 40, ttl_seconds=1)
    lasting = await ledger.hold("ann", 10, ttl_seconds=600)
    await asyncio.sleep(1.1)
    result = await run(ledger, ledger_pb2.MAINTENANCE_JOB_HOLD_TIMEOUTS)
    assert (result.processed_count, result.affected_points) == (1, 40)
    hold = (
        await ledger.stub.GetHold(
            ledger_pb2.GetHoldRequest(program_id="acme", hold_id=lapsing.hold.hold_id)
        )
    ).hold
    assert hold.status == ledger_pb2.HOLD_STATUS_VOIDED and hold.void_reason == 2  # TIMEOUT
    balance = await ledger.balance("ann")
    assert (balance.available_points, balance.held_points) == (90, 10)
    await ledger.void(lasting.hold.hold_id)


async def test_the_expiry_job_expires_exactly_the_remaining_of_due_lots(
    service, database_url: str
) -> None:
    _, ledger = service
    await ledger.earn("ann", 70, expires_at=ts(now() + dt.timedelta(days=1)))
    await ledger.earn("ann", 30)
    await ledger.redeem("ann", 50)  # takes 50 of the 70 (earliest expiry first)
    connection = await asyncpg.connect(database_url)
    try:  # time travel, however slow the machine: the day has passed for the first lot
        moved = await connection.execute(
            "UPDATE ledger.lots SET expires_at = now() - interval '1 second' "
            "WHERE member_id = 'ann' AND expires_at < now() + interval '2 days'"
        )
        assert moved == "UPDATE 1"
    finally:
        await connection.close()
    result = await run(ledger, ledger_pb2.MAINTENANCE_JOB_EXPIRY)
    assert (result.processed_count, result.affected_points) == (1, 20)
    lots = await ledger.stub.ListLots(
        ledger_pb2.ListLotsRequest(program_id="acme", member_id="ann")
    )
    assert [lot.remaining_points for lot in lots.lots] == [30]
    assert (await run(ledger, ledger_pb2.MAINTENANCE_JOB_EXPIRY)).processed_count == 0


async def test_the_vesting_job_vests_lots_whose_window_passed(service, database_url: str) -> None:
    _, ledger = service
    await ledger.earn("ann", 25, vested=False, vests_at=ts(now() + dt.timedelta(days=1)))
    assert (await run(ledger, ledger_pb2.MAINTENANCE_JOB_VESTING)).processed_count == 0
    connection = await asyncpg.connect(database_url)
    try:  # time travel: the vesting window has passed (the account keeps its next vesting too)
        await connection.execute(
            "UPDATE ledger.lots SET vests_at = now() - interval '1 second' WHERE member_id = 'ann'"
        )
        await connection.execute(
            "UPDATE ledger.member_accounts SET next_vest_at = now() - interval '1 second' "
            "WHERE member_id = 'ann'"
        )
    finally:
        await connection.close()
    assert (await run(ledger, ledger_pb2.MAINTENANCE_JOB_VESTING)).processed_count == 1
    lots = await ledger.stub.ListLots(
        ledger_pb2.ListLotsRequest(program_id="acme", member_id="ann")
    )
    assert lots.lots[0].vesting_state == ledger_pb2.VESTING_STATE_VESTED


async def test_inactive_members_lose_their_points_under_an_inactivity_policy(
    service, database_url: str
) -> None:
    _, ledger = service
    await ledger.setup(
        expiry_policy=ledger_pb2.ExpiryPolicy(
            kind=ledger_pb2.EXPIRY_KIND_INACTIVITY_MONTHS, months=6
        )
    )
    await ledger.earn("ann", 80)
    await ledger.earn("bob", 5)
    connection = await asyncpg.connect(database_url)
    try:  # time travel: ann's last activity seven months ago
        await connection.execute(
            "UPDATE ledger.member_accounts SET last_activity_at = now() - interval '7 months' WHERE member_id = 'ann'"
        )
    finally:
        await connection.close()
    result = await run(ledger, ledger_pb2.MAINTENANCE_JOB_EXPIRY)
    assert (result.processed_count, result.affected_points) == (1, 80)
    assert (await ledger.balance("ann")).available_points == 0
    assert (await ledger.balance("bob")).available_points == 5


async def test_expiring_points_are_announced_once(
    service, servers: Servers, nats_namespace: str
) -> None:
    running, ledger = service
    await ledger.earn("ann", 60, expires_at=ts(now() + dt.timedelta(days=5)))
    await ledger.earn("ann", 15, expires_at=ts(now() + dt.timedelta(days=90)))
    first = await run(ledger, ledger_pb2.MAINTENANCE_JOB_EXPIRY_NOTICES)
    assert (first.processed_count, first.affected_points) == (1, 60)
    assert (await run(ledger, ledger_pb2.MAINTENANCE_JOB_EXPIRY_NOTICES)).processed_count == 0
    await running.relay.flush(timeout_s=10)
    client = await nats.connect(servers.nats_url)
    try:
        subscription = await client.jetstream().pull_subscribe(
            f"{nats_namespace}.ledger.points_expiring", stream=f"{nats_namespace}_ledger".upper()
        )
        [message] = await subscription.fetch(1, timeout=5)
        event = events_pb2.Event.FromString(message.data).points_expiring
        # Five days ahead of the expiry (the notice period is 30 days: when notices may start).
        assert (event.member_id, event.points, event.days_ahead) == ("ann", 60, 5)
    finally:
        await client.close()


async def test_tiers_go_down_only_at_requalification(service) -> None:
    _, ledger = service
    await ledger.earn("ann", 1_500, qualifying=True, source_reference="o1")
    assert (await ledger.balance("ann")).tier_code == "silver"
    await ledger.refund("ann", "o1", refunded=2, original=3)  # qualifying 1500 -> 500
    balance = await ledger.balance("ann")
    assert (balance.tier_code, balance.qualifying_amount) == ("silver", 500)
    result = await run(ledger, ledger_pb2.MAINTENANCE_JOB_TIER_REQUALIFICATION)
    assert result.processed_count == 1
    assert (await ledger.balance("ann")).tier_code == "member"
    history = await ledger.stub.GetTierHistory(
        ledger_pb2.GetTierHistoryRequest(program_id="acme", member_id="ann")
    )
    assert [(c.from_tier_code, c.to_tier_code, c.reason) for c in history.tier_changes] == [
        ("silver", "member", 3),  # re-qualification
        ("member", "silver", 2),  # threshold reached
    ]


async def test_evaluate_tiers_upgrades_without_requalify_and_downgrades_with_it(
    service, database_url: str
) -> None:
    _, ledger = service
    await ledger.earn("ann", 10, qualifying=True)
    await ledger.earn("bob", 6_000, qualifying=True)
    connection = await asyncpg.connect(database_url)
    try:  # stored counters out of step with the tiers, as after a change of tier definitions
        await connection.execute(
            "UPDATE ledger.member_accounts SET qualifying = 2000 WHERE member_id = 'ann'"
        )
        await connection.execute(
            "UPDATE ledger.member_accounts SET qualifying = 10 WHERE member_id = 'bob'"
        )
        await connection.execute(
            "UPDATE ledger.qualifying_days SET amount = 2000 WHERE member_id = 'ann'"
        )
        await connection.execute(
            "UPDATE ledger.qualifying_days SET amount = 10 WHERE member_id = 'bob'"
        )
    finally:
        await connection.close()
    plain = await ledger.stub.EvaluateTiers(
        ledger_pb2.EvaluateTiersRequest(program_id="acme", idempotency_key=key())
    )
    assert (plain.evaluated_count, plain.upgraded_count, plain.downgraded_count) == (2, 1, 0)
    requalified = await ledger.stub.EvaluateTiers(
        ledger_pb2.EvaluateTiersRequest(program_id="acme", idempotency_key=key(), requalify=True)
    )
    assert [(c.member_id, c.to_tier_code) for c in requalified.tier_changes] == [("bob", "member")]


async def test_evaluate_tiers_shows_at_most_1000_changes_and_counts_known_members_once(
    service,
) -> None:
    _, ledger = service
    members = [f"m{index:04d}" for index in range(1_005)]
    [posted] = await post(
        ledger,
        batch(
            "qualifying",
            [(member, 500, common_pb2.POSTING_KIND_EARN, f"q-{member}") for member in members],
            qualifying_flags=[True] * len(members),
        ),
    )
    assert set(posted.statuses) == {ledger_pb2.ITEM_STATUS_POSTED}
    # Silver now starts below what every member has, as after a change of tier definitions.
    silver = ledger_pb2.TierDefinition(code="silver", name="Silver", rank=1, threshold=400)
    lowered = [TIERS[0], silver, TIERS[2]]
    await ledger.stub.SetTierDefinitions(
        ledger_pb2.SetTierDefinitionsRequest(
            program_id="acme", idempotency_key=key(), tiers=lowered
        )
    )
    everyone = await ledger.stub.EvaluateTiers(
        ledger_pb2.EvaluateTiersRequest(program_id="acme", idempotency_key=key())
    )
    assert (everyone.evaluated_count, everyone.upgraded_count, everyone.downgraded_count) == (
        1_005,
        1_005,
        0,
    )
    assert [change.member_id for change in everyone.tier_changes] == members[:1_000]
    # The changes past the first 1000 are made all the same, only not shown.
    assert (await ledger.balance(members[-1])).tier_code == "silver"
    some = await ledger.stub.EvaluateTiers(
        ledger_pb2.EvaluateTiersRequest(
            program_id="acme",
            idempotency_key=key(),
            member_ids=[members[0], "ghost", members[0], members[1], "ghost"],
        )
    )
    assert (some.evaluated_count, some.upgraded_count, len(some.tier_changes)) == (2, 0, 0)


async def tier_history(ledger: Ledger, member: str) -> list[tuple[str, str]]:
    history = await ledger.stub.GetTierHistory(
        ledger_pb2.GetTierHistoryRequest(program_id="acme", member_id=member)
    )
    return [(c.from_tier_code, c.to_tier_code) for c in history.tier_changes]


async def test_requalification_leaves_accounts_closed_by_a_merge_as_they_are(
    service, database_url: str
) -> None:
    _, ledger = service
    for member in ("ann", "gone"):
        await ledger.earn(member, 1_500, qualifying=True, source_reference=f"o-{member}")
        await ledger.refund(member, f"o-{member}", refunded=2, original=3)  # qualifying 500
        assert (await ledger.balance(member)).tier_code == "silver"
    await close_account(database_url, "gone")
    result = await run(ledger, ledger_pb2.MAINTENANCE_JOB_TIER_REQUALIFICATION)
    assert result.processed_count == 1
    assert (await ledger.balance("ann")).tier_code == "member"
    assert (await ledger.balance("gone")).tier_code == "silver"
    assert await tier_history(ledger, "gone") == [("member", "silver")]


async def test_evaluate_tiers_leaves_accounts_closed_by_a_merge_out(
    service, database_url: str
) -> None:
    _, ledger = service
    for member in ("ann", "gone"):
        await ledger.earn(member, 500, qualifying=True)
    await close_account(database_url, "gone")
    # Silver now starts below what both have, as after a change of tier definitions.
    silver = ledger_pb2.TierDefinition(code="silver", name="Silver", rank=1, threshold=400)
    await ledger.stub.SetTierDefinitions(
        ledger_pb2.SetTierDefinitionsRequest(
            program_id="acme", idempotency_key=key(), tiers=[TIERS[0], silver, TIERS[2]]
        )
    )
    named = await ledger.stub.EvaluateTiers(
        ledger_pb2.EvaluateTiersRequest(
            program_id="acme", idempotency_key=key(), member_ids=["gone"]
        )
    )
    assert (named.evaluated_count, named.upgraded_count, list(named.tier_changes)) == (0, 0, [])
    everyone = await ledger.stub.EvaluateTiers(
        ledger_pb2.EvaluateTiersRequest(program_id="acme", idempotency_key=key())
    )
    assert (everyone.evaluated_count, everyone.upgraded_count) == (1, 1)
    assert [c.member_id for c in everyone.tier_changes] == ["ann"]
    assert (await ledger.balance("gone")).tier_code == "member"
    assert await tier_history(ledger, "gone") == []


async def test_replicas_running_jobs_together_void_each_lapsed_hold_once(
    start_service, servers: Servers, nats_namespace: str
) -> None:
    async with (
        start_service(SPEC, LedgerConfig, jobs_interval_ms=50) as (first, channel),
        start_service(SPEC, LedgerConfig, jobs_interval_ms=50) as (second, _),
    ):
        ledger = Ledger(channel)
        await ledger.setup()
        for member in ("ann", "bob", "cat"):
            await ledger.earn(member, 100)
        holds = [
            await ledger.hold(member, 30, ttl_seconds=1)
            for member in ("ann", "bob", "cat")
            for _ in range(3)
        ]
        await asyncio.sleep(2.0)
        for placed in holds:
            hold = (
                await ledger.stub.GetHold(
                    ledger_pb2.GetHoldRequest(program_id="acme", hold_id=placed.hold.hold_id)
                )
            ).hold
            assert hold.status == ledger_pb2.HOLD_STATUS_VOIDED
        for member in ("ann", "bob", "cat"):
            assert (await ledger.balance(member)).available_points == 100
        await ledger.assert_clean()
        for running in (first, second):
            await running.relay.flush(timeout_s=10)
    client = await nats.connect(servers.nats_url)
    try:
        subscription = await client.jetstream().pull_subscribe(
            f"{nats_namespace}.ledger.hold_voided", stream=f"{nats_namespace}_ledger".upper()
        )
        messages = await subscription.fetch(100, timeout=3)
        assert len(messages) == len(holds)
    finally:
        await client.close()


@pytest.mark.parametrize("method", ["EvaluateTiers", "Verify"])
async def test_member_ids_of_evaluate_tiers_and_verify_are_checked_one_by_one(
    service, method: str
) -> None:
    # A NUL or an overlong id reached the query (an error naming no field).
    _, ledger = service
    request_type = getattr(ledger_pb2, f"{method}Request")
    fields = {"idempotency_key": key()} if method == "EvaluateTiers" else {}
    for bad in ("a\x00b", "m" * 129):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await getattr(ledger.stub, method)(
                request_type(program_id="acme", member_ids=["ann", bad], **fields)
            )
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.value.details().startswith("member_ids[1]:"), error.value.details()


AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(
    ("expires", "before", "on"),
    [
        # Amsterdam goes to summer time on 28 March 2027. 1 April 00:30 (22:30 UTC the day
        # before) is 7 calendar days after 25 March: 24-hour days had it on 24 March at 23:30.
        (
            dt.datetime(2027, 4, 1, 0, 30, tzinfo=AMSTERDAM),
            dt.datetime(2027, 3, 24, 23, 45, tzinfo=AMSTERDAM),
            dt.datetime(2027, 3, 25, 0, 5, tzinfo=AMSTERDAM),
        ),
        # And to winter time on 31 October 2027: 3 November 23:30 is 7 calendar days after
        # 27 October; 24-hour days had it on 28 October at 00:30.
        (
            dt.datetime(2027, 11, 3, 23, 30, tzinfo=AMSTERDAM),
            dt.datetime(2027, 10, 26, 23, 55, tzinfo=AMSTERDAM),
            dt.datetime(2027, 10, 27, 23, 45, tzinfo=AMSTERDAM),
        ),
    ],
)
async def test_expiry_notices_count_calendar_days_across_a_change_of_the_clocks(
    start_service, expires: dt.datetime, before: dt.datetime, on: dt.datetime
) -> None:
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (running, channel):
        ledger = Ledger(channel)
        await ledger.setup(expiry_notice_days=7)
        await ledger.earn("ann", 60, expires_at=ts(expires.astimezone(dt.UTC)))
        await ledger.earn(
            "ann", 5, expires_at=ts(expires.astimezone(dt.UTC) + dt.timedelta(days=1))
        )
        clock = before

        runtime = running.runtime
        jobs = Jobs(
            runtime.pool,
            LedgerBook(runtime.outbox),
            runtime.outbox,
            runtime.metrics,
            clock=lambda: clock.astimezone(dt.UTC),
            interval_s=1,
        )
        # The day before the notice day: nothing yet, however late.
        assert (await jobs.run_locked(EXPIRY_NOTICES, program_id="acme")).processed == 0
        clock = on
        first = await jobs.run_locked(EXPIRY_NOTICES, program_id="acme")
        assert (first.processed, first.points) == (1, 60)
        # Once per lot: not again later that day.
        clock = on + dt.timedelta(minutes=10)
        assert (await jobs.run_locked(EXPIRY_NOTICES, program_id="acme")).processed == 0
        await ledger.assert_clean()


async def test_a_job_failing_for_an_unexpected_reason_leaves_the_others_running(service) -> None:
    # Vesting runs first in each round: an error it did not expect (a bug, a value no
    # code path allows for) must not stop expiry, hold timeouts and the others behind it.
    running, ledger = service
    await ledger.earn("ann", 100)
    lapsing = await ledger.hold("ann", 40, ttl_seconds=1)
    await asyncio.sleep(1.1)
    calls = 0

    def clock() -> dt.datetime:
        nonlocal calls
        calls += 1
        if calls == 1:  # the round's first job
            raise ValueError("an error no job expects")
        return now()

    runtime = running.runtime
    jobs = Jobs(
        runtime.pool,
        LedgerBook(runtime.outbox),
        runtime.outbox,
        runtime.metrics,
        clock=clock,
        interval_s=60,
    )
    failed = runtime.metrics.job_runs.labels("ledger", "vesting", "failed")
    failed_before = failed._value.get()
    stop = asyncio.Event()
    rounds = asyncio.create_task(jobs.run_forever(stop))
    try:
        for _ in range(100):
            hold = (
                await ledger.stub.GetHold(
                    ledger_pb2.GetHoldRequest(program_id="acme", hold_id=lapsing.hold.hold_id)
                )
            ).hold
            if hold.status == ledger_pb2.HOLD_STATUS_VOIDED or rounds.done():
                break
            await asyncio.sleep(0.05)
        assert not rounds.done(), rounds.exception()
        assert hold.status == ledger_pb2.HOLD_STATUS_VOIDED
        assert failed._value.get() == failed_before + 1
    finally:
        stop.set()
        await rounds


async def test_run_maintenance_is_idempotent_by_its_key(service) -> None:
    _, ledger = service
    hold_timeouts = ledger_pb2.MAINTENANCE_JOB_HOLD_TIMEOUTS
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await ledger.stub.RunMaintenance(
            ledger_pb2.RunMaintenanceRequest(program_id="acme", job=hold_timeouts)
        )
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert missing.value.details().startswith("idempotency_key:"), missing.value.details()

    await ledger.earn("ann", 100)
    await ledger.hold("ann", 40, ttl_seconds=1)
    await asyncio.sleep(1.1)
    request = ledger_pb2.RunMaintenanceRequest(
        program_id="acme", idempotency_key="sweep-1", job=hold_timeouts
    )
    first = await ledger.stub.RunMaintenance(request)
    assert (first.processed_count, first.affected_points) == (1, 40)
    # A hold lapses after the run: the retry answers the first run's result and runs nothing.
    second_hold = await ledger.hold("ann", 10, ttl_seconds=1)
    await asyncio.sleep(1.1)
    assert await ledger.stub.RunMaintenance(request) == first
    held = (
        await ledger.stub.GetHold(
            ledger_pb2.GetHoldRequest(program_id="acme", hold_id=second_hold.hold.hold_id)
        )
    ).hold
    assert held.status == ledger_pb2.HOLD_STATUS_HELD
    # The key with another job is refused as any reused key.
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await ledger.stub.RunMaintenance(
            ledger_pb2.RunMaintenanceRequest(
                program_id="acme", idempotency_key="sweep-1", job=ledger_pb2.MAINTENANCE_JOB_EXPIRY
            )
        )
    assert reused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reused.value.details().startswith("idempotency_key:"), reused.value.details()
    # Two at once under a new key: one run, both answered with it.
    request.idempotency_key = "sweep-2"
    both = await asyncio.gather(*(ledger.stub.RunMaintenance(request) for _ in range(2)))
    assert both[0] == both[1] and (both[0].processed_count, both[0].affected_points) == (1, 10)
