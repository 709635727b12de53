"""The gRPC server interceptor every service runs, written once.

It wraps each method's handler once, with one coroutine (or async generator, for server streaming)
around the call, the same way for unary and streaming methods. Around the call, outermost first:
observe (request id, JSON log line, metrics), errors (typed domain errors and failures to status
codes), deadline (unary calls only). The request id comes back in the trailing metadata of every
call, failed ones included.

Every unary call gets the service's deadline, except the methods given a deadline of their own
(`method_deadlines_ms`): administrative calls whose work grows with a program (the ledger's
SetTierDefinitions, Verify, ...) may run longer without loosening the hot path's. The client's
own deadline wins when shorter.

One interceptor rather than three: each layer is a coroutine frame and a context manager per call
(gRPC also asks each interceptor for the handler on every call), and with three layers they cost a
unary Earn about a tenth of the ledger's CPU.
"""

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import asyncpg
import grpc
from grpc.aio import ServicerContext
from prometheus_client import Counter, Histogram

from services.shared import call_budget
from services.shared.database import connection_lost
from services.shared.errors import ServiceError
from services.shared.logs import log_fields, request_id_var
from services.shared.metrics import Metrics

logger = logging.getLogger("services.grpc")

REQUEST_ID_HEADER = "x-request-id"
ERROR_REASON_HEADER = "loyalty-error-reason"
ERROR_FIELD_HEADER = "loyalty-error-field"
REQUEST_ID_LENGTH_MAX = 128


def _request_id(context: ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if (
            key == REQUEST_ID_HEADER
            and isinstance(value, str)
            and 0 < len(value) <= REQUEST_ID_LENGTH_MAX
        ):
            return value
    # 128 random bits, as a uuid4's hex, without its os.urandom call and UUID object (a request id
    # needs to be unique, not unguessable).
    return f"{random.getrandbits(128):032x}"


def _budget_s(context: ServicerContext, deadline_s: float) -> float:
    remaining_s = context.time_remaining()
    return deadline_s if remaining_s is None else min(remaining_s, deadline_s)


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Request id, log line and metrics; typed errors to status codes; a deadline for unary calls
    of at most `deadline_ms`, or the method's own in `method_deadlines_ms` (less if the client's
    own is shorter)."""

    def __init__(
        self,
        *,
        service: str,
        metrics: Metrics,
        deadline_ms: int,
        streaming_methods: frozenset[str],
        method_deadlines_ms: Mapping[str, int] | None = None,
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.deadline_s = deadline_ms / 1000
        # `/package.Service/Method` -> seconds, for the methods that do not get `deadline_s`.
        self.method_deadlines_s = {
            method: ms / 1000 for method, ms in (method_deadlines_ms or {}).items()
        }
        # Long-lived streams are bounded by the client's deadline and per-message limits.
        self.streaming_methods = streaming_methods
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._series_of: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        # A method's wrapped handler, made once: gRPC asks the interceptors for it on every call.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith("/grpc."):
            return handler
        known = self._wrapped.get(method)
        if known is None or known[0] is not handler:
            known = self._wrapped[method] = (handler, self._wrap(handler, method))
        return known[1]

    async def wait_idle(self, *, timeout_s: float) -> bool:
        """Wait until no handler runs. gRPC's stop() can return while handler coroutines still run
        (grpc/grpc#37239); shutdown waits for them here before closing what they use."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        bounded = method not in self.streaming_methods
        deadline_s = self.method_deadlines_s.get(method, self.deadline_s)

        def unary(behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def call(request: Any, context: ServicerContext) -> Any:
                token, started = self._open(context)
                cancelled = False
                try:
                    if not bounded:
                        return await behavior(request, context)
                    async with asyncio.timeout(_budget_s(context, deadline_s)) as timeout:
                        # For the database: a call's statements end with it (call_budget.py).
                        budget = call_budget.deadline_var.set(timeout.when())
                        try:
                            return await behavior(request, context)
                        finally:
                            call_budget.deadline_var.reset(budget)
                except asyncio.CancelledError:
                    cancelled = True
                    raise
                except grpc.aio.AbortError:
                    raise
                except Exception as error:
                    await self._abort(method, context, error)
                finally:
                    self._close(method, context, token, started, cancelled)

            return call

        def streaming(
            behavior: Callable[..., AsyncIterator[Any]],
        ) -> Callable[..., AsyncIterator[Any]]:
            async def call(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
                token, started = self._open(context)
                cancelled = False
                try:
                    async for response in behavior(request, context):
                        yield response
                except asyncio.CancelledError:
                    cancelled = True
                    raise
                except grpc.aio.AbortError:
                    raise
                except Exception as error:
                    await self._abort(method, context, error)
                finally:
                    self._close(method, context, token, started, cancelled)

            return call

        codecs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), **codecs)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), **codecs)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), **codecs)
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), **codecs)

    def _open(self, context: ServicerContext) -> tuple[Any, float]:
        request_id = _request_id(context)
        token = request_id_var.set(request_id)
        self.in_flight += 1
        self._idle.clear()
        # Echoed with the status rather than in initial metadata, which is an operation of its own
        # (about a tenth of the CPU of a unary Earn).
        context.set_trailing_metadata(((REQUEST_ID_HEADER, request_id),))
        return token, time.perf_counter()

    def _close(
        self, method: str, context: ServicerContext, token: Any, started: float, cancelled: bool
    ) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()
        elapsed_s = time.perf_counter() - started
        code = grpc.StatusCode.CANCELLED if cancelled else context.code() or grpc.StatusCode.OK
        code_name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        requests, latency = self._series(method, code_name)
        requests.inc()
        latency.observe(elapsed_s)
        logger.info(
            "rpc %s %s",
            method,
            code_name,
            extra=log_fields(method=method, code=code_name, duration_ms=round(elapsed_s * 1000, 3)),
        )
        request_id_var.reset(token)

    def _series(self, method: str, code: str) -> tuple[Counter, Histogram]:
        """The call's request counter and latency histogram, looked up once per method and code."""
        series = self._series_of.get((method, code))
        if series is None:
            series = self._series_of[method, code] = (
                self.metrics.grpc_requests.labels(self.service, method, code),
                self.metrics.grpc_latency.labels(self.service, method),
            )
        return series

    async def _abort(self, method: str, context: ServicerContext, error: Exception) -> None:
        """Abort the call with the status `error` stands for; the rest never leak."""
        if isinstance(error, ServiceError):
            await context.abort(
                error.status,
                error.details(),
                trailing_metadata=(
                    (ERROR_REASON_HEADER, error.reason),
                    (ERROR_FIELD_HEADER, error.field),
                    (REQUEST_ID_HEADER, request_id_var.get()),
                ),
            )
        if isinstance(error, TimeoutError):
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "the call ran past its deadline")
        if isinstance(
            error, (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)
        ):
            # A text field that escaped validation holds a character PostgreSQL cannot store.
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "a text field holds a character that cannot be stored (such as NUL)",
                trailing_metadata=(
                    (ERROR_REASON_HEADER, "INVALID_CHARACTER"),
                    (ERROR_FIELD_HEADER, ""),
                    (REQUEST_ID_HEADER, request_id_var.get()),
                ),
            )
        if isinstance(error, NotImplementedError):
            # The generated servicer base's answer for a method the service does not offer yet.
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not implemented")
        if not connection_lost(error):
            logger.exception("unexpected error in %s", method, exc_info=error)
            await context.abort(
                grpc.StatusCode.INTERNAL, f"internal error (request id {request_id_var.get()})"
            )
        # The database (or another dependency) went away under the call: nothing committed,
        # or the outcome is unknown; either way a retry with the same key is safe.
        logger.warning("dependency unavailable in %s: %r", method, error)
        await context.abort(
            grpc.StatusCode.UNAVAILABLE,
            "a dependency is unavailable; retry with the same idempotency key",
        )


def streaming_methods(*services: Any) -> frozenset[str]:
    """The `/package.Service/Method` names of the streaming methods of service descriptors."""
    return frozenset(
        f"/{service.full_name}/{method.name}"
        for service in services
        for method in service.methods
        if method.client_streaming or method.server_streaming
    )
