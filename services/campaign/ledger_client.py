"""What campaign asks of the ledger: a program's settings, earns, refunds and posting batches.

The ledger's errors become campaign's: UNAVAILABLE when a retry with the same idempotency key may
succeed, FAILED_PRECONDITION when the ledger refused. Every posting carries an idempotency key
derived from what caused it (a transaction, an activity, a member and a period), so a retry or a
replay is a duplicate in the ledger.
"""

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from services.campaign.errors import LedgerRefused, LedgerUnavailable, ProgramNotConfigured

CALL_TIMEOUT_S = 10.0
BATCH_CALL_TIMEOUT_S = 600.0
# A pipeline's stream lives as long as its ingest (an import of millions of rows takes hours), so
# it has no deadline of its own: each write and each answer has this long instead.
BATCH_STEP_TIMEOUT_S = 600.0
# Items per ledger batch (the ledger's documented limit).
LEDGER_BATCH_ITEMS_MAX = 10_000
PROGRAM_CACHE_TTL_S = 30.0
BASIS_POINTS_ONE = 10_000
# Members per BatchGetBalances call (the ledger's documented limit).
BALANCES_PER_CALL_MAX = 1_000
BATCH_COLUMNS = (
    "member_ids",
    "points",
    "kinds",
    "source_references",
    "idempotency_keys",
    "occurred_at_unix_micros",
    "qualifying_flags",
    "qualifying_spends_minor",
    "reason_codes",
    "vests_at_unix_micros",
    "expires_at_unix_micros",
)

_RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNKNOWN,
    }
)
T = TypeVar("T")


@dataclass(frozen=True)
class ProgramSettings:
    """The parts of a program campaign needs, as the ledger holds them."""

    program_id: str
    currency: str
    time_zone: str
    rounding_mode: int
    entry_tier_code: str
    # UNKNOWN_MEMBER_POLICY_REFUSE: purchases and activities of members identity has not
    # enrolled are refused (enrolment.py).
    refuses_unknown_members: bool = False
    # The tiers' own multipliers above 1x, (code, basis points) by code: what the earning rules
    # that apply them multiply their rate by (tier_codes.with_tier_multipliers).
    tier_multipliers: tuple[tuple[str, int], ...] = ()


async def call(what: str, work: Callable[[], Awaitable[T]]) -> T:
    try:
        return await work()
    except grpc.aio.AioRpcError as error:
        code = error.code()
        detail = f"{code.name}: {error.details()}"
        if code in _RETRYABLE:
            raise LedgerUnavailable(what, detail) from None
        raise LedgerRefused(what, detail) from None


class LedgerClient:
    def __init__(self, stub: ledger_pb2_grpc.LedgerServiceStub) -> None:
        self.stub = stub
        self._programs: dict[str, tuple[float, ProgramSettings]] = {}

    async def program(self, program_id: str) -> ProgramSettings:
        """The program's settings, cached for a few seconds; FAILED_PRECONDITION if unknown."""
        cached = self._programs.get(program_id)
        if cached is not None and time.monotonic() - cached[0] < PROGRAM_CACHE_TTL_S:
            return cached[1]

        async def fetch() -> ProgramSettings:
            try:
                response = await self.stub.GetProgram(
                    ledger_pb2.GetProgramRequest(program_id=program_id), timeout=CALL_TIMEOUT_S
                )
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND:
                    raise ProgramNotConfigured(program_id) from None
                raise
            config = response.config
            tiers = await self.stub.ListTierDefinitions(
                ledger_pb2.ListTierDefinitionsRequest(program_id=program_id),
                timeout=CALL_TIMEOUT_S,
            )
            return ProgramSettings(
                program_id=program_id,
                currency=config.currency,
                time_zone=config.time_zone,
                rounding_mode=config.rounding_mode,
                entry_tier_code=config.entry_tier_code,
                refuses_unknown_members=(
                    config.unknown_member_policy == ledger_pb2.UNKNOWN_MEMBER_POLICY_REFUSE
                ),
                tier_multipliers=tuple(
                    sorted(
                        (tier.code, tier.multiplier_bps)
                        for tier in tiers.tiers
                        if tier.multiplier_bps > BASIS_POINTS_ONE
                    )
                ),
            )

        settings = await call("read the program", fetch)
        self._programs[program_id] = (time.monotonic(), settings)
        return settings

    async def tier_codes(self, program_id: str) -> frozenset[str]:
        """The codes of the program's tiers as the ledger defines them now (a program has at
        most 20 tiers: one page); empty before it has any."""

        async def fetch() -> frozenset[str]:
            response = await self.stub.ListTierDefinitions(
                ledger_pb2.ListTierDefinitionsRequest(program_id=program_id),
                timeout=CALL_TIMEOUT_S,
            )
            return frozenset(tier.code for tier in response.tiers)

        return await call("read the program's tiers", fetch)

    async def member_tier(self, program_id: str, member_id: str) -> str:
        """The member's tier as the ledger has it now; empty if the ledger has no account."""

        async def fetch() -> str:
            try:
                response = await self.stub.GetBalance(
                    ledger_pb2.GetBalanceRequest(program_id=program_id, member_id=member_id),
                    timeout=CALL_TIMEOUT_S,
                )
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND:
                    return ""
                raise
            return str(response.balance.tier_code)

        return await call("read the member's tier", fetch)

    async def earn(self, request: ledger_pb2.EarnRequest) -> ledger_pb2.EarnResponse:
        return await call(
            "post the earned points", lambda: self.stub.Earn(request, timeout=CALL_TIMEOUT_S)
        )

    async def reverse(self, request: ledger_pb2.ReverseRequest) -> ledger_pb2.ReverseResponse:
        return await call(
            "reverse the points", lambda: self.stub.Reverse(request, timeout=CALL_TIMEOUT_S)
        )

    async def take_back(self, request: ledger_pb2.ReverseRequest) -> int:
        """Reverse a refund, as `reverse`; the points taken back, 0 if nothing was earned under
        its reference (NOT_FOUND: a bonus never posted)."""

        async def attempt() -> int:
            try:
                response = await self.stub.Reverse(request, timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND:
                    return 0
                raise
            return int(response.reversed_points)

        return await call("take back the points", attempt)

    async def balances(
        self, program_id: str, member_ids: list[str], *, enrolled: bool = False
    ) -> list[ledger_pb2.Balance]:
        """The balances of known members, asked in calls of at most 1000 (the ledger's limit).
        With `enrolled` (the members are identity's enrolled ones), a member whose account the
        ledger has not opened yet reads as the fresh account instead of being left out."""
        balances: list[ledger_pb2.Balance] = []
        for start in range(0, len(member_ids), BALANCES_PER_CALL_MAX):
            request = ledger_pb2.BatchGetBalancesRequest(
                program_id=program_id,
                member_ids=member_ids[start : start + BALANCES_PER_CALL_MAX],
                enrolled=enrolled,
            )
            response = await call(
                "read the balances",
                functools.partial(self.stub.BatchGetBalances, request, timeout=CALL_TIMEOUT_S),
            )
            balances.extend(response.balances)
        return balances

    async def post_batches(
        self, requests: list[ledger_pb2.PostBatchRequest]
    ) -> list[ledger_pb2.PostBatchResponse]:
        """Post the batches on one stream; the answers in order."""

        async def feed() -> AsyncIterator[ledger_pb2.PostBatchRequest]:
            for request in requests:
                yield request

        async def stream() -> list[ledger_pb2.PostBatchResponse]:
            return [
                response
                async for response in self.stub.PostBatch(feed(), timeout=BATCH_CALL_TIMEOUT_S)
            ]

        if not requests:
            return []
        return await call("post the batch", stream)

    def open_batch_stream(self) -> "BatchStream":
        return BatchStream(self.stub)


class BatchStream:
    """One PostBatch stream kept open for a pipeline: write batches, read answers in order."""

    def __init__(self, stub: ledger_pb2_grpc.LedgerServiceStub) -> None:
        self._stub = stub
        self._call: grpc.aio.StreamStreamCall | None = None

    async def write(self, request: ledger_pb2.PostBatchRequest) -> None:
        if self._call is None:
            self._call = self._stub.PostBatch()
        stream = self._call
        await call("post the batch", lambda: _within_step(stream.write(request)))

    async def read(self) -> ledger_pb2.PostBatchResponse:
        assert self._call is not None
        stream = self._call

        async def read_one() -> ledger_pb2.PostBatchResponse:
            response = await _within_step(stream.read())
            if response is grpc.aio.EOF:
                raise LedgerUnavailable("post the batch", "the stream ended early")
            return response  # type: ignore[no-any-return]

        return await call("post the batch", read_one)

    async def close(self, *, graceful: bool) -> None:
        """End the stream; gracefully when every answer was read, else by cancelling it."""
        stream, self._call = self._call, None
        if stream is None:
            return
        if graceful and not stream.done():
            with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
                await stream.done_writing()
            with contextlib.suppress(grpc.aio.AioRpcError, TimeoutError):
                await asyncio.wait_for(stream.read(), CALL_TIMEOUT_S)
        stream.cancel()


async def _within_step(step: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(step, BATCH_STEP_TIMEOUT_S)
    except TimeoutError:
        raise LedgerUnavailable(
            "post the batch", f"no progress on the stream within {BATCH_STEP_TIMEOUT_S:.0f} s"
        ) from None


def money(amount_minor: int, currency: str) -> common_pb2.Money:
    return common_pb2.Money(amount_minor=amount_minor, currency=currency)


def chunked(
    request: ledger_pb2.PostBatchRequest, *, items_max: int = LEDGER_BATCH_ITEMS_MAX
) -> list[ledger_pb2.PostBatchRequest]:
    """The request cut into ledger batches of at most `items_max` items, ids suffixed ".n"."""
    size = len(request.member_ids)
    if size <= items_max:
        return [request]
    columns = [name for name in BATCH_COLUMNS if len(getattr(request, name)) == size]
    parts = []
    for part, start in enumerate(range(0, size, items_max)):
        piece = ledger_pb2.PostBatchRequest(
            program_id=request.program_id, batch_id=f"{request.batch_id}.{part}"
        )
        for name in columns:
            getattr(piece, name).extend(getattr(request, name)[start : start + items_max])
        parts.append(piece)
    return parts
