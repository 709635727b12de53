"""Unary Earn calls written in groups (group commit), each answered as if it had run alone.

Concurrent Earns of one program share a transaction: their idempotency keys are claimed in one
statement, their accounts opened and locked in another, their books written with one statement per
table, and their responses stored in one more; about ten round trips for up to 128 calls instead
of about twelve per call. Each call keeps its own idempotency record and answer: a retry of an
earlier call is answered from its record, a reused key and a closed account fail that call alone
(its key is given up, nothing of it is written), and any other failure rolls the group back and
has its calls written again one by one (services/shared/group_commit.py).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from loyalty.ledger.v1 import ledger_pb2
from services.ledger import convert, policy
from services.ledger.ledger import Ledger
from services.ledger.operations import Earning, Program, ProgramCache
from services.shared import idempotency
from services.shared.database import Writes, in_transaction
from services.shared.group_commit import GroupCommit

METHOD = "Earn"


@dataclass(frozen=True)
class EarnCall:
    request: ledger_pb2.EarnRequest
    earning: Earning
    request_id: str  # the caller's, for the events its earning announces


class GroupedEarns:
    def __init__(
        self,
        pool: asyncpg.Pool,
        programs: ProgramCache,
        ledger: Ledger,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.pool = pool
        self.programs = programs
        self.ledger = ledger
        self.clock = clock
        self._groups: GroupCommit[EarnCall, ledger_pb2.EarnResponse] = GroupCommit(
            self._write,
            keys=lambda call: (
                ("member", call.earning.member_id),
                ("key", call.request.idempotency_key),
            ),
        )

    async def earn(self, call: EarnCall) -> ledger_pb2.EarnResponse:
        return await self._groups.submit(call.request.program_id, call)

    async def _write(
        self, program_id: str, calls: list[EarnCall]
    ) -> list[ledger_pb2.EarnResponse | BaseException]:
        # Run again from the start (recomputing every call) if PostgreSQL broke a deadlock.
        return await in_transaction(
            self.pool, lambda connection: self._attempt(connection, program_id, calls)
        )

    async def _attempt(
        self, connection: asyncpg.Connection, program_id: str, calls: list[EarnCall]
    ) -> list[ledger_pb2.EarnResponse | BaseException]:
        program = await self.programs.get(connection, program_id)
        now = self.clock()
        fresh, answers = await idempotency.claim_each(
            connection,
            program_id=program_id,
            method=METHOD,
            requests=[(call.request.idempotency_key, call.request) for call in calls],
            response_type=ledger_pb2.EarnResponse,
        )
        outcomes: list[ledger_pb2.EarnResponse | BaseException | None] = [*answers]
        if fresh:
            await self._earn(connection, program, now, [calls[i] for i in fresh], fresh, outcomes)
        assert all(outcome is not None for outcome in outcomes)
        return outcomes  # type: ignore[return-value]

    async def _earn(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        calls: list[EarnCall],
        indexes: list[int],
        outcomes: list[ledger_pb2.EarnResponse | BaseException | None],
    ) -> None:
        writes = Writes()
        earned = await self.ledger.earn_many(
            connection,
            program,
            now,
            [call.earning for call in calls],
            request_ids=[call.request_id for call in calls],
            expiring_until=policy.expiring_soon_until(program.settings, now),
            writes=writes,
        )
        responses: dict[str, ledger_pb2.EarnResponse] = {}
        released = []
        for index, call, outcome in zip(indexes, calls, earned, strict=True):
            key = call.request.idempotency_key
            if isinstance(outcome, BaseException):
                outcomes[index] = outcome
                released.append(key)
                continue
            book = outcome.book
            responses[key] = outcomes[index] = ledger_pb2.EarnResponse(
                posting=convert.posting(book.postings[-1]),
                lot=convert.lot(outcome.lot, book.member_id),
                balance=convert.balance(
                    program,
                    book.account,
                    expiring_points=outcome.expiring_points,
                    next_expiry=outcome.next_expiry,
                    now=now,
                ),
            )
        await idempotency.record_responses(
            writes, program_id=program.program_id, responses=responses, released=released
        )
        # The books, their events and the answers: one statement.
        await writes.run(connection)
