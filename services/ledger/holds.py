"""Holds for redemptions: points taken out of lots into escrow, then committed or given back."""

import datetime as dt
import uuid

import asyncpg

from loyalty.events.v1 import events_pb2
from services.ledger import events, spent_write_offs, store
from services.ledger.book import (
    ADJUST,
    ADJUSTED,
    HOLD_COMMIT,
    REDEEMED,
    MemberBook,
    PostingDraft,
)
from services.ledger.errors import (
    HoldClosed,
    HoldNotFound,
)
from services.ledger.operations import COMMITTED, HELD, VOIDED, LedgerCore, Program, event
from services.shared.timestamps import from_epoch_seconds


class Holds(LedgerCore):
    async def place_hold(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        *,
        member_id: str,
        points: int,
        reference: str,
        ttl_seconds: int,
    ) -> tuple[MemberBook, store.Hold]:
        book = await self.open_book(connection, program, member_id, now, create=False)
        hold_id = uuid.uuid4().hex
        taken = await book.take_fifo(points)
        await store.record_consumptions(
            connection, program.program_id, member_id, f"h{hold_id}", taken
        )
        book.account.held += points
        hold = store.Hold(
            program_id=program.program_id,
            member_id=member_id,
            hold_id=hold_id,
            amount=points,
            status=HELD,
            reference=reference,
            created_at=now,
            expires_at=now + dt.timedelta(seconds=ttl_seconds),
            closed_at=None,
            void_reason=0,
            posting_id=None,
            void_note="",
        )
        await store.insert_hold(connection, hold)
        await self.close_book(book, program)
        await self.outbox.enqueue(
            connection,
            events.HOLD_PLACED,
            event(
                program.program_id,
                hold_placed=events_pb2.HoldPlaced(
                    hold_id=hold_id,
                    member_id=member_id,
                    points=points,
                    reference=reference,
                    expires_at=from_epoch_seconds(hold.expires_at.timestamp()),
                ),
            ),
        )
        return book, hold

    async def _open_hold(
        self, connection: asyncpg.Connection, program: Program, now: dt.datetime, hold_id: str
    ) -> tuple[MemberBook, store.Hold]:
        member_id = await store.hold_member(connection, program.program_id, hold_id)
        if member_id is None:
            raise HoldNotFound(hold_id)
        book = await self.open_book(connection, program, member_id, now, create=False)
        hold = await store.fetch_hold(connection, program.program_id, member_id, hold_id, lock=True)
        assert hold is not None
        return book, hold

    async def commit_hold(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        *,
        hold_id: str,
        reason: bytes,
    ) -> tuple[store.Hold, int]:
        book, hold = await self._open_hold(connection, program, now, hold_id)
        if hold.status != HELD:
            raise HoldClosed(hold_id, "committed" if hold.status == COMMITTED else "voided")
        if hold.expires_at <= now:
            # The hold-timeout job voids it; committing a lapsed hold would spend after the deadline.
            raise HoldClosed(hold_id, "expired")
        posting_id = await book.post(
            PostingDraft(
                kind=HOLD_COMMIT,
                amount=-hold.amount,
                counter_kind=REDEEMED,
                reason=reason,
                source_reference=hold.reference,
                hold_id=hold_id,
            )
        )
        book.account.held -= hold.amount
        # The points are spent: the part of a write-off they could have paid back stands, owed
        # by this spend, and paid back first if it is cancelled (spent_write_offs.py).
        written_off = book.account.held_write_off
        book.account.held_write_off = min(written_off, book.account.held)
        await spent_write_offs.charge_commit(
            book, posting_id, written_off - book.account.held_write_off
        )
        hold.status, hold.closed_at, hold.posting_id = COMMITTED, now, posting_id
        await store.save_hold(connection, hold)
        await self.close_book(book, program)
        await self.outbox.enqueue(
            connection,
            events.HOLD_COMMITTED,
            event(
                program.program_id,
                hold_committed=events_pb2.HoldCommitted(
                    hold_id=hold_id,
                    member_id=hold.member_id,
                    points=hold.amount,
                    reference=hold.reference,
                    posting_id=str(posting_id),
                ),
            ),
        )
        return hold, posting_id

    async def void_hold(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        *,
        hold_id: str,
        reason: int,
        note: str,
    ) -> store.Hold:
        book, hold = await self._open_hold(connection, program, now, hold_id)
        if hold.status == COMMITTED:
            raise HoldClosed(hold_id, "committed")
        if hold.status == HELD:
            await self._void(book, program, hold, reason=reason, note=note)
        return hold

    async def _void(
        self, book: MemberBook, program: Program, hold: store.Hold, *, reason: int, note: str
    ) -> None:
        taken = {
            lot.lot_id: amount
            for lot, amount in await store.consumptions(
                book.connection, program.program_id, hold.member_id, f"h{hold.hold_id}"
            )
        }
        paid_before = book.debt_paid_points
        await book.restore(taken)
        written_off = await _pay_back_write_off(book, hold, list(taken))
        book.account.held -= hold.amount
        hold.status, hold.closed_at, hold.void_reason = VOIDED, book.now, reason
        hold.void_note = note
        hold.debt_paid_points = book.debt_paid_points - paid_before + written_off
        await store.save_hold(book.connection, hold)
        # Restored points whose lot expired meanwhile expire at the next refresh or expiry run.
        await self.close_book(book, program)
        await self.outbox.enqueue(
            book.connection,
            events.HOLD_VOIDED,
            event(
                program.program_id,
                hold_voided=events_pb2.HoldVoided(
                    hold_id=hold.hold_id,
                    member_id=hold.member_id,
                    points=hold.amount,
                    reference=hold.reference,
                    reason=reason,
                    debt_paid_points=hold.debt_paid_points,
                ),
            ),
        )


async def _pay_back_write_off(book: MemberBook, hold: store.Hold, lot_ids: list[int]) -> int:
    """The voided hold's points, just given back to lots `lot_ids`, pay back first what a refund
    wrote off because it found points held (WRITE_OFF policy): the refund would have taken them
    had they not been held, so the member must not keep them. Taken back from the same lots,
    soonest expiry first, as a negative adjustment that cancels the write-off."""
    owed = min(book.account.held_write_off, hold.amount)
    if owed == 0:
        return 0
    book.account.held_write_off -= owed
    taken = await book.take_from_lots([book.changed_lots[lot_id] for lot_id in lot_ids], owed)
    if not taken:
        return 0
    posting_id = await book.post(
        PostingDraft(
            kind=ADJUST,
            amount=-sum(taken.values()),
            counter_kind=ADJUSTED,
            source_reference=hold.reference,
        )
    )
    await store.record_consumptions(
        book.connection, book.program_id, book.member_id, f"p{posting_id}", taken
    )
    return sum(taken.values())
