"""One member's account inside one transaction: the moves of points, written at the end.

Every use case locks the member's account, brings it up to date (lots that vested or expired since
the last look), moves points between lots, holds and program accounts through this book, and
flushes it. The book keeps the account's counters equal to its lots and holds, and every posting
matched by the opposite move on a program account or another member.
"""

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import asyncpg
import numpy as np

import ledger_core
from services.ledger import store
from services.ledger.domain import ProgramSettings
from services.ledger.errors import InsufficientPoints
from services.ledger.policy import local_day, lot_expires_at, lot_vests_at, qualifying_window_start
from services.shared.database import Writes
from services.shared.timestamps import UNIX_EPOCH

# Program accounts: the other side of member postings.
ISSUED, REDEEMED, EXPIRED, ADJUSTED, REVERSED = 1, 2, 3, 4, 5
# Posting kinds (loyalty.common.v1.PostingKind).
EARN, REDEEM, ADJUST, EXPIRE, REVERSE, TRANSFER_IN, TRANSFER_OUT, HOLD_COMMIT = range(1, 9)
NEVER_S = 2**62
# What the member does (inactivity.py): earning, spending, giving points away. Not expiry,
# reversals, adjustments or points received, which the member may not know of.
ACTIVITY_KINDS = frozenset({EARN, REDEEM, HOLD_COMMIT, TRANSFER_OUT})


_SECOND = dt.timedelta(seconds=1)


def fifo_allocation(lots: list[store.Lot], points: int, now: dt.datetime) -> dict[int, int]:
    """Up to `points` from `lots` (spendable at `now`, soonest expiry first); {lot_id: taken}.

    The kernel counts in whole seconds: expiries round up and `now` down, so a lot that expires
    later in the current second (a rolling expiry keeps its earn's microseconds) is still spent
    in its turn rather than skipped as expired."""
    if not lots:
        return {}
    allocation = ledger_core.allocate_fifo(
        ledger_core.LotBook(
            account_offsets=np.array([0, len(lots)], dtype=np.int64),
            remaining_points=np.array([lot.remaining for lot in lots], dtype=np.int64),
            # The caller chose the lots by their vested flag; vesting is not the kernel's question.
            vests_at_seconds=np.zeros(len(lots), dtype=np.int64),
            expires_at_seconds=np.array(
                [
                    NEVER_S
                    if lot.expires_at is None
                    else -((UNIX_EPOCH - lot.expires_at) // _SECOND)
                    for lot in lots
                ],
                dtype=np.int64,
            ),
        ),
        ledger_core.BurnRequests(
            account_indexes=np.array([0], dtype=np.int64),
            points=np.array([points], dtype=np.int64),
        ),
        as_of_seconds=(now - UNIX_EPOCH) // _SECOND,
    )
    return {
        lot.lot_id: int(consumed)
        for lot, consumed in zip(lots, allocation.consumed_points, strict=True)
        if consumed
    }


@dataclass
class PostingDraft:
    kind: int
    amount: int
    counter_kind: int = 0
    counter_member_id: str = ""
    source_reference: str = ""
    reason: bytes = b""
    qualifying: bool = False
    qualifying_amount: int = 0
    batch_id: str = ""
    item_key: str | None = None
    hold_id: str = ""
    reversed_posting_id: int | None = None
    occurred_at: dt.datetime | None = None
    posting_id: int = 0


@dataclass
class MemberBook:
    connection: asyncpg.Connection
    settings: ProgramSettings
    account: store.Account
    now: dt.datetime
    postings: list[store.Posting] = field(default_factory=list)
    new_lots: list[store.Lot] = field(default_factory=list)
    changed_lots: dict[int, store.Lot] = field(default_factory=dict)
    program_deltas: dict[tuple[int, int], int] = field(default_factory=dict)
    expired_points: int = 0
    expired_lot_count: int = 0
    # Points of this book's credits and give-backs that paid the member's debt.
    debt_paid_points: int = 0
    qualifying_days: list[tuple[dt.date, int]] = field(default_factory=list)

    @property
    def program_id(self) -> str:
        return self.account.program_id

    @property
    def member_id(self) -> str:
        return self.account.member_id

    # -- keeping the account current -------------------------------------------------------

    async def refresh(self, *, expiry_due: bool = True) -> None:
        """Vest the lots whose return window passed and expire the lots that are due (the caller
        may know that none is due to expire)."""
        if self.account.next_vest_at is not None and self.account.next_vest_at <= self.now:
            await self._vest_due()
        if expiry_due:
            await self._expire_due()

    async def _vest_due(self) -> None:
        rows = await self.connection.fetch(
            "UPDATE lots SET vested = true WHERE program_id = $1 AND member_id = $2 AND NOT vested "
            "AND vests_at <= $3 RETURNING remaining",
            self.program_id,
            self.member_id,
            self.now,
        )
        moved = sum(row["remaining"] for row in rows)
        self.account.pending -= moved
        self.account.vested += moved
        self.account.next_vest_at = await self.connection.fetchval(
            "SELECT min(vests_at) FROM lots WHERE program_id = $1 AND member_id = $2 AND NOT vested",
            self.program_id,
            self.member_id,
        )

    async def _expire_due(self) -> None:
        rows = await self.connection.fetch(
            "SELECT lot_id, remaining, vested FROM lots WHERE program_id = $1 AND member_id = $2 "
            "AND remaining > 0 AND expires_at <= $3 FOR UPDATE",
            self.program_id,
            self.member_id,
            self.now,
        )
        if rows:
            await self.expire_lots(
                [(row["lot_id"], row["remaining"], row["vested"]) for row in rows]
            )

    async def expire_lots(self, lots: list[tuple[int, int, bool]]) -> None:
        """Expire exactly the remaining points of these lots (id, remaining, vested)."""
        total = sum(remaining for _, remaining, _ in lots)
        if total == 0:
            return
        posting_id = await self.post(PostingDraft(kind=EXPIRE, amount=-total, counter_kind=EXPIRED))
        await self.connection.execute(
            "UPDATE lots SET remaining = 0 WHERE program_id = $1 AND member_id = $2 AND lot_id = ANY($3::bigint[])",
            self.program_id,
            self.member_id,
            [lot_id for lot_id, _, _ in lots],
        )
        await store.record_consumptions(
            self.connection,
            self.program_id,
            self.member_id,
            f"p{posting_id}",
            {lot_id: remaining for lot_id, remaining, _ in lots},
        )
        self.account.vested -= sum(r for _, r, vested in lots if vested)
        self.account.pending -= sum(r for _, r, vested in lots if not vested)
        self.expired_points += total
        self.expired_lot_count += len(lots)

    # -- moves -----------------------------------------------------------------------------

    async def post(self, draft: PostingDraft) -> int:
        """Record a posting (the member side) and its program account side; returns its id."""
        if not draft.posting_id:
            [draft.posting_id] = await store.next_ids(self.connection, "posting_ids", 1)
        if draft.counter_kind:
            key = (draft.counter_kind, store.stripe_of(self.member_id))
            self.program_deltas[key] = self.program_deltas.get(key, 0) - draft.amount
        self.postings.append(
            store.Posting(
                program_id=self.program_id,
                member_id=self.member_id,
                posting_id=draft.posting_id,
                kind=draft.kind,
                amount=draft.amount,
                counter_kind=draft.counter_kind,
                counter_member_id=draft.counter_member_id,
                source_reference=draft.source_reference,
                reason=draft.reason,
                qualifying=draft.qualifying,
                qualifying_amount=draft.qualifying_amount,
                batch_id=draft.batch_id,
                item_key=draft.item_key,
                hold_id=draft.hold_id,
                reversed_posting_id=draft.reversed_posting_id,
                available_after=0,  # set at flush, when the account is final
                occurred_at=draft.occurred_at or self.now,
                posted_at=self.now,
            )
        )
        if draft.kind in ACTIVITY_KINDS:
            # An earn is activity when it occurred (an imported purchase, long ago): the clock of
            # the inactivity expiry never moves back, but for the account's first earn, which
            # replaces its opening (an enrolment, maybe by the import of the members).
            activity_at = draft.occurred_at or self.now
            if draft.kind == EARN and self.account.lifetime_earned == 0:
                self.account.last_activity_at = activity_at
            else:
                self.account.last_activity_at = max(self.account.last_activity_at, activity_at)
        return draft.posting_id

    async def credit_lot(
        self,
        points: int,
        *,
        posting_id: int,
        earned_at: dt.datetime,
        vests_at: dt.datetime | None,
        expires_at: dt.datetime | None,
        source_reference: str,
        policy_expiry: bool = True,
        lot_id: int | None = None,
    ) -> store.Lot:
        """A new lot of `points`; outstanding debt is paid from it first."""
        if vests_at is None:
            vests_at = lot_vests_at(self.settings, earned_at)
        if expires_at is None and policy_expiry:
            expires_at = lot_expires_at(self.settings, earned_at)
        repaid = min(self.account.debt, points)
        self.account.debt -= repaid
        self.debt_paid_points += repaid
        # A posting's single lot shares its id (a primary-key lookup from posting to lot); further
        # lots of one posting (a transfer) take fresh ids from the same sequence.
        if lot_id is None:
            [lot_id] = await store.next_ids(self.connection, "posting_ids", 1)
        vested = vests_at <= self.now
        lot = store.Lot(
            lot_id=lot_id,
            posting_id=posting_id,
            amount=points,
            remaining=points - repaid,
            vested=vested,
            earned_at=earned_at,
            vests_at=vests_at,
            expires_at=expires_at,
            source_reference=source_reference,
        )
        self.new_lots.append(lot)
        if vested:
            self.account.vested += lot.remaining
        else:
            self.account.pending += lot.remaining
            if self.account.next_vest_at is None or vests_at < self.account.next_vest_at:
                self.account.next_vest_at = vests_at
        return lot

    async def take_fifo(self, points: int, *, include_pending: bool = False) -> dict[int, int]:
        """Take `points` from spendable lots, earliest expiry first; {lot_id: taken}."""
        if points == 0:
            return {}
        locked = await store.lock_spendable_lots(
            self.connection, self.program_id, self.member_id, include_pending=include_pending
        )
        # Lots this book already changed are taken as changed, not as last written.
        lots = [self.changed_lots.get(lot.lot_id, lot) for lot in locked]
        lots = [lot for lot in lots if lot.remaining > 0]
        vested_lots = [lot for lot in lots if lot.vested]
        pending_lots = [lot for lot in lots if not lot.vested]
        taken = fifo_allocation(vested_lots, points, self.now)
        short = points - sum(taken.values())
        if short and include_pending:
            for lot_id, amount in fifo_allocation(pending_lots, short, self.now).items():
                taken[lot_id] = taken.get(lot_id, 0) + amount
            short = points - sum(taken.values())
        if short:
            raise InsufficientPoints(available=points - short, asked=points)
        self._apply_taken({lot.lot_id: lot for lot in lots}, taken)
        return taken

    async def pay_debt(self) -> dict[int, int]:
        """Pay outstanding debt from the member's spendable points, pending ones too, soonest
        expiry first, as a new lot's points would pay it (debt that arrives on an account that
        has points: a merge's); {lot_id: taken}. Held points stay held."""
        points = min(self.account.debt, self.account.vested + self.account.pending)
        taken = await self.take_fifo(points, include_pending=True)
        self.account.debt -= sum(taken.values())
        return taken

    def _apply_taken(self, lots: dict[int, store.Lot], taken: dict[int, int]) -> None:
        for lot_id, amount in taken.items():
            lot = self.changed_lots.setdefault(lot_id, lots[lot_id])
            lot.remaining -= amount
            if lot.vested:
                self.account.vested -= amount
            else:
                self.account.pending -= amount

    async def take_from_lots(self, lots: list[store.Lot], points: int) -> dict[int, int]:
        """Take up to `points` from these lots in the order given; {lot_id: taken}."""
        taken: dict[int, int] = {}
        for lot in lots:
            if points == 0:
                break
            amount = min(self.changed_lots.get(lot.lot_id, lot).remaining, points)
            if amount > 0:
                taken[lot.lot_id] = amount
                points -= amount
        self._apply_taken({lot.lot_id: lot for lot in lots}, taken)
        return taken

    async def restore(self, taken: dict[int, int]) -> None:
        """Give taken points back to their lots (a voided hold, a cancelled spend). Outstanding
        debt is paid from them first, as from a new lot: a refund that found the points held or
        spent recorded them as debt, and once they are back the member must not spend them
        while owing them (nor do they repay later earnings instead)."""
        lots = await store.lock_lots_by_id(
            self.connection, self.program_id, self.member_id, list(taken)
        )
        for lot in lots:
            lot = self.changed_lots.setdefault(lot.lot_id, lot)
            repaid = min(self.account.debt, taken[lot.lot_id])
            self.account.debt -= repaid
            self.debt_paid_points += repaid
            back = taken[lot.lot_id] - repaid
            lot.remaining += back
            if lot.vested:
                self.account.vested += back
            else:
                self.account.pending += back

    def add_qualifying(self, amount: int, *, on: dt.datetime) -> None:
        """Count `amount` towards the tier on the local day it was earned, if that day is still in
        the tier window (a back-dated purchase from before the window counts for nothing)."""
        self.add_qualifying_day(local_day(self.settings, on), amount)

    def add_qualifying_day(self, day: dt.date, amount: int) -> None:
        """Count `amount` towards the tier on the local `day`, if it is still in the window."""
        if amount and day >= qualifying_window_start(self.settings, self.now):
            self.account.qualifying += amount
            self.qualifying_days.append((day, amount))

    # -- writing ---------------------------------------------------------------------------

    async def flush(self) -> None:
        await flush_books(self.connection, [self])


async def flush_books(
    connection: asyncpg.Connection, books: list[MemberBook], writes: Writes | None = None
) -> None:
    """Write the books of distinct members of one program, all in one statement; with `writes`,
    add them to those, for the caller to send with more."""
    if not books:
        return
    pending = Writes() if writes is None else writes
    postings: list[store.Posting] = []
    lots: list[tuple[str, store.Lot]] = []
    program_deltas: dict[tuple[int, int], int] = {}
    days: dict[tuple[str, dt.date], int] = {}
    for book in books:
        account = book.account
        assert account.vested >= 0 and account.pending >= 0 and account.held >= 0
        # Every posting of the book records the available points once the book is written.
        book.postings = [
            dataclasses.replace(p, available_after=account.vested) for p in book.postings
        ]
        postings += book.postings
        lots += [(book.member_id, lot) for lot in book.new_lots]
        for key, delta in book.program_deltas.items():
            program_deltas[key] = program_deltas.get(key, 0) + delta
        for day, amount in book.qualifying_days:
            days[(book.member_id, day)] = days.get((book.member_id, day), 0) + amount
    program_id = books[0].program_id
    if postings:
        await store.insert_postings(pending, postings)
    if lots:
        await store.insert_lots(pending, program_id, lots)
    await store.set_lots_remaining(
        pending,
        program_id,
        [(book.member_id, lot) for book in books for lot in book.changed_lots.values()],
    )
    await store.move_program_accounts(pending, program_id, program_deltas)
    await store.add_qualifying_days(pending, program_id, days)
    await store.save_accounts(pending, [book.account for book in books])
    if writes is None:
        await pending.run(connection)
