"""LedgerService: proto ⇄ domain translation around transactions; the rules live in domain.py."""

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import grpc
from google.protobuf.message import Message

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from services.ledger import convert, domain, jobs, repository, store, tiering, verification
from services.ledger.batches import BatchPoster
from services.ledger.book import ADJUSTED, EXPIRED, ISSUED, REDEEMED, REVERSED
from services.ledger.domain import HOLD_TTL_SECONDS_MAX
from services.ledger.errors import EntryTierMissing, HoldNotFound, MemberNotFound, ProgramNotFound
from services.ledger.operations import Program, ProgramCache, load_program
from services.shared import validation
from services.shared.errors import InvalidArgument, NotFound, ResourceExhausted
from services.shared.idempotency import once
from services.shared.outbox import Outbox
from services.shared.paging import decode_page_token, encode_page_token
from services.shared.timestamps import from_epoch_seconds

TIERS_PAGE_SIZE_MAX = domain.TIERS_MAX
ResponseT = TypeVar("ResponseT", bound=Message)


def settings_from_proto(config: ledger_pb2.ProgramConfig) -> domain.ProgramSettings:
    return domain.ProgramSettings(
        program_id=config.program_id,
        points_name=config.points_name,
        currency=config.currency,
        time_zone=config.time_zone,
        return_window_days=config.return_window_days,
        expiry_kind=config.expiry_policy.kind,
        expiry_months=config.expiry_policy.months,
        expiry_period=config.expiry_policy.period,
        negative_balance_policy=config.negative_balance_policy,
        hold_ttl_seconds=config.hold_ttl_seconds,
        tier_window_kind=config.tier_window.kind,
        tier_window_rolling_days=config.tier_window.rolling_days,
        tier_requalification_period=config.tier_window.requalification_period,
        qualifying_basis=config.qualifying_basis,
        rounding_mode=config.rounding_mode,
        expiry_notice_days=config.expiry_notice_days,
        entry_tier_code=config.entry_tier_code,
    )


def settings_to_proto(
    settings: domain.ProgramSettings, updated_at_s: float
) -> ledger_pb2.ProgramConfig:
    return ledger_pb2.ProgramConfig(
        program_id=settings.program_id,
        points_name=settings.points_name,
        currency=settings.currency,
        time_zone=settings.time_zone,
        return_window_days=settings.return_window_days,
        expiry_policy=ledger_pb2.ExpiryPolicy(
            kind=settings.expiry_kind, months=settings.expiry_months, period=settings.expiry_period
        ),
        negative_balance_policy=settings.negative_balance_policy,
        hold_ttl_seconds=settings.hold_ttl_seconds,
        tier_window=ledger_pb2.TierWindow(
            kind=settings.tier_window_kind,
            rolling_days=settings.tier_window_rolling_days,
            requalification_period=settings.tier_requalification_period,
        ),
        qualifying_basis=settings.qualifying_basis,
        rounding_mode=settings.rounding_mode,
        expiry_notice_days=settings.expiry_notice_days,
        entry_tier_code=settings.entry_tier_code,
        update_time=from_epoch_seconds(updated_at_s),
    )


def tier_from_proto(tier: ledger_pb2.TierDefinition) -> domain.Tier:
    return domain.Tier(
        code=tier.code,
        name=tier.name,
        rank=tier.rank,
        threshold=tier.threshold,
        benefits_text=tier.benefits_text,
        multiplier_bps=tier.multiplier_bps,
    )


def tier_to_proto(tier: domain.Tier) -> ledger_pb2.TierDefinition:
    return ledger_pb2.TierDefinition(
        code=tier.code,
        name=tier.name,
        rank=tier.rank,
        threshold=tier.threshold,
        benefits_text=tier.benefits_text,
        multiplier_bps=tier.multiplier_bps,
    )


POINTS_MAX = 10**12
MEMBER_ID_LENGTH_MAX = 128
REFERENCE_LENGTH_MAX = 200
HISTORY_PAGE_SIZE_MAX = 500
EXPIRING_SOON = dt.timedelta(days=30)
BALANCES_PER_CALL_MAX = 1000
BATCH_SIZE_MAX = 100_000
MAINTENANCE_JOBS = {
    ledger_pb2.MAINTENANCE_JOB_VESTING: jobs.VESTING,
    ledger_pb2.MAINTENANCE_JOB_EXPIRY: jobs.EXPIRY,
    ledger_pb2.MAINTENANCE_JOB_HOLD_TIMEOUTS: jobs.HOLD_TIMEOUTS,
    ledger_pb2.MAINTENANCE_JOB_TIER_REQUALIFICATION: jobs.TIER_REQUALIFICATION,
    ledger_pb2.MAINTENANCE_JOB_EXPIRY_NOTICES: jobs.EXPIRY_NOTICES,
}

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_member(member_id: str, field: str = "member_id") -> str:
    validation.text(member_id, field, length_max=MEMBER_ID_LENGTH_MAX)
    return member_id


def check_points(points: int, field: str = "points") -> int:
    return validation.in_range(points, field, low=1, high=POINTS_MAX)


def check_reference(reference: str, field: str) -> str:
    return validation.text(reference, field, required=False, length_max=REFERENCE_LENGTH_MAX)


def reason_bytes(request: object) -> bytes:
    reason = getattr(request, "reason", None)
    if reason is None or not request.HasField("reason"):  # type: ignore[attr-defined]
        return b""
    validation.text(reason.note, "reason.note", required=False)
    return reason.SerializeToString(deterministic=True)


class LedgerServicer(ledger_pb2_grpc.LedgerServiceServicer):
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        jobs: jobs.Jobs,
        *,
        batch_size_max: int = BATCH_SIZE_MAX,
        clock: Clock = utc_now,
    ) -> None:
        self.pool = pool
        self.outbox = outbox
        self.jobs = jobs
        self.ledger = jobs.ledger
        self.batches = BatchPoster(self.ledger, outbox)
        self.batch_size_max = batch_size_max
        self.programs = ProgramCache()
        self.clock = clock

    async def PostBatch(
        self,
        request_iterator: AsyncIterator[ledger_pb2.PostBatchRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[ledger_pb2.PostBatchResponse]:
        """Each batch of the stream commits on its own and is answered before the next is read."""
        async for request in request_iterator:
            yield await self._post_batch(request)

    async def _post_batch(
        self, request: ledger_pb2.PostBatchRequest
    ) -> ledger_pb2.PostBatchResponse:
        validation.program_id(request.program_id)
        validation.text(request.batch_id, "batch_id", length_max=200)
        if not request.member_ids:
            raise InvalidArgument("member_ids", "a batch has at least one item")
        if len(request.member_ids) > self.batch_size_max:
            raise ResourceExhausted(
                f"{len(request.member_ids)} items; a batch has at most {self.batch_size_max}",
                field="member_ids",
            )
        async with self.pool.acquire() as connection, connection.transaction():
            program = await self.programs.get(connection, request.program_id)
            now = self.clock()
            return await once(
                connection,
                program_id=request.program_id,
                key=f"batch:{request.batch_id}",
                method="PostBatch",
                request=request,
                response_type=ledger_pb2.PostBatchResponse,
                work=lambda: self.batches.post(connection, program, now, request),
            )

    async def _mutate(
        self,
        request: Any,
        method: str,
        response_type: type[ResponseT],
        work: Callable[[asyncpg.Connection, Program, dt.datetime], Awaitable[ResponseT]],
    ) -> ResponseT:
        """One transaction: the program, the idempotency record and the work, all or nothing."""
        async with self.pool.acquire() as connection, connection.transaction():
            program = await self.programs.get(connection, request.program_id)
            now = self.clock()
            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method=method,
                request=request,
                response_type=response_type,
                work=lambda: work(connection, program, now),
            )

    async def _balance(
        self,
        connection: asyncpg.Connection | asyncpg.Pool,
        program: Program,
        account: store.Account,
        now: dt.datetime,
    ) -> ledger_pb2.Balance:
        soon, first = await store.expiring_soon(
            connection, program.program_id, account.member_id, until=now + EXPIRING_SOON
        )
        return convert.balance(program, account, expiring_points=soon, next_expiry=first, now=now)

    async def Earn(
        self, request: ledger_pb2.EarnRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.EarnResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        check_points(request.points)
        check_reference(request.source_reference, "source_reference")
        reason = reason_bytes(request)
        spend = request.qualifying_spend.amount_minor if request.HasField("qualifying_spend") else 0
        validation.in_range(spend, "qualifying_spend.amount_minor", low=0, high=10**15)

        async def earn(
            connection: asyncpg.Connection, program: Program, now: dt.datetime
        ) -> ledger_pb2.EarnResponse:
            book, lot = await self.ledger.earn(
                connection,
                program,
                now,
                member_id=request.member_id,
                points=request.points,
                source_reference=request.source_reference,
                reason=reason,
                occurred_at=convert.instant(
                    request.occurred_at, present=request.HasField("occurred_at")
                ),
                vests_at=convert.instant(request.vests_at, present=request.HasField("vests_at")),
                expires_at=convert.instant(
                    request.expires_at, present=request.HasField("expires_at")
                ),
                qualifying=request.qualifying,
                qualifying_spend_minor=spend,
            )
            return ledger_pb2.EarnResponse(
                posting=convert.posting(book.postings[-1]),
                lot=convert.lot(lot, request.member_id),
                balance=await self._balance(connection, program, book.account, now),
            )

        return await self._mutate(request, "Earn", ledger_pb2.EarnResponse, earn)

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
        if not request.reason.operator_id:
            raise InvalidArgument(
                "reason.operator_id", "an adjustment names the operator who made it"
            )
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
            if refund.refunded_amount.currency != refund.original_amount.currency:
                raise InvalidArgument(
                    "refund.refunded_amount.currency", "must be the currency of the purchase"
                )
        elif target == "posting_id":
            if not request.posting_id.isdigit():
                raise InvalidArgument("posting_id", "is not a posting id")
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
                )
            else:
                book, reversed_points, debt = await self.ledger.reverse_posting(
                    connection,
                    program,
                    now,
                    member_id=request.member_id,
                    posting_id=int(request.posting_id),
                    reason=reason,
                )
            return ledger_pb2.ReverseResponse(
                postings=[convert.posting(p) for p in book.postings if p.kind in (5, 3)],
                reversed_points=reversed_points,
                debt_points=debt,
                balance=await self._balance(connection, program, book.account, now),
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

        async def void(
            connection: asyncpg.Connection, program: Program, now: dt.datetime
        ) -> ledger_pb2.VoidHoldResponse:
            hold = await self.ledger.void_hold(
                connection,
                program,
                now,
                hold_id=request.hold_id,
                reason=request.reason or common_pb2.HOLD_VOID_REASON_REQUESTED,
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

    async def GetBalance(
        self, request: ledger_pb2.GetBalanceRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.GetBalanceResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        program = await self.programs.get(self.pool, request.program_id)
        return ledger_pb2.GetBalanceResponse(
            balance=await self._current_balance(program, request.member_id)
        )

    async def _current_balance(self, program: Program, member_id: str) -> ledger_pb2.Balance:
        now = self.clock()
        account = await store.read_account(self.pool, program.program_id, member_id)
        if account is None:
            raise MemberNotFound(member_id)
        soon, first = await store.expiring_soon(
            self.pool, program.program_id, member_id, until=now + EXPIRING_SOON
        )
        stale = (account.next_vest_at is not None and account.next_vest_at <= now) or (
            first is not None and first <= now
        )
        if not stale:
            return convert.balance(
                program, account, expiring_points=soon, next_expiry=first, now=now
            )
        # Lots vested or expired since the last change: bring the account up to date first.
        async with self.pool.acquire() as connection, connection.transaction():
            book = await self.ledger.open_book(connection, program, member_id, now, create=False)
            await self.ledger.close_book(book, program)
            return await self._balance(connection, program, book.account, now)

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
        balances = [
            await self._current_balance(program, member_id) for member_id in request.member_ids
        ]
        return ledger_pb2.BatchGetBalancesResponse(balances=balances)

    async def ListLots(
        self, request: ledger_pb2.ListLotsRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ListLotsResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        size = validation.page_size(request.page_size, maximum=HISTORY_PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=("after",))
        if await store.read_account(self.pool, request.program_id, request.member_id) is None:
            raise MemberNotFound(request.member_id)
        lots = await store.lots_page(
            self.pool,
            request.program_id,
            request.member_id,
            after_id=cursor["after"] if cursor else 0,
            limit=size + 1,
            include_spent=request.include_exhausted,
        )
        token = encode_page_token({"after": lots[size - 1].lot_id}) if len(lots) > size else ""
        return ledger_pb2.ListLotsResponse(
            lots=[convert.lot(lot, request.member_id) for lot in lots[:size]], next_page_token=token
        )

    async def ListHistory(
        self, request: ledger_pb2.ListHistoryRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ListHistoryResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        size = validation.page_size(request.page_size, maximum=HISTORY_PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=("before",))
        if await store.read_account(self.pool, request.program_id, request.member_id) is None:
            raise MemberNotFound(request.member_id)
        postings = await store.postings_page(
            self.pool,
            request.program_id,
            request.member_id,
            before_id=cursor["before"] if cursor else 2**63 - 1,
            limit=size + 1,
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
        if not request.posting_id.isdigit():
            raise InvalidArgument("posting_id", "is not a posting id")
        posting = await store.fetch_posting(
            self.pool, request.program_id, request.member_id, int(request.posting_id)
        )
        if posting is None:
            raise NotFound(
                f"posting {request.posting_id} of this member does not exist", field="posting_id"
            )
        consumer = f"h{posting.hold_id}" if posting.hold_id else f"p{posting.posting_id}"
        taken = await store.consumptions(self.pool, request.program_id, request.member_id, consumer)
        return ledger_pb2.ListSpendAllocationsResponse(allocations=convert.allocations(taken))

    async def ConfigureProgram(
        self, request: ledger_pb2.ConfigureProgramRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ConfigureProgramResponse:
        validation.program_id(request.program_id)
        if request.config.program_id != request.program_id:
            raise InvalidArgument("config.program_id", "must equal program_id")
        settings = settings_from_proto(request.config).validate()

        try:
            async with self.pool.acquire() as connection, connection.transaction():

                async def configure() -> ledger_pb2.ConfigureProgramResponse:
                    await repository.upsert_program(connection, settings)
                    stored = await repository.fetch_program(connection, settings.program_id)
                    assert stored is not None
                    return ledger_pb2.ConfigureProgramResponse(config=settings_to_proto(*stored))

                return await once(
                    connection,
                    program_id=request.program_id,
                    key=request.idempotency_key,
                    method="ConfigureProgram",
                    request=request,
                    response_type=ledger_pb2.ConfigureProgramResponse,
                    work=configure,
                )
        finally:
            # After the commit (or the failure): the next call reads the program anew.
            self.programs.forget(request.program_id)

    async def GetProgram(
        self, request: ledger_pb2.GetProgramRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.GetProgramResponse:
        validation.program_id(request.program_id)
        stored = await repository.fetch_program(self.pool, request.program_id)
        if stored is None:
            raise ProgramNotFound(request.program_id)
        return ledger_pb2.GetProgramResponse(config=settings_to_proto(*stored))

    async def SetTierDefinitions(
        self, request: ledger_pb2.SetTierDefinitionsRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.SetTierDefinitionsResponse:
        validation.program_id(request.program_id)
        tiers = domain.validate_tiers([tier_from_proto(t) for t in request.tiers])

        try:
            async with self.pool.acquire() as connection, connection.transaction():

                async def set_tiers() -> ledger_pb2.SetTierDefinitionsResponse:
                    if not await repository.lock_program(connection, request.program_id):
                        raise ProgramNotFound(request.program_id)
                    stored = await repository.fetch_program(connection, request.program_id)
                    assert stored is not None
                    if stored[0].entry_tier_code not in {t.code for t in tiers}:
                        raise EntryTierMissing(stored[0].entry_tier_code)
                    await repository.replace_tiers(connection, request.program_id, tiers)
                    return ledger_pb2.SetTierDefinitionsResponse(
                        tiers=[tier_to_proto(t) for t in tiers]
                    )

                return await once(
                    connection,
                    program_id=request.program_id,
                    key=request.idempotency_key,
                    method="SetTierDefinitions",
                    request=request,
                    response_type=ledger_pb2.SetTierDefinitionsResponse,
                    work=set_tiers,
                )
        finally:
            # After the commit (or the failure): the next call reads the program anew.
            self.programs.forget(request.program_id)

    async def ListTierDefinitions(
        self, request: ledger_pb2.ListTierDefinitionsRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ListTierDefinitionsResponse:
        validation.program_id(request.program_id)
        size = validation.page_size(
            request.page_size, default=TIERS_PAGE_SIZE_MAX, maximum=TIERS_PAGE_SIZE_MAX
        )
        cursor = decode_page_token(request.page_token, keys=("rank",))
        after_rank = cursor["rank"] if cursor else -(2**31)
        if await repository.fetch_program(self.pool, request.program_id) is None:
            raise ProgramNotFound(request.program_id)
        tiers = await repository.fetch_tiers(
            self.pool, request.program_id, after_rank=after_rank, limit=size + 1
        )
        next_token = encode_page_token({"rank": tiers[size - 1].rank}) if len(tiers) > size else ""
        return ledger_pb2.ListTierDefinitionsResponse(
            tiers=[tier_to_proto(t) for t in tiers[:size]], next_page_token=next_token
        )

    async def Verify(
        self, request: ledger_pb2.VerifyRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.VerifyResponse:
        validation.program_id(request.program_id)
        if len(request.member_ids) > BALANCES_PER_CALL_MAX:
            raise ResourceExhausted(
                f"at most {BALANCES_PER_CALL_MAX} members per call", field="member_ids"
            )
        differences_max = validation.page_size(request.differences_max, default=100, maximum=10_000)
        # One snapshot for the whole check, so concurrent postings cannot look like differences.
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            await load_program(connection, request.program_id)
            result = await verification.verify(
                connection,
                request.program_id,
                member_ids=list(request.member_ids) or None,
                differences_max=differences_max,
            )
        return ledger_pb2.VerifyResponse(
            accounts_checked_count=result.accounts_checked,
            differences_count=len(result.differences),
            differences=[
                ledger_pb2.AccountDifference(
                    account_id=d.account_id,
                    field=d.field,
                    stored_value=d.stored,
                    recomputed_value=d.recomputed,
                )
                for d in result.differences
            ],
            program_sum_points=result.program_sum,
        )

    async def GetLiabilityReport(
        self, request: ledger_pb2.GetLiabilityReportRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.GetLiabilityReportResponse:
        validation.program_id(request.program_id)
        if request.HasField("as_of"):
            raise InvalidArgument(
                "as_of", "only the current liability is reported; leave as_of unset"
            )
        now = self.clock()
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            program = await load_program(connection, request.program_id)
            report = await verification.liability(
                connection, request.program_id, time_zone=program.settings.time_zone
            )
        accounts = report.program_accounts
        return ledger_pb2.GetLiabilityReportResponse(
            program_id=request.program_id,
            as_of=convert.timestamp(now),
            outstanding_points=report.outstanding,
            pending_points=report.pending,
            vested_points=report.vested,
            held_points=report.held,
            debt_points=report.debt,
            member_count=report.member_count,
            rows=[
                ledger_pb2.LiabilityRow(
                    expiry_year=year,
                    expiry_month=month,
                    pending_points=pending,
                    vested_points=vested,
                )
                for year, month, pending, vested in report.by_expiry_month
            ],
            issued_account_points=accounts.get(ISSUED, 0),
            redeemed_account_points=accounts.get(REDEEMED, 0),
            expired_account_points=accounts.get(EXPIRED, 0),
            adjusted_account_points=accounts.get(ADJUSTED, 0),
            reversed_account_points=accounts.get(REVERSED, 0),
        )

    async def RunMaintenance(
        self, request: ledger_pb2.RunMaintenanceRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.RunMaintenanceResponse:
        validation.program_id(request.program_id)
        job = MAINTENANCE_JOBS.get(request.job)
        if job is None:
            raise InvalidArgument("job", "name a maintenance job")
        if request.HasField("as_of"):
            raise InvalidArgument("as_of", "jobs run as of now; leave as_of unset")
        await load_program(self.pool, request.program_id)
        started = self.clock()
        # Jobs are idempotent by nature (they do what is due); the key only guards the call itself.
        result = await self.jobs.run_locked(job, program_id=request.program_id, force=True)
        return ledger_pb2.RunMaintenanceResponse(
            job=request.job,
            processed_count=result.processed,
            affected_points=result.points,
            started_at=convert.timestamp(started),
            finished_at=convert.timestamp(self.clock()),
        )

    async def EvaluateTiers(
        self, request: ledger_pb2.EvaluateTiersRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.EvaluateTiersResponse:
        validation.program_id(request.program_id)
        if len(request.member_ids) > BALANCES_PER_CALL_MAX:
            raise ResourceExhausted(
                f"at most {BALANCES_PER_CALL_MAX} members per call", field="member_ids"
            )
        if request.HasField("as_of"):
            raise InvalidArgument("as_of", "tiers are evaluated as of now; leave as_of unset")

        async def evaluate(
            connection: asyncpg.Connection, program: Program, now: dt.datetime
        ) -> ledger_pb2.EvaluateTiersResponse:
            changes = await tiering.evaluate(
                connection,
                self.outbox,
                program,
                now,
                member_ids=list(request.member_ids) or None,
                requalify=request.requalify,
            )
            evaluated = len(request.member_ids) or await connection.fetchval(
                "SELECT count(*) FROM member_accounts WHERE program_id = $1", program.program_id
            )
            upgrade = common_pb2.TIER_CHANGE_DIRECTION_UPGRADE
            return ledger_pb2.EvaluateTiersResponse(
                evaluated_count=evaluated,
                upgraded_count=sum(1 for c in changes if c[3] == upgrade),
                downgraded_count=sum(1 for c in changes if c[3] != upgrade),
                tier_changes=[
                    ledger_pb2.TierChange(
                        member_id=member,
                        from_tier_code=before,
                        to_tier_code=after,
                        direction=direction,
                        reason=reason,
                        qualifying_amount=qualifying,
                        changed_at=convert.timestamp(now),
                    )
                    for member, before, after, direction, reason, qualifying in changes
                ],
            )

        return await self._mutate(
            request, "EvaluateTiers", ledger_pb2.EvaluateTiersResponse, evaluate
        )

    async def GetTierHistory(
        self, request: ledger_pb2.GetTierHistoryRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.GetTierHistoryResponse:
        validation.program_id(request.program_id)
        check_member(request.member_id)
        size = validation.page_size(request.page_size, maximum=HISTORY_PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=("before",))
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
