"""Purchases and returns as they come in (a columnar ingest batch or one RecordPurchase), their
checks, and the columns the accrual reads.

Whole-batch problems (columns of the wrong length, a batch too large) refuse the batch, naming the
column; a problem of one transaction rejects that transaction only, with a reason code.
"""

from dataclasses import dataclass, field, fields
from typing import TypeVar

import numpy as np

from loyalty.campaign.v1 import campaign_pb2
from services.campaign.accrual import BoolArray, Codes, IntArray, PurchaseBatch
from services.campaign.errors import BatchTooLarge
from services.campaign.rpc_base import MEMBER_ID_LENGTH_MAX, REFERENCE_LENGTH_MAX, Limits
from services.campaign.rule_compiler import CHANNELS
from services.shared import validation
from services.shared.errors import InvalidArgument

PURCHASE = campaign_pb2.TRANSACTION_KIND_PURCHASE
RETURN = campaign_pb2.TRANSACTION_KIND_RETURN
# 2000-01-01 to 2099-12-31 in unix microseconds.
OCCURRED_MICROS_MIN, OCCURRED_MICROS_MAX = 946_684_800_000_000, 4_102_444_799_000_000
AMOUNT_MINOR_MAX = 10**12
# A line's quantity (0, not given, counts as 1).
LINE_QUANTITY_MAX = 10**9
T = TypeVar("T")


@dataclass
class Transactions:
    """One entry per transaction; lines as CSR (line_counts per transaction, then line columns)."""

    ids: list[str]
    members: list[str]
    amounts: list[int]
    channels: list[int]
    stores: list[str]
    micros: list[int]
    kinds: list[int]
    originals: list[str]
    line_counts: list[int]
    line_skus: list[str]
    line_categories: list[str]
    line_amounts: list[int]
    # Per line, its quantity (0 when not given, which counts as 1).
    line_quantities: list[int]
    # Per transaction, whether its lines were given (line detail), not made of its total: only
    # those lines are stored with their points, for returns by line (return_lines.py).
    detailed: list[bool]
    # Per transaction: (reason code, message) if it is rejected before accrual.
    rejected: dict[int, tuple[str, str]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.ids)

    @classmethod
    def concat(cls, parts: "list[Transactions]") -> "Transactions":
        """One batch of the transactions of `parts`, in order (RecordPurchase calls grouped)."""
        columns = [f.name for f in fields(cls) if f.name != "rejected"]
        joined = cls(**{name: [] for name in columns})  # type: ignore[arg-type]
        for part in parts:
            offset = joined.size
            for name in columns:
                getattr(joined, name).extend(getattr(part, name))
            joined.rejected.update((offset + i, why) for i, why in part.rejected.items())
        return joined

    @classmethod
    def of_ingest(
        cls, request: campaign_pb2.IngestTransactionsRequest, limits: Limits, *, now_micros: int
    ) -> "Transactions":
        """The request's transactions, each checked; `now_micros` the server's time, which an
        occurred_at may pass by at most limits.occurred_at_ahead_max_ms."""
        size = len(request.transaction_ids)
        if size > limits.batch_size_max:
            raise BatchTooLarge(size, limits.batch_size_max)

        def column(name: str, default: object, *, required: bool = False) -> list:  # type: ignore[type-arg]
            values = list(getattr(request, name))
            if not values and not required:
                return [default] * size
            if len(values) != size:
                raise InvalidArgument(name, f"has {len(values)} values for {size} transactions")
            return values

        line_counts = column("line_counts", 0)
        if request.line_counts:
            lines = sum(line_counts)
            if any(count < 0 for count in line_counts):
                raise InvalidArgument("line_counts", "must not be negative")
            if lines > limits.lines_per_batch_max:
                raise BatchTooLarge(lines, limits.lines_per_batch_max)
            for name in ("line_skus", "line_categories", "line_amounts_minor"):
                if len(getattr(request, name)) not in (0, lines):
                    raise InvalidArgument(
                        name, f"has {len(getattr(request, name))} values for {lines} lines"
                    )
            if len(request.line_amounts_minor) != lines:
                raise InvalidArgument("line_amounts_minor", f"is required for the {lines} lines")
            line_skus = list(request.line_skus) or [""] * lines
            line_categories = list(request.line_categories) or [""] * lines
            line_amounts = list(request.line_amounts_minor)
            if len(request.line_quantities) not in (0, lines):
                raise InvalidArgument(
                    "line_quantities",
                    f"has {len(request.line_quantities)} values for {lines} lines",
                )
            line_quantities = list(request.line_quantities) or [0] * lines
            detailed = [count > 0 for count in line_counts]
            if 0 in line_counts:
                line_counts, line_skus, line_categories, line_amounts, line_quantities = (
                    _whole_when_no_lines(
                        line_counts,
                        (line_skus, line_categories, line_amounts, line_quantities),
                        (
                            column("skus", ""),
                            column("categories", ""),
                            column("amounts_minor", 0),
                            [0] * size,
                        ),
                    )
                )
        else:
            # No line detail: each transaction is one line of its total, category and SKU.
            line_counts = [1] * size
            line_skus = column("skus", "")
            line_categories = column("categories", "")
            line_amounts = list(map(abs, column("amounts_minor", 0, required=True)))
            line_quantities = [0] * size
            detailed = [False] * size
        transactions = cls(
            ids=list(request.transaction_ids),
            members=column("member_ids", "", required=True),
            amounts=column("amounts_minor", 0, required=True),
            channels=column("channels", 0),
            stores=column("store_ids", ""),
            micros=column("occurred_at_unix_micros", 0, required=True),
            kinds=column("kinds", PURCHASE),
            originals=column("original_transaction_ids", ""),
            line_counts=line_counts,
            line_skus=line_skus,
            line_categories=line_categories,
            line_amounts=line_amounts,
            line_quantities=line_quantities,
            detailed=detailed,
        )
        transactions.check_items(limits, now_micros=now_micros)
        return transactions

    def check_items(self, limits: Limits, *, now_micros: int) -> None:
        """Each transaction's first problem, in the order of _CHECKS, as columns: a batch of ten
        thousand is checked by numpy, not by a Python loop per transaction."""
        size = self.size
        if not size:
            return
        kinds = np.array(self.kinds, dtype=np.int64)
        if not kinds.all():
            kinds[kinds == 0] = PURCHASE
            self.kinds = kinds.tolist()
        amounts = np.array(self.amounts, dtype=np.int64)
        micros = np.array(self.micros, dtype=np.int64)
        counts = np.array(self.line_counts, dtype=np.int64)
        purchase, is_return = kinds == PURCHASE, kinds == RETURN
        id_lengths = _lengths(self.ids)
        member_lengths = _lengths(self.members)
        line_amounts = np.array(self.line_amounts, dtype=np.int64)
        line_quantities = np.array(self.line_quantities, dtype=np.int64)
        bad_line_amounts = np.zeros(size, dtype=np.bool_)
        bad_quantities = np.zeros(size, dtype=np.bool_)
        bad_line_amount = (line_amounts < 0) | (line_amounts > AMOUNT_MINOR_MAX)
        if bad_line_amount.any():
            owners = np.repeat(np.arange(size), counts)
            bad_line_amounts[owners[bad_line_amount]] = True
        bad_quantity = (line_quantities < 0) | (line_quantities > LINE_QUANTITY_MAX)
        if bad_quantity.any():
            owners = np.repeat(np.arange(size), counts)
            bad_quantities[owners[bad_quantity]] = True
        failed = (
            (id_lengths == 0) | (id_lengths > REFERENCE_LENGTH_MAX),
            (member_lengths == 0) | (member_lengths > MEMBER_ID_LENGTH_MAX),
            ~(purchase | is_return),
            (amounts > AMOUNT_MINOR_MAX)
            | (amounts < -AMOUNT_MINOR_MAX)
            | (purchase & (amounts < 0)),
            is_return & (amounts == 0),
            is_return & (_lengths(self.originals) == 0),
            (micros < OCCURRED_MICROS_MIN) | (micros > OCCURRED_MICROS_MAX),
            micros > now_micros + limits.occurred_at_ahead_max_ms * 1000,
            ~np.isin(np.array(self.channels, dtype=np.int64), sorted(CHANNELS)),
            _lengths(self.stores) > REFERENCE_LENGTH_MAX,
            counts > limits.lines_per_transaction_max,
            bad_line_amounts,
            bad_quantities,
            _holding_nul(self.ids, self.members, self.originals, self.stores),
        )
        problems = _problems(limits)
        first = np.full(size, -1, dtype=np.int64)
        for check, mask in enumerate(failed):
            first[(first < 0) & mask] = check
        for index in np.flatnonzero(first >= 0).tolist():
            self.rejected[index] = problems[first[index]]
        # Distinct ids (the usual batch) are distinct (member, id) pairs: one set of strings tells.
        if len(set(self.ids)) < size:
            keys = list(zip(self.members, self.ids, strict=True))
            # A transaction id given twice: the first keeps it, even when that one is rejected.
            seen: set[tuple[str, str]] = set()
            for index, key in enumerate(keys):
                if key in seen and index not in self.rejected:
                    self.rejected[index] = (
                        "duplicate_in_batch",
                        "transaction_ids: appears twice in the batch",
                    )
                seen.add(key)
            self.rejected = dict(sorted(self.rejected.items()))

    def purchases(self) -> list[int]:
        return self._of_kind(PURCHASE)

    def returns(self) -> list[int]:
        return self._of_kind(RETURN)

    def _of_kind(self, kind: int) -> list[int]:
        """The transactions of this kind that are not rejected, in order."""
        indexes = np.flatnonzero(np.array(self.kinds, dtype=np.int64) == kind).tolist()
        if not self.rejected:
            return indexes
        return [i for i in indexes if i not in self.rejected]

    def batch_of(
        self, indexes: list[int], *, members: list[str], tiers: dict[str, str]
    ) -> PurchaseBatch:
        """The accrual's columns for the transactions `indexes`, whose members are `members`."""
        chosen = np.array(indexes, dtype=np.int64)
        counts = np.array(self.line_counts, dtype=np.int64)
        if (counts == 1).all():
            line_indexes = chosen
            line_transaction = np.arange(len(chosen), dtype=np.int32)
        else:
            offsets = np.zeros(self.size + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            lengths = counts[chosen]
            line_transaction = np.repeat(np.arange(len(chosen), dtype=np.int32), lengths)
            starts = np.repeat(offsets[chosen] - np.cumsum(lengths) + lengths, lengths)
            line_indexes = starts + np.arange(int(lengths.sum()), dtype=np.int64)
        position = {member: index for index, member in enumerate(members)}
        line_list = line_indexes.tolist()
        micros = np.array(self.micros, dtype=np.int64)[chosen]
        return PurchaseBatch(
            member_index=np.fromiter(
                map(position.__getitem__, pick(self.members, indexes)),
                dtype=np.int32,
                count=len(indexes),
            ),
            member_tiers=Codes.of(list(map(tiers.__getitem__, members))),
            amounts_minor=np.array(self.amounts, dtype=np.int64)[chosen],
            channels=np.array(self.channels, dtype=np.int32)[chosen],
            stores=Codes.of(pick(self.stores, indexes)),
            seconds=micros // 1_000_000,
            micros=micros,
            line_transaction=line_transaction,
            line_amounts_minor=np.array(self.line_amounts, dtype=np.int64)[line_indexes],
            line_categories=Codes.of(pick(self.line_categories, line_list)),
            line_skus=Codes.of(pick(self.line_skus, line_list)),
        )


def pick(column: list[T], indexes: list[int]) -> list[T]:
    """The column's values at `indexes` (ascending, distinct): the column itself when that is all."""
    if len(indexes) == len(column):
        return column
    return list(map(column.__getitem__, indexes))


def _lengths(column: list[str]) -> IntArray:
    return np.fromiter(map(len, column), dtype=np.int64, count=len(column))


def _holding_nul(*columns: list[str]) -> BoolArray:
    """Per transaction, whether one of these columns holds NUL, which PostgreSQL's text cannot
    (one such value would fail the batch's COPY); a column without any is looked at once."""
    size = len(columns[0])
    found = np.zeros(size, dtype=np.bool_)
    for column in columns:
        if "\x00" in "".join(column):
            found |= np.fromiter(("\x00" in value for value in column), dtype=np.bool_, count=size)
    return found


def _problems(limits: Limits) -> list[tuple[str, str]]:
    """What each check of check_items rejects with, in the order they are made."""
    return [
        ("invalid_transaction_id", "transaction_ids: 1 to 128 characters"),
        ("invalid_member_id", "member_ids: 1 to 128 characters"),
        ("invalid_kind", "kinds: a purchase or a return"),
        ("invalid_amount", f"amounts_minor: a purchase is 0 to {AMOUNT_MINOR_MAX}"),
        ("invalid_amount", "amounts_minor: a return refunds a non-zero amount"),
        ("missing_original", "original_transaction_ids: a return names its purchase"),
        ("invalid_occurred_at", "occurred_at_unix_micros: 2000 to 2099 is required"),
        (
            "occurred_at_in_future",
            "occurred_at_unix_micros: " + validation.future_text(limits.occurred_at_ahead_max_ms),
        ),
        ("invalid_channel", "channels: not a known channel"),
        ("invalid_store_id", "store_ids: at most 128 characters"),
        ("too_many_lines", f"line_counts: at most {limits.lines_per_transaction_max}"),
        ("invalid_line_amount", f"line_amounts_minor: 0 to {AMOUNT_MINOR_MAX}"),
        ("invalid_line_quantity", f"line_quantities: 0 to {LINE_QUANTITY_MAX}"),
        (
            "invalid_text",
            "transaction_ids, member_ids, original_transaction_ids, store_ids: without NUL",
        ),
    ]


def _whole_when_no_lines(
    counts: list[int],
    lines: tuple[list[str], list[str], list[int], list[int]],
    wholes: tuple[list[str], list[str], list[int], list[int]],
) -> tuple[list[int], list[str], list[str], list[int], list[int]]:
    """Transactions given without lines in a batch with line detail: one line of their total."""
    skus: list[str] = []
    categories: list[str] = []
    amounts: list[int] = []
    quantities: list[int] = []
    line = 0
    for index, count in enumerate(counts):
        if count:
            skus += lines[0][line : line + count]
            categories += lines[1][line : line + count]
            amounts += lines[2][line : line + count]
            quantities += lines[3][line : line + count]
            line += count
        else:
            skus.append(wholes[0][index])
            categories.append(wholes[1][index])
            amounts.append(abs(wholes[2][index]))
            quantities.append(wholes[3][index])
    return [count or 1 for count in counts], skus, categories, amounts, quantities


def check_occurred_at(micros: int, field: str, *, now_micros: int, ahead_max_ms: int) -> int:
    """A purchase's, return's or activity's time: 2000 to 2099, and not in the future beyond the
    allowance for a till's clock (the accrual, the ledger's lots and the caps all follow it)."""
    if not OCCURRED_MICROS_MIN <= micros <= OCCURRED_MICROS_MAX:
        raise InvalidArgument(field, "must be between 2000 and 2099")
    return validation.not_in_future(micros, field, now_micros=now_micros, ahead_max_ms=ahead_max_ms)


def of_purchase(
    request: campaign_pb2.RecordPurchaseRequest | campaign_pb2.PreviewBasketRequest,
    *,
    transaction_id: str,
    member_id: str,
    occurred_micros: int,
) -> Transactions:
    """One purchase (RecordPurchase or a previewed basket) as a batch of one."""
    lines = list(request.line_items)
    detailed = bool(lines)
    for index, line in enumerate(lines):
        # Bounded as the purchase's amount is: a line's points are computed from its amount,
        # and one of 2^63 - 1 previewed 922 quadrillion points (the ledger refused to post them).
        validation.in_range(
            line.amount.amount_minor,
            f"line_items[{index}].amount.amount_minor",
            low=0,
            high=AMOUNT_MINOR_MAX,
        )
        validation.in_range(
            line.quantity, f"line_items[{index}].quantity", low=0, high=LINE_QUANTITY_MAX
        )
        if line.amount.currency and line.amount.currency != request.amount.currency:
            raise InvalidArgument(
                f"line_items[{index}].amount.currency", "must be the purchase's currency"
            )
    if not lines:
        lines = [campaign_pb2.LineItem(amount=request.amount)]
    return Transactions(
        ids=[transaction_id],
        members=[member_id],
        amounts=[request.amount.amount_minor],
        channels=[request.channel],
        stores=[request.store_id],
        micros=[occurred_micros],
        kinds=[PURCHASE],
        originals=[""],
        line_counts=[len(lines)],
        line_skus=[line.sku for line in lines],
        line_categories=[line.category for line in lines],
        line_amounts=[line.amount.amount_minor for line in lines],
        line_quantities=[line.quantity for line in lines],
        detailed=[detailed],
    )
