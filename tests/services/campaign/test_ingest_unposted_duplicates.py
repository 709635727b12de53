"""A purchase sent again in another batch while the batch it was first accrued in is still unposted
(its stream died between the two stages): the new batch answers it DUPLICATE only once that first
batch is posted, not a recovery delay later. And a batch finished twice at once (a stale copy,
as the recovery worker, a replay or such a re-send may hold) is taken back and answered once.
A duplicate the ledger refuses in its first batch is rejected, not "already there"."""

import datetime as dt

import asyncpg
import pytest

from loyalty.campaign.v1 import campaign_pb2
from loyalty.common.v1 import common_pb2
from services.campaign import repository_purchases as store
from services.campaign.ingest import Ingest
from services.campaign.rpc_base import Limits, RpcBase
from tests.services.campaign.support import (
    PROGRAM,
    Campaign,
    available,
    batch,
    earning,
    engagement,
    ledger_and_campaign,
    rate,
)
from tests.services.campaign.test_engagement import refer
from tests.services.ledger.support import Ledger

POSTED = campaign_pb2.INGEST_ITEM_STATUS_POSTED
DUPLICATE = campaign_pb2.INGEST_ITEM_STATUS_DUPLICATE
REJECTED = campaign_pb2.INGEST_ITEM_STATUS_REJECTED
MONDAY = dt.datetime(2025, 5, 5, 9, 0, tzinfo=dt.UTC)
# Far longer than any test: the recovery worker cannot be what posts the first batch.
RECOVERY_AFTER_MS = 3_600_000
FIRST = [
    ("t1", "ann", 2_000, MONDAY, ""),  # 20
    ("t2", "bob", 1_000, MONDAY, ""),  # 10
    ("t3", "cat", 500, MONDAY, ""),  # 5
]


@pytest.fixture
async def services(start_service, database_url):
    async with ledger_and_campaign(
        start_service, recovery_after_ms=RECOVERY_AFTER_MS, ledger_batch_items_max=2
    ) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(), qualifying=True))
        connection = await asyncpg.connect(database_url)
        try:
            yield ledger, campaign, connection
        finally:
            await connection.close()


async def batch_state(connection: asyncpg.Connection, batch_id: str) -> int:
    state: int = await connection.fetchval(
        "SELECT state FROM campaign.ingest_batches WHERE program_id = $1 AND batch_id = $2",
        PROGRAM,
        batch_id,
    )
    return state


async def test_purchases_sent_again_in_another_batch_are_posted_before_the_answer(
    services,
) -> None:
    ledger, campaign, connection = services
    # The first stream died between the stages: its batch is accrued, stored and unposted.
    await campaign.ingest_stage_one(batch("first", FIRST))
    assert await batch_state(connection, "first") == store.BATCH_ACCRUED
    # The client resumes with other batch boundaries: two of those purchases and a new one.
    resent = batch("resumed", [*FIRST[:2], ("t4", "dan", 3_000, MONDAY, "")])
    [answer] = await campaign.ingest(resent)
    assert list(answer.statuses) == [DUPLICATE, DUPLICATE, POSTED]
    assert list(answer.points) == [20, 10, 30]
    # When the answer arrives, the ledger holds the first batch, all of it (cat's too).
    assert [await available(ledger, m) for m in ("ann", "bob", "cat", "dan")] == [20, 10, 5, 30]
    assert await batch_state(connection, "first") == store.BATCH_POSTED
    # Each once: a replay of either batch changes nothing.
    [replayed] = await campaign.ingest(batch("first", FIRST))
    assert list(replayed.statuses) == [POSTED] * 3 and list(replayed.points) == [20, 10, 5]
    [again] = await campaign.ingest(resent)
    assert list(again.statuses) == [DUPLICATE, DUPLICATE, POSTED]
    assert [await available(ledger, m) for m in ("ann", "bob", "cat", "dan")] == [20, 10, 5, 30]


async def test_a_batch_of_nothing_but_such_duplicates_waits_for_them_too(services) -> None:
    ledger, campaign, connection = services
    await campaign.ingest_stage_one(batch("first", FIRST))
    # A till re-sends one purchase once and walks away.
    [answer] = await campaign.ingest(batch("till", FIRST[:1]))
    assert (list(answer.statuses), list(answer.points)) == ([DUPLICATE], [20])
    assert [await available(ledger, m) for m in ("ann", "bob", "cat")] == [20, 10, 5]
    assert await batch_state(connection, "till") == store.BATCH_POSTED


async def test_a_resending_batch_that_crashed_too_posts_the_first_when_replayed(services) -> None:
    ledger, campaign, connection = services
    await campaign.ingest_stage_one(batch("first", FIRST))
    resent = batch("till", FIRST[1:])
    # The re-sending batch dies between its stages as well: it is kept unfinished with what it
    # found, so its replay (or the recovery worker) posts the first batch before answering.
    await campaign.ingest_stage_one(resent)
    assert await batch_state(connection, "till") == store.BATCH_ACCRUED
    assert await available(ledger, "bob") == 0
    [answer] = await campaign.ingest(resent)
    assert (list(answer.statuses), list(answer.points)) == ([DUPLICATE, DUPLICATE], [10, 5])
    assert [await available(ledger, m) for m in ("ann", "bob", "cat")] == [20, 10, 5]
    assert await batch_state(connection, "first") == store.BATCH_POSTED


async def test_duplicates_of_a_posted_batch_finish_nothing(services) -> None:
    ledger, campaign, connection = services
    [first] = await campaign.ingest(batch("first", FIRST))
    assert list(first.statuses) == [POSTED] * 3
    [answer] = await campaign.ingest(batch("till", FIRST[:1]))
    assert (list(answer.statuses), list(answer.points)) == ([DUPLICATE], [20])
    # Answered at once and stored so: nothing was left to finish.
    assert await batch_state(connection, "till") == store.BATCH_POSTED
    assert [await available(ledger, m) for m in ("ann", "bob", "cat")] == [20, 10, 5]


async def close_zed(ledger: Ledger, connection: asyncpg.Connection) -> None:
    """zed's account, closed by the ledger on a merge campaign has not heard of yet: the ledger
    refuses zed's purchases, which campaign accrued (services/ledger/consumers.py)."""
    await ledger.earn("zed", 5)
    await connection.execute(
        "UPDATE ledger.member_accounts SET closed_into = 'ann' WHERE program_id = $1 "
        "AND member_id = 'zed'",
        PROGRAM,
    )


REFUSED_FIRST = [("z1", "zed", 6_000, MONDAY, ""), ("a1", "ann", 1_000, MONDAY, "")]


async def test_a_duplicate_the_ledger_refuses_in_its_first_batch_is_rejected(services) -> None:
    ledger, campaign, connection = services
    await close_zed(ledger, connection)
    await campaign.ingest_stage_one(batch("first", REFUSED_FIRST))
    [answer] = await campaign.ingest(batch("resumed", REFUSED_FIRST))
    # Not "already there": posting the first batch, the ledger refused zed's purchase, which
    # campaign took back, as a fresh one would be.
    assert list(answer.statuses) == [REJECTED, DUPLICATE]
    assert (answer.reason_codes[0], list(answer.points)) == ("member_closed", [0, 10])
    assert answer.progress.items_rejected == 1 and answer.points_total == 0
    assert await available(ledger, "ann") == 10
    assert not await connection.fetchval(
        "SELECT count(*) FROM campaign.transactions WHERE member_id = 'zed'"
    )


async def test_so_is_one_when_another_finisher_posted_that_batch_meanwhile(services) -> None:
    ledger, campaign, connection = services
    await close_zed(ledger, connection)
    await campaign.ingest_stage_one(batch("first", REFUSED_FIRST))
    resumed = batch("resumed", REFUSED_FIRST[:1])
    await campaign.ingest_stage_one(resumed)
    # The first batch's replay finishes it before the re-sending one is finished.
    [first] = await campaign.ingest(batch("first", REFUSED_FIRST))
    assert list(first.statuses) == [REJECTED, POSTED]
    [answer] = await campaign.ingest(resumed)
    assert (list(answer.statuses), answer.reason_codes[0]) == ([REJECTED], "rejected")
    # Stored so: its replay answers the same.
    [again] = await campaign.ingest(resumed)
    assert list(again.statuses) == [REJECTED]


def ingest_of(campaign: Campaign) -> Ingest:
    """An Ingest of the test's campaign, as its servicer builds one per stream."""
    pool, outbox = campaign.service.runtime.pool, campaign.service.runtime.outbox
    base = RpcBase(pool, outbox, campaign.ledger_client())
    return Ingest(pool, base.ledger, outbox, Limits(), base.earning_rules)


async def test_a_batch_finished_twice_at_once_holds_the_bonuses_of_its_refused_purchase(
    services,
) -> None:
    ledger, campaign, connection = services
    await campaign.live(
        engagement(
            "referral",
            activity_kind=common_pb2.ACTIVITY_KIND_REFERRAL,
            points=300,
            referred_points=100,
            requires_first_purchase=True,
        )
    )
    # bob referred zed, whose first purchase completes it; the ledger closed zed's account (a
    # merge campaign has not heard of yet), so it refuses that purchase.
    await refer(campaign, "ref1", "bob", "zed")
    await close_zed(ledger, connection)
    request = batch("crashed", REFUSED_FIRST)
    await campaign.ingest_stage_one(request)
    # Two finishers read the unfinished batch before either finished it.
    ingest = ingest_of(campaign)
    program = await ingest.ledger.program(PROGRAM)
    stored = await store.fetch_batch(ingest.pool, PROGRAM, "crashed")
    assert stored is not None and stored.state == store.BATCH_ACCRUED
    copies = [ingest.stored_pending(program, "crashed", stored.request_hash, stored) for _ in "ab"]
    answers = [await ingest.finish(copy) for copy in copies]
    for answer in answers:
        assert list(answer.statuses) == [REJECTED, POSTED]
        assert answer.reason_codes[0] == "member_closed"
    # The first took zed's purchase back and held the referral's halves; the second must not
    # post them: bob's half would be.
    assert await available(ledger, "bob") == 0
    assert await available(ledger, "ann") == 10
    referral = await connection.fetchval(
        "SELECT state FROM campaign.referrals WHERE referred_member_id = 'zed'"
    )
    assert referral == 1
