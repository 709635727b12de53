"""The checkpoint of an import, kept beside the input file: how far the server has acknowledged.

It is rewritten atomically (a temporary file, fsync, rename) after each acknowledged batch, with
the size the reject file had then, so a resumed import truncates the reject file to that size and
writes each reject exactly once. Rows after the checkpoint are sent again on resume; the batch ids
and the per-row idempotency keys make the server answer those it already has as it did before.
"""

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from admin import errors

VERSION = 1


@dataclass
class Checkpoint:
    kind: str
    program_id: str
    # Names the batches of this import (batch ids are `<import_id>-<first line>`).
    import_id: str
    header: list[str]
    # Rows a batch: batch ids hold it, so a resume reads batches of this size (0: not recorded).
    batch_size: int = 0
    # Where the next unacknowledged row starts.
    offset: int = 0
    line: int = 1
    rows_done: int = 0
    rows_imported: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    rejects_bytes: int = 0
    # CsvFile.digest_before(offset): checkpoints written before it have "" and are not checked.
    file_digest: str = ""
    completed: bool = False
    version: int = VERSION

    @classmethod
    def new(cls, *, kind: str, program_id: str, header: list[str], batch_size: int) -> "Checkpoint":
        return cls(
            kind=kind,
            program_id=program_id,
            import_id=secrets.token_hex(6),
            header=header,
            batch_size=batch_size,
        )

    def save(self, path: Path) -> None:
        temporary = path.with_name(path.name + ".tmp")
        with temporary.open("w") as file:
            json.dump(asdict(self), file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)


def load(path: Path) -> Checkpoint | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        fields = json.loads(text)
        if fields.get("version") != VERSION:
            raise ValueError("another version")
        return Checkpoint(**fields)
    except (ValueError, TypeError) as error:
        raise errors.data(
            f"{path}: not a checkpoint this tool wrote ({error}); remove it to start over"
        ) from None


def check_matches(
    checkpoint: Checkpoint,
    path: Path,
    *,
    kind: str,
    program_id: str,
    header: list[str],
    file_digest: str,
) -> None:
    """A checkpoint of another import, or of an earlier version of the file (the same name for
    the next day's export, say), must not be resumed by mistake: resuming seeks to the offset it
    holds, so the other file's rows before it would be skipped without a word, and the batch in
    flight when it stopped would be answered with the old file's results. `file_digest` is the
    file's digest before the checkpoint's offset now."""
    if checkpoint.kind != kind or checkpoint.program_id != program_id:
        raise errors.data(
            f"{path} belongs to an import of {checkpoint.kind} into program "
            f"{checkpoint.program_id!r}; pass --restart to import this file afresh"
        )
    if checkpoint.header != header:
        raise errors.data(
            f"{path} was written for a file with another header; "
            "pass --restart to import this file afresh"
        )
    if checkpoint.file_digest and checkpoint.file_digest != file_digest:
        raise errors.data(
            f"{path} was written for another version of the file: its first "
            f"{checkpoint.offset:,} bytes (up to line {checkpoint.line:,}) are not what the "
            "checkpoint saw; pass --restart to import this file afresh (rows it already "
            "imported are answered as duplicates)"
        )
