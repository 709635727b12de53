"""An import: a CSV file streamed through one of the services' bidirectional batch streams, in
constant memory, resumable, with every rejected row in a reject file.

The file is read in chunks of `batch_size` rows; each becomes one request (rows the tool can
already tell are wrong are rejected here and left out). At most `window` requests are in flight;
answers come back in order, and each acknowledged batch advances the checkpoint beside the file.
Batch ids are `<import id>-<first line>-<rows>`, and each row carries an idempotency key of its
own, so a batch sent again after an interruption is answered as the first time and changes nothing.
A resume reads batches of the size the checkpoint was written with, whatever --batch-size says: a
batch in flight when the import stopped is then sent again under its own id and finished at once,
where under another id its rows would be answered as already there and campaign's recovery worker
would post them only a minute or more later.
A service that becomes unavailable mid-way (a restart) is retried from the checkpoint.
"""

import asyncio
import collections
import json
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
from google.protobuf.message import Message

from admin import checkpoint as checkpoints
from admin import errors
from admin.connections import Connections
from admin.csv_input import Chunk, Columns, CsvFile
from admin.progress import ImportProgress
from admin.rejects import Reject, RejectFile

BATCH_SIZE_MAX = 10_000
WINDOW_MAX = 64
RETRY_DELAY_MAX_S = 10.0


@dataclass
class Prepared:
    """One chunk of the file made into a request."""

    # None when the tool rejected every row of the chunk itself.
    request: Message | None
    # The rows sent and their lines, in the request's order.
    rows: list[Sequence[str]]
    lines: list[int]
    local_rejects: list[Reject]
    end_offset: int
    end_line: int
    row_count: int


@dataclass
class Outcome:
    imported: int
    duplicate: int
    rejects: list[Reject]


class ImportKind(Protocol):
    """What differs between importing members and transactions."""

    name: str
    service: str
    columns: Columns

    async def start(self, connections: Connections, program_id: str) -> None:
        """Learn what prepare needs (the program's currency, say) and open the stub."""

    def prepare(self, chunk: Chunk, header_index: dict[str, int], batch_id: str) -> Prepared: ...

    def stream(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]: ...

    def outcome(self, prepared: Prepared, response: Any) -> Outcome: ...


@dataclass(frozen=True, kw_only=True)
class ImportSettings:
    batch_size: int = BATCH_SIZE_MAX
    window: int = 8
    retries: int = 5
    restart: bool = False
    progress: bool | None = None
    rejects_path: Path | None = None
    checkpoint_path: Path | None = None


@dataclass
class ImportSummary:
    kind: str
    file: str
    program_id: str
    rows_done: int
    rows_imported: int
    rows_duplicate: int
    rows_rejected: int
    rejects_file: str
    seconds: float
    rows_per_s: float
    resumed_from_line: int
    already_complete: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    def describe(self) -> str:
        if self.already_complete:
            return (
                f"{self.file} was imported before ({self.rows_done:,} rows; the checkpoint says "
                "complete); pass --restart to import it again"
            )
        resumed = (
            f", resumed at line {self.resumed_from_line:,}" if self.resumed_from_line > 1 else ""
        )
        return (
            f"{self.kind}: {self.rows_done:,} rows done{resumed}: {self.rows_imported:,} imported, "
            f"{self.rows_duplicate:,} already there, {self.rows_rejected:,} rejected"
            f"{f' (see {self.rejects_file})' if self.rows_rejected else ''}; "
            f"{self.seconds:,.1f} s, {self.rows_per_s:,.0f} rows/s"
        )


def retryable(error: grpc.aio.AioRpcError) -> bool:
    """A service restarting, or one still finishing the same batch from a stream that was cut
    (it asks to send the batch again): the batch ids make sending again harmless."""
    if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED):
        return True
    return error.code() == grpc.StatusCode.FAILED_PRECONDITION and "send it again" in (
        error.details() or ""
    )


def beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


class Importer:
    def __init__(
        self,
        kind: ImportKind,
        connections: Connections,
        *,
        program_id: str,
        path: Path,
        settings: ImportSettings,
    ) -> None:
        if not 1 <= settings.batch_size <= BATCH_SIZE_MAX:
            raise errors.usage(f"--batch-size must be between 1 and {BATCH_SIZE_MAX}")
        if not 1 <= settings.window <= WINDOW_MAX:
            raise errors.usage(f"--window must be between 1 and {WINDOW_MAX}")
        self.kind = kind
        self.connections = connections
        self.program_id = program_id
        self.settings = settings
        self.batch_size = settings.batch_size
        self.file = CsvFile(path, kind.columns)
        self.checkpoint_path = settings.checkpoint_path or beside(path, ".checkpoint")
        self.rejects_path = settings.rejects_path or beside(path, ".rejects.csv")

    def _checkpoint(self) -> checkpoints.Checkpoint:
        found = None if self.settings.restart else checkpoints.load(self.checkpoint_path)
        if found is not None:
            checkpoints.check_matches(
                found,
                self.checkpoint_path,
                kind=self.kind.name,
                program_id=self.program_id,
                header=self.file.header,
                file_digest=self.file.digest_before(found.offset) if found.file_digest else "",
            )
            if found.batch_size and found.batch_size != self.batch_size and not found.completed:
                print(
                    f"resuming in batches of {found.batch_size:,} rows, as the import was "
                    f"started (not {self.batch_size:,})",
                    file=sys.stderr,
                )
                self.batch_size = found.batch_size
            return found
        return checkpoints.Checkpoint.new(
            kind=self.kind.name,
            program_id=self.program_id,
            header=self.file.header,
            batch_size=self.batch_size,
        )

    async def run(self) -> ImportSummary:
        state = self._checkpoint()
        resumed_from = state.line + 1 if state.rows_done else 1
        rows_before = state.rows_done
        if state.completed:
            return self._summary(
                state, seconds=0.0, resumed_from=resumed_from, rows_this_run=0, complete=True
            )
        await self.kind.start(self.connections, self.program_id)
        rejects = RejectFile(self.rejects_path, self.file.header, keep_bytes=state.rejects_bytes)
        progress = ImportProgress(
            total_bytes=self.file.size_bytes,
            done_bytes=max(state.offset, self.file.header_end),
            rows_done=state.rows_done,
            enabled=self.settings.progress,
        )
        try:
            await self._run_with_retries(state, rejects, progress)
            state.completed = True
            state.save(self.checkpoint_path)
        finally:
            progress.close()
            rejects.close()
        return self._summary(
            state,
            seconds=progress.elapsed_s,
            resumed_from=resumed_from,
            rows_this_run=state.rows_done - rows_before,
        )

    def _summary(
        self,
        state: checkpoints.Checkpoint,
        *,
        seconds: float,
        resumed_from: int,
        rows_this_run: int,
        complete: bool = False,
    ) -> ImportSummary:
        return ImportSummary(
            kind=self.kind.name,
            file=str(self.file.path),
            program_id=self.program_id,
            rows_done=state.rows_done,
            rows_imported=state.rows_imported,
            rows_duplicate=state.rows_duplicate,
            rows_rejected=state.rows_rejected,
            rejects_file=str(self.rejects_path),
            seconds=round(seconds, 3),
            rows_per_s=round(rows_this_run / seconds, 1) if seconds > 0 else 0.0,
            resumed_from_line=resumed_from,
            already_complete=complete,
        )

    async def _run_with_retries(
        self, state: checkpoints.Checkpoint, rejects: RejectFile, progress: ImportProgress
    ) -> None:
        service = self.kind.service
        for attempt in range(self.settings.retries + 1):
            try:
                if attempt:
                    await self.connections.reconnect(service)
                    await self.kind.start(self.connections, self.program_id)
                await self._stream(state, rejects, progress)
                return
            except grpc.aio.AioRpcError as error:
                if not retryable(error) or attempt == self.settings.retries:
                    raise self._failed(error, state) from None
                reason = error.details() or error.code().name
            except errors.AdminError as error:
                # Reconnecting to a service that is still starting up.
                if error.exit_code != errors.EXIT_UNAVAILABLE or attempt == self.settings.retries:
                    raise
                reason = error.message
            delay = min(RETRY_DELAY_MAX_S, 0.5 * 2**attempt)
            print(
                f"{service}: {reason}; resuming after line {state.line:,} in {delay:.1f} s",
                file=sys.stderr,
            )
            await asyncio.sleep(delay)

    def _failed(
        self, error: grpc.aio.AioRpcError, state: checkpoints.Checkpoint
    ) -> errors.AdminError:
        failure = errors.from_rpc(
            self.kind.service, self.connections.address(self.kind.service), error
        )
        failure.message += (
            f" (at the batch starting after line {state.line:,} of {self.file.path}; "
            f"{state.rows_done:,} rows before it are done and checkpointed)"
        )
        return failure

    async def _stream(
        self, state: checkpoints.Checkpoint, rejects: RejectFile, progress: ImportProgress
    ) -> None:
        in_flight: collections.deque[Prepared] = collections.deque()
        window = asyncio.Semaphore(self.settings.window)
        reading_error: list[BaseException] = []

        async def requests() -> AsyncIterator[Message]:
            try:
                for chunk in self.file.chunks(
                    offset=state.offset, line=state.line, rows_max=self.batch_size
                ):
                    prepared = self.kind.prepare(
                        chunk,
                        self.file.index,
                        f"{state.import_id}-{chunk.first_line}-{len(chunk.rows)}",
                    )
                    if prepared.request is None:
                        in_flight.append(prepared)
                        continue
                    await window.acquire()
                    in_flight.append(prepared)
                    yield prepared.request
            except Exception as error:  # handed to the reading side, which raises it
                reading_error.append(error)
                raise

        def acknowledge(prepared: Prepared, outcome: Outcome) -> None:
            rejected = sorted([*prepared.local_rejects, *outcome.rejects], key=lambda r: r.line)
            rejects.write(rejected)
            state.rejects_bytes = rejects.flush()
            state.offset, state.line = prepared.end_offset, prepared.end_line
            state.rows_done += prepared.row_count
            state.rows_imported += outcome.imported
            state.rows_duplicate += outcome.duplicate
            state.rows_rejected += len(rejected)
            state.file_digest = self.file.digest_before(state.offset)
            state.save(self.checkpoint_path)
            progress.advance(
                to_bytes=state.offset, rows_done=state.rows_done, rows_rejected=state.rows_rejected
            )

        def acknowledge_local_ones() -> None:
            while in_flight and in_flight[0].request is None:
                acknowledge(in_flight.popleft(), Outcome(0, 0, []))

        try:
            async for response in self.kind.stream(requests()):
                acknowledge_local_ones()
                prepared = in_flight.popleft()
                window.release()
                acknowledge(prepared, self.kind.outcome(prepared, response))
        except grpc.aio.AioRpcError:
            if reading_error:
                raise reading_error[0] from None
            raise
        if reading_error:
            raise reading_error[0]
        acknowledge_local_ones()
        if in_flight:
            raise errors.AdminError(
                f"{self.kind.service} ended the stream with {len(in_flight)} batches unanswered; "
                "run the same command again to resume",
                exit_code=errors.EXIT_SOFTWARE,
            )
