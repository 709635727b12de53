"""Taking points back: refunds pro rata to the purchase, and reversals of a posting."""

import datetime as dt

import asyncpg

from services.ledger import expired_counts, merges, spent_write_offs, store
from services.ledger.book import (
    ADJUST,
    ADJUSTED,
    EARN,
    EXPIRE,
    HOLD_COMMIT,
    REDEEM,
    REDEEMED,
    REVERSE,
    REVERSED,
    MemberBook,
    PostingDraft,
)
from services.ledger.errors import (
    MemberClosed,
    NothingToReverse,
    RefundExceedsPurchase,
    RefundOfAnotherAmount,
)
from services.ledger.operations import (
    NEGATIVE_BALANCE_WRITE_OFF,
    QUALIFYING_BASIS_SPEND,
    LedgerCore,
    Program,
)
from services.ledger.policy import pro_rata_reversal


class Reversals(LedgerCore):
    async def reverse_refund(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        *,
        member_id: str,
        original_reference: str,
        refunded_minor: int,
        original_minor: int,
        reason: bytes,
        refunded_points: int | None = None,
    ) -> tuple[MemberBook, int, int]:
        """Reverse the points of a purchase pro rata to the cumulative refunded amount, or, with
        `refunded_points` (the points its returned lines earned), exactly those points.

        Either way the refunded amount adds to the purchase's cumulative refunds and what is
        taken adds to its reversed points, and nothing is taken beyond what is left of its
        points: a pro rata refund after exact ones takes its share of the cumulative amount
        less every point reversed before, so the refund completing the amount takes the rest.

        The purchase stays the member's (its postings and refunds are keyed by it); when the
        member was merged, its points went to the survivor, so they are taken back there."""
        book, holders = await self._holder_book(connection, program, member_id, now)
        originals = await store.earn_postings_of_reference(
            connection, program.program_id, member_id, original_reference
        )
        if not originals:
            raise NothingToReverse(
                "refund.original_reference", f"no points were earned for {original_reference!r}"
            )
        previous = await store.lock_refund(
            connection, program.program_id, member_id, original_reference
        )
        if previous is not None and previous["original_amount_minor"] != original_minor:
            raise RefundOfAnotherAmount(
                given_minor=original_minor, first_minor=previous["original_amount_minor"]
            )
        refunded_before = previous["refunded_amount_minor"] if previous else 0
        reversed_before = previous["reversed_points"] if previous else 0
        expired_before = previous["expired_points"] if previous else 0
        refunded_total = refunded_before + refunded_minor
        if refunded_total > original_minor:
            raise RefundExceedsPurchase(
                refunded_minor=refunded_total, original_minor=original_minor
            )
        original_points = sum(p.amount for p in originals)
        if refunded_points is None:
            target = pro_rata_reversal(
                original_points=original_points,
                original_amount_minor=original_minor,
                refunded_total_minor=refunded_total,
                mode=program.settings.rounding_mode,
            )
            wanted = max(0, target - reversed_before - expired_before)
        else:
            wanted = refunded_points
        # Points of the purchase that expired went to the program already: they count as taken
        # back first (as the purchase's own lot is taken first) and are never taken again from
        # the member's other points, nor as debt for points the member never spent.
        expired = await _expired(book, member_id, [p.posting_id for p in originals], holders)
        # A `Reverse` of one of its postings may have counted some of them (and their tier
        # progress) already.
        counted_by_reversals = await expired_counts.counted(
            connection, program.program_id, member_id, [p.posting_id for p in originals]
        )
        counted = min(wanted, max(0, expired - expired_before - counted_by_reversals))
        # What reversals of the purchase's postings took already is not taken a second time.
        left = await _left_to_take(connection, program, holders, originals) - expired
        points = min(wanted - counted, max(0, left))
        debt = await self._take_back(
            book, program, originals, points, reason=reason, reference=original_reference
        )
        # The purchase's tier progress goes with what the refund took back or counted.
        back = points + counted
        qualifying_original = sum(p.qualifying_amount for p in originals)
        if qualifying_original and back and refunded_points is not None:
            if program.settings.qualifying_basis == QUALIFYING_BASIS_SPEND:
                qualifying_back = _share(qualifying_original, refunded_total, original_minor)
                qualifying_back -= _share(qualifying_original, refunded_before, original_minor)
            else:
                # Qualifying points go with the points taken, cumulatively.
                before = reversed_before + expired_before
                qualifying_back = _share(
                    qualifying_original, before + back, original_points
                ) - _share(qualifying_original, before, original_points)
            book.add_qualifying(-qualifying_back, on=originals[0].occurred_at)
        elif qualifying_original and back:
            qualifying_back = pro_rata_reversal(
                original_points=qualifying_original,
                original_amount_minor=original_minor,
                refunded_total_minor=refunded_total,
                mode=program.settings.rounding_mode,
            ) - pro_rata_reversal(
                original_points=qualifying_original,
                original_amount_minor=original_minor,
                refunded_total_minor=refunded_before,
                mode=program.settings.rounding_mode,
            )
            book.add_qualifying(-(qualifying_back * back // wanted), on=originals[0].occurred_at)
        await store.save_refund(
            connection,
            program.program_id,
            member_id,
            original_reference,
            original_amount_minor=original_minor,
            refunded_amount_minor=refunded_total,
            reversed_points=reversed_before + points,
            expired_points=expired_before + counted,
        )
        await self.close_book(book, program)
        return book, points, debt

    async def reverse_posting(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        *,
        member_id: str,
        posting_id: int,
        reason: bytes,
    ) -> tuple[MemberBook, int, int]:
        """Reverse what is left of a credit (earn, adjustment) or of a spend (redeem, committed
        hold); reversing it again has no effect.

        The posting stays the member's; when the member was merged, its points went to the
        survivor, so a spend's points are given back there and a credit's taken back there (as
        a refund's are), and the answer is the survivor's book."""
        book, holders = await self._holder_book(connection, program, member_id, now)
        original = await store.fetch_posting(connection, program.program_id, member_id, posting_id)
        if original is not None and original.kind in (REDEEM, HOLD_COMMIT):
            points = await self._give_back(book, program, original, holders, reason=reason)
            await self.close_book(book, program)
            return book, points, 0
        if original is None or original.kind not in (EARN, ADJUST) or original.amount <= 0:
            raise NothingToReverse(
                "posting_id", f"posting {posting_id} is not a credit of this member"
            )
        already = await store.reversals_of(connection, program.program_id, holders, [posting_id])
        # Points of its lot that expired went to the program already: never taken twice.
        expired = await _expired(book, member_id, [posting_id], holders)
        points = max(0, original.amount - already - expired)
        if original.kind == EARN and original.source_reference:
            # A refund books its reversal against the first of its purchase's postings, so the
            # purchase as a whole bounds what this one may still take back.
            purchase = await store.earn_postings_of_reference(
                connection, program.program_id, member_id, original.source_reference
            )
            purchase_expired = await _expired(
                book, member_id, [p.posting_id for p in purchase], holders
            )
            left = await _left_to_take(connection, program, holders, purchase) - purchase_expired
            points = min(points, max(0, left))
        debt = await self._take_back(
            book, program, [original], points, reason=reason, reference=original.source_reference
        )
        # Tier progress counts what was earned, not what is left: the expired points' progress
        # goes back too, once (a refund of the purchase may have counted them already).
        counted_before = await expired_counts.counted(
            connection, program.program_id, member_id, [posting_id]
        )
        if original.kind == EARN and original.source_reference:
            counted_before += await expired_counts.refunds_counted(
                connection, program.program_id, member_id, original.source_reference
            )
        counted = max(0, min(expired - counted_before, original.amount - already - points))
        await expired_counts.add(connection, program.program_id, member_id, posting_id, counted)
        if original.qualifying_amount and points + counted:
            book.add_qualifying(
                -(original.qualifying_amount * (points + counted) // original.amount),
                on=original.occurred_at,
            )
        await self.close_book(book, program)
        return book, points, debt

    async def _holder_book(
        self, connection: asyncpg.Connection, program: Program, member_id: str, now: dt.datetime
    ) -> tuple[MemberBook, list[str]]:
        """The open book of the account that holds the member's points, and the members on
        whose books reversals of the member's postings were booked: the member's own; or, once
        it was merged, its final survivor's (merges.py: a closed account names it), with the
        members merged into that one, through which the points may have passed."""
        book = await self.open_book(
            connection, program, member_id, now, create=False, allow_closed=True
        )
        survivor = book.account.closed_into
        if survivor is None:
            return book, [member_id]
        holders = [
            member_id,
            survivor,
            *await merges.closed_into(connection, program.program_id, survivor),
        ]
        book = await self.open_book(
            connection, program, survivor, now, create=False, allow_closed=True
        )
        if book.account.closed_into is not None:
            raise MemberClosed(member_id, book.account.closed_into)  # a corrupt ledger
        return book, holders

    async def _give_back(
        self,
        book: MemberBook,
        program: Program,
        spend: store.Posting,
        holders: list[str],
        *,
        reason: bytes,
    ) -> int:
        """Return a spend's points to the lots they were taken from, with their expiry (a lot
        already past its expiry expires at the next refresh): cancelling a redemption must not
        renew points. `book` is the spender's, or its survivor's after a merge: those lots are
        the closed account's, so the survivor gets lots of the same dates instead, as the
        merge's transfer gave it the others. `holders` are the books a give-back of the spend
        may already be booked on."""
        consumer = f"h{spend.hold_id}" if spend.hold_id else f"p{spend.posting_id}"
        taken = await store.consumptions(
            book.connection, program.program_id, spend.member_id, consumer
        )
        already = await store.restored_of(
            book.connection, program.program_id, holders, spend.posting_id
        )
        points = -spend.amount - already
        if points <= 0:
            return 0
        give: list[tuple[store.Lot, int]] = []
        left = points
        for lot, amount in reversed(taken):  # the last taken is given back first
            share = min(amount, left)
            if share:
                give.append((lot, share))
                left -= share
        assert left == 0, "a spend's consumptions cover its points"
        posting_id = await book.post(
            PostingDraft(
                kind=REVERSE,
                amount=points,
                counter_kind=REDEEMED,
                reason=reason,
                source_reference=spend.source_reference,
                reversed_posting_id=spend.posting_id,
            )
        )
        if book.member_id == spend.member_id:
            await book.restore({lot.lot_id: share for lot, share in give})
            # What a refund wrote off of the spend's points is paid back first (WRITE_OFF).
            await spent_write_offs.pay_back(book, spend, [lot for lot, _ in give], points)
            return points
        moves: list[tuple[int, int]] = []
        for lot, share in give:
            credited = await book.credit_lot(
                share,
                posting_id=posting_id,
                earned_at=lot.earned_at,
                vests_at=lot.vests_at if not lot.vested else book.now,
                expires_at=lot.expires_at,
                source_reference=lot.source_reference,
                policy_expiry=False,
            )
            moves.append((lot.lot_id, credited.lot_id))
        # They came from the spender's lots, as a merge's transfer moves them (_expired).
        await merges.record_moved_lots(
            book.connection,
            program.program_id,
            source_member_id=spend.member_id,
            target_member_id=book.member_id,
            moves=moves,
        )
        return points

    async def _take_back(
        self,
        book: MemberBook,
        program: Program,
        originals: list[store.Posting],
        points: int,
        *,
        reason: bytes,
        reference: str,
    ) -> int:
        """Take `points` back: from the original lots, then any lot, then as debt; returns the debt."""
        if points == 0:
            return 0
        posting_id = await book.post(
            PostingDraft(
                kind=REVERSE,
                amount=-points,
                counter_kind=REVERSED,
                reason=reason,
                source_reference=reference,
                reversed_posting_id=originals[0].posting_id,
            )
        )
        original_lots = await store.lots_of_postings(
            book.connection, program.program_id, book.member_id, [p.posting_id for p in originals]
        )
        taken = await book.take_from_lots(original_lots, points)
        short = points - sum(taken.values())
        if short:
            available = book.account.vested + book.account.pending
            more = await book.take_fifo(min(short, available), include_pending=True)
            for lot_id, amount in more.items():
                taken[lot_id] = taken.get(lot_id, 0) + amount
            short -= sum(more.values())
        await store.record_consumptions(
            book.connection, program.program_id, book.member_id, f"p{posting_id}", taken
        )
        if short == 0:
            return 0
        if program.settings.negative_balance_policy == NEGATIVE_BALANCE_WRITE_OFF:
            # Points found held are not spent yet: a void gives them back, and they pay this
            # write-off back first (holds.py), as points given back pay debt first. The rest
            # was spent: the spends that took the purchase's points owe it, and pay it back
            # first if cancelled (spent_write_offs.py).
            account = book.account
            held = min(short, account.held - account.held_write_off)
            account.held_write_off += held
            await spent_write_offs.charge_refund(
                book, [lot.lot_id for lot in original_lots], short - held
            )
            await book.post(
                PostingDraft(
                    kind=ADJUST,
                    amount=short,
                    counter_kind=ADJUSTED,
                    reason=reason,
                    source_reference=reference,
                )
            )
            return 0
        book.account.debt += short
        return short


async def _left_to_take(
    connection: asyncpg.Connection,
    program: Program,
    member_ids: list[str],
    credits: list[store.Posting],
) -> int:
    """The credits' points not yet taken back by reversals or refunds booked on these members
    (the credits' own, and its survivors after a merge)."""
    taken = await store.reversals_of(
        connection, program.program_id, member_ids, [p.posting_id for p in credits]
    )
    return max(0, sum(p.amount for p in credits) - taken)


async def _expired(book: MemberBook, member_id: str, lot_ids: list[int], holders: list[str]) -> int:
    """Points of the member's lots `lot_ids` (a credit's lot shares its id) that expired, those
    the open book has just expired included (it brought the member's account up to date); and,
    once the member was merged, points of those lots that expired on the lots a merge moved them
    to, on the `holders` (its survivors): they went to the program's expired account as well."""
    unwritten = [p.posting_id for p in book.postings if p.kind == EXPIRE]
    expired = 0
    for holder in holders:
        lots = (
            lot_ids
            if holder == member_id
            else await merges.moved_lot_ids(
                book.connection,
                book.program_id,
                holder,
                origin_member_id=member_id,
                origin_lot_ids=lot_ids,
            )
        )
        if lots:
            expired += await store.expired_of_lots(
                book.connection,
                book.program_id,
                holder,
                lots,
                now=book.now,
                unwritten_expiries=unwritten if book.member_id == holder else [],
            )
    return expired


def _share(whole: int, part: int, total: int) -> int:
    """`whole` times part / total, rounded down, never more than `whole`."""
    return min(whole, whole * part // total) if total > 0 else 0
