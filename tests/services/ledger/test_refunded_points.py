"""PurchaseRefund.refunded_points: a refund that names the exact points of its returned lines."""

import grpc
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from tests.services.ledger.support import Ledger, key


@pytest.fixture
async def ledger(start_service):
    async with start_service(SPEC, LedgerConfig) as (_, channel):
        client = Ledger(channel)
        await client.setup()
        yield client
        await client.assert_clean()


def refund_request(
    reference: str,
    *,
    refunded: int,
    original: int,
    points: int | None,
    idempotency_key: str | None = None,
) -> ledger_pb2.ReverseRequest:
    refund = ledger_pb2.PurchaseRefund(
        original_reference=reference,
        refunded_amount=common_pb2.Money(amount_minor=refunded, currency="EUR"),
        original_amount=common_pb2.Money(amount_minor=original, currency="EUR"),
    )
    if points is not None:
        refund.refunded_points = points
    return ledger_pb2.ReverseRequest(
        program_id="acme",
        idempotency_key=idempotency_key or key(),
        member_id="ann",
        refund=refund,
    )


async def test_a_refund_with_points_takes_back_exactly_those_points(ledger: Ledger) -> None:
    await ledger.earn("ann", 100, source_reference="order-1")
    # A gift card of half the amount that earned nothing: pro rata would take 50.
    gift_card = await ledger.stub.Reverse(
        refund_request("order-1", refunded=5_000, original=10_000, points=0)
    )
    assert gift_card.reversed_points == 0
    assert (await ledger.balance("ann")).available_points == 100
    line = await ledger.stub.Reverse(
        refund_request("order-1", refunded=2_000, original=10_000, points=70)
    )
    assert line.reversed_points == 70
    # The rest by amount: 100% refunded now, so what is left (30) goes.
    rest = await ledger.stub.Reverse(
        refund_request("order-1", refunded=3_000, original=10_000, points=None)
    )
    assert rest.reversed_points == 30
    assert (await ledger.balance("ann")).available_points == 0


async def test_points_after_an_amount_refund_never_exceed_what_is_left(ledger: Ledger) -> None:
    await ledger.earn("ann", 100, source_reference="order-2")
    half = await ledger.stub.Reverse(
        refund_request("order-2", refunded=5_000, original=10_000, points=None)
    )
    assert half.reversed_points == 50
    more = await ledger.stub.Reverse(
        refund_request("order-2", refunded=1_000, original=10_000, points=80)
    )
    assert more.reversed_points == 50
    assert (await ledger.balance("ann")).available_points == 0
    # Its amount still counts: the purchase's refunds may not pass its amount.
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.stub.Reverse(
            refund_request("order-2", refunded=4_001, original=10_000, points=0)
        )
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_refunded_points_are_part_of_the_request_a_key_is_bound_to(ledger: Ledger) -> None:
    await ledger.earn("ann", 100, source_reference="order-3")
    first = await ledger.stub.Reverse(
        refund_request("order-3", refunded=1_000, original=10_000, points=40, idempotency_key="r1")
    )
    again = await ledger.stub.Reverse(
        refund_request("order-3", refunded=1_000, original=10_000, points=40, idempotency_key="r1")
    )
    assert first == again and first.reversed_points == 40
    assert (await ledger.balance("ann")).available_points == 60
    for points in (41, None):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await ledger.stub.Reverse(
                refund_request(
                    "order-3", refunded=1_000, original=10_000, points=points, idempotency_key="r1"
                )
            )
        assert error.value.code() in (
            grpc.StatusCode.ALREADY_EXISTS,
            grpc.StatusCode.FAILED_PRECONDITION,
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.stub.Reverse(
            refund_request("order-3", refunded=1_000, original=10_000, points=-1)
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("refund.refunded_points:")
