"""Reading a CSV file of millions of rows in constant memory, in chunks that know where they end
(byte offset and line number), so an import can checkpoint after a chunk and resume by seeking.

The first line is a header naming the columns; a missing required column or an unknown one is an
error naming it. Each row keeps the number of the line it starts on (the header is line 1), for
the reject file. Rows with quoted line breaks are fine: csv pulls exactly the lines a row needs.
"""

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from admin import errors

ENCODING = "utf-8"
# How much of each end of the part already imported a checkpoint's digest covers.
DIGEST_SPAN_BYTES = 64 * 1024


@dataclass(frozen=True)
class Columns:
    """The columns an import knows: those it needs, and those it can use."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    # At least one of these must be in the header (e.g. some identifier of a member).
    one_of: tuple[str, ...] = ()

    @property
    def known(self) -> tuple[str, ...]:
        return self.required + tuple(c for c in self.optional if c not in self.required)


@dataclass
class Chunk:
    """Consecutive rows of the file and where the chunk ends."""

    rows: list[list[str]]
    # The line each row starts on (the header is line 1).
    lines: list[int]
    # Lines of `lines` whose bytes were not valid UTF-8 (decoded with replacement characters).
    undecodable_lines: set[int]
    end_offset: int
    end_line: int

    @property
    def first_line(self) -> int:
        return self.lines[0] if self.lines else self.end_line


@dataclass
class _Position:
    offset: int
    line: int
    undecodable: set[int] = field(default_factory=set)


def _physical_lines(file: "object", position: _Position) -> Iterator[str]:
    for raw in file:  # type: ignore[attr-defined]
        position.offset += len(raw)
        position.line += 1
        try:
            yield raw.decode(ENCODING)
        except UnicodeDecodeError:
            position.undecodable.add(position.line)
            yield raw.decode(ENCODING, errors="replace")


class CsvFile:
    """A CSV file with a header, checked against the columns an import knows."""

    def __init__(self, path: Path, columns: Columns) -> None:
        self.path = path
        try:
            with path.open("rb") as file:
                first = file.readline()
                self.size_bytes = path.stat().st_size
        except FileNotFoundError:
            raise errors.AdminError(
                f"{path}: no such file", exit_code=errors.EXIT_NO_INPUT
            ) from None
        except OSError as error:
            raise errors.AdminError(
                f"{path}: cannot read: {error.strerror}", exit_code=errors.EXIT_NO_INPUT
            ) from None
        self.header_end = len(first)
        self.header = self._header(first, columns)
        self.index = {name: position for position, name in enumerate(self.header)}

    def _header(self, first: bytes, columns: Columns) -> list[str]:
        if not first.strip():
            raise errors.data(
                f"{self.path}: the first line must be a header naming the columns "
                f"({', '.join(columns.known)})"
            )
        try:
            text = first.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise errors.data(f"{self.path}: line 1 (the header) is not UTF-8") from None
        header = [name.strip() for name in next(csv.reader([text]))]
        seen: set[str] = set()
        for name in header:
            if name in seen:
                raise errors.data(f"{self.path}: the header names the column {name!r} twice")
            seen.add(name)
        unknown = [name for name in header if name not in columns.known]
        if unknown:
            raise errors.data(
                f"{self.path}: unknown column {unknown[0]!r} in the header; "
                f"the columns are: {', '.join(columns.known)}"
            )
        missing = [name for name in columns.required if name not in seen]
        if missing:
            raise errors.data(
                f"{self.path}: the header lacks the required column {missing[0]!r} "
                f"(required: {', '.join(columns.required)})"
            )
        if columns.one_of and not seen.intersection(columns.one_of):
            raise errors.data(
                f"{self.path}: the header needs at least one of the columns "
                f"{', '.join(columns.one_of)}"
            )
        return header

    def digest_before(self, offset: int) -> str:
        """A digest of the first and the last bytes before `offset` (64 KiB of each), or "" when
        the file is shorter than `offset`: what a resume checks to know the file is the one the
        checkpoint was written for. Both ends, so that a file replaced by another export with the
        same header, and one edited or truncated near the resume point, are told apart, while a
        file that only grew at its end still resumes; reading both ends is cheap at every
        checkpoint, where hashing everything before the offset would not be."""
        with self.path.open("rb") as file:
            if file.seek(0, 2) < offset:
                return ""
            file.seek(0)
            digest = hashlib.sha256(file.read(min(offset, DIGEST_SPAN_BYTES)))
            tail_start = max(0, offset - DIGEST_SPAN_BYTES)
            file.seek(tail_start)
            digest.update(file.read(offset - tail_start))
        return digest.hexdigest()

    def chunks(self, *, offset: int, line: int, rows_max: int) -> Iterator[Chunk]:
        """Chunks of at most `rows_max` rows from byte `offset`, which starts line `line` + 1."""
        start_offset = max(offset, self.header_end)
        position = _Position(start_offset, max(line, 1))
        with self.path.open("rb") as file:
            file.seek(start_offset)
            reader = csv.reader(_physical_lines(file, position))
            while True:
                rows: list[list[str]] = []
                lines: list[int] = []
                while len(rows) < rows_max:
                    row_line = position.line + 1
                    try:
                        row = next(reader)
                    except StopIteration:
                        break
                    except csv.Error as error:
                        raise errors.data(f"{self.path}: line {row_line}: {error}") from None
                    if not row:
                        continue  # a blank line
                    rows.append(row)
                    lines.append(row_line)
                undecodable = {n for n in lines if n in position.undecodable}
                position.undecodable.clear()
                if rows:
                    yield Chunk(rows, lines, undecodable, position.offset, position.line)
                if len(rows) < rows_max:
                    return
