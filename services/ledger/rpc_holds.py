"""Holds for redemptions: place, commit, void, read."""

import datetime as dt

import asyncpg
import grpc

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger import convert, store
from services.ledger.domain import HOLD_TTL_SECONDS_MAX
from services.ledger.errors import HoldNotFound
from services.ledger.operations import Program
from services.ledger.rpc_base import (
    LedgerRpcBase,
    check_member,
    check_points,
    check_reference,
    reason_bytes,
)
from services.shared import validation
from services.shared.errors import InvalidArgument


class HoldRpcs(LedgerRpcBase):
    async def PlaceHold(
        self, request: ledger_pb2.PlaceHoldRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.PlaceHoldResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        check_points(request.points)
        check_reference(request.reference, "reference")
        validation.in_range(request.ttl_seconds, "ttl_seconds", low=0, high=HOLD_TTL_SECONDS_MAX)

        async def place(
            connection: asyncpg.Connection, program: Program, now: dt.datetime
        ) -> ledger_pb2.PlaceHoldResponse:
            book, hold = await self.ledger.place_hold(
                connection,
                program,
                now,
                member_id=request.member_id,
                points=request.points,
                reference=request.reference,
                ttl_seconds=request.ttl_seconds or program.settings.hold_ttl_seconds,
            )
            return ledger_pb2.PlaceHoldResponse(
                hold=convert.hold(hold),
                balance=await self._balance(connection, program, book.account, now),
            )

        return await self._mutate(request, "PlaceHold", ledger_pb2.PlaceHoldResponse, place)

    async def CommitHold(
        self, request: ledger_pb2.CommitHoldRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.CommitHoldResponse:
        validation.program_id(request.program_id)
        validation.text(request.hold_id, "hold_id", length_max=64)
        reason = reason_bytes(request)

        async def commit(
            connection: asyncpg.Connection, program: Program, now: dt.datetime
        ) -> ledger_pb2.CommitHoldResponse:
            hold, posting_id = await self.ledger.commit_hold(
                connection, program, now, hold_id=request.hold_id, reason=reason
            )
            posting = await store.fetch_posting(
                connection, program.program_id, hold.member_id, posting_id
            )
            assert posting is not None
            taken = await store.consumptions(
                connection, program.program_id, hold.member_id, f"h{hold.hold_id}"
            )
            return ledger_pb2.CommitHoldResponse(
                hold=convert.hold(hold),
                posting=convert.posting(posting),
                allocations=convert.allocations(taken),
            )

        return await self._mutate(request, "CommitHold", ledger_pb2.CommitHoldResponse, commit)

    async def VoidHold(
        self, request: ledger_pb2.VoidHoldRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.VoidHoldResponse:
        validation.program_id(request.program_id)
        validation.text(request.hold_id, "hold_id", length_max=64)
        validation.text(request.note, "note", required=False)
        # Stored as the hold's void_reason, which readers decode as a HoldVoidReason.
        if request.reason not in common_pb2.HoldVoidReason.values():
            raise InvalidArgument("reason", f"{request.reason} is not a hold void reason")

        async def void(
            connection: asyncpg.Connection, program: Program, now: dt.datetime
        ) -> ledger_pb2.VoidHoldResponse:
            hold = await self.ledger.void_hold(
                connection,
                program,
                now,
                hold_id=request.hold_id,
                reason=request.reason or common_pb2.HOLD_VOID_REASON_REQUESTED,
                note=request.note,
            )
            return ledger_pb2.VoidHoldResponse(hold=convert.hold(hold))

        return await self._mutate(request, "VoidHold", ledger_pb2.VoidHoldResponse, void)

    async def GetHold(
        self, request: ledger_pb2.GetHoldRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.GetHoldResponse:
        validation.program_id(request.program_id)
        validation.text(request.hold_id, "hold_id", length_max=64)
        member_id = await store.hold_member(self.pool, request.program_id, request.hold_id)
        hold = (
            None
            if member_id is None
            else await store.fetch_hold(self.pool, request.program_id, member_id, request.hold_id)
        )
        if hold is None:
            raise HoldNotFound(request.hold_id)
        return ledger_pb2.GetHoldResponse(hold=convert.hold(hold))
