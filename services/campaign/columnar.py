"""Accrued purchases archived as columns: one bytea per batch, read back whole by a backtest.

A batch's columns are numpy arrays stored raw behind a small JSON header (no pickles); string
columns are stored as their distinct values and one int32 code per row, so a million transactions
are a hundred rows of a few hundred kilobytes each.
"""

import json
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.campaign.accrual import Codes, PurchaseBatch

Int64Array = npt.NDArray[np.int64]
IntArray = npt.NDArray[np.signedinteger]  # type: ignore[type-arg]
STRING_COLUMNS = ("members", "tiers", "stores", "line_categories", "line_skus")
# Purchases' times are "micros" (unix microseconds); archives written before kept "seconds", read
# back as the start of their second.
NUMBER_COLUMNS = ("amounts", "channels", "micros", "line_transaction", "line_amounts", "points")


@dataclass(frozen=True, eq=False)
class ArchivedPurchases:
    members: Codes  # n, the member of each purchase
    tiers: Codes  # n, the member's tier when the purchase was accrued
    amounts: Int64Array
    channels: IntArray
    stores: Codes
    micros: Int64Array  # unix microseconds (the start of their second in old archives)
    line_transaction: IntArray
    line_amounts: Int64Array
    line_categories: Codes
    line_skus: Codes
    points: Int64Array  # what the live rules gave

    @property
    def size(self) -> int:
        return len(self.amounts)

    def encode(self) -> bytes:
        """A JSON header (string values, and name, dtype and length of each array), its length
        first, then the arrays' raw bytes one after the other."""
        header: dict[str, object] = {"strings": {}, "arrays": []}
        arrays: list[np.ndarray] = []
        for name in STRING_COLUMNS:
            codes: Codes = getattr(self, name)
            header["strings"][name] = codes.values  # type: ignore[index]
            arrays.append(np.ascontiguousarray(codes.codes, dtype=np.int32))
        for name in NUMBER_COLUMNS:
            arrays.append(np.ascontiguousarray(getattr(self, name)))
        names = [f"{name}_codes" for name in STRING_COLUMNS] + list(NUMBER_COLUMNS)
        header["arrays"] = [
            [name, array.dtype.str, len(array)] for name, array in zip(names, arrays, strict=True)
        ]
        encoded = json.dumps(header, separators=(",", ":")).encode()
        return b"".join(
            [len(encoded).to_bytes(4, "little"), encoded, *(a.tobytes() for a in arrays)]
        )

    @classmethod
    def decode(cls, data: bytes) -> "ArchivedPurchases":
        size = int.from_bytes(data[:4], "little")
        header = json.loads(data[4 : 4 + size])
        offset = 4 + size
        arrays: dict[str, np.ndarray] = {}
        for name, dtype, length in header["arrays"]:
            array = np.frombuffer(data, dtype=np.dtype(dtype), count=length, offset=offset)
            arrays[name] = array
            offset += array.nbytes
        if "micros" not in arrays:
            arrays["micros"] = arrays.pop("seconds") * 1_000_000
        strings = {
            name: Codes(header["strings"][name], arrays[f"{name}_codes"]) for name in STRING_COLUMNS
        }
        numbers = {name: arrays[name] for name in NUMBER_COLUMNS}
        return cls(**strings, **numbers)  # type: ignore[arg-type]

    def within(self, start_micros: int, end_micros: int) -> "ArchivedPurchases":
        """The purchases that happened in [start_micros, end_micros) (unix microseconds)."""
        return self.kept((self.micros >= start_micros) & (self.micros < end_micros))

    def without(self, positions: list[int]) -> "ArchivedPurchases":
        """The purchases but those at `positions` (purchases the ledger refused)."""
        keep = np.ones(self.size, dtype=bool)
        keep[positions] = False
        return self.kept(keep)

    def kept(self, keep: npt.NDArray[np.bool_]) -> "ArchivedPurchases":
        """The purchases where `keep` is true, with their lines."""
        if keep.all():
            return self
        kept_lines = keep[self.line_transaction]
        renumbered = np.cumsum(keep) - 1
        return ArchivedPurchases(
            members=Codes(self.members.values, self.members.codes[keep]),
            tiers=Codes(self.tiers.values, self.tiers.codes[keep]),
            amounts=self.amounts[keep],
            channels=self.channels[keep],
            stores=Codes(self.stores.values, self.stores.codes[keep]),
            micros=self.micros[keep],
            line_transaction=renumbered[self.line_transaction[kept_lines]].astype(np.int32),
            line_amounts=self.line_amounts[kept_lines],
            line_categories=Codes(
                self.line_categories.values, self.line_categories.codes[kept_lines]
            ),
            line_skus=Codes(self.line_skus.values, self.line_skus.codes[kept_lines]),
            points=self.points[keep],
        )


def concatenate(parts: list[ArchivedPurchases]) -> tuple[PurchaseBatch, list[str], Int64Array]:
    """The parts as one batch over all their members; also the member ids and live points."""
    member_ids: dict[str, int] = {}
    member_index: list[np.ndarray] = []
    tier_parts: list[tuple[np.ndarray, np.ndarray]] = []
    stores, categories, skus = [], [], []
    line_offset = 0
    line_transactions = []
    for part in parts:
        lookup = np.array(
            [member_ids.setdefault(m, len(member_ids)) for m in part.members.values], dtype=np.int32
        )
        indexes = lookup[part.members.codes] if part.size else np.zeros(0, dtype=np.int32)
        member_index.append(indexes)
        tier_parts.append((indexes, np.array(part.tiers.values, dtype=object)[part.tiers.codes]))
        stores.append(part.stores)
        categories.append(part.line_categories)
        skus.append(part.line_skus)
        line_transactions.append(part.line_transaction + line_offset)
        line_offset += part.size
    # A member's tier is the one of their latest archived purchase.
    tiers = np.full(len(member_ids), "", dtype=object)
    for indexes, tier_codes in tier_parts:
        tiers[indexes] = tier_codes
    micros = _joined_ints([p.micros for p in parts], np.int64)
    batch = PurchaseBatch(
        member_index=_joined_ints(member_index, np.int32),
        member_tiers=Codes.of(tiers.tolist()),
        amounts_minor=_joined_ints([p.amounts for p in parts], np.int64),
        channels=_joined_ints([p.channels for p in parts], np.int32),
        stores=_joined_codes(stores),
        seconds=micros // 1_000_000,
        micros=micros,
        line_transaction=_joined_ints(line_transactions, np.int32),
        line_amounts_minor=_joined_ints([p.line_amounts for p in parts], np.int64),
        line_categories=_joined_codes(categories),
        line_skus=_joined_codes(skus),
    )
    return batch, list(member_ids), _joined_ints([p.points for p in parts], np.int64)


def _joined_ints(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    if not arrays:
        return np.zeros(0, dtype=dtype)
    return np.concatenate(arrays).astype(dtype, copy=False)


def _joined_codes(parts: list[Codes]) -> Codes:
    values: dict[str, int] = {}
    codes = []
    for part in parts:
        lookup = np.array([values.setdefault(v, len(values)) for v in part.values], dtype=np.int32)
        codes.append(lookup[part.codes] if len(part.codes) else np.zeros(0, dtype=np.int32))
    return Codes(list(values), _joined_ints(codes, np.int32))
