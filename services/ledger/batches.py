"""PostBatch: a columnar batch of postings committed in one transaction, with per-item results.

The hot path is earning: a batch of earns is validated and de-duplicated as columns, written with
COPY (postings, lots and qualifying days other than the accounts' day buckets) and one aggregated
update per table (member accounts, program accounts), and evaluated for tiers with ledger_core in one call. Spends and adjustments,
and earns of members who owe points, go through the member's book one by one, each in a
savepoint so a refused item leaves no trace. Within a batch, earns apply before spends: a batch is
one moment.
"""

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import asyncpg
import numpy as np
import numpy.typing as npt

import ledger_core
from ledger_core import limits
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger import events, store
from services.ledger.book import EARN, ISSUED, REDEEM
from services.ledger.convert import timestamp
from services.ledger.earn_columns import (
    NO_DAY,
    NO_INSTANT,
    EarnItems,
    MemberTotals,
    available_after,
    member_totals,
    off_bucket_days,
)
from services.ledger.errors import InsufficientPoints, MemberClosed, MemberNotFound
from services.ledger.ledger import Ledger
from services.ledger.lot_calendar import EPOCH_ORDINAL, LotCalendar, Moments
from services.ledger.operations import QUALIFYING_BASIS_SPEND, Program
from services.ledger.policy import qualifying_window_start
from services.shared import pg_copy, validation
from services.shared.errors import InvalidArgument
from services.shared.outbox import Outbox
from services.shared.pg_arrays import int_array, text_array
from services.shared.timestamps import from_unix_micros, unix_micros

POSTED, DUPLICATE, REJECTED = 1, 2, 3
REJECT_UNKNOWN_MEMBER, REJECT_INSUFFICIENT, REJECT_INVALID_POINTS = 1, 2, 3
REJECT_INVALID_KIND, REJECT_MEMBER_CLOSED, REJECT_CONFLICT, REJECT_INVALID_ITEM = 4, 5, 6, 7
REJECT_OCCURRED_AT_IN_FUTURE = 8
OCCURRED_BEFORE_1970 = "occurred_at_unix_micros: must not be before 1970-01-01T00:00:00Z"
# A vesting or expiry given instead of the program's: within the calendar's years.
OVERRIDE_RANGE_TEXT = "must be within 1970-01-01T00:00:00Z to 2099-12-31T23:59:59Z"
OVERRIDE_MICROS_MAX = (limits.TIMESTAMP_SECONDS_MAX + 1) * 1_000_000 - 1
# The unique index that binds an item key to one posting of a member (migration 002).
ITEM_KEY_INDEX = "postings_item_key"
POINTS_MAX = 10**12
# An item's qualifying spend, as Earn's qualifying_spend.amount_minor takes it.
QUALIFYING_SPEND_MINOR_MAX = 10**15
SPENDS_RANGE_TEXT = f"qualifying_spends_minor: must be 0 to {QUALIFYING_SPEND_MINOR_MAX}"
# What a batch's qualifying spends may add up to: the members' sums are int64 (numpy, which
# wraps silently past 2**63 - 1) and so is an account's qualifying amount.
QUALIFYING_SPENDS_TOTAL_MAX = 2**62
# Only credits count towards tiers: a qualifying debit took a member's tier progress below zero.
NEGATIVE_QUALIFYING_TEXT = (
    "only positive points count towards tier qualification; reverse a purchase's posting "
    "to take its tier progress back"
)
MEMBER_ID_LENGTH_MAX = 128
ITEM_KEY_LENGTH_MAX = 200
BATCH_KINDS = {EARN, REDEEM, common_pb2.POSTING_KIND_ADJUST}
TierChange = tuple[str, str, str, int]  # member, from, to, qualifying


@dataclass
class Columns:
    """The request's columns, optional ones filled with defaults, all of the batch's length."""

    member_ids: list[str]
    points: list[int]
    kinds: list[int]
    references: list[str]
    keys: list[str]
    occurred_micros: list[int]
    qualifying: list[bool]
    spends: list[int]
    reason_codes: list[str]
    vests_micros: list[int]
    expires_micros: list[int]

    reasons: dict[str, bytes] = field(default_factory=dict)

    def reason(self, index: int) -> bytes:
        """The item's reason as a stored PostingReason: its "rule@version,..." code, parsed once."""
        code = self.reason_codes[index]
        if not code:
            return b""
        stored = self.reasons.get(code)
        if stored is None:
            rule_ids = [rule_id.strip() for rule_id in code.split(",") if rule_id.strip()]
            stored = self.reasons[code] = ledger_pb2.PostingReason(
                rule_ids=rule_ids
            ).SerializeToString(deterministic=True)
        return stored

    @classmethod
    def of(cls, request: ledger_pb2.PostBatchRequest) -> "Columns":
        size = len(request.member_ids)

        def column(name: str, default: object) -> list:  # type: ignore[type-arg]
            values = list(getattr(request, name))
            if not values:
                return [default] * size
            if len(values) != size:
                raise InvalidArgument(name, f"has {len(values)} values for {size} members")
            return values

        return cls(
            member_ids=list(request.member_ids),
            points=column("points", 0),
            kinds=column("kinds", EARN),
            references=column("source_references", ""),
            keys=column("idempotency_keys", ""),
            occurred_micros=column("occurred_at_unix_micros", 0),
            qualifying=column("qualifying_flags", False),
            spends=column("qualifying_spends_minor", 0),
            reason_codes=column("reason_codes", ""),
            vests_micros=column("vests_at_unix_micros", 0),
            expires_micros=column("expires_at_unix_micros", 0),
        )


@dataclass
class Results:
    size: int
    statuses: list[int] = field(init=False)
    reasons: list[int] = field(init=False)
    messages: list[str] = field(init=False)
    posting_ids: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.statuses = [0] * self.size
        self.reasons = [0] * self.size
        self.messages = [""] * self.size
        self.posting_ids = [""] * self.size

    def reject(self, index: int, reason: int, message: str) -> None:
        self.statuses[index], self.reasons[index], self.messages[index] = REJECTED, reason, message

    def done(self, index: int, status: int, posting_id: int) -> None:
        self.statuses[index], self.posting_ids[index] = status, str(posting_id)


def _validate_items(columns: Columns, results: Results) -> list[int]:
    """Indexes of the items that may be posted; the others are rejected with their reason."""
    valid = []
    for index in range(results.size):
        member, points, kind, item_key = (
            columns.member_ids[index],
            columns.points[index],
            columns.kinds[index],
            columns.keys[index],
        )
        # NUL: PostgreSQL's text cannot hold it, and one such item would fail the batch's COPY.
        if not member or len(member) > MEMBER_ID_LENGTH_MAX or "\x00" in member:
            results.reject(
                index,
                REJECT_INVALID_ITEM,
                "member_id: is required, at most 128 characters, without NUL",
            )
        elif not item_key or len(item_key) > ITEM_KEY_LENGTH_MAX or "\x00" in item_key:
            results.reject(
                index,
                REJECT_INVALID_ITEM,
                "idempotency_key: is required, at most 200 characters, without NUL",
            )
        elif "\x00" in columns.references[index]:
            results.reject(index, REJECT_INVALID_ITEM, "source_reference: holds a NUL character")
        elif kind not in BATCH_KINDS:
            results.reject(
                index, REJECT_INVALID_KIND, "kind: a batch posts earn, redeem and adjust"
            )
        elif not 0 < abs(points) <= POINTS_MAX or (
            points < 0 and kind != common_pb2.POSTING_KIND_ADJUST
        ):
            results.reject(index, REJECT_INVALID_POINTS, f"points: must be 1 to {POINTS_MAX}")
        elif points < 0 and columns.qualifying[index]:
            results.reject(
                index, REJECT_INVALID_ITEM, f"qualifying_flags: {NEGATIVE_QUALIFYING_TEXT}"
            )
        elif not 0 <= columns.spends[index] <= QUALIFYING_SPEND_MINOR_MAX:
            # A negative spend took a member's tier progress below zero under the spend basis.
            results.reject(index, REJECT_INVALID_ITEM, SPENDS_RANGE_TEXT)
        elif columns.occurred_micros[index] < 0:
            # Before the program's calendar (ledger_core's offset tables) begins; a year-1 date
            # west of Greenwich has no local date at all.
            results.reject(index, REJECT_INVALID_ITEM, OCCURRED_BEFORE_1970)
        elif not 0 <= columns.vests_micros[index] <= OVERRIDE_MICROS_MAX:
            results.reject(
                index, REJECT_INVALID_ITEM, f"vests_at_unix_micros: {OVERRIDE_RANGE_TEXT}"
            )
        elif not 0 <= columns.expires_micros[index] <= OVERRIDE_MICROS_MAX:
            # Out of range, the last instant of 9999 is infinity to asyncpg, and such a lot
            # broke every later read of the member's balance.
            results.reject(
                index, REJECT_INVALID_ITEM, f"expires_at_unix_micros: {OVERRIDE_RANGE_TEXT}"
            )
        else:
            valid.append(index)
    return valid


def _same_posting(row: asyncpg.Record, columns: Columns, index: int) -> bool:
    """Whether the posting stored under an item's key is the item's: its kind and points, and
    the reference (of an earn or a redeem; an adjustment keeps none) and, for an earn, whether
    it qualifies. A key reused for another purchase of the same points was answered as a
    duplicate of the first, and the second purchase never earned."""
    kind = columns.kinds[index]
    signed = -columns.points[index] if kind == REDEEM else columns.points[index]
    if row["kind"] != kind or row["amount"] != signed:
        return False
    if kind in (EARN, REDEEM) and row["source_reference"] != columns.references[index]:
        return False
    return kind != EARN or row["qualifying"] == columns.qualifying[index]


def _check_spends_total(columns: Columns) -> None:
    """Refuse a batch whose items' qualifying spends (each within its range) could add up past
    int64 for one member: two items of 2**63 - 1 summed to -2, silently."""
    if len(columns.spends) * QUALIFYING_SPEND_MINOR_MAX < QUALIFYING_SPENDS_TOTAL_MAX:
        return  # the common case: no sum of valid items can get there
    spends = np.asarray(columns.spends, dtype=np.float64)
    valid = spends[(spends >= 0) & (spends <= QUALIFYING_SPEND_MINOR_MAX)]
    if float(valid.sum()) >= QUALIFYING_SPENDS_TOTAL_MAX:
        raise InvalidArgument(
            "qualifying_spends_minor",
            f"the items' qualifying spends must total less than {QUALIFYING_SPENDS_TOTAL_MAX}",
        )


def _drop_future(
    columns: Columns, results: Results, valid: list[int], *, latest_micros: int, message: str
) -> list[int]:
    """`valid` without the items whose occurred_at is after `latest_micros` (the ledger's time
    plus the allowance for a clock running ahead), which are rejected: one numpy comparison over
    the column, and a step per rejected item only."""
    future = np.asarray(columns.occurred_micros, dtype=np.int64) > latest_micros
    if not future.any():
        return valid
    for index in np.flatnonzero(future).tolist():
        if not results.statuses[index]:
            results.reject(index, REJECT_OCCURRED_AT_IN_FUTURE, message)
    return [index for index in valid if not future[index]]


class BatchPoster:
    def __init__(self, ledger: Ledger, outbox: Outbox, *, occurred_at_ahead_max_ms: int) -> None:
        self.ledger = ledger
        self.outbox = outbox
        self.occurred_at_ahead_max_ms = occurred_at_ahead_max_ms
        self.future_message = "occurred_at_unix_micros: " + validation.future_text(
            occurred_at_ahead_max_ms
        )

    async def post(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        request: ledger_pb2.PostBatchRequest,
    ) -> ledger_pb2.PostBatchResponse:
        columns = Columns.of(request)
        _check_spends_total(columns)
        # Items seen before are rare on the hot path: post straight away, and only when an item
        # key turns out to exist already undo that (a savepoint) and look the items up first.
        try:
            async with connection.transaction():
                return await self._post(connection, program, now, request, columns, lookup=False)
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name != ITEM_KEY_INDEX:
                raise
        return await self._post(connection, program, now, request, columns, lookup=True)

    async def _post(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        request: ledger_pb2.PostBatchRequest,
        columns: Columns,
        *,
        lookup: bool,
    ) -> ledger_pb2.PostBatchResponse:
        results = Results(len(columns.member_ids))
        valid = _validate_items(columns, results)
        valid = _drop_future(
            columns,
            results,
            valid,
            latest_micros=unix_micros(now) + self.occurred_at_ahead_max_ms * 1000,
            message=self.future_message,
        )
        valid = await self._drop_duplicates(connection, program, columns, results, valid, lookup)
        earns = [i for i in valid if columns.kinds[i] == EARN]
        earned = await self._post_earns(
            connection, program, now, request.batch_id, columns, results, earns
        )
        one_by_one = sorted(earned.held_back + [i for i in valid if columns.kinds[i] != EARN])
        await self._post_one_by_one(
            connection, program, now, request.batch_id, columns, results, one_by_one
        )
        response = await self._answer(
            connection, program, now, request.batch_id, columns, results, earned, one_by_one
        )
        # Last, so that the program accounts, which every batch of the program updates, stay
        # locked only for the commit and concurrent batches of a stream hardly wait on them.
        await store.move_program_accounts(
            connection, program.program_id, {(ISSUED, s): d for s, d in earned.issued.items()}
        )
        return response

    async def _drop_duplicates(
        self,
        connection: asyncpg.Connection,
        program: Program,
        columns: Columns,
        results: Results,
        valid: list[int],
        lookup: bool,
    ) -> list[int]:
        """The items to post: those not in the batch before them nor, when `lookup`, already
        posted (those are duplicates, or conflicts when the key was used for another posting)."""
        # Distinct keys make distinct (member, key) pairs, and a set of the keys alone costs less
        # than one of pairs; only a batch that repeats a key needs the pairs.
        count = len(columns.member_ids)
        if not lookup and (
            len(set(columns.keys)) == count
            or len(set(zip(columns.member_ids, columns.keys, strict=True))) == count
        ):
            return valid  # the common case: every item of the batch is its own
        rows = (
            []
            if not lookup
            else await connection.fetch(
                "SELECT p.member_id, p.item_key, p.posting_id, p.amount, p.kind, "
                "p.source_reference, p.qualifying FROM postings p "
                "JOIN unnest($2::text[], $3::text[]) AS t(member_id, item_key) USING (member_id, item_key) "
                "WHERE p.program_id = $1 AND p.member_id = ANY($2::text[]) AND p.item_key IS NOT NULL",
                program.program_id,
                [columns.member_ids[i] for i in valid],
                [columns.keys[i] for i in valid],
            )
        )
        existing = {(row["member_id"], row["item_key"]): row for row in rows}
        seen: dict[tuple[str, str], int] = {}
        fresh = []
        for index in valid:
            item = (columns.member_ids[index], columns.keys[index])
            row = existing.get(item)
            if row is not None:
                if _same_posting(row, columns, index):
                    results.done(index, DUPLICATE, row["posting_id"])
                else:
                    results.reject(
                        index, REJECT_CONFLICT, "idempotency_key: was used for a different posting"
                    )
            elif item in seen:
                results.reject(
                    index,
                    REJECT_CONFLICT,
                    f"idempotency_key: repeats item {seen[item]} of this batch",
                )
            else:
                seen[item] = index
                fresh.append(index)
        return fresh

    async def _post_earns(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        batch_id: str,
        columns: Columns,
        results: Results,
        indexes: list[int],
    ) -> "_Earned":
        """Post earns in bulk; returns the items held back (members who owe points or closed),
        the tier changes, the points to take off the issued program accounts and balances."""
        earned = _Earned()
        if not indexes:
            return earned
        settings, program_id = program.settings, program.program_id
        window_start = qualifying_window_start(settings, now)
        spend_basis = settings.qualifying_basis == QUALIFYING_BASIS_SPEND
        items = EarnItems.of(
            indexes=indexes,
            member_ids=columns.member_ids,
            points=columns.points,
            qualifying_flags=columns.qualifying,
            qualifying_basis=columns.spends if spend_basis else columns.points,
            instants=(columns.occurred_micros, columns.vests_micros, columns.expires_micros),
            calendar=LotCalendar(settings, now, window_start),
        )
        totals = member_totals(items)
        applied = await _apply_to_accounts(connection, program, now, items.members, totals)
        members = items.members
        account_of = [applied.get(member) for member in members]
        took = np.fromiter((row is not None for row in account_of), dtype=bool, count=len(members))
        posted = took[items.codes]
        earned.held_back = [items.indexes[k] for k in np.flatnonzero(~posted).tolist()]
        if not posted.any():
            return earned
        positions = np.flatnonzero(posted)
        ids = await connection.fetchval(
            "SELECT array_agg(nextval('posting_ids')) FROM generate_series(1, $1)", len(positions)
        )
        stored_vested = np.fromiter(
            (row["vested"] if row is not None else 0 for row in account_of),
            dtype=np.int64,
            count=len(members),
        )
        # Each posting records the available points after it, in batch order.
        codes = items.codes[positions]
        after = available_after(
            codes,
            np.where(items.vested, items.points, 0)[positions],
            stored_vested - totals.vested,
        )
        for code in np.flatnonzero(took).tolist():
            earned.issued[store.stripe_of(members[code])] -= int(totals.lifetime[code])
        posted_indexes = [items.indexes[k] for k in positions.tolist()]
        statuses, posting_ids = results.statuses, results.posting_ids
        for index, posting_id in zip(posted_indexes, ids, strict=True):
            statuses[index], posting_ids[index] = POSTED, str(posting_id)
        await _copy_postings_and_lots(
            connection,
            program_id=program_id,
            batch_id=batch_id,
            now=now,
            columns=columns,
            indexes=posted_indexes,
            moments=items.moments.take(positions),
            qualifying=items.qualifying[positions],
            available_after=after,
            posting_ids=ids,
        )
        days = off_bucket_days(
            items,
            totals,
            applied=took,
            stored_days=_day_numbers(
                row["qualifying_day"] if row is not None else None for row in account_of
            ),
            moved_days=_day_numbers(
                row["qualifying_moved_day"] if row is not None else None for row in account_of
            ),
            moved_amounts=np.fromiter(
                (row["qualifying_moved_amount"] if row is not None else 0 for row in account_of),
                dtype=np.int64,
                count=len(members),
            ),
        )
        await pg_copy.copy_columns(
            connection,
            "qualifying_days",
            [
                pg_copy.same_text("program_id", program_id),
                pg_copy.text("member_id", [members[code] for code in days.codes.tolist()]),
                pg_copy.date("day", days.days - EPOCH_ORDINAL),
                pg_copy.bigint("amount", days.amounts),
            ],
            row_count=len(days.codes),
        )
        earned.available = {member: row["vested"] for member, row in applied.items()}
        earned.tier_changes = await _upgrade(connection, program, now, applied)
        return earned

    async def _post_one_by_one(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        batch_id: str,
        columns: Columns,
        results: Results,
        indexes: list[int],
    ) -> None:
        for index in indexes:
            member, points, kind = (
                columns.member_ids[index],
                columns.points[index],
                columns.kinds[index],
            )
            try:
                async with connection.transaction():  # a savepoint: a refused item leaves no trace
                    if kind == EARN:
                        book, _ = await self.ledger.earn(
                            connection,
                            program,
                            now,
                            member_id=member,
                            points=points,
                            source_reference=columns.references[index],
                            reason=columns.reason(index),
                            occurred_at=from_unix_micros(columns.occurred_micros[index])
                            if columns.occurred_micros[index]
                            else None,
                            vests_at=from_unix_micros(columns.vests_micros[index])
                            if columns.vests_micros[index]
                            else None,
                            expires_at=from_unix_micros(columns.expires_micros[index])
                            if columns.expires_micros[index]
                            else None,
                            qualifying=columns.qualifying[index],
                            qualifying_spend_minor=columns.spends[index],
                            batch_id=batch_id,
                            item_key=columns.keys[index],
                        )
                    elif kind == REDEEM:
                        book, _ = await self.ledger.redeem(
                            connection,
                            program,
                            now,
                            member_id=member,
                            points=points,
                            source_reference=columns.references[index],
                            reason=columns.reason(index),
                            batch_id=batch_id,
                            item_key=columns.keys[index],
                        )
                    else:
                        book = await self.ledger.adjust(
                            connection,
                            program,
                            now,
                            member_id=member,
                            points=points,
                            reason=columns.reason(index),
                            qualifying=columns.qualifying[index],
                            batch_id=batch_id,
                            item_key=columns.keys[index],
                        )
            except InsufficientPoints as error:
                results.reject(index, REJECT_INSUFFICIENT, error.details())
            except MemberNotFound as error:
                results.reject(index, REJECT_UNKNOWN_MEMBER, error.details())
            except MemberClosed as error:
                results.reject(index, REJECT_MEMBER_CLOSED, error.details())
            else:
                results.done(index, POSTED, book.postings[-1].posting_id)

    async def _answer(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        batch_id: str,
        columns: Columns,
        results: Results,
        earned: "_Earned",
        one_by_one: list[int],
    ) -> ledger_pb2.PostBatchResponse:
        posted = [i for i, status in enumerate(results.statuses) if status == POSTED]
        totals = dict.fromkeys(BATCH_KINDS, 0)
        kinds, points, occurred = columns.kinds, columns.points, columns.occurred_micros
        # Each member's latest earn of the batch (0 in a request is now): a consumer tells
        # points a member just earned from an import of purchases of long ago by it.
        now_micros = unix_micros(now)
        earned_micros: dict[str, int] = {}
        for index in posted:
            totals[kinds[index]] += points[index]
            if kinds[index] == EARN:
                member = columns.member_ids[index]
                moment = occurred[index] or now_micros
                if moment > earned_micros.get(member, 0):
                    earned_micros[member] = moment
        # The kinds posted, at most the three a batch takes: consumers tell a batch of purchases
        # from one of adjustments by them (its items are not announced apart).
        posted_kinds = sorted({kinds[index] for index in posted})

        tier_changes = earned.tier_changes
        await self._record_upgrades(connection, program, now, tier_changes)
        statuses = Counter(results.statuses)
        touched = sorted({columns.member_ids[i] for i in posted})
        # The bulk earns know their members' balances; only members also posted to one by one
        # are read back.
        available = dict(earned.available)
        reread = sorted({columns.member_ids[i] for i in one_by_one} & set(touched))
        if reread:
            rows = await connection.fetch(
                "SELECT member_id, vested FROM member_accounts WHERE program_id = $1 AND member_id = ANY($2::text[])",
                program.program_id,
                reread,
            )
            available.update((row["member_id"], row["vested"]) for row in rows)
        if posted:
            await self.outbox.enqueue(
                connection,
                events.POINTS_POSTED,
                events_pb2.Event(
                    program_id=program.program_id,
                    points_posted=events_pb2.PointsPosted(
                        batch_id=batch_id,
                        item_count=results.size,
                        posted_count=statuses[POSTED],
                        duplicate_count=statuses[DUPLICATE],
                        rejected_count=statuses[REJECTED],
                        earned_points_total=totals[EARN],
                        redeemed_points_total=totals[REDEEM],
                        other_points_total=totals[common_pb2.POSTING_KIND_ADJUST],
                        member_ids=touched,
                        available_points=[available[m] for m in touched],
                        kinds=posted_kinds,
                        earned_occurred_at_unix_micros=[earned_micros.get(m, 0) for m in touched],
                    ),
                ),
            )
        return ledger_pb2.PostBatchResponse(
            program_id=program.program_id,
            batch_id=batch_id,
            statuses=results.statuses,
            reject_reasons=results.reasons,
            messages=results.messages,
            posting_ids=results.posting_ids,
            posted_count=statuses[POSTED],
            duplicate_count=statuses[DUPLICATE],
            rejected_count=statuses[REJECTED],
            earned_points_total=totals[EARN],
            redeemed_points_total=totals[REDEEM],
            adjusted_points_total=totals[common_pb2.POSTING_KIND_ADJUST],
            tier_changes_count=len(tier_changes),
            committed_at=timestamp(now),
        )

    async def _record_upgrades(
        self,
        connection: asyncpg.Connection,
        program: Program,
        now: dt.datetime,
        tier_changes: list[TierChange],
    ) -> None:
        """The batch's upgrades in the tier history and the outbox, one statement each."""
        if not tier_changes:
            return
        upgrade = common_pb2.TIER_CHANGE_DIRECTION_UPGRADE
        reached = common_pb2.TIER_CHANGE_REASON_THRESHOLD_REACHED
        await connection.execute(
            "INSERT INTO tier_changes (program_id, member_id, from_tier_code, to_tier_code, direction, "
            "reason, qualifying_amount, changed_at) "
            "SELECT $1, m, f, t, $5, $6, q, $7 FROM unnest($2::text[], $3::text[], $4::text[], $8::bigint[]) "
            "AS c(m, f, t, q)",
            program.program_id,
            [member for member, _, _, _ in tier_changes],
            [before for _, before, _, _ in tier_changes],
            [after for _, _, after, _ in tier_changes],
            upgrade,
            reached,
            now,
            [qualifying for _, _, _, qualifying in tier_changes],
        )
        await self.outbox.enqueue_many(
            connection,
            events.TIER_CHANGED,
            [
                events_pb2.Event(
                    program_id=program.program_id,
                    tier_changed=events_pb2.TierChanged(
                        member_id=member,
                        from_tier_code=before,
                        to_tier_code=after,
                        direction=upgrade,
                        reason=reached,
                        qualifying_amount=qualifying,
                    ),
                )
                for member, before, after, qualifying in tier_changes
            ],
        )


@dataclass
class _Earned:
    """What the bulk earns of a batch did."""

    # Items left to the one-by-one path: members who owe points or whose account is closed.
    held_back: list[int] = field(default_factory=list)
    tier_changes: list[TierChange] = field(default_factory=list)
    # Points to take off the issued program account, by stripe.
    issued: Counter[int] = field(default_factory=Counter)
    # Members' available points after the bulk earns.
    available: dict[str, int] = field(default_factory=dict)


async def _copy_postings_and_lots(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    batch_id: str,
    now: dt.datetime,
    columns: Columns,
    indexes: list[int],
    moments: Moments,
    qualifying: npt.NDArray[np.int64],
    available_after: npt.NDArray[np.int64],
    posting_ids: list[int],
) -> None:
    """The bulk earns' postings and their lots (a lot's id is its posting's), one COPY each; only
    the columns a bulk earn sets, the others take their defaults."""
    count = len(indexes)
    program = pg_copy.same_text("program_id", program_id)
    members = pg_copy.text("member_id", [columns.member_ids[i] for i in indexes])
    references = pg_copy.text("source_reference", [columns.references[i] for i in indexes])
    points = np.fromiter((columns.points[i] for i in indexes), dtype=np.int64, count=count)
    ids = np.array(posting_ids, dtype=np.int64)
    occurred = moments.occurred_micros
    await pg_copy.copy_columns(
        connection,
        "postings",
        [
            program,
            members,
            pg_copy.bigint("posting_id", ids),
            pg_copy.smallint("kind", EARN),
            pg_copy.bigint("amount", points),
            pg_copy.smallint("counter_kind", ISSUED),
            references,
            pg_copy.bytea("reason", [columns.reason(i) for i in indexes]),
            pg_copy.boolean("qualifying", [columns.qualifying[i] for i in indexes]),
            pg_copy.bigint("qualifying_amount", qualifying),
            pg_copy.same_text("batch_id", batch_id),
            pg_copy.text("item_key", [columns.keys[i] for i in indexes]),
            pg_copy.bigint("available_after", available_after),
            pg_copy.timestamptz("occurred_at", occurred),
            pg_copy.timestamptz("posted_at", unix_micros(now)),
        ],
        row_count=count,
    )
    never = moments.never_expires
    expires_at = pg_copy.timestamptz(
        "expires_at", moments.expires_micros, nulls=never if never.any() else None
    )
    await pg_copy.copy_columns(
        connection,
        "lots",
        [
            program,
            members,
            pg_copy.bigint("lot_id", ids),
            pg_copy.bigint("posting_id", ids),
            pg_copy.bigint("amount", points),
            pg_copy.bigint("remaining", points),
            pg_copy.boolean("vested", moments.vested),
            pg_copy.timestamptz("earned_at", occurred),
            pg_copy.timestamptz("vests_at", moments.vests_micros),
            expires_at,
            references,
        ],
        row_count=count,
    )


async def _apply_to_accounts(
    connection: asyncpg.Connection,
    program: Program,
    now: dt.datetime,
    members: list[str],
    totals: MemberTotals,
) -> dict[str, asyncpg.Record]:
    """Open and credit the accounts in one statement, in member order; members who owe points (their
    earns repay debt) or whose account is closed are left to the one-by-one path. Returns the
    credited accounts.

    The totals' day bucket of a member (its latest qualifying day of the batch and that day's
    amount) is added to the account's day bucket when it holds that day, replaces it (moved out)
    when it holds an earlier day, and is left aside when it holds a later one (see migration
    006)."""
    order = sorted(range(len(members)), key=members.__getitem__)
    bucket_days = totals.bucket_days[order].tolist()
    rows = await connection.fetch(
        "INSERT INTO member_accounts AS a (program_id, member_id, vested, pending, lifetime_earned, qualifying, "
        "tier_code, tier_since, next_vest_at, last_activity_at, qualifying_day, qualifying_day_amount) "
        "SELECT $1, m, v, p, l, q, $2, $3, nv, timestamptz 'epoch' + la * interval '1 microsecond', qd, qa "
        "FROM unnest($4::text::text[], $5::text::bigint[], $6::text::bigint[], $7::text::bigint[], "
        "$8::text::bigint[], $9::timestamptz[], $10::date[], $11::text::bigint[], $12::text::bigint[]) "
        "AS t(m, v, p, l, q, nv, qd, qa, la) "
        "ON CONFLICT (program_id, member_id) DO UPDATE SET vested = a.vested + EXCLUDED.vested, "
        "pending = a.pending + EXCLUDED.pending, lifetime_earned = a.lifetime_earned + EXCLUDED.lifetime_earned, "
        "qualifying = a.qualifying + EXCLUDED.qualifying, next_vest_at = least(a.next_vest_at, EXCLUDED.next_vest_at), "
        "last_activity_at = CASE WHEN a.lifetime_earned = 0 THEN EXCLUDED.last_activity_at "
        "  ELSE greatest(a.last_activity_at, EXCLUDED.last_activity_at) END, "
        "qualifying_day = greatest(a.qualifying_day, EXCLUDED.qualifying_day), "
        "qualifying_day_amount = CASE WHEN EXCLUDED.qualifying_day IS NULL "
        "  OR a.qualifying_day > EXCLUDED.qualifying_day THEN a.qualifying_day_amount "
        "  WHEN a.qualifying_day = EXCLUDED.qualifying_day THEN a.qualifying_day_amount + EXCLUDED.qualifying_day_amount "
        "  ELSE EXCLUDED.qualifying_day_amount END, "
        "qualifying_moved_day = CASE WHEN a.qualifying_day < EXCLUDED.qualifying_day THEN a.qualifying_day END, "
        "qualifying_moved_amount = CASE WHEN a.qualifying_day < EXCLUDED.qualifying_day "
        "  THEN a.qualifying_day_amount ELSE 0 END "
        "WHERE a.debt = 0 AND a.closed_into IS NULL "
        "RETURNING member_id, vested, qualifying, tier_code, qualifying_day, qualifying_moved_day, "
        "qualifying_moved_amount",
        program.program_id,
        program.settings.entry_tier_code,
        now,
        text_array([members[code] for code in order]),
        int_array(totals.vested[order]),
        int_array(totals.pending[order]),
        int_array(totals.lifetime[order]),
        int_array(totals.qualifying[order]),
        _instants(
            [
                None if micros == NO_INSTANT else micros
                for micros in totals.next_vest_micros[order].tolist()
            ]
        ),
        [None if day == NO_DAY else dt.date.fromordinal(day) for day in bucket_days],
        int_array(totals.bucket_amounts[order]),
        # The member's activity is its latest purchase (an import's are long before now), in
        # micros: a text literal costs a fifth of a datetime per member.
        int_array(totals.latest_occurred_micros[order]),
    )
    return {row["member_id"]: row for row in rows}


def _day_numbers(days: Iterable[dt.date | None]) -> npt.NDArray[np.int64]:
    """Dates as ordinals, NO_DAY for none."""
    return np.fromiter((NO_DAY if day is None else day.toordinal() for day in days), dtype=np.int64)


def _instants(micros: list[int | None]) -> list[dt.datetime | None]:
    """Unix micros as datetimes, each distinct value made once (a batch's items often share one)."""
    made: dict[int, dt.datetime] = {}
    instants: list[dt.datetime | None] = []
    for value in micros:
        if value is None:
            instants.append(None)
            continue
        moment = made.get(value)
        if moment is None:
            moment = made[value] = from_unix_micros(value)
        instants.append(moment)
    return instants


async def _upgrade(
    connection: asyncpg.Connection,
    program: Program,
    now: dt.datetime,
    accounts: dict[str, asyncpg.Record],
) -> list[TierChange]:
    """Upgrade, in one kernel call, the members whose qualifying amount reached a higher tier."""
    if len(program.tiers) < 2 or not accounts:
        return []
    rows = list(accounts.values())
    evaluation = ledger_core.evaluate_tiers(
        qualifying_points=np.fromiter(
            (r["qualifying"] for r in rows), dtype=np.int64, count=len(rows)
        ),
        current_tiers=np.fromiter(
            (program.tier_index(r["tier_code"]) for r in rows), dtype=np.int8, count=len(rows)
        ),
        thresholds_points=np.array([tier.threshold for tier in program.tiers], dtype=np.int64),
        policy=ledger_core.TierPolicy(is_requalification=False),
    )
    changes = [
        (
            rows[int(i)]["member_id"],
            rows[int(i)]["tier_code"],
            program.tiers[int(evaluation.tiers[i])].code,
            rows[int(i)]["qualifying"],
        )
        for i in evaluation.changed_member_indexes
    ]
    if changes:
        await connection.execute(
            "UPDATE member_accounts AS a SET tier_code = t.tier, tier_since = $4 "
            "FROM unnest($2::text[], $3::text[]) AS t(member_id, tier) "
            "WHERE a.program_id = $1 AND a.member_id = ANY($2::text[]) AND a.member_id = t.member_id",
            program.program_id,
            [c[0] for c in changes],
            [c[2] for c in changes],
            now,
        )
    return changes
