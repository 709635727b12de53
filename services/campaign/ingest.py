"""IngestTransactions: a stream of columnar batches, accrued in bulk and posted in bulk.

Each batch goes through two stages, pipelined so the ledger posts batch n while campaign accrues
batch n + 1 (at most `batches_in_flight_max` batches ahead):

1. accrue: in one campaign transaction, accrue the fresh purchases (duplicates answered with their
   first points), write transactions, counters and awards, and store the batch with its ledger
   request and plan (state 1: the plan names the mission step each purchase counted for); then
   write the request's purchase items on the PostBatch stream;
2. finish: read the ledger's answer; take back what the purchases it refused counted (their
   milestones, mission steps and referrals too: withdrawal.py) and post the bonuses (missions,
   milestones, referrals) of the others, in one more ledger batch; reverse the returns (each
   through the ledger's refund), and store the batch's response (state 2); then answer the
   client.

Bonuses wait for the purchases' answers so that one a refused purchase earned is never posted:
the referrer's half of a referral would otherwise be (the refused member's own bonuses the ledger
refuses too). A batch without bonuses costs nothing more; one with some, a ledger call.

A crash between the two leaves state 1: a replay of the batch id, or the recovery worker, finishes
it from what is stored; the ledger items' keys come from the transaction ids, so posting them again
is a duplicate. Taking back the refused purchases and storing state 2 are one transaction, in which
the bonuses are posted: a crash before it commits leaves it all to do again, the same way. That
transaction first moves the batch to state 2 if it is still in state 1, so of two finishing one
batch at once (a replay and the recovery worker, or a re-send as below) the second, waiting on
the row, takes nothing back and posts no bonus the first held: it answers the stored response.
A batch id seen before in state 2 answers with its stored response.

The purchases of a batch left in state 1 may come again under other batch ids (a client resuming
with other batch boundaries): answered DUPLICATE with their first points, they must be posted by
then, not a recovery delay later. A batch that found duplicates (and only such a batch: an
import's fresh batches look nothing more up) finds, in its accrual's transaction, the batches
still in state 1 that accrued them; they are kept in its plan, and its finish finishes them first
(finish_unposted), so it stays in state 1 until then, even with nothing of its own to post, and
a replay of it or the recovery worker finishes them as well. A duplicate the ledger refuses there
is taken back there, so it is rejected here too, with that batch's reason.
"""

import asyncio
import base64
import collections
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import numpy as np

from loyalty.campaign.v1 import campaign_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.campaign import repository_purchases as store
from services.campaign.enrolment import Enrolments
from services.campaign.errors import (
    CampaignError,
    ConcurrentChange,
    LedgerRefused,
    PurchaseNotFound,
    PurchaseNotPosted,
)
from services.campaign.ledger_client import (
    BATCH_COLUMNS,
    BatchStream,
    LedgerClient,
    ProgramSettings,
    chunked,
)
from services.campaign.mission_tracker import MissionTracker, RefusedStep
from services.campaign.purchases import (
    CAP_COUNTER_ATTEMPTS_MAX,
    COUNTERS_KEPT_MOVING,
    DUPLICATE,
    NO_POINTS,
    POSTED,
    REJECTED,
    Accrued,
    Accruer,
)
from services.campaign.return_lines import ReturnedLine
from services.campaign.returns import Refund, ReturnOutcome, record_return
from services.campaign.rpc_base import Limits, check_reference, now
from services.campaign.rule_compiler import CompiledEarningRule
from services.campaign.transactions import PURCHASE, Transactions
from services.campaign.withdrawal import Archived, withdraw_purchases
from services.shared import validation
from services.shared.errors import FailedPrecondition, InvalidArgument
from services.shared.outbox import Outbox
from services.shared.timestamps import from_unix_micros, unix_micros

logger = logging.getLogger(__name__)

RulesOf = Callable[[asyncpg.Connection, ProgramSettings], Awaitable[list[CompiledEarningRule]]]
LEDGER_REJECT_CODES = {
    value: name.removeprefix("REJECT_REASON_").lower()
    for name, value in ledger_pb2.RejectReason.items()
}


@dataclass
class Pending:
    """A batch between its two stages."""

    program: ProgramSettings
    batch_id: str
    response: campaign_pb2.IngestTransactionsResponse
    ledger_request: ledger_pb2.PostBatchRequest | None = None
    plan: dict = field(default_factory=dict)  # type: ignore[type-arg]
    chunks_written: int = 0
    done: bool = False


@dataclass
class Failure:
    error: BaseException


class Ingest:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ledger: LedgerClient,
        outbox: Outbox,
        limits: Limits,
        rules_of: RulesOf,
        missions: MissionTracker | None = None,
        enrolments: Enrolments | None = None,
    ) -> None:
        self.pool = pool
        self.ledger = ledger
        self.outbox = outbox
        self.limits = limits
        self.rules_of = rules_of
        self.accruer = Accruer(outbox, missions, enrolments)
        # Until a batch of this stream meets a transaction recorded before, its purchases are
        # taken as new rather than looked up one by one (see accrue).
        self.assume_fresh = True

    async def run(
        self, requests: AsyncIterator[campaign_pb2.IngestTransactionsRequest]
    ) -> AsyncIterator[campaign_pb2.IngestTransactionsResponse]:
        progress = campaign_pb2.IngestProgress()
        stream = self.ledger.open_batch_stream()
        queue: asyncio.Queue[Pending | Failure | None] = asyncio.Queue(
            maxsize=self.limits.batches_in_flight_max
        )
        producer = asyncio.create_task(self._produce(requests, stream, queue))
        completed = False
        try:
            while True:
                pending = await queue.get()
                if pending is None:
                    break
                if isinstance(pending, Failure):
                    raise pending.error
                response = await self.finish(pending, stream)
                _advance(progress, response)
                response.progress.CopyFrom(progress)
                yield response
            completed = True
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
            await stream.close(graceful=completed)

    async def _produce(
        self,
        requests: AsyncIterator[campaign_pb2.IngestTransactionsRequest],
        stream: BatchStream,
        queue: "asyncio.Queue[Pending | Failure | None]",
    ) -> None:
        try:
            async for request in requests:
                pending = await self.accrue(request)
                purchases = _purchase_part(pending)
                if purchases is not None:
                    for chunk in chunked(purchases, items_max=self.limits.ledger_batch_items_max):
                        await stream.write(chunk)
                        pending.chunks_written += 1
                await queue.put(pending)
            await queue.put(None)
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # handed to the consumer, which raises it in order
            await queue.put(Failure(error))

    async def accrue(self, request: campaign_pb2.IngestTransactionsRequest) -> Pending:
        """Stage 1: the batch accrued and stored, or its stored state if seen before."""
        validation.program_id(request.program_id)
        check_reference(request.batch_id, "batch_id")
        program = await self.ledger.program(request.program_id)
        if request.currency != program.currency:
            raise InvalidArgument("currency", f"must be the program's currency {program.currency}")
        # What request_hash gives (the request has no idempotency key), without its copy of a
        # megabyte-sized message.
        digest = hashlib.sha256(request.SerializeToString(deterministic=True)).digest()
        stored = await store.fetch_batch(self.pool, program.program_id, request.batch_id)
        if stored is not None:
            return self.stored_pending(program, request.batch_id, digest, stored)
        transactions = Transactions.of_ingest(request, self.limits, now_micros=unix_micros(now()))
        for _ in range(CAP_COUNTER_ATTEMPTS_MAX):
            try:
                return await self._accrue_transactions(request, program, transactions, digest)
            except store.CountersMoved:
                continue
        raise ConcurrentChange("member_ids", COUNTERS_KEPT_MOVING)

    async def _accrue_transactions(
        self,
        request: campaign_pb2.IngestTransactionsRequest,
        program: ProgramSettings,
        transactions: Transactions,
        digest: bytes,
    ) -> Pending:
        if self.assume_fresh:
            # An import sends each transaction once, so looking up ten thousand purchases only
            # to find none is the common waste. Inserting a purchase recorded before fails the
            # batch's transaction instead, which then runs again with the look-up, as does every
            # later batch of the stream.
            try:
                return await self._accrue_new(
                    request, program, transactions, digest, assume_fresh=True
                )
            except asyncpg.UniqueViolationError:
                self.assume_fresh = False
        try:
            return await self._accrue_new(request, program, transactions, digest)
        except asyncpg.UniqueViolationError:
            raise ConcurrentChange("transaction_ids") from None

    async def _accrue_new(
        self,
        request: campaign_pb2.IngestTransactionsRequest,
        program: ProgramSettings,
        transactions: Transactions,
        digest: bytes,
        *,
        assume_fresh: bool = False,
    ) -> Pending:
        async with self.pool.acquire() as connection, connection.transaction():
            rules = await self.rules_of(connection, program)
            accrued = await self.accruer.accrue(
                connection,
                program,
                rules,
                transactions,
                batch_id=request.batch_id,
                assume_fresh=assume_fresh,
            )
            pending = _pending(program, request.batch_id, transactions, accrued)
            unposted = await _unposted_duplicates(
                connection, program.program_id, request.batch_id, transactions, accrued
            )
            if unposted is not None:
                pending.plan["unposted"] = unposted
                pending.done = False
            inserted = await store.insert_batch(
                connection,
                program.program_id,
                request.batch_id,
                request_hash=digest,
                state=store.BATCH_POSTED if pending.done else store.BATCH_ACCRUED,
                ledger_request=(
                    pending.ledger_request.SerializeToString()
                    if pending.ledger_request is not None
                    else None
                ),
                plan=None if pending.done else _plan_json(pending.plan),
                response=pending.response.SerializeToString(),
            )
            if not inserted:
                raise FailedPrecondition(
                    "is being ingested by another stream; send it again later", field="batch_id"
                )
        return pending

    def stored_pending(
        self, program: ProgramSettings, batch_id: str, digest: bytes, stored: store.StoredBatch
    ) -> Pending:
        if stored.request_hash != digest:
            raise FailedPrecondition(
                f"batch {batch_id!r} was ingested before with other content", field="batch_id"
            )
        response = campaign_pb2.IngestTransactionsResponse.FromString(stored.response)
        if stored.state == store.BATCH_POSTED:
            return Pending(program, batch_id, response, done=True)
        return Pending(
            program,
            batch_id,
            response,
            ledger_request=(
                ledger_pb2.PostBatchRequest.FromString(stored.ledger_request)
                if stored.ledger_request is not None
                else None
            ),
            plan=_plan_of(stored.plan),
        )

    async def finish(
        self, pending: Pending, stream: BatchStream | None = None
    ) -> campaign_pb2.IngestTransactionsResponse:
        """Stage 2: the ledger's answers applied, the refused purchases taken back, the bonuses
        of the others posted, the returns reversed, the response stored."""
        response = pending.response
        if pending.done:
            return response
        if "unposted" in pending.plan:
            await self._finish_earlier(pending, pending.plan["unposted"])
        answers = []
        if stream is not None and pending.chunks_written:
            answers = [await stream.read() for _ in range(pending.chunks_written)]
        elif (purchases := _purchase_part(pending)) is not None:
            answers = await self.ledger.post_batches(
                chunked(purchases, items_max=self.limits.ledger_batch_items_max)
            )
        # The archive holds the fresh purchases in order: those still POSTED or NO_POINTS as
        # accrued, before the answers reject some.
        fresh = np.isin(np.array(response.statuses, dtype=np.int64), (POSTED, NO_POINTS))
        refused = _apply_answers(pending, answers)
        for entry in pending.plan.get("returns", []):
            await self._reverse(pending, entry)
        statuses = np.array(response.statuses, dtype=np.int64)
        response.points_total = int(
            np.array(response.points, dtype=np.int64)[statuses == POSTED].sum()
        )
        program_id, stored = pending.program.program_id, response.SerializeToString()
        bonuses = _bonus_part(pending)
        if not refused:
            if bonuses is not None:
                await self._post_bonuses(pending, bonuses)
            # One statement: atomic without a transaction's two more round trips.
            if not await store.finish_batch(self.pool, program_id, pending.batch_id, stored):
                return await self._stored_response(pending)
            return response
        request = pending.ledger_request
        assert request is not None
        rejected = sorted(
            {(request.member_ids[item], request.source_references[item]) for item in refused}
        )
        transactions = {pending.plan["items"][item]: item for item in refused}
        archived = None
        if pending.plan.get("archive_seq"):
            positions = (np.cumsum(fresh) - 1)[sorted(transactions)].tolist()
            archived = Archived(pending.plan["archive_seq"], positions)
        steps = _refused_steps(pending, transactions)
        for attempt in range(CAP_COUNTER_ATTEMPTS_MAX):
            try:
                async with self.pool.acquire() as connection, connection.transaction():
                    # First, locking the batch's row: a concurrent finish of it waits here until
                    # this one commits, then finds it finished. Its withdrawal would take nothing
                    # back and so hold no bonus: it would post those this one held.
                    if not await store.finish_batch(
                        connection, program_id, pending.batch_id, stored
                    ):
                        break
                    held = await withdraw_purchases(
                        connection,
                        pending.program,
                        rejected,
                        outbox=self.outbox,
                        archived=archived,
                        steps=steps,
                    )
                    kept = _without(bonuses, held)
                    if kept is not None:
                        # In the transaction: a crash before it commits posts them again, as
                        # duplicates, when the batch is finished again.
                        await self._post_bonuses(pending, kept)
                return response
            except asyncpg.DeadlockDetectedError:
                # The withdrawal updates cap counters in the order the server finds them, not in
                # the member order batches lock them in: a deadlock with one is run again.
                if attempt == CAP_COUNTER_ATTEMPTS_MAX - 1:
                    raise
        return await self._stored_response(pending)

    async def _stored_response(self, pending: Pending) -> campaign_pb2.IngestTransactionsResponse:
        """The response another finisher stored for the batch (its returns POSTED where this
        finisher's record_return found them DUPLICATE)."""
        stored = await store.fetch_batch(self.pool, pending.program.program_id, pending.batch_id)
        assert stored is not None and stored.state == store.BATCH_POSTED
        return campaign_pb2.IngestTransactionsResponse.FromString(stored.response)

    async def finish_unposted(self, program: ProgramSettings, batch_id: str) -> Pending | None:
        """Finish a batch left in state 1 from what is stored; None if it is not (any more)."""
        stored = await store.fetch_batch(self.pool, program.program_id, batch_id)
        if stored is None or stored.state != store.BATCH_ACCRUED:
            return None
        pending = self.stored_pending(program, batch_id, stored.request_hash, stored)
        await self.finish(pending)
        return pending

    async def _finish_earlier(self, pending: Pending, unposted: dict) -> None:  # type: ignore[type-arg]
        """Finish the batches still unposted when this one found its duplicates in them; its
        duplicates that the ledger refused there (taken back) are rejected here as they were
        there. An error leaves this batch in state 1 too, unanswered: its duplicates are not
        "already there" until then."""
        refused: dict[tuple[str, str], tuple[str, str]] = {}
        finished_all = True
        for batch_id in unposted["batches"]:
            finished = await self.finish_unposted(pending.program, batch_id)
            if finished is None:
                finished_all = False
                continue
            logger.info(
                "finished ingest batch %s of %s before batch %s, which sent its purchases again",
                batch_id,
                pending.program.program_id,
                pending.batch_id,
            )
            refused.update(_refused_purchases(finished))
        keys = list(zip(unposted["members"], unposted["transaction_ids"], strict=True))
        if not finished_all:
            # Another finisher posted some meanwhile: the purchases the ledger refused there
            # were taken back, for a reason this batch does not see.
            kept = await store.fetch_transactions(
                self.pool,
                pending.program.program_id,
                unposted["members"],
                unposted["transaction_ids"],
            )
            unseen = (
                "rejected",
                "refused by the ledger when the batch first sending it was posted",
            )
            refused.update((key, unseen) for key in keys if key not in kept and key not in refused)
        for index, key in zip(unposted["indexes"], keys, strict=True):
            if key in refused:
                _reject(pending.response, index, *refused[key])

    async def _post_bonuses(self, pending: Pending, bonuses: ledger_pb2.PostBatchRequest) -> None:
        """Post the batch's bonuses; one the ledger refuses is logged (it answers no purchase)."""
        answers = await self.ledger.post_batches(
            chunked(bonuses, items_max=self.limits.ledger_batch_items_max)
        )
        offset = 0
        for answer in answers:
            for index, status in enumerate(answer.statuses):
                if status == ledger_pb2.ITEM_STATUS_REJECTED:
                    logger.error(
                        "the ledger rejected bonus item %s of batch %s: %s",
                        bonuses.idempotency_keys[offset + index],
                        pending.batch_id,
                        answer.messages[index],
                    )
            offset += len(answer.statuses)

    async def _reverse(self, pending: Pending, entry: dict) -> None:  # type: ignore[type-arg]
        index, response = entry["index"], pending.response
        refund = Refund(
            member_id=entry["member_id"],
            return_id=entry["return_id"],
            original_transaction_id=entry["original"],
            refunded_minor=entry["refunded"],
            occurred_at=from_unix_micros(entry["occurred_micros"]),
            channel=entry["channel"],
            store_id=entry["store_id"],
            batch_id=pending.batch_id,
            lines=tuple(ReturnedLine(*line) for line in entry.get("lines", ())),
            line_field=_line_field(entry.get("line_offset", 0)),
        )
        try:
            try:
                outcome = await self._record_return(pending.program, refund)
            except PurchaseNotPosted as error:
                # Another batch accrued the purchase and has not posted it (its stream died, as
                # a till's does, and the return came in the next upload): finished here, as
                # RecordReturn does, outside the return's transaction, and the return goes again.
                await self.finish_unposted(pending.program, error.batch_id)
                outcome = await self._record_return(pending.program, refund)
        except PurchaseNotFound as error:
            _reject(response, index, "unknown_original", error.details())
            return
        except (LedgerRefused, FailedPrecondition, InvalidArgument) as error:
            _reject(response, index, "return_refused", error.details())
            return
        response.points[index] = -outcome.reversed_points
        if outcome.duplicate:
            response.statuses[index] = DUPLICATE
        else:
            response.statuses[index] = POSTED if outcome.reversed_points else NO_POINTS

    async def _record_return(self, program: ProgramSettings, refund: Refund) -> ReturnOutcome:
        async with self.pool.acquire() as connection, connection.transaction():
            return await record_return(connection, self.ledger, self.outbox, program, refund)


def _line_field(offset: int) -> Callable[[int, str], str]:
    """How a return's line's field is named: its index in the batch's line columns."""
    columns = {"sku": "line_skus", "quantity": "line_quantities", "amount": "line_amounts_minor"}
    return lambda index, name: f"{columns[name]}[{offset + index}]"


def _return_lines(
    transactions: Transactions, index: int, starts: list[int], offsets: list[int]
) -> dict[str, object]:
    """A return's lines for its plan entry, when it was given line detail: [sku, amount,
    quantity] each, and the index of its first line in the batch's line columns."""
    if not transactions.detailed[index]:
        return {}
    start, count = starts[index], transactions.line_counts[index]
    lines = [
        [transactions.line_skus[j], transactions.line_amounts[j], transactions.line_quantities[j]]
        for j in range(start, start + count)
    ]
    return {"lines": lines, "line_offset": offsets[index]}


def _pending(
    program: ProgramSettings, batch_id: str, transactions: Transactions, accrued: Accrued
) -> Pending:
    offsets: list[int] = []
    starts: list[int] = []
    if any(transactions.detailed[index] for index in transactions.returns()):
        # Each transaction's first line in the request's line columns (given lines only), and
        # in the transactions' lines.
        counts = np.array(transactions.line_counts, dtype=np.int64)
        given = np.where(np.array(transactions.detailed, dtype=np.bool_), counts, 0)
        offsets = np.concatenate(([0], np.cumsum(given))).tolist()
        starts = np.concatenate(([0], np.cumsum(counts))).tolist()
    response = campaign_pb2.IngestTransactionsResponse(
        batch_id=batch_id,
        statuses=accrued.statuses,
        points=accrued.points,
        reason_codes=accrued.reason_codes,
        messages=accrued.messages,
    )
    returns = [
        {
            **_return_lines(transactions, index, starts, offsets),
            "index": index,
            "member_id": transactions.members[index],
            "return_id": transactions.ids[index],
            "original": transactions.originals[index],
            "refunded": abs(transactions.amounts[index]),
            "occurred_micros": transactions.micros[index],
            "channel": transactions.channels[index],
            "store_id": transactions.stores[index],
        }
        for index in transactions.returns()
        if accrued.statuses[index] != DUPLICATE and accrued.statuses[index] != REJECTED
    ]
    pending = Pending(program, batch_id, response)
    if accrued.items:
        ledger_batch_id = f"campaign:{batch_id}"
        pending.ledger_request = accrued.items.request(program.program_id, ledger_batch_id)
        response.ledger_batch_id = ledger_batch_id
    pending.plan = {
        "items": accrued.items.transactions,
        "returns": returns,
        "archive_seq": accrued.archive_seq,
    }
    if accrued.mission_steps:
        pending.plan["mission_ids"] = accrued.mission_steps.mission_ids
        pending.plan["mission_steps"] = accrued.mission_steps.array()
    pending.done = not accrued.items and not returns
    return pending


def _apply_answers(pending: Pending, answers: list[ledger_pb2.PostBatchResponse]) -> list[int]:
    """Purchase items the ledger rejected reject their transactions; returns those items' indexes
    (the answers are those of the request's purchase items, which come first)."""
    request, response = pending.ledger_request, pending.response
    if request is None:
        return []
    statuses = np.concatenate(
        [np.array(answer.statuses, dtype=np.int64) for answer in answers]
        or [np.zeros(0, dtype=np.int64)]
    )
    refused = np.flatnonzero(statuses == ledger_pb2.ITEM_STATUS_REJECTED).tolist()
    if not refused:
        return []
    reasons = [reason for answer in answers for reason in answer.reject_reasons]
    messages = [message for answer in answers for message in answer.messages]
    items = pending.plan.get("items", [])
    rejected = []
    for item in refused:
        transaction = items[item]
        if transaction < 0:
            logger.error(
                "the ledger rejected bonus item %s of batch %s: %s",
                request.idempotency_keys[item],
                pending.batch_id,
                messages[item],
            )
            continue
        _reject(
            response,
            transaction,
            LEDGER_REJECT_CODES.get(reasons[item], "rejected"),
            messages[item],
        )
        rejected.append(item)
    return rejected


def _bonus_start(pending: Pending) -> int:
    """Where the bonus items start in the ledger request: after the purchases' items (the order
    purchases.py adds them in). Were they mixed, all would go as purchases, as before."""
    items = pending.plan.get("items", [])
    bonuses = np.flatnonzero(np.array(items, dtype=np.int64) < 0)
    if not len(bonuses) or len(bonuses) != len(items) - bonuses[0]:
        return len(items)
    return int(bonuses[0])


def _purchase_part(pending: Pending) -> ledger_pb2.PostBatchRequest | None:
    """The purchases' items of the ledger request, or None if it has none."""
    request = pending.ledger_request
    if request is None:
        return None
    return _part(request, range(_bonus_start(pending)), request.batch_id)


def _bonus_part(pending: Pending) -> ledger_pb2.PostBatchRequest | None:
    """The bonuses' items of the ledger request, as a ledger batch of their own, or None."""
    request = pending.ledger_request
    if request is None:
        return None
    bonuses = range(_bonus_start(pending), len(request.member_ids))
    return _part(request, bonuses, f"{request.batch_id}:bonuses")


def _without(
    bonuses: ledger_pb2.PostBatchRequest | None, held: set[tuple[str, str]]
) -> ledger_pb2.PostBatchRequest | None:
    """The bonuses but the held (member, key)s."""
    if bonuses is None or not held:
        return bonuses
    pairs = zip(bonuses.member_ids, bonuses.idempotency_keys, strict=True)
    return _part(bonuses, [i for i, pair in enumerate(pairs) if pair not in held], bonuses.batch_id)


def _part(
    request: ledger_pb2.PostBatchRequest, items: "range | list[int]", batch_id: str
) -> ledger_pb2.PostBatchRequest | None:
    """These items of the request as a batch of their own (the request itself if all), or None."""
    size = len(request.member_ids)
    if not len(items):
        return None
    if len(items) == size and batch_id == request.batch_id:
        return request
    part = ledger_pb2.PostBatchRequest(program_id=request.program_id, batch_id=batch_id)
    for name in BATCH_COLUMNS:
        column = getattr(request, name)
        if len(column) != size:
            continue
        if isinstance(items, range):
            getattr(part, name).extend(column[items.start : items.stop])
        else:
            getattr(part, name).extend(column[i] for i in items)
    return part


def _plan_json(plan: dict) -> str:  # type: ignore[type-arg]
    """The stored plan: the items' transaction indexes as base64 int32 (ten thousand numbers in a
    jsonb array cost the server milliseconds to parse, one string nothing)."""
    items = np.array(plan.get("items", []), dtype="<i4").tobytes()
    stored = {"item_transactions": base64.b64encode(items).decode(), "returns": plan["returns"]}
    if "archive_seq" in plan:
        stored["archive_seq"] = plan["archive_seq"]
    if plan.get("unposted"):
        stored["unposted"] = plan["unposted"]
    if "mission_steps" in plan:
        # The same: rows of transactions, missions (by place in mission_ids), attempts, steps.
        stored["mission_ids"] = plan["mission_ids"]
        stored["mission_steps"] = base64.b64encode(plan["mission_steps"].tobytes()).decode()
    return json.dumps(stored)


def _plan_of(stored: str | None) -> dict:  # type: ignore[type-arg]
    plan = json.loads(stored or "{}")
    if "item_transactions" in plan:
        encoded = base64.b64decode(plan.pop("item_transactions"))
        plan["items"] = np.frombuffer(encoded, dtype="<i4").tolist()
    if "mission_steps" in plan:
        encoded = base64.b64decode(plan["mission_steps"])
        plan["mission_steps"] = np.frombuffer(encoded, dtype="<i4").reshape(4, -1)
    return plan


def _refused_steps(pending: Pending, transactions: dict[int, int]) -> list[RefusedStep]:
    """The mission steps the refused purchases counted for; `transactions` maps each refused
    purchase's transaction index to its ledger item."""
    if "mission_steps" not in pending.plan:
        return []
    request, mission_ids = pending.ledger_request, pending.plan["mission_ids"]
    assert request is not None
    counted = pending.plan["mission_steps"]
    refused = counted[:, np.isin(counted[0], list(transactions))].T.tolist()
    return [
        RefusedStep(
            request.member_ids[transactions[index]],
            request.source_references[transactions[index]],
            mission_ids[mission],
            attempt,
            step,
        )
        for index, mission, attempt, step in refused
    ]


def _reject(
    response: campaign_pb2.IngestTransactionsResponse, index: int, code: str, message: str
) -> None:
    response.statuses[index] = REJECTED
    response.points[index] = 0
    response.reason_codes[index] = code
    response.messages[index] = message


def _advance(
    progress: campaign_pb2.IngestProgress, response: campaign_pb2.IngestTransactionsResponse
) -> None:
    progress.batches_done += 1
    progress.items_done += len(response.statuses)
    counted = collections.Counter(response.statuses)
    progress.items_posted += counted[POSTED]
    progress.items_duplicate += counted[DUPLICATE]
    progress.items_rejected += counted[REJECTED]
    progress.points_total += response.points_total


async def finish_stored(ingest: Ingest, program: ProgramSettings, batch_id: str) -> bool:
    """Finish a batch left in state 1 (the recovery worker); False if it was done meanwhile."""
    try:
        return await ingest.finish_unposted(program, batch_id) is not None
    except CampaignError as error:
        logger.warning("could not finish batch %s: %s", batch_id, error)
        return False


async def _unposted_duplicates(
    connection: asyncpg.Connection,
    program_id: str,
    batch_id: str,
    transactions: Transactions,
    accrued: Accrued,
) -> dict | None:  # type: ignore[type-arg]
    """The batch's duplicate purchases that batches still in state 1 accrued, for its plan: those
    batches, oldest first, and the duplicates' indexes, members and transaction ids; None if
    there are none. Nothing is looked up for a batch without duplicates."""
    if DUPLICATE not in accrued.statuses:
        return None
    indexes = {
        (transactions.members[index], transactions.ids[index]): index
        for index, status in enumerate(accrued.statuses)
        if status == DUPLICATE and transactions.kinds[index] == PURCHASE
    }
    if not indexes:
        return None
    found = await store.unposted_purchases(
        connection,
        program_id,
        [member for member, _ in indexes],
        [transaction for _, transaction in indexes],
        batch_id=batch_id,
    )
    if not found:
        return None
    return {
        "batches": list(dict.fromkeys(batch for batch, _, _ in found)),
        "indexes": [indexes[member, transaction] for _, member, transaction in found],
        "members": [member for _, member, _ in found],
        "transaction_ids": [transaction for _, _, transaction in found],
    }


def _refused_purchases(pending: Pending) -> dict[tuple[str, str], tuple[str, str]]:
    """The (member, transaction id)s of the finished batch's purchases the ledger refused, each
    with its reason code and message."""
    request, response = pending.ledger_request, pending.response
    if request is None:
        return {}
    items = pending.plan.get("items", [])
    return {
        (request.member_ids[item], request.source_references[item]): (
            response.reason_codes[transaction],
            response.messages[transaction],
        )
        for item, transaction in enumerate(items[: _bonus_start(pending)])
        if transaction >= 0 and response.statuses[transaction] == REJECTED
    }
