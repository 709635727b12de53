"""A small client over LedgerService for readable tests."""

import datetime as dt
import itertools

import grpc

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from tests.services.ledger.test_programs import TIERS, program_config

_keys = itertools.count(1)


def key() -> str:
    return f"k{next(_keys)}"


def ts(moment: dt.datetime):
    from google.protobuf.timestamp_pb2 import Timestamp

    value = Timestamp()
    value.FromDatetime(moment)
    return value


class Ledger:
    def __init__(self, channel: grpc.aio.Channel, program_id: str = "acme") -> None:
        self.stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        self.program_id = program_id

    async def setup(self, **config) -> None:
        await self.stub.ConfigureProgram(
            ledger_pb2.ConfigureProgramRequest(
                program_id=self.program_id,
                idempotency_key=key(),
                config=program_config(self.program_id, **config),
            )
        )
        await self.stub.SetTierDefinitions(
            ledger_pb2.SetTierDefinitionsRequest(
                program_id=self.program_id, idempotency_key=key(), tiers=TIERS
            )
        )

    async def earn(
        self,
        member: str,
        points: int,
        *,
        vested: bool = True,
        idempotency_key: str | None = None,
        **fields,
    ):
        if vested and "vests_at" not in fields:
            fields["vests_at"] = ts(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        return await self.stub.Earn(
            ledger_pb2.EarnRequest(
                program_id=self.program_id,
                idempotency_key=idempotency_key or key(),
                member_id=member,
                points=points,
                **fields,
            )
        )

    async def redeem(self, member: str, points: int, *, idempotency_key: str | None = None):
        return await self.stub.Redeem(
            ledger_pb2.RedeemRequest(
                program_id=self.program_id,
                idempotency_key=idempotency_key or key(),
                member_id=member,
                points=points,
            )
        )

    async def balance(self, member: str) -> ledger_pb2.Balance:
        return (
            await self.stub.GetBalance(
                ledger_pb2.GetBalanceRequest(program_id=self.program_id, member_id=member)
            )
        ).balance

    async def hold(self, member: str, points: int, **fields):
        return await self.stub.PlaceHold(
            ledger_pb2.PlaceHoldRequest(
                program_id=self.program_id,
                idempotency_key=key(),
                member_id=member,
                points=points,
                **fields,
            )
        )

    async def commit(self, hold_id: str, *, idempotency_key: str | None = None):
        return await self.stub.CommitHold(
            ledger_pb2.CommitHoldRequest(
                program_id=self.program_id,
                idempotency_key=idempotency_key or key(),
                hold_id=hold_id,
            )
        )

    async def void(self, hold_id: str, **fields):
        return await self.stub.VoidHold(
            ledger_pb2.VoidHoldRequest(
                program_id=self.program_id, idempotency_key=key(), hold_id=hold_id, **fields
            )
        )

    async def refund(
        self,
        member: str,
        reference: str,
        *,
        refunded: int,
        original: int,
        idempotency_key: str | None = None,
    ):
        return await self.stub.Reverse(
            ledger_pb2.ReverseRequest(
                program_id=self.program_id,
                idempotency_key=idempotency_key or key(),
                member_id=member,
                refund=ledger_pb2.PurchaseRefund(
                    original_reference=reference,
                    refunded_amount=common_pb2.Money(amount_minor=refunded, currency="EUR"),
                    original_amount=common_pb2.Money(amount_minor=original, currency="EUR"),
                ),
            )
        )

    async def transfer(
        self, source: str, target: str, points: int = 0, *, transfer_all: bool = False
    ):
        return await self.stub.TransferPoints(
            ledger_pb2.TransferPointsRequest(
                program_id=self.program_id,
                idempotency_key=key(),
                source_member_id=source,
                target_member_id=target,
                points=points,
                transfer_all=transfer_all,
            )
        )

    async def adjustments(self, member: str) -> list[int]:
        """The points of the member's adjustments (a write-off, its pay-back), sorted."""
        history = await self.stub.ListHistory(
            ledger_pb2.ListHistoryRequest(program_id=self.program_id, member_id=member)
        )
        return sorted(
            p.points for p in history.postings if p.kind == common_pb2.POSTING_KIND_ADJUST
        )

    async def verify(self) -> ledger_pb2.VerifyResponse:
        return await self.stub.Verify(ledger_pb2.VerifyRequest(program_id=self.program_id))

    async def assert_clean(self) -> None:
        result = await self.verify()
        assert list(result.differences) == [] and result.program_sum_points == 0, result


async def write_off(ledger: Ledger) -> None:
    """The program under the WRITE_OFF policy: what a refund cannot take back is written off."""
    await ledger.setup(negative_balance_policy=ledger_pb2.NEGATIVE_BALANCE_POLICY_WRITE_OFF)


def batch(
    batch_id: str, items: list[tuple[str, int, int, str]], **columns
) -> ledger_pb2.PostBatchRequest:
    return ledger_pb2.PostBatchRequest(
        program_id="acme",
        batch_id=batch_id,
        member_ids=[m for m, _, _, _ in items],
        points=[p for _, p, _, _ in items],
        kinds=[k for _, _, k, _ in items],
        idempotency_keys=[key for _, _, _, key in items],
        **columns,
    )


async def post(
    ledger: Ledger, *requests: ledger_pb2.PostBatchRequest
) -> list[ledger_pb2.PostBatchResponse]:
    async def stream():
        for request in requests:
            yield request

    return [response async for response in ledger.stub.PostBatch(stream())]
