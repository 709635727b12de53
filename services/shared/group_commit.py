"""Group commit: concurrent unary calls written together in one transaction, each with its own answer.

A busy service pays per transaction (a connection, BEGIN, COMMIT and its WAL flush) and per round
trip far more than per row. `GroupCommit` lets the calls that arrive while earlier groups are being
written wait, and writes them together as the next group: under load a group holds many calls,
when idle a call is written at once, alone.

- Calls are grouped per partition (a program): the writer gets one partition's calls.
- Each call names exclusive keys (its member, its idempotency key): a group holds at most one call
  per key, a second one waits for a later group, so the writer never sees two calls that touch the
  same member or claim the same key.
- The writer returns one result per call, a value or the exception that call alone raises. If the
  writer raises instead (its transaction rolled back, nothing of the group is written), each call is
  written again alone, so one bad call fails alone; except when the database (or, as the writer
  says, a dependency) is out of reach, which every call of the group is told.
- A caller that is cancelled (its deadline) while waiting is left out of the next group; once its
  group is being written, the call is written or not with the group, whole, and a retry with the
  same idempotency key finds out which.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from services.shared.database import connection_lost

logger = logging.getLogger(__name__)

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

GROUP_SIZE_MAX = 128
# One group in flight: the calls that arrive meanwhile make the next group. A second group in
# flight overlaps its round trips with the first's, but under load each group then holds half the
# calls and every call pays twice the per-group cost (statements, their planning, the commit). With
# the service's CPU the limit, `make bench ONLY=ledger.unary` gave 796 calls/s with two and 1,011
# and 1,205 with one, runs alternated (PostgreSQL's CPU per call halved).
GROUPS_IN_FLIGHT_MAX = 1


@dataclass(eq=False)
class _Call(Generic[ItemT, ResultT]):
    item: ItemT
    keys: tuple[Hashable, ...]
    future: "asyncio.Future[ResultT]"


@dataclass(eq=False)
class _Partition(Generic[ItemT, ResultT]):
    waiting: list[_Call[ItemT, ResultT]] = field(default_factory=list)
    in_flight: int = 0


class GroupCommit(Generic[ItemT, ResultT]):
    def __init__(
        self,
        write: Callable[[str, list[ItemT]], Awaitable[Sequence[ResultT | BaseException]]],
        *,
        keys: Callable[[ItemT], tuple[Hashable, ...]],
        size_max: int = GROUP_SIZE_MAX,
        in_flight_max: int = GROUPS_IN_FLIGHT_MAX,
        shared_failure: Callable[[BaseException], bool] = connection_lost,
    ) -> None:
        self._write = write
        self._keys = keys
        # A failure every call of the group would meet alone too (the database or a dependency
        # out of reach): each call is told, rather than written again one by one.
        self._shared_failure = shared_failure
        self.size_max = size_max
        self.in_flight_max = in_flight_max
        self._partitions: dict[str, _Partition[ItemT, ResultT]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, partition: str, item: ItemT) -> ResultT:
        """Write `item` with the next group of its partition; its own result (or exception)."""
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        part = self._partitions.setdefault(partition, _Partition())
        part.waiting.append(_Call(item, self._keys(item), future))
        self._start(partition, part)
        # Cancelling the caller cancels `future`; a group being written ignores that.
        return await future

    def _start(self, name: str, part: _Partition[ItemT, ResultT]) -> None:
        while part.in_flight < self.in_flight_max:
            group = self._take(part)
            if not group:
                break
            part.in_flight += 1
            task = asyncio.create_task(self._run(name, part, group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self, part: _Partition[ItemT, ResultT]) -> list[_Call[ItemT, ResultT]]:
        """The next group, in arrival order: up to size_max calls with no key in common."""
        group: list[_Call[ItemT, ResultT]] = []
        taken: set[Hashable] = set()
        rest = []
        for call in part.waiting:
            if call.future.done():  # cancelled while waiting: never written
                continue
            if len(group) < self.size_max and taken.isdisjoint(call.keys):
                group.append(call)
                taken.update(call.keys)
            else:
                rest.append(call)
        part.waiting = rest
        return group

    async def _run(
        self, name: str, part: _Partition[ItemT, ResultT], group: list[_Call[ItemT, ResultT]]
    ) -> None:
        try:
            await self._write_group(name, group)
        finally:
            for call in group:  # only if writing itself was cancelled
                if not call.future.done():
                    call.future.cancel()
            part.in_flight -= 1
            self._start(name, part)
            if not part.in_flight and not part.waiting and self._partitions.get(name) is part:
                del self._partitions[name]

    async def _write_group(self, name: str, group: list[_Call[ItemT, ResultT]]) -> None:
        try:
            results = await self._write(name, [call.item for call in group])
        except Exception as error:
            if len(group) == 1 or self._shared_failure(error):
                for call in group:
                    _settle(call.future, error)
                return
            logger.warning("a group of %d failed (%r); writing each call alone", len(group), error)
            for call in group:
                if not call.future.done():
                    await self._write_group(name, [call])
            return
        for call, result in zip(group, results, strict=True):
            _settle(call.future, result)


def _settle(future: "asyncio.Future[ResultT]", result: "ResultT | BaseException") -> None:
    if future.done():  # the caller gave up
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
