"""The plain use cases, each inside the caller's transaction: earn, redeem, adjust and transfer.
Each locks the member accounts it touches (in member order, against deadlocks), moves points
through a MemberBook, evaluates the tier, and announces what happened through the outbox in the
same transaction. Reversals and holds build on LedgerCore in reversals.py and holds.py."""

import datetime as dt
import time
from dataclasses import dataclass, field

import asyncpg
import numpy as np

import ledger_core
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.ledger import events, merges, repository, store
from services.ledger.book import (
    ADJUST,
    ADJUSTED,
    EARN,
    HOLD_COMMIT,
    ISSUED,
    REDEEM,
    REDEEMED,
    TRANSFER_IN,
    TRANSFER_OUT,
    MemberBook,
    PostingDraft,
    flush_books,
)
from services.ledger.domain import ProgramSettings, Tier, TierMapping
from services.ledger.errors import (
    MemberClosed,
    MemberNotFound,
    OpenHolds,
    ProgramNotFound,
)
from services.ledger.policy import previous_window_start, qualifying_window_start
from services.shared.database import Writes
from services.shared.outbox import Outbox
from services.shared.timestamps import unix_micros

HELD, COMMITTED, VOIDED = 1, 2, 3
NEGATIVE_BALANCE_WRITE_OFF = 2
QUALIFYING_BASIS_SPEND = 2


@dataclass(frozen=True)
class Program:
    settings: ProgramSettings
    tiers: list[Tier]  # by rank, lowest first
    # Removed codes and where their members belong (tier_code_mappings, migration 011).
    mappings: dict[str, TierMapping] = field(default_factory=dict)

    @property
    def program_id(self) -> str:
        return self.settings.program_id

    def defines(self, code: str) -> bool:
        return any(tier.code == code for tier in self.tiers)

    def tier_index(self, code: str) -> int:
        """The rank index `code` is evaluated at: a removed code's at its mapped tier (where
        SetTierDefinitions moved its other holders), a code with no mapping at the lowest."""
        for index, tier in enumerate(self.tiers):
            if tier.code == code:
                return index
        mapping = self.mappings.get(code)
        if mapping is not None and mapping.to_code not in self.mappings:  # no chain to follow
            return self.tier_index(mapping.to_code)
        return 0

    def removed_from_threshold(self, code: str) -> int:
        """The threshold a removed `code` had (0 without a recorded mapping)."""
        mapping = self.mappings.get(code)
        return mapping.from_threshold if mapping is not None else 0


async def load_program(connection: asyncpg.Connection | asyncpg.Pool, program_id: str) -> Program:
    stored = await repository.fetch_program(connection, program_id)
    if stored is None:
        raise ProgramNotFound(program_id)
    tiers = await repository.fetch_tiers(connection, program_id, after_rank=-(2**31), limit=1000)
    mappings = await repository.fetch_tier_mappings(connection, program_id)
    return Program(stored[0], tiers, mappings)


class ProgramCache:
    """Programs read at most every `ttl_s` per process: a settings change made through this process
    applies at once (it forgets the program), one made through another replica within `ttl_s`."""

    def __init__(self, *, ttl_s: float = 2.0) -> None:
        self.ttl_s = ttl_s
        self._programs: dict[str, tuple[float, Program]] = {}

    async def get(self, connection: asyncpg.Connection | asyncpg.Pool, program_id: str) -> Program:
        cached = self._programs.get(program_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        program = await load_program(connection, program_id)
        self._programs[program_id] = (now, program)
        return program

    def forget(self, program_id: str) -> None:
        self._programs.pop(program_id, None)


@dataclass(frozen=True)
class Earning:
    """What one earn posts: the fields of EarnRequest, checked, and where it came from."""

    member_id: str
    points: int
    source_reference: str
    reason: bytes
    occurred_at: dt.datetime | None
    vests_at: dt.datetime | None
    expires_at: dt.datetime | None
    qualifying: bool
    qualifying_spend_minor: int
    batch_id: str = ""
    item_key: str | None = None


@dataclass
class Earned:
    """An earning posted by `earn_many`: the member's book, the new lot, and the points expiring
    before the asked moment with the next expiry, as they stand once the book is written."""

    book: MemberBook
    lot: store.Lot
    expiring_points: int
    next_expiry: dt.datetime | None


def event(program_id: str, **payload: object) -> events_pb2.Event:
    return events_pb2.Event(program_id=program_id, **payload)  # type: ignore[arg-type]


class LedgerCore:
    """Books, tiers and the plain postings; reversals and holds build on it (reversals.py, holds.py)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def open_book(
        self,
        connection: asyncpg.Connection,
        program: Program,
        member_id: str,
        now: dt.datetime,
        *,
        create: bool,
        allow_closed: bool = False,
    ) -> MemberBook:
        locked = await store.lock_account(connection, program.program_id, member_id)
        if locked is None:
            if not create:
                raise MemberNotFound(member_id)
            entry = program.settings.entry_tier_code
            await store.open_account(
                connection, program.program_id, member_id, tier_code=entry, now=now
            )
            locked = await store.lock_account(connection, program.program_id, member_id)
            assert locked is not None
        account, first_expiry = locked
        if account.closed_into is not None and not allow_closed:
            raise MemberClosed(member_id, account.closed_into)
        book = MemberBook(connection, program.settings, account, now)
        await book.refresh(expiry_due=first_expiry is not None and first_expiry <= now)
        return book

    async def open_books(
        self,
        connection: asyncpg.Connection,
        program: Program,
        member_ids: list[str],
        now: dt.datetime,
        *,
        create: set[str],
    ) -> dict[str, MemberBook]:
        books = {}
        for member_id in sorted(set(member_ids)):
            books[member_id] = await self.open_book(
                connection, program, member_id, now, create=member_id in create
            )
        return books

    async def close_book(
        self, book: MemberBook, program: Program, *, postings_announced: bool = True
    ) -> None:
        """Upgrade the tier if earned, write the book, and announce postings, expiry and tier.
        `postings_announced` is False for an item of a PostBatch, whose postings its batch's one
        PointsPosted announces (expiry and tier changes are still the book's)."""
        await self.close_books([book], program, postings_announced=postings_announced)

    async def close_books(
        self,
        books: list[MemberBook],
        program: Program,
        *,
        request_ids: list[str] | None = None,
        writes: Writes | None = None,
        postings_announced: bool = True,
    ) -> None:
        """`close_book` for books of distinct members, written together in one statement (with
        `writes`, added to those for the caller to send); `request_ids`, one per book, go on
        each book's events."""
        if not books:
            return
        connection = books[0].connection
        pending = Writes() if writes is None else writes
        closings = [
            self._closing(book, program, change, postings_announced=postings_announced)
            for book, change in zip(books, self._upgrades(books, program), strict=True)
        ]
        await flush_books(connection, books, pending)
        for book, (change, _) in zip(books, closings, strict=True):
            if change is not None:
                await store.insert_tier_change(
                    pending,
                    book.program_id,
                    book.member_id,
                    from_tier=change[0],
                    to_tier=change[1],
                    direction=change[2],
                    reason=change[3],
                    qualifying_amount=book.account.qualifying,
                    changed_at=book.now,
                )
        notices = []
        for index, (_, book_notices) in enumerate(closings):
            for subject, notice in book_notices:
                if request_ids is not None:
                    notice.request_id = request_ids[index]
                notices.append((subject, notice))
        await self.outbox.enqueue_all(pending, notices)
        if writes is None:
            await pending.run(connection)

    def _closing(
        self,
        book: MemberBook,
        program: Program,
        change: tuple[str, str, int, int] | None,
        *,
        postings_announced: bool,
    ) -> tuple[tuple[str, str, int, int] | None, list[tuple[str, events_pb2.Event]]]:
        """The tier change the book earned (already applied to its account) and the events
        announcing the book: its postings, its expired points and the tier change."""
        program_id = program.program_id
        notices = []
        if book.postings and postings_announced:
            notices.append(
                (
                    events.POINTS_POSTED,
                    event(
                        program_id,
                        points_posted=events_pb2.PointsPosted(
                            # A single call's book is a batch of one: named by the posting
                            # it made (the last; an expiry of due lots comes first).
                            batch_id=book.postings[0].batch_id or str(book.postings[-1].posting_id),
                            item_count=len(book.postings),
                            posted_count=len(book.postings),
                            earned_points_total=sum(
                                p.amount for p in book.postings if p.kind == EARN
                            ),
                            redeemed_points_total=-sum(
                                p.amount for p in book.postings if p.kind in (REDEEM, HOLD_COMMIT)
                            ),
                            other_points_total=sum(
                                p.amount
                                for p in book.postings
                                if p.kind not in (EARN, REDEEM, HOLD_COMMIT)
                            ),
                            member_ids=[book.member_id],
                            available_points=[book.account.vested],
                            # Every kind the book posted, once each (an expiry of due lots
                            # comes before the call's own posting): consumers tell an earn
                            # from a refund by them.
                            kinds=list(dict.fromkeys(p.kind for p in book.postings)),
                            earned_occurred_at_unix_micros=[_earned_micros(book)],
                        ),
                    ),
                )
            )
        if book.expired_points:
            notices.append(
                (
                    events.POINTS_EXPIRED,
                    event(
                        program_id,
                        points_expired=events_pb2.PointsExpired(
                            member_id=book.member_id,
                            points=book.expired_points,
                            lot_count=book.expired_lot_count,
                            available_points=book.account.vested,
                        ),
                    ),
                )
            )
        if change is not None:
            before, after, direction, reason = change
            notices.append(
                (
                    events.TIER_CHANGED,
                    event(
                        program_id,
                        tier_changed=events_pb2.TierChanged(
                            member_id=book.member_id,
                            from_tier_code=before,
                            to_tier_code=after,
                            direction=direction,
                            reason=reason,
                            qualifying_amount=book.account.qualifying,
                        ),
                    ),
                )
            )
        return change, notices

    def _upgrades(
        self, books: list[MemberBook], program: Program
    ) -> list[tuple[str, str, int, int] | None]:
        """Upgrade the books whose qualifying amount reached another tier, in one kernel call;
        per book, the change made (from, to, direction, reason) or None."""
        if len(program.tiers) < 2:
            return [None] * len(books)
        current = [program.tier_index(book.account.tier_code) for book in books]
        evaluation = ledger_core.evaluate_tiers(
            qualifying_points=np.array([book.account.qualifying for book in books], dtype=np.int64),
            current_tiers=np.array(current, dtype=np.int8),
            thresholds_points=np.array([tier.threshold for tier in program.tiers], dtype=np.int64),
            policy=ledger_core.TierPolicy(is_requalification=False),
        )
        changes: list[tuple[str, str, int, int] | None] = [None] * len(books)
        for changed in evaluation.changed_member_indexes:
            index = int(changed)
            book, before, new = books[index], current[index], int(evaluation.tiers[index])
            if new == before:
                continue
            changes[index] = (
                book.account.tier_code,
                program.tiers[new].code,
                common_pb2.TIER_CHANGE_DIRECTION_UPGRADE
                if new > before
                else common_pb2.TIER_CHANGE_DIRECTION_DOWNGRADE,
                common_pb2.TIER_CHANGE_REASON_THRESHOLD_REACHED,
            )
            book.account.tier_code = program.tiers[new].code
            book.account.tier_since = book.now
        return changes

    async def earn(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        *,
        member_id: str,
        points: int,
        source_reference: str,
        reason: bytes,
        occurred_at: dt.datetime | None,
        vests_at: dt.datetime | None,
        expires_at: dt.datetime | None,
        qualifying: bool,
        qualifying_spend_minor: int,
        batch_id: str = "",
        item_key: str | None = None,
    ) -> tuple[MemberBook, store.Lot]:
        book = await self.open_book(connection, program, member_id, now, create=True)
        lot = await self._credit(
            book,
            program,
            Earning(
                member_id=member_id,
                points=points,
                source_reference=source_reference,
                reason=reason,
                occurred_at=occurred_at,
                vests_at=vests_at,
                expires_at=expires_at,
                qualifying=qualifying,
                qualifying_spend_minor=qualifying_spend_minor,
                batch_id=batch_id,
                item_key=item_key,
            ),
        )
        # An item of a PostBatch is announced by its batch's one event.
        await self.close_book(book, program, postings_announced=not batch_id)
        return book, lot

    async def earn_many(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        earnings: list[Earning],
        *,
        request_ids: list[str],
        expiring_until: dt.datetime,
        writes: Writes,
    ) -> list["Earned | MemberClosed"]:
        """`earn` for earnings of distinct members, written together: one statement opens and locks
        all their accounts, one reads their lots' expiries, and their books are added to `writes`
        for the caller to send. Each earning's outcome is what it earned, or the refusal of a
        closed account (which leaves no trace)."""
        program_id = program.program_id
        locked = await store.open_and_lock_accounts(
            connection,
            program_id,
            [earning.member_id for earning in earnings],
            tier_code=program.settings.entry_tier_code,
            now=now,
        )
        # Read once the accounts are locked, so whatever their last writer did is seen.
        expiries = await store.expiring_soon_many(
            connection,
            program_id,
            [m for m, (account, _) in locked.items() if account.closed_into is None],
            until=expiring_until,
        )
        outcomes: list[Earned | MemberClosed] = []
        books, book_request_ids = [], []
        for earning, request_id in zip(earnings, request_ids, strict=True):
            account, posting_id = locked[earning.member_id]
            if account.closed_into is not None:
                outcomes.append(MemberClosed(earning.member_id, account.closed_into))
                continue
            soon, first = expiries[earning.member_id]
            book = MemberBook(connection, program.settings, account, now)
            await book.refresh(expiry_due=first is not None and first <= now)
            if book.postings:
                # The refresh expired lots (a posting that took a later id: the earning draws one
                # after it, so history reads in order); what is left is read again.
                posting_id = 0
                soon, first = await store.expiring_soon(
                    connection, program_id, earning.member_id, until=expiring_until
                )
            lot = await self._credit(book, program, earning, posting_id=posting_id)
            if lot.remaining and lot.expires_at is not None:
                soon += lot.remaining if lot.expires_at < expiring_until else 0
                first = lot.expires_at if first is None else min(first, lot.expires_at)
            outcomes.append(Earned(book, lot, soon, first))
            books.append(book)
            book_request_ids.append(request_id)
        await self.close_books(books, program, request_ids=book_request_ids, writes=writes)
        return outcomes

    async def _credit(
        self, book: MemberBook, program: Program, earning: Earning, *, posting_id: int = 0
    ) -> store.Lot:
        """Post the earning to the open book and give it its lot (`posting_id` if already drawn)."""
        earned_at = earning.occurred_at or book.now
        qualifying_amount = self._qualifying_amount(
            program, earning.qualifying, earning.points, earning.qualifying_spend_minor
        )
        posting_id = await book.post(
            PostingDraft(
                kind=EARN,
                amount=earning.points,
                counter_kind=ISSUED,
                source_reference=earning.source_reference,
                reason=earning.reason,
                qualifying=earning.qualifying,
                qualifying_amount=qualifying_amount,
                occurred_at=earned_at,
                batch_id=earning.batch_id,
                item_key=earning.item_key,
                posting_id=posting_id,
            )
        )
        lot = await book.credit_lot(
            earning.points,
            posting_id=posting_id,
            lot_id=posting_id,
            earned_at=earned_at,
            vests_at=earning.vests_at,
            expires_at=earning.expires_at,
            source_reference=earning.source_reference,
        )
        book.account.lifetime_earned += earning.points
        book.add_qualifying(qualifying_amount, on=earned_at)
        return lot

    @staticmethod
    def _qualifying_amount(
        program: Program, qualifying: bool, points: int, spend_minor: int
    ) -> int:
        if not qualifying:
            return 0
        return (
            spend_minor if program.settings.qualifying_basis == QUALIFYING_BASIS_SPEND else points
        )

    async def redeem(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        *,
        member_id: str,
        points: int,
        source_reference: str,
        reason: bytes,
        batch_id: str = "",
        item_key: str | None = None,
    ) -> tuple[MemberBook, dict[int, int]]:
        book = await self.open_book(connection, program, member_id, now, create=False)
        taken = await book.take_fifo(points)
        posting_id = await book.post(
            PostingDraft(
                kind=REDEEM,
                amount=-points,
                counter_kind=REDEEMED,
                source_reference=source_reference,
                reason=reason,
                batch_id=batch_id,
                item_key=item_key,
            )
        )
        await store.record_consumptions(
            connection, program.program_id, member_id, f"p{posting_id}", taken
        )
        # An item of a PostBatch is announced by its batch's one event.
        await self.close_book(book, program, postings_announced=not batch_id)
        return book, taken

    async def adjust(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        *,
        member_id: str,
        points: int,
        reason: bytes,
        qualifying: bool,
        batch_id: str = "",
        item_key: str | None = None,
    ) -> MemberBook:
        book = await self.open_book(connection, program, member_id, now, create=points > 0)
        posting_id = await book.post(
            PostingDraft(
                kind=ADJUST,
                amount=points,
                counter_kind=ADJUSTED,
                reason=reason,
                qualifying=qualifying,
                qualifying_amount=points if qualifying else 0,
                batch_id=batch_id,
                item_key=item_key,
            )
        )
        if points > 0:
            await book.credit_lot(
                points,
                posting_id=posting_id,
                lot_id=posting_id,
                earned_at=now,
                vests_at=now,
                expires_at=None,
                source_reference="",
            )
        else:
            taken = await book.take_fifo(-points)
            await store.record_consumptions(
                connection, program.program_id, member_id, f"p{posting_id}", taken
            )
        if qualifying:
            book.add_qualifying(points, on=now)
        # An item of a PostBatch is announced by its batch's one event.
        await self.close_book(book, program, postings_announced=not batch_id)
        return book

    async def transfer(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        *,
        source_member_id: str,
        target_member_id: str,
        points: int,
        transfer_all: bool,
        reason: bytes,
    ) -> tuple[str, int, MemberBook, MemberBook]:
        try:
            books = await self.open_books(
                connection,
                program,
                [source_member_id, target_member_id],
                now,
                create={target_member_id},
            )
        except (MemberNotFound, MemberClosed) as error:
            # Named as TransferPointsRequest names the member: it has no member_id field.
            field = (
                "source_member_id" if error.member_id == source_member_id else "target_member_id"
            )
            if isinstance(error, MemberNotFound):
                raise MemberNotFound(error.member_id, field=field) from None
            raise MemberClosed(error.member_id, error.survivor_id, field=field) from None
        source, target = books[source_member_id], books[target_member_id]
        [out_id, in_id] = await store.next_ids(connection, "posting_ids", 2)
        if transfer_all:
            if source.account.held:
                raise OpenHolds(source_member_id)
            lots = await store.lock_spendable_lots(
                connection, program.program_id, source_member_id, include_pending=True
            )
            taken = await source.take_from_lots(lots, sum(lot.remaining for lot in lots))
            moved_debt = source.account.debt
            source.account.debt = 0
            target.account.debt += moved_debt
            # The progress towards a tier goes too, day by day, so it leaves the window as it would have.
            for day, amount in await store.qualifying_by_day(
                connection,
                program.program_id,
                source_member_id,
                since=qualifying_window_start(program.settings, now),
            ):
                source.add_qualifying_day(day, -amount)
                target.add_qualifying_day(day, amount)
            # And a calendar year's amount kept for the year that ended (tiering.keep_previous_window).
            previous = previous_window_start(program.settings, now)
            if previous is not None:
                await repository.move_previous_window(
                    connection,
                    program.program_id,
                    source_member_id=source_member_id,
                    target_member_id=target_member_id,
                    previous_start=previous,
                )
            points = sum(taken.values()) - moved_debt
            # A merge: what the member did under either id is its activity.
            target.account.last_activity_at = max(
                target.account.last_activity_at, source.account.last_activity_at
            )
        else:
            lots = []
            taken = await source.take_fifo(points)
            moved_debt = 0
        by_id = {lot.lot_id: lot for lot in lots}
        if not transfer_all:
            by_id = {
                lot.lot_id: lot
                for lot in await store.lock_lots_by_id(
                    connection, program.program_id, source_member_id, list(taken)
                )
            }
        moves: list[tuple[int, int]] = []
        for lot_id, amount in taken.items():
            lot = by_id[lot_id]
            # The points keep their expiry, and pending points their vesting date.
            credited = await target.credit_lot(
                amount,
                posting_id=in_id,
                earned_at=lot.earned_at,
                vests_at=lot.vests_at if not lot.vested else now,
                expires_at=lot.expires_at,
                source_reference=lot.source_reference,
                policy_expiry=False,
            )
            moves.append((lot_id, credited.lot_id))
        # A refund of a purchase finds its points on the lots they moved to (reversals.py).
        await merges.record_moved_lots(
            connection,
            program.program_id,
            source_member_id=source_member_id,
            target_member_id=target_member_id,
            moves=moves,
        )
        paid: dict[int, int] = {}
        if moved_debt and target.account.debt:
            # Debt the merge moved pays itself from the survivor's own points at once, as from
            # earnings: the survivor must not spend points while owing them. Recorded as what
            # the transfer-in took from those lots.
            paid = await target.pay_debt()
        transfer_id = f"t{out_id}"
        if points or moved_debt:
            await source.post(
                PostingDraft(
                    kind=TRANSFER_OUT,
                    amount=-points,
                    counter_member_id=target_member_id,
                    reason=reason,
                    source_reference=transfer_id,
                    posting_id=out_id,
                )
            )
            await target.post(
                PostingDraft(
                    kind=TRANSFER_IN,
                    amount=points,
                    counter_member_id=source_member_id,
                    reason=reason,
                    source_reference=transfer_id,
                    posting_id=in_id,
                )
            )
        await store.record_consumptions(
            connection, program.program_id, source_member_id, f"p{out_id}", taken
        )
        await store.record_consumptions(
            connection, program.program_id, target_member_id, f"p{in_id}", paid
        )
        for book in (source, target):
            await self.close_book(book, program)
        return transfer_id, points, source, target


def _earned_micros(book: MemberBook) -> int:
    """When the book's latest earn happened (unix microseconds), 0 without an earn:
    PointsPosted.earned_occurred_at_unix_micros."""
    earns = [p.occurred_at for p in book.postings if p.kind == EARN]
    return unix_micros(max(earns)) if earns else 0
