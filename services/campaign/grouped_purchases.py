"""RecordPurchase calls written in groups (group commit), each answered as if it had run alone.

Concurrent purchases of one program, of distinct members, share a transaction: their idempotency
keys are claimed in one statement and their purchases accrued as one batch, through the same
`Accruer` as a columnar ingest batch (one statement per table instead of a dozen round trips per
purchase); their earns go to the ledger at once, where they are grouped in turn. A retry is
answered from its record, a reused key or a rejected purchase fails that call alone (its key given
up, nothing of it written), and any other failure (the ledger refusing one earn, a purchase
recorded meanwhile by another replica) rolls the group back and has its calls written again one
by one (services/shared/group_commit.py).
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg

from loyalty.campaign.v1 import campaign_pb2, rules_pb2
from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.campaign import events
from services.campaign import repository_answer_keys as answer_keys
from services.campaign import repository_purchases as store
from services.campaign.accrual import BatchAccrual, parsed_applications
from services.campaign.enrolment import MEMBER_CLOSED, MEMBER_NOT_ENROLLED, Enrolments
from services.campaign.errors import (
    ConcurrentChange,
    LedgerUnavailable,
    MemberMerged,
    MemberNotEnrolled,
)
from services.campaign.ledger_client import LedgerClient, ProgramSettings
from services.campaign.mission_tracker import MissionTracker
from services.campaign.purchases import (
    CAP_COUNTER_ATTEMPTS_MAX,
    COUNTERS_KEPT_MOVING,
    DUPLICATE,
    REJECTED,
    Accruer,
    LedgerItem,
    earn_request,
)
from services.campaign.rule_compiler import CompiledEarningRule
from services.campaign.transactions import Transactions
from services.shared import idempotency
from services.shared.database import connection_lost
from services.shared.errors import FailedPrecondition
from services.shared.group_commit import GroupCommit
from services.shared.logs import request_id_var
from services.shared.outbox import Outbox
from services.shared.timestamps import from_unix_micros, timestamp

METHOD = "RecordPurchase"

Response: TypeAlias = campaign_pb2.RecordPurchaseResponse
Outcome: TypeAlias = Response | BaseException


@dataclass(frozen=True)
class PurchaseCall:
    request: campaign_pb2.RecordPurchaseRequest
    program: ProgramSettings
    # The purchase as a batch of one (services/campaign/transactions.py: of_purchase).
    transactions: Transactions
    occurred_micros: int
    request_id: str  # the caller's, for its events and its earns' calls to the ledger


def rule_applications(accrual: BatchAccrual, position: int) -> list[rules_pb2.RuleApplication]:
    applications = []
    for outcome in accrual.outcomes:
        points = int(outcome.points[position])
        uncapped = int(outcome.uncapped[position]) if outcome.uncapped is not None else points
        if not points and not uncapped:
            continue
        base = int(outcome.base[position]) if outcome.base is not None else 0
        lines = int(outcome.lines[position]) if outcome.lines is not None else points
        parts = [
            f"{label} {value}"
            for label, value in (
                ("base", base),
                ("multipliers +", lines - base),
                ("bonus +", uncapped - lines),
                ("caps -", uncapped - points),
            )
            if value
        ]
        applications.append(
            rules_pb2.RuleApplication(
                rule_id=outcome.rule.rule_id,
                version=outcome.rule.version,
                name=outcome.rule.name,
                points=points,
                uncapped_points=uncapped,
                multiplier_bps=lines * 10_000 // base if base else 10_000,
                explanation=", ".join(parts).replace("+ ", "+").replace("- ", "-"),
            )
        )
    return applications


def stored_applications(text: str) -> list[rules_pb2.RuleApplication]:
    return [
        rules_pb2.RuleApplication(
            rule_id=rule_id, version=version, points=points, uncapped_points=points
        )
        for rule_id, version, points in parsed_applications(text)
    ]


class GroupedPurchases:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        missions: MissionTracker,
        ledger: LedgerClient,
        earning_rules: Callable[
            [asyncpg.Connection, ProgramSettings], Awaitable[list[CompiledEarningRule]]
        ],
        enrolments: Enrolments,
        forgetting: idempotency.Forgetting,
    ) -> None:
        self.pool = pool
        # An erased member's keys are kept under their keyed hash (repository_erased_keys.py).
        self.forgetting = forgetting
        self.outbox = outbox
        self.missions = missions
        self.ledger = ledger
        self.earning_rules = earning_rules
        self.enrolments = enrolments
        self._groups: GroupCommit[PurchaseCall, Response] = GroupCommit(
            self._write,
            keys=lambda call: (
                ("member", call.request.member_id),
                ("key", call.request.idempotency_key),
            ),
            # With the ledger out of reach each call alone would wait for it in turn.
            shared_failure=lambda error: (
                connection_lost(error) or isinstance(error, LedgerUnavailable)
            ),
        )

    async def record(self, call: PurchaseCall) -> Response:
        return await self._groups.submit(call.request.program_id, call)

    async def _write(self, program_id: str, calls: list[PurchaseCall]) -> list[Outcome]:
        # What is written without a call's own id (a mission's or badge's event, a log line)
        # carries the group's first caller's, not that of whichever call started the task.
        request_id_var.set(calls[0].request_id)
        for _ in range(CAP_COUNTER_ATTEMPTS_MAX):
            try:
                async with self.pool.acquire() as connection, connection.transaction():
                    return await self._attempt(connection, calls)
            except store.CountersMoved:
                continue  # accrued again from the cap counters another request changed
            except asyncpg.UniqueViolationError:
                # A purchase recorded meanwhile (another replica): alone, the call is told so;
                # in a group, each call is written again alone to find which.
                if len(calls) == 1:
                    raise ConcurrentChange("transaction_id") from None
                raise
        raise ConcurrentChange("member_id", COUNTERS_KEPT_MOVING)

    async def _attempt(
        self, connection: asyncpg.Connection, calls: list[PurchaseCall]
    ) -> list[Outcome]:
        program = calls[0].program
        program_id = program.program_id
        fresh, answers = await idempotency.claim_each(
            connection,
            program_id=program_id,
            method=METHOD,
            requests=[(call.request.idempotency_key, call.request) for call in calls],
            response_type=Response,
            forgetting=self.forgetting,
        )
        outcomes: list[Outcome | None] = [*answers]
        if fresh:
            await self._record(connection, program, [calls[i] for i in fresh], fresh, outcomes)
        assert all(outcome is not None for outcome in outcomes)
        return outcomes  # type: ignore[return-value]

    async def _record(
        self,
        connection: asyncpg.Connection,
        program: ProgramSettings,
        calls: list[PurchaseCall],
        indexes: list[int],
        outcomes: list[Outcome | None],
    ) -> None:
        """Accrue the fresh calls' purchases as one batch (transaction i is calls[i]'s), post
        their earns, and store each call's answer under its key."""
        program_id = program.program_id
        rules = await self.earning_rules(connection, program)
        accrued = await Accruer(self.outbox, self.missions, self.enrolments).accrue(
            connection,
            program,
            rules,
            Transactions.concat([call.transactions for call in calls]),
            batch_id="",
            explain=True,
        )
        responses: dict[str, Response] = {}
        released: list[str] = []
        accruals: dict[int, campaign_pb2.Accrual] = {}
        duplicates = []
        for position, call in enumerate(calls):
            key = call.request.idempotency_key
            status = accrued.statuses[position]
            if status == REJECTED:
                message = accrued.messages[position].split(": ", 1)[-1]
                outcomes[indexes[position]] = _refused(
                    accrued.reason_codes[position], call.request.member_id, message
                )
                released.append(key)
            elif status == DUPLICATE:
                duplicates.append(position)
            else:
                assert accrued.accrual is not None
                accruals[position] = campaign_pb2.Accrual(
                    points=accrued.points[position],
                    applications=rule_applications(accrued.accrual, accrued.positions[position]),
                )
        if duplicates:
            first = await _first_accruals(
                connection, program_id, [calls[p].request for p in duplicates]
            )
            for position in duplicates:
                request = calls[position].request
                responses[request.idempotency_key] = outcomes[indexes[position]] = Response(
                    accrual=first[(request.member_id, request.transaction_id)],
                    duplicate=True,
                    member_id=request.member_id,
                )
        await self._post(program, calls, accrued.items.items(), accruals)
        recorded = []
        for position, accrual in accruals.items():
            call = calls[position]
            request = call.request
            recorded.append(
                (
                    events.PURCHASE_RECORDED,
                    events_pb2.Event(
                        program_id=program_id,
                        purchase_recorded=events_pb2.PurchaseRecorded(
                            transaction_id=request.transaction_id,
                            member_id=request.member_id,
                            amount=request.amount,
                            channel=request.channel,
                            store_id=request.store_id,
                            occurred_at=timestamp(from_unix_micros(call.occurred_micros)),
                            points=accrual.points,
                            categories=sorted(
                                {line.category for line in request.line_items if line.category}
                            ),
                        ),
                        request_id=call.request_id,
                    ),
                )
            )
            # The member too: a retry that names the member by an identifier is answered
            # before it is resolved again (FindRecordedAnswer).
            responses[request.idempotency_key] = outcomes[indexes[position]] = Response(
                accrual=accrual, member_id=request.member_id
            )
        await self.outbox.enqueue_all(connection, recorded)
        await answer_keys.keep_answer_keys(
            connection,
            program_id,
            [
                (call.request.member_id, call.request.transaction_id, call.request.idempotency_key)
                for call in (calls[p] for p in accruals)
            ],
        )
        await idempotency.record_responses(
            connection, program_id=program_id, responses=responses, released=released
        )

    async def _post(
        self,
        program: ProgramSettings,
        calls: list[PurchaseCall],
        items: list[LedgerItem],
        accruals: dict[int, campaign_pb2.Accrual],
    ) -> None:
        """The batch's earns, sent to the ledger together (it groups them in turn); each
        purchase's accrual takes the posting and vesting of its first earn. An earn the ledger
        refuses fails the group (and so each call is written again alone; a ledger out of reach
        fails each call at once)."""
        for item in items:
            if item.transaction >= 0 and not calls[item.transaction].request.HasField(
                "occurred_at"
            ):
                # Each attempt would stamp its own now, and a retry's earn would then differ
                # from the first one under the same key: the ledger stamps it once. (Bonuses
                # carry no instant of their own.)
                item.occurred_micros = 0
        request_ids = {call.request.member_id: call.request_id for call in calls}

        def earn(item: LedgerItem) -> "asyncio.Future[ledger_pb2.EarnResponse]":
            # Each earn carries the request id of its purchase's call (a bonus: of its member's,
            # or else of the group's first), as it would alone; the task copies the context now.
            token = request_id_var.set(request_ids.get(item.member_id, calls[0].request_id))
            try:
                return asyncio.ensure_future(
                    self.ledger.earn(
                        earn_request(program.program_id, item, currency=program.currency)
                    )
                )
            finally:
                request_id_var.reset(token)

        # The purchases' earns first and the bonuses (missions, milestones, referrals) after, as
        # alone: a bonus is not posted for a group whose purchase earn the ledger refused.
        purchases = [item for item in items if item.transaction >= 0]
        bonuses = [item for item in items if item.transaction < 0]
        posted = await asyncio.gather(*(earn(item) for item in purchases))
        if bonuses:
            await asyncio.gather(*(earn(item) for item in bonuses))
        for item, answer in zip(purchases, posted, strict=True):
            accrual = accruals.get(item.transaction)
            if accrual is not None and not accrual.posting_id:
                accrual.posting_id = answer.posting.posting_id
                accrual.vests_at.CopyFrom(answer.lot.vests_at)


async def _first_accruals(
    connection: asyncpg.Connection,
    program_id: str,
    requests: list[campaign_pb2.RecordPurchaseRequest],
) -> dict[tuple[str, str], campaign_pb2.Accrual]:
    """The accrual each purchase recorded before was first answered with, by (member,
    transaction id): the answer stored under the key RecordPurchase recorded it under, with
    each rule's name and explanation, the posting and its vesting. A purchase recorded by
    IngestTransactions or before campaign migration 026 has no such answer: its stored points
    per rule stand for it."""
    pairs = [(request.member_id, request.transaction_id) for request in requests]
    keys = await answer_keys.fetch_answer_keys(connection, program_id, pairs)
    answers = await idempotency.stored_responses(
        connection,
        program_id=program_id,
        keys=sorted(set(keys.values())),
        method=METHOD,
        response_type=Response,
    )
    first = {
        pair: answers[keys[pair]].accrual
        for pair in pairs
        if pair in keys and keys[pair] in answers and not answers[keys[pair]].duplicate
    }
    missing = [pair for pair in pairs if pair not in first]
    if missing:
        stored = await store.fetch_transactions(
            connection, program_id, [m for m, _ in missing], [t for _, t in missing]
        )
        for pair in missing:
            previous = stored[pair]
            first[pair] = campaign_pb2.Accrual(
                points=previous.points, applications=stored_applications(previous.applications)
            )
    return first


def _refused(reason_code: str, member_id: str, message: str) -> FailedPrecondition:
    """A call's purchase refused before accrual, as the error its caller gets."""
    if reason_code == MEMBER_CLOSED:
        return MemberMerged(member_id, message)
    if reason_code == MEMBER_NOT_ENROLLED:
        return MemberNotEnrolled(member_id, message)
    return FailedPrecondition(message, field="transaction_id")
