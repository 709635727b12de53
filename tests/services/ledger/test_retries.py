"""Every ledger mutation retried with the same key, concurrently and then sequentially, has one
effect and one answer."""

import asyncio
import datetime as dt

import pytest

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from tests.services.ledger.support import Ledger, ts

RETRIES = 8


@pytest.fixture
async def ledger(start_service):
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        client = Ledger(channel)
        await client.setup()
        await client.earn("ann", 1_000, source_reference="order-1")
        await client.earn("bob", 50)
        yield client
        await client.assert_clean()


async def retried(call, request):
    """The same request sent RETRIES times at once, then once more afterwards."""
    answers = await asyncio.gather(*(call(request) for _ in range(RETRIES)))
    answers.append(await call(request))
    assert all(answer == answers[0] for answer in answers)
    return answers[0]


def past():
    return ts(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))


MUTATIONS = {
    "earn": lambda s: (
        s.Earn,
        ledger_pb2.EarnRequest(
            program_id="acme", idempotency_key="r", member_id="ann", points=7, vests_at=past()
        ),
    ),
    "redeem": lambda s: (
        s.Redeem,
        ledger_pb2.RedeemRequest(program_id="acme", idempotency_key="r", member_id="ann", points=7),
    ),
    "adjust": lambda s: (
        s.Adjust,
        ledger_pb2.AdjustRequest(
            program_id="acme",
            idempotency_key="r",
            member_id="ann",
            points=-7,
            reason=ledger_pb2.PostingReason(operator_id="op-1", code="goodwill", note="goodwill"),
        ),
    ),
    "refund": lambda s: (
        s.Reverse,
        ledger_pb2.ReverseRequest(
            program_id="acme",
            idempotency_key="r",
            member_id="ann",
            refund=ledger_pb2.PurchaseRefund(
                original_reference="order-1",
                refunded_amount=common_pb2.Money(amount_minor=7, currency="EUR"),
                original_amount=common_pb2.Money(amount_minor=1000, currency="EUR"),
            ),
        ),
    ),
    "transfer": lambda s: (
        s.TransferPoints,
        ledger_pb2.TransferPointsRequest(
            program_id="acme",
            idempotency_key="r",
            source_member_id="ann",
            target_member_id="bob",
            points=7,
        ),
    ),
    "hold": lambda s: (
        s.PlaceHold,
        ledger_pb2.PlaceHoldRequest(
            program_id="acme", idempotency_key="r", member_id="ann", points=7
        ),
    ),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
async def test_a_retried_mutation_has_one_effect(ledger: Ledger, mutation: str) -> None:
    call, request = MUTATIONS[mutation](ledger.stub)
    await retried(call, request)
    ann = await ledger.balance("ann")
    assert ann.available_points == (1_007 if mutation == "earn" else 993)  # exactly 7 moved, once


async def test_retried_commits_and_voids_have_one_effect(ledger: Ledger) -> None:
    committed = await ledger.hold("ann", 100)
    voided = await ledger.hold("ann", 200)
    await retried(
        ledger.stub.CommitHold,
        ledger_pb2.CommitHoldRequest(
            program_id="acme", idempotency_key="c", hold_id=committed.hold.hold_id
        ),
    )
    await retried(
        ledger.stub.VoidHold,
        ledger_pb2.VoidHoldRequest(
            program_id="acme", idempotency_key="v", hold_id=voided.hold.hold_id
        ),
    )
    ann = await ledger.balance("ann")
    assert (ann.available_points, ann.held_points) == (900, 0)


async def test_a_retried_batch_has_one_effect(ledger: Ledger) -> None:
    request = ledger_pb2.PostBatchRequest(
        program_id="acme",
        batch_id="b1",
        member_ids=["cat", "dan"],
        points=[5, 6],
        idempotency_keys=["x", "y"],
        vests_at_unix_micros=[1, 1],
    )

    async def post(request):
        async def one():
            yield request

        [answer] = [response async for response in ledger.stub.PostBatch(one())]
        return answer

    await retried(post, request)
    assert (await ledger.balance("cat")).available_points == 5
