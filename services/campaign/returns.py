"""Returns: a refund of a recorded purchase reverses its points pro rata through the ledger.

The ledger keeps the cumulative refunds of a purchase (its postings share the transaction id as
source reference), so partial returns add up and never reverse more than was earned. A return is
recorded once per member and return id; the reversal's idempotency key is the return id and
the purchase's member (reversal_key).

A purchase made before a merge stays its member's: the till may name the survivor (the cards moved
to it) or the merged member, and either way the return is recorded under the purchase's member and
the ledger, told that member, takes the points back from the survivor, which holds them.

A return by line (its returned lines given) of a purchase recorded with line detail takes back
exactly the points those lines earned (return_lines.py), and the ledger is told those points
(PurchaseRefund.refunded_points); one naming a SKU the purchase did not hold, or more than it
bought and not yet returned, is refused naming the line's field, with nothing written. A return
by line of a purchase recorded without line detail (or before campaign migration 022), and a
return of an amount, reverse pro rata to the refunded amount: in the ledger, the share of the
purchase's cumulative refunds less every point reversed before, so returns of both kinds never
take back more than the purchase earned, and the one completing its amount takes the rest.

A return also takes its share off the member's purchase count and spend, and a return in full
takes back the milestones and the referral it leaves unearned (return_takebacks.py), in the same
transaction: a retried return is a duplicate before it gets there.
"""

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.campaign import events
from services.campaign import repository_purchases as store
from services.campaign import repository_segment_facts as segment_facts
from services.campaign.errors import PurchaseNotFound, PurchaseNotPosted
from services.campaign.ledger_client import LedgerClient, ProgramSettings
from services.campaign.return_lines import ReturnedLine, request_field, returned_categories
from services.campaign.return_lines import take_back as take_back_lines
from services.campaign.return_takebacks import Returned, take_back
from services.campaign.transactions import PURCHASE, RETURN
from services.shared.errors import FailedPrecondition
from services.shared.idempotency import IDEMPOTENCY_KEY_LENGTH_MAX
from services.shared.outbox import Outbox
from services.shared.timestamps import timestamp, unix_micros


@dataclass
class ReturnOutcome:
    reversed_points: int
    debt_points: int = 0
    posting_ids: list[str] = field(default_factory=list)
    duplicate: bool = False


@dataclass(frozen=True)
class Refund:
    member_id: str
    return_id: str
    original_transaction_id: str
    refunded_minor: int
    occurred_at: dt.datetime
    channel: int
    store_id: str
    batch_id: str = ""
    # The returned lines, when known; their amounts add up to refunded_minor (RecordReturn).
    lines: tuple[ReturnedLine, ...] = ()
    # How a returned line's field is named in errors (RecordReturn's by default).
    line_field: Callable[[int, str], str] = request_field


async def record_return(
    connection: asyncpg.Connection,
    ledger: LedgerClient,
    outbox: Outbox,
    program: ProgramSettings,
    refund: Refund,
) -> ReturnOutcome:
    """Reverse the points of the refunded purchase, in the caller's transaction."""
    program_id = program.program_id
    original_id = refund.original_transaction_id
    earlier, original = await _recorded(connection, program_id, refund)
    if earlier is not None:
        return _recorded_before(earlier, refund)
    if original is None:
        raise PurchaseNotFound(refund.original_transaction_id)
    # The purchase's member, who earned its points (the ledger takes them back from its survivor).
    owner = original.member_id
    refunded_before = await store.lock_refunded(connection, program_id, owner, original_id)
    # The returns of the purchase take turns from here: the same return sent at once under
    # another key (the till's retry through another route, a file holding it too) may have
    # been recorded while this one waited, and is answered as recorded, not refused.
    earlier = (
        await store.fetch_transactions(connection, program_id, [owner], [refund.return_id])
    ).get((owner, refund.return_id))
    if earlier is not None:
        return _recorded_before(earlier, refund)
    # Its points and bonuses reach the ledger when its batch is posted, after the batch's
    # transaction: before then there is nothing to take back, and what the batch posts later
    # would stay. (A return in the purchase's own batch is reversed after its purchases.)
    unposted = await store.unposted_purchases(
        connection, program_id, [owner], [original_id], batch_id=refund.batch_id
    )
    if unposted:
        raise PurchaseNotPosted(original_id, unposted[0][0])
    refunded_points, lines = None, None
    # Read under the purchase's lock: the returns of a purchase take turns.
    stored_lines = await store.fetch_purchase_lines(connection, program_id, owner, original_id)
    if refund.lines and stored_lines is not None:
        refunded_points, lines = take_back_lines(stored_lines, refund.lines, refund.line_field)
    outcome = ReturnOutcome(0)
    if original.points:
        purchase_refund = ledger_pb2.PurchaseRefund(
            original_reference=refund.original_transaction_id,
            refunded_amount=common_pb2.Money(
                amount_minor=refund.refunded_minor, currency=program.currency
            ),
            original_amount=common_pb2.Money(
                amount_minor=original.amount_minor, currency=program.currency
            ),
        )
        if refunded_points is not None:
            purchase_refund.refunded_points = refunded_points
        response = await ledger.reverse(
            ledger_pb2.ReverseRequest(
                program_id=program_id,
                idempotency_key=reversal_key(refund.return_id, owner),
                member_id=owner,
                refund=purchase_refund,
                reason=ledger_pb2.PostingReason(code="return", note=refund.return_id),
            )
        )
        outcome = ReturnOutcome(
            response.reversed_points,
            response.debt_points,
            [posting.posting_id for posting in response.postings],
        )
    inserted = await store.insert_transaction(
        connection,
        (
            program_id,
            owner,
            refund.return_id,
            RETURN,
            -refund.refunded_minor,
            -outcome.reversed_points,
            unix_micros(refund.occurred_at),
            refund.original_transaction_id,
            "",
            refund.batch_id,
        ),
    )
    if not inserted:
        raise FailedPrecondition("is being recorded concurrently; retry", field="return_id")
    if lines is not None:
        await store.save_returned_lines(connection, program_id, owner, original_id, lines)
    # The member's net spend changed: segments re-evaluate them.
    await segment_facts.mark_dirty(connection, program_id, [owner])
    # Its share of the member's counts, and the bonuses a return in full leaves unearned.
    await take_back(
        connection,
        ledger,
        outbox,
        program,
        Returned(
            owner,
            original_id,
            original.amount_minor,
            refunded_before_minor=refunded_before,
            refunded_minor=refund.refunded_minor,
        ),
    )
    # Announced for the member whose balance the return takes the points from: the survivor of
    # the purchase's member if it was merged away, as the ledger's PointsPosted of the reversal
    # names it (a consumer keyed by member finds the member it knows).
    survivor = (await store.fetch_merged(connection, program_id, [owner])).get(owner, owner)
    await outbox.enqueue(
        connection,
        events.PURCHASE_RECORDED,
        events_pb2.Event(
            program_id=program_id,
            purchase_recorded=events_pb2.PurchaseRecorded(
                transaction_id=refund.return_id,
                member_id=survivor,
                amount=common_pb2.Money(
                    amount_minor=-refund.refunded_minor, currency=program.currency
                ),
                channel=refund.channel,  # type: ignore[arg-type]
                store_id=refund.store_id,
                occurred_at=timestamp(refund.occurred_at),
                points=-outcome.reversed_points,
                categories=returned_categories(stored_lines, refund.lines),
                original_transaction_id=refund.original_transaction_id,
            ),
        ),
    )
    return outcome


def reversal_key(return_id: str, member_id: str) -> str:
    """The ledger key of a return's reversal. Return ids are the member's, as transaction ids
    are: two tills' return numbers meet, and another member's return of the same id is another
    reversal (under the id alone the ledger refused the second as a reused key)."""
    key = f"return:{return_id}@{member_id}"
    if len(key) > IDEMPOTENCY_KEY_LENGTH_MAX:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _recorded_before(earlier: store.StoredTransaction, refund: Refund) -> ReturnOutcome:
    """The answer to a return recorded before under its id: the points it took back."""
    if earlier.kind != RETURN or earlier.amount_minor != -refund.refunded_minor:
        raise FailedPrecondition("was recorded before with other content", field="return_id")
    return ReturnOutcome(-earlier.points, duplicate=True)


async def _recorded(
    connection: asyncpg.Connection, program_id: str, refund: Refund
) -> tuple[store.StoredTransaction | None, store.StoredTransaction | None]:
    """The return recorded before under the return id, and the refunded purchase.

    Both are looked up under the member named first. A purchase made before a merge stays its
    member's, while the till now names the survivor (the cards moved to it): when the member
    named holds neither, the purchase is looked up among the other members of its merges (its
    final survivor and the members merged into that one), and the return recorded before under
    the purchase's member, where it is stored. A purchase id two of them hold is refused."""
    member, return_id, original_id = (
        refund.member_id,
        refund.return_id,
        refund.original_transaction_id,
    )
    stored = await store.fetch_transactions(
        connection, program_id, [member, member], [return_id, original_id]
    )
    earlier, original = stored.get((member, return_id)), stored.get((member, original_id))
    if earlier is not None or (original is not None and original.kind == PURCHASE):
        return earlier, original
    family = await store.merge_family(connection, program_id, member)
    if not family:
        return None, None
    stored = await store.fetch_transactions(
        connection,
        program_id,
        [m for m in family for _ in range(2)],
        [transaction for _ in family for transaction in (return_id, original_id)],
    )
    purchases = [
        t for (_, i), t in sorted(stored.items()) if i == original_id and t.kind == PURCHASE
    ]
    if len(purchases) > 1:
        raise FailedPrecondition(
            "names purchases of several merged members; name the member who made it",
            field="original_transaction_id",
        )
    if not purchases:
        return None, None
    (original,) = purchases
    return stored.get((original.member_id, return_id)), original
