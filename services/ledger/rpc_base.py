"""What the parts of LedgerServicer share: connections, limits, checks, the transaction around a change."""

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from google.protobuf.message import Message

from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from services.ledger import convert, domain, jobs, policy, store
from services.ledger.batches import BatchPoster
from services.ledger.errors import MemberNotFound
from services.ledger.grouped_earns import GroupedEarns
from services.ledger.operations import Program, ProgramCache
from services.shared import validation
from services.shared.database import in_transaction
from services.shared.idempotency import once
from services.shared.outbox import Outbox

TIERS_PAGE_SIZE_MAX = domain.TIERS_MAX


ResponseT = TypeVar("ResponseT", bound=Message)


POINTS_MAX = 10**12


MEMBER_ID_LENGTH_MAX = 128


REFERENCE_LENGTH_MAX = 200


HISTORY_PAGE_SIZE_MAX = 500


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


class LedgerRpcBase(ledger_pb2_grpc.LedgerServiceServicer):
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        jobs: jobs.Jobs,
        *,
        batch_size_max: int = BATCH_SIZE_MAX,
        occurred_at_ahead_max_ms: int = validation.OCCURRED_AT_AHEAD_MAX_MS,
        clock: Clock = utc_now,
    ) -> None:
        self.pool = pool
        self.outbox = outbox
        self.jobs = jobs
        self.ledger = jobs.ledger
        self.batches = BatchPoster(
            self.ledger, outbox, occurred_at_ahead_max_ms=occurred_at_ahead_max_ms
        )
        self.batch_size_max = batch_size_max
        self.occurred_at_ahead_max_ms = occurred_at_ahead_max_ms
        self.programs = ProgramCache()
        self.clock = clock
        # The clock is read through the servicer, so a test that swaps it swaps it for groups too.
        self.earns = GroupedEarns(pool, self.programs, self.ledger, lambda: self.clock())

    async def _mutate(
        self,
        request: Any,
        method: str,
        response_type: type[ResponseT],
        work: Callable[[asyncpg.Connection, Program, dt.datetime], Awaitable[ResponseT]],
    ) -> ResponseT:
        """One transaction: the program, the idempotency record and the work, all or nothing;
        run again from the start if PostgreSQL broke a deadlock by aborting it."""

        async def attempt(connection: asyncpg.Connection) -> ResponseT:
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

        return await in_transaction(self.pool, attempt)

    async def _balance(
        self,
        connection: asyncpg.Connection | asyncpg.Pool,
        program: Program,
        account: store.Account,
        now: dt.datetime,
    ) -> ledger_pb2.Balance:
        soon, first = await store.expiring_soon(
            connection,
            program.program_id,
            account.member_id,
            until=policy.expiring_soon_until(program.settings, now),
        )
        return convert.balance(program, account, expiring_points=soon, next_expiry=first, now=now)

    async def _current_balance(self, program: Program, member_id: str) -> ledger_pb2.Balance:
        now = self.clock()
        account = await store.read_account(self.pool, program.program_id, member_id)
        if account is None:
            raise MemberNotFound(member_id)
        soon, first = await store.expiring_soon(
            self.pool,
            program.program_id,
            member_id,
            until=policy.expiring_soon_until(program.settings, now),
        )
        stale = (account.next_vest_at is not None and account.next_vest_at <= now) or (
            first is not None and first <= now
        )
        if not stale:
            return convert.balance(
                program, account, expiring_points=soon, next_expiry=first, now=now
            )
        # Lots vested or expired since the last change: bring the account up to date first,
        # a merged member's too (a read is no posting: its emptied lots still vest).
        async with self.pool.acquire() as connection, connection.transaction():
            book = await self.ledger.open_book(
                connection, program, member_id, now, create=False, allow_closed=True
            )
            await self.ledger.close_book(book, program)
            return await self._balance(connection, program, book.account, now)
