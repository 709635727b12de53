"""Concurrent Earns are written in groups (one transaction for many calls): every call still gets
its own answer, its own error, and one effect, as if it had run alone."""

import asyncio
import datetime as dt
import itertools

import asyncpg
import grpc

from loyalty.ledger.v1 import ledger_pb2
from tests.services.ledger.support import Ledger, ts

MEMBERS = 8
EARNS_PER_MEMBER = 6
# Fixed, so a retry sends the very same request (the support client stamps each call otherwise).
VESTED = ts(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))


async def close_account(database_url: str, member: str) -> None:
    """What a merge does to the merged member's account (see test_consumers), set directly."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE ledger.member_accounts SET closed_into = 'survivor' WHERE member_id = $1",
            member,
        )
    finally:
        await connection.close()


def error_reason(error: BaseException) -> str:
    assert isinstance(error, grpc.aio.AioRpcError), error
    return dict(error.trailing_metadata() or ())["loyalty-error-reason"]


async def test_concurrent_earns_each_get_their_own_answer(ledger: Ledger, database_url) -> None:
    await ledger.earn("gone", 5)
    await close_account(database_url, "gone")
    await ledger.earn("m0", 1, idempotency_key="used-once", vests_at=VESTED)
    # Several earns per member (they go in different groups), three copies of one request, a key
    # reused for another request, and an earn for a closed account, all at once.
    fresh = [
        (f"m{m}", 10 * m + j + 1, f"e-{m}-{j}")
        for j, m in itertools.product(range(EARNS_PER_MEMBER), range(MEMBERS))
    ]
    copies = [("m3", 77, "copied")] * 3
    calls = [
        *(
            ledger.earn(member, points, idempotency_key=k, vests_at=VESTED)
            for member, points, k in fresh
        ),
        *(
            ledger.earn(member, points, idempotency_key=k, vests_at=VESTED)
            for member, points, k in copies
        ),
        ledger.earn("m1", 2, idempotency_key="used-once", vests_at=VESTED),
        ledger.earn("gone", 9),
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    answers = results[: len(fresh)]
    copied = results[len(fresh) : len(fresh) + 3]
    reused, closed = results[-2:]

    assert error_reason(reused) == "IDEMPOTENCY_KEY_REUSED"
    assert error_reason(closed) == "MEMBER_CLOSED"
    for (member, points, _), answer in zip(fresh, answers, strict=True):
        assert isinstance(answer, ledger_pb2.EarnResponse), answer
        assert (answer.posting.member_id, answer.posting.points) == (member, points)
        assert (answer.lot.member_id, answer.lot.original_points) == (member, points)
        assert answer.lot.posting_id == answer.posting.posting_id
    assert all(isinstance(answer, ledger_pb2.EarnResponse) for answer in copied)
    assert len({answer.posting.posting_id for answer in copied}) == 1  # one effect, one answer
    posting_ids = [answer.posting.posting_id for answer in [*answers, copied[0]]]
    assert len(set(posting_ids)) == len(posting_ids)

    # Each answer tells the balance right after its own earn: in posting order, a running sum.
    by_member: dict[str, list[ledger_pb2.EarnResponse]] = {}
    for answer in [*answers, copied[0]]:
        by_member.setdefault(answer.posting.member_id, []).append(answer)
    for member, earned in by_member.items():
        earned.sort(key=lambda answer: int(answer.posting.posting_id))
        running = 1 if member == "m0" else 0  # the first use of "used-once"
        for answer in earned:
            running += answer.posting.points
            assert answer.posting.available_points_after == running
            assert answer.balance.available_points == running
        assert (await ledger.balance(member)).available_points == running
    assert (await ledger.balance("gone")).available_points == 5

    # Retried later, one by one, every call gets its first answer again and changes nothing.
    for (member, points, k), answer in zip(fresh[:10], answers[:10], strict=True):
        assert await ledger.earn(member, points, idempotency_key=k, vests_at=VESTED) == answer
    assert await ledger.earn("m3", 77, idempotency_key="copied", vests_at=VESTED) == copied[0]
    history = await ledger.stub.ListHistory(
        ledger_pb2.ListHistoryRequest(program_id="acme", member_id="m3", page_size=100)
    )
    assert len(history.postings) == EARNS_PER_MEMBER + 1


async def test_a_retry_racing_its_first_attempt_has_one_effect(ledger: Ledger) -> None:
    for round_ in range(5):
        results = await asyncio.gather(
            *(
                ledger.earn("ann", 10, idempotency_key=f"race-{round_}", vests_at=VESTED)
                for _ in range(4)
            ),
            *(ledger.earn(f"other-{i}", 1) for i in range(6)),
        )
        assert len({result.posting.posting_id for result in results[:4]}) == 1
    assert (await ledger.balance("ann")).available_points == 50


async def test_earns_written_together_each_reach_their_own_tier(ledger: Ledger) -> None:
    # Silver from 1,000 qualifying points, gold from 5,000 (test_programs.TIERS).
    earns = [(f"s{i}", 1_200) for i in range(4)] + [(f"m{i}", 100) for i in range(4)]
    earns.append(("gold", 6_000))
    results = await asyncio.gather(
        *(ledger.earn(member, points, qualifying=True) for member, points in earns)
    )
    for (member, points), result in zip(earns, results, strict=True):
        expected = {"s": "silver", "m": "member", "g": "gold"}[member[0]]
        assert result.balance.tier_code == expected, (member, points)
        assert (await ledger.balance(member)).tier_code == expected
    gold = (await ledger.earn("gold", 10, qualifying=True)).balance
    assert (gold.tier_code, gold.qualifying_amount, gold.available_points) == ("gold", 6_010, 6_010)
