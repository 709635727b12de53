"""allocate_fifo: the checked Python face of the FIFO kernel (ledger_core/_fifo.pyx).

Lots are grouped per account, CSR style: the lots of account a are rows account_offsets[a] to
account_offsets[a + 1], ordered by expiry (earliest first). A lot can be consumed when it has
vested and not yet expired at `as_of_seconds` (vests_at <= as_of < expires_at). Burn requests are
served in their order; each takes from its account's eligible lots, earliest expiry first, what
earlier requests left. The result is the points consumed per lot and the shortfall per request
(what the account could not cover); the remaining of a lot is remaining_points - consumed_points.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ledger_core import _fifo, limits
from ledger_core.batches import ArrayLike, integer_column
from ledger_core.errors import AllocationError, InputError

Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class LotBook:
    account_offsets: ArrayLike
    remaining_points: ArrayLike
    vests_at_seconds: ArrayLike
    expires_at_seconds: ArrayLike


@dataclass(frozen=True, eq=False)
class BurnRequests:
    account_indexes: ArrayLike
    points: ArrayLike


@dataclass(frozen=True, eq=False)
class FifoAllocation:
    consumed_points: Int64Array
    shortfall_points: Int64Array


def checked_allocation_inputs(
    lots: LotBook, requests: BurnRequests, *, as_of_seconds: int
) -> tuple[dict[str, Int64Array], dict[str, Int64Array]]:
    book = {
        name: integer_column(f"lots.{name}", getattr(lots, name), np.int64)
        for name in (
            "account_offsets",
            "remaining_points",
            "vests_at_seconds",
            "expires_at_seconds",
        )
    }
    burns = {
        name: integer_column(f"requests.{name}", getattr(requests, name), np.int64)
        for name in ("account_indexes", "points")
    }
    if (
        not isinstance(as_of_seconds, int)
        or not limits.INT64_MIN <= as_of_seconds <= limits.INT64_MAX
    ):
        raise InputError("as_of_seconds", "must be an int64")
    _check_book(book)
    _check_requests(burns, account_count=len(book["account_offsets"]) - 1)
    return book, burns


def _check_book(book: dict[str, Int64Array]) -> None:
    offsets, remaining = book["account_offsets"], book["remaining_points"]
    lot_count = len(remaining)
    if lot_count > limits.LOTS_PER_CALL_MAX:
        raise InputError("lots", f"{lot_count} lots, at most {limits.LOTS_PER_CALL_MAX}")
    for name in ("vests_at_seconds", "expires_at_seconds"):
        if len(book[name]) != lot_count:
            raise InputError(
                f"lots.{name}", f"length {len(book[name])}, remaining_points has {lot_count}"
            )
    if len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != lot_count:
        raise InputError("lots.account_offsets", f"must run from 0 to the lot count {lot_count}")
    _first_bad("lots.account_offsets", np.diff(offsets) < 0, "decreases")
    _first_bad("lots.remaining_points", remaining < 0, "is negative")
    # Within an account, expiry must not decrease; across an account boundary it may.
    decreasing = np.diff(book["expires_at_seconds"]) < 0
    starts = offsets[1:-1]
    decreasing[starts[(starts > 0) & (starts < lot_count)] - 1] = False
    _first_bad("lots.expires_at_seconds", decreasing, "is earlier than the lot before it", shift=1)


def _check_requests(burns: dict[str, Int64Array], *, account_count: int) -> None:
    accounts, points = burns["account_indexes"], burns["points"]
    if len(accounts) > limits.REQUESTS_PER_CALL_MAX:
        raise InputError(
            "requests", f"{len(accounts)} requests, at most {limits.REQUESTS_PER_CALL_MAX}"
        )
    if len(points) != len(accounts):
        raise InputError(
            "requests.points", f"length {len(points)}, account_indexes has {len(accounts)}"
        )
    _first_bad(
        "requests.account_indexes", (accounts < 0) | (accounts >= account_count), "no such account"
    )
    _first_bad("requests.points", points < 0, "is negative")


def _first_bad(field: str, bad: npt.NDArray[np.bool_], message: str, *, shift: int = 0) -> None:
    if bad.any():
        raise AllocationError(field, int(np.argmax(bad)) + shift, message)


def allocate_fifo(lots: LotBook, requests: BurnRequests, *, as_of_seconds: int) -> FifoAllocation:
    """Points consumed per lot and shortfall per request (see the module docstring)."""
    book, burns = checked_allocation_inputs(lots, requests, as_of_seconds=as_of_seconds)
    consumed = np.zeros(len(book["remaining_points"]), dtype=np.int64)
    shortfalls = np.empty(len(burns["points"]), dtype=np.int64)
    _fifo.allocate_columns(
        **book,
        **burns,
        as_of_seconds=as_of_seconds,
        consumed_points=consumed,
        shortfall_points=shortfalls,
    )
    return FifoAllocation(consumed_points=consumed, shortfall_points=shortfalls)
