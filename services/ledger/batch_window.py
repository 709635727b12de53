"""The batches of one PostBatch stream in flight: those with no member in common post at once,
each in its own transaction on its own connection; answers still come in stream order.

PostgreSQL commits one batch while it writes the next and Python prepares a third, which a
strictly one-at-a-time stream leaves idle. A batch that shares a member with an earlier batch
still in flight starts only once that one is done, so a member's items apply in stream order
(balances after each item, FIFO lots, tier upgrades come out as if the stream ran one by one).
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from loyalty.ledger.v1 import ledger_pb2

# Three keep both of PostgreSQL's cores busy on a small server; more only queue on its locks.
BATCHES_IN_FLIGHT = 3


class EarlierBatchFailed(Exception):
    """A batch sharing members with this one failed; the stream ends with that failure."""


class BatchWindow:
    def __init__(
        self,
        post: Callable[[ledger_pb2.PostBatchRequest], Awaitable[ledger_pb2.PostBatchResponse]],
        *,
        size: int = BATCHES_IN_FLIGHT,
    ) -> None:
        self.post = post
        # A slot is taken when a batch is read and given back when its answer is handed out, so
        # a client that reads no answers holds at most `size` batches in the server.
        self.slots = asyncio.Semaphore(size)

    async def run(
        self, requests: AsyncIterator[ledger_pb2.PostBatchRequest]
    ) -> AsyncIterator[ledger_pb2.PostBatchResponse]:
        answers: asyncio.Queue[asyncio.Task[ledger_pb2.PostBatchResponse] | None] = asyncio.Queue()
        running: set[asyncio.Task[ledger_pb2.PostBatchResponse]] = set()

        async def read() -> None:
            in_flight: list[tuple[asyncio.Task[ledger_pb2.PostBatchResponse], frozenset[str]]] = []
            try:
                async for request in requests:
                    await self.slots.acquire()
                    members = frozenset(request.member_ids)
                    in_flight = [(task, m) for task, m in in_flight if not task.done()]
                    earlier = [task for task, m in in_flight if not members.isdisjoint(m)]
                    task = asyncio.create_task(self._after(earlier, request))
                    running.add(task)
                    task.add_done_callback(running.discard)
                    in_flight.append((task, members))
                    answers.put_nowait(task)
            finally:
                answers.put_nowait(None)

        reader = asyncio.create_task(read())
        try:
            while (task := await answers.get()) is not None:
                try:
                    response = await task
                finally:
                    self.slots.release()
                yield response
            await reader  # a broken request stream ends the call with its error
        finally:
            # The call failed or was cancelled: batches not yet answered are abandoned (each is
            # atomic, and resending one replays it or posts it whole).
            reader.cancel()
            for task in list(running):
                task.cancel()
            await asyncio.gather(reader, *running, return_exceptions=True)

    async def _after(
        self,
        earlier: list[asyncio.Task[ledger_pb2.PostBatchResponse]],
        request: ledger_pb2.PostBatchRequest,
    ) -> ledger_pb2.PostBatchResponse:
        if earlier:
            await asyncio.wait(earlier)
            if any(task.cancelled() or task.exception() is not None for task in earlier):
                raise EarlierBatchFailed(request.batch_id)
        return await self.post(request)
