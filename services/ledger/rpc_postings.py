"""Earn, redeem, adjust, reverse and transfer: one member's points at a time."""

import datetime as dt

import asyncpg
import grpc

from ledger_core import limits
from loyalty.ledger.v1 import ledger_pb2
from services.ledger import convert, store
from services.ledger.batches import (
    NEGATIVE_QUALIFYING_TEXT,
    OVERRIDE_RANGE_TEXT,
    QUALIFYING_SPEND_MINOR_MAX,
)
from services.ledger.grouped_earns import EarnCall
from services.ledger.operations import Earning, Program
from services.ledger.rpc_base import (
    POINTS_MAX,
    REFERENCE_LENGTH_MAX,
    LedgerRpcBase,
    check_member,
    check_points,
    check_reference,
    reason_bytes,
)
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.idempotency import check_idempotency_key
from services.shared.logs import request_id_var
from services.shared.timestamps import unix_micros


class PostingRpcs(LedgerRpcBase):
    async def Earn(
        self, request: ledger_pb2.EarnRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.EarnResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        check_points(request.points)
        check_reference(request.source_reference, "source_reference")
        reason = reason_bytes(request)
        spend = request.qualifying_spend.amount_minor if request.HasField("qualifying_spend") else 0
        validation.in_range(
            spend, "qualifying_spend.amount_minor", low=0, high=QUALIFYING_SPEND_MINOR_MAX
        )
        if spend:
            # Spend-based tiers add minor units up as they come: another currency's would count
            # as if they were the program's.
            program = await self.programs.get(self.pool, request.program_id)
            if request.qualifying_spend.currency != program.settings.currency:
                raise InvalidArgument(
                    "qualifying_spend.currency",
                    f"must be the program's currency, {program.settings.currency}",
                )

        check_idempotency_key(request.idempotency_key)
        if request.HasField("occurred_at"):
            if request.occurred_at.seconds < 0:
                # Before the program's calendar (ledger_core's offset tables) begins.
                raise InvalidArgument("occurred_at", "must not be before 1970-01-01T00:00:00Z")
            validation.not_in_future(
                request.occurred_at.ToMicroseconds(),
                "occurred_at",
                now_micros=unix_micros(self.clock()),
                ahead_max_ms=self.occurred_at_ahead_max_ms,
            )
        for name in ("vests_at", "expires_at"):
            if request.HasField(name):
                seconds = getattr(request, name).seconds
                if not limits.TIMESTAMP_SECONDS_MIN <= seconds <= limits.TIMESTAMP_SECONDS_MAX:
                    # Year 1 and the last instant of 9999 are -infinity and infinity to asyncpg:
                    # stored so, the lot broke every later read of the member's balance.
                    raise InvalidArgument(name, OVERRIDE_RANGE_TEXT)
        earning = Earning(
            member_id=request.member_id,
            points=request.points,
            source_reference=request.source_reference,
            reason=reason,
            occurred_at=convert.instant(
                request.occurred_at, present=request.HasField("occurred_at")
            ),
            vests_at=convert.instant(request.vests_at, present=request.HasField("vests_at")),
            expires_at=convert.instant(request.expires_at, present=request.HasField("expires_at")),
            qualifying=request.qualifying,
            qualifying_spend_minor=spend,
        )
        # Written with the other Earns of the moment, in one transaction (grouped_earns.py).
        return await self.earns.earn(EarnCall(request, earning, request_id_var.get()))

    async def Redeem(
        self, request: ledger_pb2.RedeemRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.RedeemResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        check_points(request.points)
        check_reference(request.source_reference, "source_reference")
        reason = reason_bytes(request)

        async def redeem(
            connection: asyncpg.Connection, program: Program, now: dt.datetime
        ) -> ledger_pb2.RedeemResponse:
            book, _ = await self.ledger.redeem(
                connection,
                program,
                now,
                member_id=request.member_id,
                points=request.points,
                source_reference=request.source_reference,
                reason=reason,
            )
            posting = book.postings[-1]
            taken = await store.consumptions(
                connection, program.program_id, request.member_id, f"p{posting.posting_id}"
            )
            return ledger_pb2.RedeemResponse(
                posting=convert.posting(posting),
                allocations=convert.allocations(taken),
                balance=await self._balance(connection, program, book.account, now),
            )

        return await self._mutate(request, "Redeem", ledger_pb2.RedeemResponse, redeem)

    async def Adjust(
        self, request: ledger_pb2.AdjustRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.AdjustResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        if request.points == 0 or abs(request.points) > POINTS_MAX:
            raise InvalidArgument("points", f"must be non-zero and at most {POINTS_MAX} either way")
        if request.qualifying and request.points < 0:
            # Counted on today, a debit took tier progress below zero, or later so when the
            # days it offset left the window; a Reverse takes back a purchase's on its day.
            raise InvalidArgument("qualifying", NEGATIVE_QUALIFYING_TEXT)
        if not request.reason.operator_id:
            raise InvalidArgument(
                "reason.operator_id", "an adjustment names the operator who made it"
            )
        # A manual correction is audited and reported by its machine-readable code.
        if not request.reason.code:
            raise InvalidArgument("reason.code", "an adjustment says why, such as goodwill")
        validation.code(request.reason.code, "reason.code")
        reason = reason_bytes(request)

        async def adjust(
            connection: asyncpg.Connection, program: Program, now: dt.datetime
        ) -> ledger_pb2.AdjustResponse:
            book = await self.ledger.adjust(
                connection,
                program,
                now,
                member_id=request.member_id,
                points=request.points,
                reason=reason,
                qualifying=request.qualifying,
            )
            return ledger_pb2.AdjustResponse(
                posting=convert.posting(book.postings[-1]),
                balance=await self._balance(connection, program, book.account, now),
            )

        return await self._mutate(request, "Adjust", ledger_pb2.AdjustResponse, adjust)

    async def Reverse(
        self, request: ledger_pb2.ReverseRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ReverseResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        reason = reason_bytes(request)
        target = request.WhichOneof("target")
        if target == "refund":
            refund = request.refund
            validation.text(
                refund.original_reference,
                "refund.original_reference",
                length_max=REFERENCE_LENGTH_MAX,
            )
            validation.in_range(
                refund.original_amount.amount_minor,
                "refund.original_amount.amount_minor",
                low=1,
                high=10**15,
            )
            validation.in_range(
                refund.refunded_amount.amount_minor,
                "refund.refunded_amount.amount_minor",
                low=1,
                high=10**15,
            )
            if refund.HasField("refunded_points"):
                validation.in_range(
                    refund.refunded_points, "refund.refunded_points", low=0, high=10**15
                )
            if refund.refunded_amount.currency != refund.original_amount.currency:
                raise InvalidArgument(
                    "refund.refunded_amount.currency", "must be the currency of the purchase"
                )
        elif target == "posting_id":
            posting_id = validation.decimal_id(
                request.posting_id, "posting_id", what="a posting id"
            )
        else:
            raise InvalidArgument("target", "give a refund or a posting_id to reverse")

        async def reverse(
            connection: asyncpg.Connection, program: Program, now: dt.datetime
        ) -> ledger_pb2.ReverseResponse:
            if target == "refund":
                book, reversed_points, debt = await self.ledger.reverse_refund(
                    connection,
                    program,
                    now,
                    member_id=request.member_id,
                    original_reference=request.refund.original_reference,
                    refunded_minor=request.refund.refunded_amount.amount_minor,
                    original_minor=request.refund.original_amount.amount_minor,
                    reason=reason,
                    refunded_points=(
                        request.refund.refunded_points
                        if request.refund.HasField("refunded_points")
                        else None
                    ),
                )
            else:
                book, reversed_points, debt = await self.ledger.reverse_posting(
                    connection,
                    program,
                    now,
                    member_id=request.member_id,
                    posting_id=posting_id,
                    reason=reason,
                )
            return ledger_pb2.ReverseResponse(
                postings=[convert.posting(p) for p in book.postings if p.kind in (5, 3)],
                reversed_points=reversed_points,
                debt_points=debt,
                balance=await self._balance(connection, program, book.account, now),
                debt_paid_points=book.debt_paid_points,
            )

        return await self._mutate(request, "Reverse", ledger_pb2.ReverseResponse, reverse)

    async def TransferPoints(
        self, request: ledger_pb2.TransferPointsRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.TransferPointsResponse:
        validation.program_id(request.program_id)
        check_member(request.source_member_id, "source_member_id")
        check_member(request.target_member_id, "target_member_id")
        if request.source_member_id == request.target_member_id:
            raise InvalidArgument("target_member_id", "must differ from source_member_id")
        if request.transfer_all:
            if request.points:
                raise InvalidArgument("points", "must be 0 with transfer_all")
        else:
            check_points(request.points)
        reason = reason_bytes(request)

        async def transfer(
            connection: asyncpg.Connection, program: Program, now: dt.datetime
        ) -> ledger_pb2.TransferPointsResponse:
            transfer_id, points, source, target = await self.ledger.transfer(
                connection,
                program,
                now,
                source_member_id=request.source_member_id,
                target_member_id=request.target_member_id,
                points=request.points,
                transfer_all=request.transfer_all,
                reason=reason,
            )
            return ledger_pb2.TransferPointsResponse(
                transfer_id=transfer_id,
                transferred_points=points,
                source_balance=await self._balance(connection, program, source.account, now),
                target_balance=await self._balance(connection, program, target.account, now),
            )

        return await self._mutate(
            request, "TransferPoints", ledger_pb2.TransferPointsResponse, transfer
        )
