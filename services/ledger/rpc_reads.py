"""Reads: balances in constant time, lots, history, what a spend consumed, tier history."""

import datetime as dt
from collections.abc import Iterable
from typing import Any

import grpc
from google.protobuf.message import Message

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger import convert, store
from services.ledger.errors import MemberNotFound, PostingNotFound
from services.ledger.operations import Program
from services.ledger.rpc_base import (
    BALANCES_PER_CALL_MAX,
    HISTORY_PAGE_SIZE_MAX,
    LedgerRpcBase,
    check_member,
)
from services.shared import validation
from services.shared.errors import InvalidArgument, ResourceExhausted
from services.shared.paging import decode_page_token, encode_page_token
from services.shared.timestamps import instant

# The cursor of ListLots and ListSpendAllocations: a lot's expiry (ISO text) and id.
LOT_KEYS = ("expires", "lot")
LOT_TYPES = {"expires": str, "lot": int}


class ReadRpcs(LedgerRpcBase):
    async def GetBalance(
        self, request: ledger_pb2.GetBalanceRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.GetBalanceResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        program = await self.programs.get(self.pool, request.program_id)
        try:
            balance = await self._current_balance(program, request.member_id)
        except MemberNotFound:
            if not request.enrolled:
                raise
            balance = self._unopened_balance(program, request.member_id)
        return ledger_pb2.GetBalanceResponse(balance=balance)

    def _unopened_balance(self, program: Program, member_id: str) -> ledger_pb2.Balance:
        """Identity enrolled the member and the enrolment consumer has not opened its account
        yet: what that consumer will open, computed by the same code as any balance, so the
        entry tier and its progress are the ledger's. Nothing is written on a read."""
        now = self.clock()
        return convert.balance(
            program,
            store.fresh_account(
                program.program_id,
                member_id,
                tier_code=program.settings.entry_tier_code,
                now=now,
            ),
            expiring_points=0,
            next_expiry=None,
            now=now,
        )

    async def BatchGetBalances(
        self, request: ledger_pb2.BatchGetBalancesRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.BatchGetBalancesResponse:
        validation.program_id(request.program_id)
        if len(request.member_ids) > BALANCES_PER_CALL_MAX:
            raise ResourceExhausted(
                f"at most {BALANCES_PER_CALL_MAX} members per call", field="member_ids"
            )
        for index, member_id in enumerate(request.member_ids):
            check_member(member_id, f"member_ids[{index}]")
        program = await self.programs.get(self.pool, request.program_id)
        balances = []
        for member_id in request.member_ids:
            try:
                balances.append(await self._current_balance(program, member_id))
            except MemberNotFound:
                # The contract leaves unknown members out rather than failing the call; members
                # the caller knows as enrolled read as the fresh account, as GetBalance's do.
                if request.enrolled:
                    balances.append(self._unopened_balance(program, member_id))
        return ledger_pb2.BatchGetBalancesResponse(balances=balances)

    async def ListLots(
        self, request: ledger_pb2.ListLotsRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ListLotsResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        size = validation.page_size(request.page_size, maximum=HISTORY_PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=LOT_KEYS, types=LOT_TYPES)
        if await store.read_account(self.pool, request.program_id, request.member_id) is None:
            raise MemberNotFound(request.member_id)
        lots = await store.lots_page(
            self.pool,
            request.program_id,
            request.member_id,
            after=_lot_cursor(cursor),
            limit=size + 1,
            include_spent=request.include_exhausted,
        )
        token = _lot_token(lots[size - 1]) if len(lots) > size else ""
        return ledger_pb2.ListLotsResponse(
            lots=[convert.lot(lot, request.member_id) for lot in lots[:size]], next_page_token=token
        )

    async def ListHistory(
        self, request: ledger_pb2.ListHistoryRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ListHistoryResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        size = validation.page_size(request.page_size, maximum=HISTORY_PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=("before",), types={"before": int})
        kinds = _posting_kinds(request.kinds)
        start = _optional_instant(request, "start_time")
        end = _optional_instant(request, "end_time")
        if start is not None and end is not None and end <= start:
            raise InvalidArgument("end_time", "must be after start_time")
        if await store.read_account(self.pool, request.program_id, request.member_id) is None:
            raise MemberNotFound(request.member_id)
        postings = await store.postings_page(
            self.pool,
            request.program_id,
            request.member_id,
            before_id=cursor["before"] if cursor else 2**63 - 1,
            limit=size + 1,
            kinds=kinds,
            posted_from=start,
            posted_before=end,
        )
        token = (
            encode_page_token({"before": postings[size - 1].posting_id})
            if len(postings) > size
            else ""
        )
        return ledger_pb2.ListHistoryResponse(
            postings=[convert.posting(p) for p in postings[:size]], next_page_token=token
        )

    async def ListSpendAllocations(
        self, request: ledger_pb2.ListSpendAllocationsRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ListSpendAllocationsResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        posting_id = validation.decimal_id(request.posting_id, "posting_id", what="a posting id")
        size = validation.page_size(request.page_size, maximum=HISTORY_PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=LOT_KEYS, types=LOT_TYPES)
        posting = await store.fetch_posting(
            self.pool, request.program_id, request.member_id, posting_id
        )
        if posting is None:
            raise PostingNotFound(request.posting_id)
        consumer = f"h{posting.hold_id}" if posting.hold_id else f"p{posting.posting_id}"
        # Lots are consumed in the order ListLots walks them, so the pages share its cursor.
        taken = await store.consumptions(
            self.pool,
            request.program_id,
            request.member_id,
            consumer,
            after=_lot_cursor(cursor),
            limit=size + 1,
        )
        return ledger_pb2.ListSpendAllocationsResponse(
            allocations=convert.allocations(taken[:size]),
            next_page_token=_lot_token(taken[size - 1][0]) if len(taken) > size else "",
        )

    async def GetTierHistory(
        self, request: ledger_pb2.GetTierHistoryRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.GetTierHistoryResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        size = validation.page_size(request.page_size, maximum=HISTORY_PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=("before",), types={"before": int})
        if await store.read_account(self.pool, request.program_id, request.member_id) is None:
            raise MemberNotFound(request.member_id)
        rows = await self.pool.fetch(
            "SELECT change_id, from_tier_code, to_tier_code, direction, reason, qualifying_amount, operator_id, note,"
            " changed_at FROM tier_changes WHERE program_id = $1 AND member_id = $2 AND change_id < $3"
            " ORDER BY change_id DESC LIMIT $4",
            request.program_id,
            request.member_id,
            cursor["before"] if cursor else 2**63 - 1,
            size + 1,
        )
        token = (
            encode_page_token({"before": rows[size - 1]["change_id"]}) if len(rows) > size else ""
        )
        return ledger_pb2.GetTierHistoryResponse(
            tier_changes=[
                ledger_pb2.TierChange(
                    member_id=request.member_id,
                    from_tier_code=row["from_tier_code"],
                    to_tier_code=row["to_tier_code"],
                    direction=row["direction"],
                    reason=row["reason"],
                    qualifying_amount=row["qualifying_amount"],
                    operator_id=row["operator_id"],
                    note=row["note"],
                    changed_at=convert.timestamp(row["changed_at"]),
                )
                for row in rows[:size]
            ],
            next_page_token=token,
        )


def _lot_token(last: store.Lot) -> str:
    expires = last.expires_at.isoformat() if last.expires_at else "infinity"
    return encode_page_token({"expires": expires, "lot": last.lot_id})


def _lot_cursor(cursor: dict[str, Any] | None) -> tuple[dt.datetime, int] | None:
    if cursor is None:
        return None
    try:
        expires = (
            dt.datetime.max.replace(tzinfo=dt.UTC)
            if cursor["expires"] == "infinity"
            else dt.datetime.fromisoformat(cursor["expires"])
        )
        return expires, cursor["lot"]
    except ValueError:
        raise InvalidArgument("page_token", "is not a token this service issued") from None


def _posting_kinds(kinds: Iterable[int]) -> list[int]:
    """The distinct posting kinds asked for; an unknown or unspecified one is the caller's error."""
    chosen = sorted(set(kinds))
    for kind in chosen:
        if (
            kind not in common_pb2.PostingKind.values()
            or kind == common_pb2.POSTING_KIND_UNSPECIFIED
        ):
            raise InvalidArgument("kinds", f"{kind} is not a posting kind")
    return chosen


def _optional_instant(request: Message, field: str) -> dt.datetime | None:
    if not request.HasField(field):
        return None
    try:
        return instant(getattr(request, field))
    except (ValueError, OverflowError):
        raise InvalidArgument(field, "is not a time between years 1 and 9999") from None
