"""Expiry by inactivity: the member's deadline in the balance, its notice, and the purchases an
import brings, which do not make a dormant member active.

The program's points expire after 6 months without activity, in Europe/Amsterdam. Activity in
the past comes from purchases with an old occurred_at (as an import brings them); the notice job
runs on a clock the test sets, as the other expiry notice tests do.
"""

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger import inactivity
from services.ledger.app import SPEC, LedgerConfig
from services.ledger.domain import ExpiryKind
from services.ledger.jobs import EXPIRY, EXPIRY_NOTICES, Jobs
from services.ledger.ledger import Ledger as LedgerBook
from services.ledger.operations import load_program
from services.ledger.policy import add_months, inactivity_cutoff
from services.shared.timestamps import unix_micros
from tests.conftest import Servers
from tests.services.ledger.support import Ledger, batch, key, post, ts
from tests.services.ledger.test_lot_calendar import program
from tests.support.streams import published

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
INACTIVITY = ledger_pb2.ExpiryPolicy(kind=ledger_pb2.EXPIRY_KIND_INACTIVITY_MONTHS, months=6)


@pytest.fixture
async def service(start_service):
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (running, channel):
        client = Ledger(channel)
        await client.setup(expiry_policy=INACTIVITY)
        yield running, client
        await client.assert_clean()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same Amsterdam wall-clock time `months` earlier (the last day of a shorter month)."""
    local = moment.astimezone(AMSTERDAM).replace(tzinfo=None)
    return add_months(local, -months).replace(tzinfo=AMSTERDAM).astimezone(dt.UTC)


def deadline_after(days: int) -> dt.datetime:
    """A noon on the 10th or 25th in Amsterdam, more than `days` + 1 days and at most `days` + 17
    days ahead: 6 months before it is the same wall-clock time."""
    earliest = now().astimezone(AMSTERDAM) + dt.timedelta(days=days + 1)
    for months in range(3):
        index = earliest.year * 12 + earliest.month - 1 + months
        for day in (10, 25):
            moment = dt.datetime(index // 12, index % 12 + 1, day, 12, tzinfo=AMSTERDAM)
            if moment > earliest:
                return moment.astimezone(dt.UTC)
    raise AssertionError("unreachable")


def local_days_between(start: dt.datetime, end: dt.datetime) -> int:
    return (end.astimezone(AMSTERDAM).date() - start.astimezone(AMSTERDAM).date()).days


def earn_item(member: str, points: int, occurred: dt.datetime) -> tuple[str, int, int, str]:
    return (member, points, common_pb2.POSTING_KIND_EARN, f"{member}-{unix_micros(occurred)}")


def clocked_jobs(running, clock: list[dt.datetime]) -> Jobs:
    runtime = running.runtime
    return Jobs(
        runtime.pool,
        LedgerBook(runtime.outbox),
        runtime.outbox,
        runtime.metrics,
        clock=lambda: clock[0],
        interval_s=1,
    )


async def expiring_events(servers: Servers, nats_namespace: str) -> list[events_pb2.Event]:
    return await published(servers, nats_namespace, "ledger.points_expiring")


def test_the_deadline_is_when_the_expiry_jobs_cutoff_passes_the_last_activity() -> None:
    settings = program("Europe/Amsterdam", ExpiryKind.INACTIVITY_MONTHS, 1, 0, 0)
    for last in (
        dt.datetime(2027, 1, 31, 10, 0, tzinfo=AMSTERDAM),  # no 31 February: 1 March 00:00
        dt.datetime(2027, 1, 15, 10, 0, tzinfo=AMSTERDAM),
        dt.datetime(2027, 3, 10, 2, 30, tzinfo=AMSTERDAM),  # 10 April, after summer time
        dt.datetime(2027, 2, 28, 2, 30, tzinfo=AMSTERDAM),  # 28 March skips 02:30: the jump
    ):
        due = inactivity.deadline(settings, last.astimezone(dt.UTC))
        assert due is not None
        second = dt.timedelta(seconds=1)
        before, after = (inactivity_cutoff(settings, due + delta) for delta in (-second, second))
        assert before is not None and after is not None
        assert before <= last < after
    march = inactivity.deadline(settings, dt.datetime(2027, 1, 31, 10, tzinfo=AMSTERDAM))
    assert march == dt.datetime(2027, 3, 1, tzinfo=AMSTERDAM)


async def test_a_deadline_at_a_time_the_clocks_skip_is_the_jump_when_the_points_go(
    service,
) -> None:
    """Six months after 02:30 on 28 September 2026 is 02:30 on 28 March 2027, which Amsterdam
    skips: the expiry job's cutoff passes it when the clocks jump (01:00 UTC), and the balance
    says so. It said 01:30 UTC (02:30 read with winter time's offset), half an hour after the
    points had gone."""
    running, ledger = service
    last = dt.datetime(2026, 9, 28, 2, 30, tzinfo=AMSTERDAM).astimezone(dt.UTC)
    jump = dt.datetime(2027, 3, 28, 1, 0, tzinfo=dt.UTC)
    earned = await ledger.earn("ann", 80, occurred_at=ts(last))
    assert earned.balance.next_expiry_at.ToDatetime(tzinfo=dt.UTC) == jump
    clock = [jump - dt.timedelta(seconds=1)]
    jobs = clocked_jobs(running, clock)
    await jobs.run_locked(EXPIRY, program_id="acme")
    assert (await ledger.balance("ann")).available_points == 80
    clock[0] = jump + dt.timedelta(seconds=1)
    await jobs.run_locked(EXPIRY, program_id="acme")
    assert (await ledger.balance("ann")).available_points == 0


async def test_the_balance_shows_the_deadline_and_all_the_points_expiring_at_it(service) -> None:
    _, ledger = service
    deadline = deadline_after(0)
    earned = await ledger.earn("ann", 80, occurred_at=ts(months_before(deadline, 6)))
    assert earned.balance.expiring_30_days_points == 80
    assert earned.balance.next_expiry_at.ToDatetime(tzinfo=dt.UTC) == deadline
    await ledger.earn(
        "ann",
        20,
        vested=False,
        occurred_at=ts(months_before(deadline, 7)),
        vests_at=ts(now() + dt.timedelta(days=1)),
    )
    balance = await ledger.balance("ann")
    # Pending points expire with the others; the older purchase did not move the deadline.
    assert (balance.available_points, balance.pending_points) == (80, 20)
    assert balance.expiring_30_days_points == 100
    assert balance.next_expiry_at.ToDatetime(tzinfo=dt.UTC) == deadline
    before = now()
    await ledger.earn("bob", 5)
    after = now()
    balance = await ledger.balance("bob")
    assert balance.expiring_30_days_points == 0
    bob_deadline = balance.next_expiry_at.ToDatetime(tzinfo=dt.UTC)
    assert before + dt.timedelta(days=180) <= bob_deadline <= after + dt.timedelta(days=185)
    await ledger.redeem("bob", 5)
    assert not (await ledger.balance("bob")).HasField("next_expiry_at")  # nothing left


async def test_the_deadline_is_announced_once_and_again_after_activity_moved_it(
    service, servers: Servers, nats_namespace: str, database_url: str
) -> None:
    running, ledger = service
    deadline = deadline_after(60)
    await ledger.earn("ann", 80, occurred_at=ts(months_before(deadline, 6)))
    await ledger.earn("bob", 5, occurred_at=ts(months_before(deadline, 4)))  # later
    clock = [deadline - dt.timedelta(days=32)]
    jobs = clocked_jobs(running, clock)
    assert (await jobs.run_locked(EXPIRY_NOTICES, program_id="acme")).processed == 0
    clock[0] = deadline - dt.timedelta(days=20)
    first = await jobs.run_locked(EXPIRY_NOTICES, program_id="acme")
    assert (first.processed, first.points) == (1, 80)
    # The accounts are read once an hour (or when forced): Cal's deadline, a day earlier, which
    # an import brings into the window, is announced at the next pass; Ann's, once per deadline,
    # not again.
    await ledger.earn("cal", 7, occurred_at=ts(months_before(deadline - dt.timedelta(days=1), 6)))
    clock[0] += dt.timedelta(minutes=30)
    assert (await jobs.run_locked(EXPIRY_NOTICES, program_id="acme")).processed == 0
    clock[0] += dt.timedelta(hours=2)
    cal = await jobs.run_locked(EXPIRY_NOTICES, program_id="acme")
    assert (cal.processed, cal.points) == (1, 7)
    clock[0] += dt.timedelta(hours=2)
    assert (await jobs.run_locked(EXPIRY_NOTICES, program_id="acme")).processed == 0
    clock[0] = deadline - dt.timedelta(days=2)
    assert (await jobs.run_locked(EXPIRY_NOTICES, program_id="acme", force=True)).processed == 0
    # A redemption is activity: the deadline moves 6 months on from it, and is announced when
    # it comes near in turn.
    await ledger.redeem("ann", 10)
    assert (await jobs.run_locked(EXPIRY_NOTICES, program_id="acme", force=True)).processed == 0
    connection = await asyncpg.connect(database_url)
    try:
        active = await connection.fetchval(
            "SELECT last_activity_at FROM ledger.member_accounts WHERE member_id = 'ann'"
        )
    finally:
        await connection.close()
    assert active > deadline - dt.timedelta(days=183)
    program = await load_program(running.runtime.pool, "acme")
    moved = inactivity.deadline(program.settings, active)
    assert moved is not None and moved > deadline
    assert (await ledger.balance("ann")).next_expiry_at.ToDatetime(tzinfo=dt.UTC) == moved
    clock[0] = moved - dt.timedelta(days=10)
    moved_noticed_at = clock[0]
    second = await jobs.run_locked(EXPIRY_NOTICES, program_id="acme")
    assert (second.processed, second.points) == (1, 70)
    assert (await jobs.run_locked(EXPIRY_NOTICES, program_id="acme", force=True)).processed == 0
    await running.relay.flush(timeout_s=10)
    announced = [event.points_expiring for event in await expiring_events(servers, nats_namespace)]
    assert [
        (e.member_id, e.points, e.expires_at.ToDatetime(tzinfo=dt.UTC), e.days_ahead)
        for e in announced
    ] == [
        # Each notice says how many days ahead of the deadline it is, in Amsterdam's calendar
        # days: the notice period (30 days) is when they may start, not how far ahead they are.
        ("ann", 80, deadline, 20),
        ("cal", 7, deadline - dt.timedelta(days=1), 19),
        ("ann", 70, moved, local_days_between(moved_noticed_at, moved)),
    ]


async def test_an_import_of_old_purchases_leaves_dormant_members_dormant(
    service, database_url: str
) -> None:
    _, ledger = service
    today = now()
    # Eve and Fay were enrolled today (an import of the members opens their accounts as
    # MemberEnrolled does); their purchases come after, all of them old.
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "INSERT INTO ledger.member_accounts (program_id, member_id, tier_code, tier_since,"
            " last_activity_at) SELECT 'acme', m, 'member', now(), now()"
            " FROM unnest(ARRAY['eve', 'fay']) AS m"
        )
    finally:
        await connection.close()
    await ledger.earn("fay", 3, occurred_at=ts(months_before(today, 7)))
    # Ann was last active 8 months ago; an import brings purchases of 9 and 7 months ago, one of
    # Dan, whose account it opens, of 10 months ago, and Eve's first, of 8 months ago.
    await ledger.earn("ann", 40, occurred_at=ts(months_before(today, 8)))
    await ledger.earn("cat", 10)
    [posted] = await post(
        ledger,
        batch(
            "import",
            [
                earn_item("ann", 30, months_before(today, 9)),
                earn_item("ann", 20, months_before(today, 7)),
                earn_item("dan", 15, months_before(today, 10)),
                earn_item("cat", 5, months_before(today, 11)),
                earn_item("eve", 4, months_before(today, 8)),
            ],
            occurred_at_unix_micros=[
                unix_micros(months_before(today, months)) for months in (9, 7, 10, 11, 8)
            ],
        ),
    )
    assert set(posted.statuses) == {ledger_pb2.ITEM_STATUS_POSTED}
    # A single earn of an old purchase is no activity now either.
    await ledger.earn("ann", 1, occurred_at=ts(months_before(today, 12)))
    for member, points in (("ann", 91), ("dan", 15), ("eve", 4), ("fay", 3)):
        balance = await ledger.balance(member)
        assert balance.HasField("next_expiry_at"), member
        assert balance.next_expiry_at.ToDatetime(tzinfo=dt.UTC) < today, member
        assert balance.expiring_30_days_points == points, member
    # Cat was active today: the old purchase leaves her deadline 6 months ahead.
    cat = (await ledger.balance("cat")).next_expiry_at.ToDatetime(tzinfo=dt.UTC)
    assert cat > today + dt.timedelta(days=175)
    expired = await ledger.stub.RunMaintenance(
        ledger_pb2.RunMaintenanceRequest(
            program_id="acme", idempotency_key=key(), job=ledger_pb2.MAINTENANCE_JOB_EXPIRY
        )
    )
    assert (expired.processed_count, expired.affected_points) == (4, 91 + 15 + 4 + 3)
    for member, points in (("ann", 0), ("dan", 0), ("eve", 0), ("fay", 0), ("cat", 15)):
        assert (await ledger.balance(member)).available_points == points, member


async def test_a_merge_gives_the_survivor_the_later_activity_of_the_two(service) -> None:
    _, ledger = service
    today = now()
    await ledger.earn("card", 10, occurred_at=ts(months_before(today, 5)))
    await ledger.earn("app", 20, occurred_at=ts(months_before(today, 1)))
    await ledger.earn("gift", 5, occurred_at=ts(months_before(today, 1)))
    # Points given are the giver's activity, not the receiver's.
    await ledger.transfer("gift", "card", 5)
    card = await ledger.balance("card")
    assert card.next_expiry_at.ToDatetime(tzinfo=dt.UTC) < today + dt.timedelta(days=32)
    assert card.expiring_30_days_points == 15
    # The plastic card's member and the app's are one person: merged, the app's purchase counts.
    await ledger.transfer("app", "card", transfer_all=True)
    card = await ledger.balance("card")
    assert (card.available_points, card.expiring_30_days_points) == (35, 0)
    assert card.next_expiry_at.ToDatetime(tzinfo=dt.UTC) > today + dt.timedelta(days=140)


async def test_a_member_active_since_the_expiry_job_read_it_keeps_its_points(
    service, database_url: str
) -> None:
    _, ledger = service
    dormant = months_before(now(), 7)
    await ledger.earn("ann", 100, occurred_at=ts(dormant))
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "ledger"})
    # pg_stat_activity is read outside the transaction holding the account: PostgreSQL keeps the
    # first read of it for the rest of a transaction, so a poll inside it saw the job waiting
    # only if the job was there by the first poll.
    watcher = await asyncpg.connect(database_url)
    try:
        # The job reads ann as inactive, then waits for her account, which an earn holds.
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute("SELECT 1 FROM member_accounts WHERE member_id = 'ann' FOR UPDATE")
        job = asyncio.ensure_future(
            ledger.stub.RunMaintenance(
                ledger_pb2.RunMaintenanceRequest(
                    program_id="acme", idempotency_key=key(), job=ledger_pb2.MAINTENANCE_JOB_EXPIRY
                )
            )
        )
        for _ in range(1_000):
            waiting = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if waiting:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the expiry job did not come to ann's account")
        # What the earn commits: ann is active now.
        await connection.execute(
            "UPDATE member_accounts SET last_activity_at = now() WHERE member_id = 'ann'"
        )
        await transaction.commit()
        result = await job
    finally:
        await watcher.close()
        await connection.close()
    # It expired all of an active member's points, those she had just earned too.
    assert result.affected_points == 0
    assert (await ledger.balance("ann")).available_points == 100
