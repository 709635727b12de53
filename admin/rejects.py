"""The reject file: one CSV row per rejected input row, with its line number and the reason."""

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from admin import errors

REJECT_COLUMNS = ("line", "reason", "message")


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    message: str
    row: Sequence[str]


class RejectFile:
    """Appends rejects after `keep_bytes` bytes of an earlier run (a resume), else starts anew."""

    def __init__(self, path: Path, input_header: Sequence[str], *, keep_bytes: int) -> None:
        self.path = path
        try:
            self._file: IO[str] = self._open(keep_bytes)
        except OSError as error:
            raise errors.AdminError(
                f"{path}: cannot write the reject file: {error.strerror}",
                exit_code=errors.EXIT_CANT_CREATE,
            ) from None
        self._writer = csv.writer(self._file, lineterminator="\n")
        if self._file.tell() == 0:
            self._writer.writerow([*REJECT_COLUMNS, *input_header])
            self.flush()

    def _open(self, keep_bytes: int) -> IO[str]:
        if keep_bytes > 0 and self.path.exists():
            file = self.path.open("r+", encoding="utf-8", newline="")
            file.truncate(keep_bytes)
            file.seek(keep_bytes)
            return file
        return self.path.open("w", encoding="utf-8", newline="")

    def write(self, rejects: Sequence[Reject]) -> None:
        for reject in rejects:
            self._writer.writerow([reject.line, reject.reason, reject.message, *reject.row])

    def flush(self) -> int:
        """Make what was written durable; returns the file's size, for the checkpoint."""
        self._file.flush()
        os.fsync(self._file.fileno())
        return self._file.tell()

    def close(self) -> None:
        self._file.close()
