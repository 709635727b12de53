"""What identity asks of the ledger: the points transfer of a merge, and a member's history and
balance for a GDPR export. The ledger's errors become identity's: UNAVAILABLE when a retry with
the same idempotency key may succeed, FAILED_PRECONDITION when the ledger refused."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc

from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from services.identity.errors import LedgerRefused, LedgerUnavailable

LEDGER_CALL_TIMEOUT_S = 10.0
HISTORY_PAGE_SIZE = 500
# An export carries at most this many postings (about 60 bytes each in the response).
EXPORT_POSTINGS_MAX = 50_000

_RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.CANCELLED,
    }
)
ERROR_FIELD_HEADER = "loyalty-error-field"
ERROR_REASON_HEADER = "loyalty-error-reason"

T = TypeVar("T")


@dataclass(frozen=True)
class Transfer:
    transfer_id: str
    transferred_points: int


def trailer(error: grpc.aio.AioRpcError, name: str) -> str:
    for key, value in error.trailing_metadata() or ():
        if key == name:
            return str(value)
    return ""


async def _call(what: str, call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except grpc.aio.AioRpcError as error:
        code = error.code()
        detail = f"{code.name}: {error.details()}"
        if code in _RETRYABLE:
            raise LedgerUnavailable(what, detail) from None
        raise LedgerRefused(what, detail) from None


def _stub(stub: ledger_pb2_grpc.LedgerServiceStub | None) -> ledger_pb2_grpc.LedgerServiceStub:
    if stub is None:
        raise LedgerUnavailable("be reached", "no ledger is configured")
    return stub


async def transfer_all(
    stub: ledger_pb2_grpc.LedgerServiceStub | None, request: ledger_pb2.TransferPointsRequest
) -> Transfer:
    """Move everything the source holds; a source without an account has nothing to move."""
    ledger = _stub(stub)

    async def call() -> Transfer:
        try:
            answer = await ledger.TransferPoints(request, timeout=LEDGER_CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            # The target's account opens on the credit, so an unknown member is the source.
            if error.code() == grpc.StatusCode.NOT_FOUND and (
                trailer(error, ERROR_FIELD_HEADER) == "source_member_id"
                or trailer(error, ERROR_REASON_HEADER) == "MEMBER_NOT_FOUND"
            ):
                return Transfer("", 0)
            raise
        return Transfer(answer.transfer_id, answer.transferred_points)

    return await _call("transfer the points", call)


async def history(
    stub: ledger_pb2_grpc.LedgerServiceStub | None, program_id: str, member_id: str
) -> tuple[list[ledger_pb2.Posting], int] | None:
    """Every posting of the member, newest first, and its available points; None when the ledger
    has no account for the member."""
    ledger = _stub(stub)

    async def call() -> tuple[list[ledger_pb2.Posting], int] | None:
        try:
            balance = await ledger.GetBalance(
                ledger_pb2.GetBalanceRequest(program_id=program_id, member_id=member_id),
                timeout=LEDGER_CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as error:
            if trailer(error, ERROR_REASON_HEADER) == "MEMBER_NOT_FOUND":
                return None
            raise
        postings: list[ledger_pb2.Posting] = []
        token = ""
        while True:
            page = await ledger.ListHistory(
                ledger_pb2.ListHistoryRequest(
                    program_id=program_id,
                    member_id=member_id,
                    page_size=HISTORY_PAGE_SIZE,
                    page_token=token,
                ),
                timeout=LEDGER_CALL_TIMEOUT_S,
            )
            postings += page.postings
            if len(postings) > EXPORT_POSTINGS_MAX:
                raise LedgerRefused(
                    "export the history", f"the member has more than {EXPORT_POSTINGS_MAX} postings"
                )
            token = page.next_page_token
            if not token:
                return postings, balance.balance.available_points

    return await _call("read the member's history", call)


def reason_text(reason: ledger_pb2.PostingReason) -> str:
    parts = [reason.code, reason.note]
    return ": ".join(part for part in parts if part)
