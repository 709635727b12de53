"""Columns written to PostgreSQL with COPY in its binary format, encoded as whole arrays.

asyncpg's copy_records_to_table encodes a batch row by row and value by value: about 3.7 µs a row
of a ten-column table with three timestamps here, most of a bulk earn's Python time, and a
timestamp has to be a datetime first (itself most of a microsecond to make). Here a column is an
array, a timestamp is its integer microseconds, and the rows are laid out in one buffer with a
few numpy operations per column: about 1 µs a row, whatever the types.

The binary format (PostgreSQL's "COPY", "Binary Format"): a header, then for each row the number
of fields (int16) and each field as its length (int32, -1 for NULL) and its bytes in the type's
binary representation (big-endian integers; timestamptz as microseconds since 2000-01-01 UTC;
date as days since 2000-01-01; text as UTF-8, which asyncpg's connections use as client encoding), then -1 (int16).
"""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import asyncpg
import numpy as np
import numpy.typing as npt

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
TRAILER = b"\xff\xff"
POSTGRES_EPOCH_MICROS = 946_684_800_000_000  # 2000-01-01 in unix microseconds
POSTGRES_EPOCH_DAYS = 10_957  # 2000-01-01 in days since 1970-01-01
NULL_LENGTH = -1

Values = Sequence[int] | Sequence[bool] | npt.NDArray[np.generic] | int | bool


@dataclass(frozen=True)
class Column:
    """One column of a COPY: its name, and its values as fixed-width binary or variable bytes."""

    name: str
    # Fixed width: the big-endian numpy type of a value, the values (or one for every row) and
    # where they are NULL. Variable: dtype None and `data` the encoded values.
    dtype: np.dtype | None  # type: ignore[type-arg]
    values: Values | None = None
    nulls: npt.NDArray[np.bool_] | None = None
    data: Sequence[bytes] | None = None


def bigint(name: str, values: Values, *, nulls: npt.NDArray[np.bool_] | None = None) -> Column:
    return Column(name, np.dtype(">i8"), values, nulls)


def smallint(name: str, values: Values) -> Column:
    return Column(name, np.dtype(">i2"), values)


def boolean(name: str, values: Values) -> Column:
    return Column(name, np.dtype("?"), values)


def timestamptz(
    name: str, unix_micros: Values, *, nulls: npt.NDArray[np.bool_] | None = None
) -> Column:
    """Instants as unix microseconds (values under `nulls` are ignored)."""
    micros = np.asarray(unix_micros, dtype=np.int64) - POSTGRES_EPOCH_MICROS
    return Column(name, np.dtype(">i8"), micros, nulls)


def date(name: str, unix_days: Values) -> Column:
    """Dates as days since 1970-01-01."""
    days = np.asarray(unix_days, dtype=np.int64) - POSTGRES_EPOCH_DAYS
    return Column(name, np.dtype(">i4"), days)


def text(name: str, values: Sequence[str]) -> Column:
    return Column(name, None, data=[value.encode() for value in values])


def same_text(name: str, value: str) -> Column:
    """One text for every row (a program id, a batch id): laid out as a fixed-width field."""
    encoded = value.encode()
    return Column(name, np.dtype(f"S{len(encoded)}"), encoded)


def bytea(name: str, values: Sequence[bytes]) -> Column:
    return Column(name, None, data=values)


async def copy_columns(
    connection: asyncpg.Connection, table: str, columns: Sequence[Column], *, row_count: int
) -> None:
    """COPY `row_count` rows into `table` (only the named columns; the others take defaults)."""
    if row_count == 0:
        return
    payload = encode(columns, row_count=row_count)

    async def source() -> AsyncIterator[bytes]:
        yield payload

    await connection.copy_to_table(
        table, source=source(), columns=[column.name for column in columns], format="binary"
    )


def encode(columns: Sequence[Column], *, row_count: int) -> bytes:
    """The COPY stream of `row_count` rows of `columns`, in the binary format."""
    if len(columns) >= 2**15:
        raise ValueError("a row has fewer than 32,768 fields")
    sizes = np.empty((len(columns), row_count), dtype=np.int64)
    for index, column in enumerate(columns):
        sizes[index] = _field_sizes(column, row_count)
    row_sizes = 2 + sizes.sum(axis=0)
    row_ends = len(HEADER) + np.cumsum(row_sizes)
    starts = row_ends - row_sizes
    total = len(HEADER) + int(row_sizes.sum()) + len(TRAILER)
    out = np.empty(total, dtype=np.uint8)
    out[: len(HEADER)] = np.frombuffer(HEADER, dtype=np.uint8)
    out[total - len(TRAILER) :] = np.frombuffer(TRAILER, dtype=np.uint8)
    field_count = np.full(row_count, len(columns), dtype=">i2")
    _place(out, starts, field_count.view(np.uint8).reshape(row_count, 2))
    starts = starts + 2
    for index, column in enumerate(columns):
        if column.dtype is None:
            _place_variable(out, starts, column.data or (), sizes[index] - 4)
        else:
            _place_fixed(out, starts, column, row_count)
        starts += sizes[index]
    return out.tobytes()


def _field_sizes(column: Column, row_count: int) -> npt.NDArray[np.int64] | int:
    """Each row's bytes of the column, its length field included."""
    if column.dtype is None:
        data = column.data or ()
        if len(data) != row_count:
            raise ValueError(f"column {column.name} has {len(data)} values for {row_count} rows")
        return 4 + np.fromiter(map(len, data), dtype=np.int64, count=row_count)
    width = 4 + column.dtype.itemsize
    if column.nulls is None:
        return width
    return np.where(column.nulls, 4, width)


def _place(out: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], block: np.ndarray) -> None:  # type: ignore[type-arg]
    """Row i of `block` (rows x width bytes) at out[starts[i]:]."""
    width = block.shape[1]
    if width and len(starts):
        out[(starts[:, None] + np.arange(width)).ravel()] = block.ravel()


def _place_fixed(
    out: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], column: Column, row_count: int
) -> None:
    assert column.dtype is not None
    fields = np.empty(row_count, dtype=[("length", ">i4"), ("value", column.dtype)])
    fields["length"] = column.dtype.itemsize
    values = np.broadcast_to(np.asarray(column.values), (row_count,))
    if column.nulls is None:
        fields["value"] = values
        _place(out, starts, fields.view(np.uint8).reshape(row_count, -1))
        return
    if len(column.nulls) != row_count:
        raise ValueError(f"column {column.name} has {len(column.nulls)} nulls for {row_count} rows")
    present = ~column.nulls
    fields["length"][column.nulls] = NULL_LENGTH
    fields["value"][present] = values[present]
    block = fields.view(np.uint8).reshape(row_count, -1)
    _place(out, starts, block[:, :4])
    _place(out, starts[present] + 4, block[present, 4:])


def _place_variable(
    out: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.int64],
    data: Sequence[bytes],
    lengths: npt.NDArray[np.int64],
) -> None:
    _place(out, starts, lengths.astype(">i4").view(np.uint8).reshape(len(lengths), 4))
    joined = b"".join(data)
    if joined:
        # Byte k of value i goes to starts[i] + 4 + k: one index per byte, made in two steps.
        value_starts = np.cumsum(lengths) - lengths
        positions = np.repeat(starts + 4 - value_starts, lengths) + np.arange(len(joined))
        out[positions] = np.frombuffer(joined, dtype=np.uint8)
