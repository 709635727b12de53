"""The interceptor every service runs, on a real grpc.aio server with a small generic service."""

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest

from services.shared.errors import FailedPrecondition, InvalidArgument
from services.shared.interceptors import (
    ERROR_FIELD_HEADER,
    ERROR_REASON_HEADER,
    REQUEST_ID_HEADER,
    ServiceInterceptor,
)
from services.shared.logs import JsonFormatter, stamp_request_ids
from services.shared.metrics import Metrics

SERVICE = "test.v1.ProbeService"


class InsufficientPoints(FailedPrecondition):
    reason = "INSUFFICIENT_POINTS"


async def behave(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    logging.getLogger("probe").info("handling %s", request.decode())
    if request == b"invalid":
        raise InvalidArgument("member_id", "is required")
    if request == b"insufficient":
        raise InsufficientPoints("available 10, asked 50", field="points")
    if request == b"crash":
        raise RuntimeError("secret internals")
    if request.startswith(b"sleep"):
        await asyncio.sleep(float(request.split()[1]))
    return b"ok:" + request


@pytest.fixture
async def probe():
    async with probe_server(behave) as probed:
        yield probed


@contextlib.asynccontextmanager
async def probe_server(handler):  # type: ignore[no-untyped-def]
    metrics = Metrics.create()
    server = grpc.aio.server(
        interceptors=[
            ServiceInterceptor(
                service="probe", metrics=metrics, deadline_ms=300, streaming_methods=frozenset()
            )
        ]
    )
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                SERVICE, {"Call": grpc.unary_unary_rpc_method_handler(handler)}
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield channel.unary_unary(f"/{SERVICE}/Call"), metrics
    await channel.close()
    await server.stop(None)


async def test_a_typed_error_becomes_its_status_with_field_and_reason(probe) -> None:
    call, _ = probe
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call(b"insufficient", metadata=((REQUEST_ID_HEADER, "req-9"),))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.value.details() == "points: available 10, asked 50"
    trailers = dict(error.value.trailing_metadata())
    assert trailers[ERROR_REASON_HEADER] == "INSUFFICIENT_POINTS"
    assert trailers[ERROR_FIELD_HEADER] == "points"
    assert trailers[REQUEST_ID_HEADER] == "req-9"


async def test_an_unexpected_error_is_internal_and_does_not_leak(probe) -> None:
    call, _ = probe
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call(b"crash", metadata=((REQUEST_ID_HEADER, "req-42"),))
    assert error.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in error.value.details()
    assert "req-42" in error.value.details()
    assert dict(error.value.trailing_metadata())[REQUEST_ID_HEADER] == "req-42"


async def test_a_database_connection_lost_under_a_call_is_unavailable_not_internal(
    database_url: str,
) -> None:
    """A restart of PostgreSQL in the middle of a transaction: the client is told to retry."""

    async def lose_the_connection(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        connection = await asyncpg.connect(database_url)
        try:
            async with connection.transaction():
                pid = await connection.fetchval("SELECT pg_backend_pid()")
                admin = await asyncpg.connect(database_url)
                try:
                    await admin.execute("SELECT pg_terminate_backend($1)", pid)
                finally:
                    await admin.close()
                await connection.execute("SELECT 1")
        finally:
            await connection.close()
        return b"never"

    async with probe_server(lose_the_connection) as (call, _):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call(b"write")
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "retry with the same idempotency key" in error.value.details()


async def test_the_server_deadline_bounds_a_call_and_the_client_may_shorten_it(probe) -> None:
    call, _ = probe
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call(b"sleep 2")
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call(b"sleep 0.2", timeout=0.05)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert await call(b"sleep 0.01") == b"ok:sleep 0.01"


async def test_the_request_id_is_echoed_and_logged(probe, caplog: pytest.LogCaptureFixture) -> None:
    call, _ = probe
    stamp_request_ids()
    caplog.set_level(logging.INFO)
    pending = call(b"hello", metadata=((REQUEST_ID_HEADER, "req-7"),))
    assert await pending == b"ok:hello"
    assert (REQUEST_ID_HEADER, "req-7") in tuple(await pending.trailing_metadata())
    formatter = JsonFormatter("probe")
    lines = [json.loads(formatter.format(record)) for record in caplog.records]
    handling = [line for line in lines if line["message"] == "handling hello"]
    assert handling and handling[0]["request_id"] == "req-7"
    rpc = [line for line in lines if line["message"].startswith("rpc ")]
    assert rpc[-1]["request_id"] == "req-7" and rpc[-1]["code"] == "OK"


async def test_a_request_id_is_made_when_the_client_sends_none(probe) -> None:
    call, _ = probe
    pending = call(b"hello")
    await pending
    request_id = dict(await pending.trailing_metadata())[REQUEST_ID_HEADER]
    assert len(request_id) == 32


async def test_metrics_count_calls_by_method_and_code(probe) -> None:
    call, metrics = probe
    await call(b"a")
    with pytest.raises(grpc.aio.AioRpcError):
        await call(b"invalid")
    method = f"/{SERVICE}/Call"
    sample = metrics.registry.get_sample_value
    calls = {"service": "probe", "method": method}
    # An aborted call is counted after its status is sent: the client may see the status a loop
    # turn before the count moves.
    for _ in range(200):
        if (sample("loyalty_grpc_request_duration_seconds_count", calls) or 0) >= 2:
            break
        await asyncio.sleep(0.01)
    assert (
        sample("loyalty_grpc_requests_total", {"service": "probe", "method": method, "code": "OK"})
        == 1
    )
    assert (
        sample(
            "loyalty_grpc_requests_total",
            {"service": "probe", "method": method, "code": "INVALID_ARGUMENT"},
        )
        == 1
    )
    assert (
        sample(
            "loyalty_grpc_request_duration_seconds_count", {"service": "probe", "method": method}
        )
        == 2
    )


def test_a_service_with_a_missing_variable_stops_at_start_naming_it() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    environment["LEDGER_NATS_URL"] = "nats://127.0.0.1:1"
    completed = subprocess.run(
        [sys.executable, "-m", "services.ledger"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 78
    assert "LEDGER_DATABASE_URL: is required but not set" in completed.stderr


def test_text_with_nul_is_refused_naming_the_field() -> None:
    from services.shared import validation

    with pytest.raises(InvalidArgument) as error:
        validation.text("abc\x00def", "code")
    assert error.value.field == "code" and "NUL" in error.value.message


async def stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    """Three answers 0.2 s apart (longer than the probe's 0.3 s deadline in all), or a typed
    error after the first when asked for one."""
    for index in range(3):
        if index == 1 and request == b"invalid":
            raise InvalidArgument("member_ids", "has an empty entry")
        yield b"%d" % index
        await asyncio.sleep(0.2)


async def test_a_stream_keeps_no_server_deadline_and_its_errors_get_their_status() -> None:
    """Streaming methods (PostBatch, exports) go past the unary deadline; an error raised
    mid-stream still becomes its status with the field named, and each call is counted."""
    metrics = Metrics.create()
    method = f"/{SERVICE}/Stream"
    interceptor = ServiceInterceptor(
        service="probe", metrics=metrics, deadline_ms=300, streaming_methods=frozenset({method})
    )
    server = grpc.aio.server(interceptors=[interceptor])
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                SERVICE, {"Stream": grpc.unary_stream_rpc_method_handler(stream)}
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_stream(method)
            assert [answer async for answer in call(b"go")] == [b"0", b"1", b"2"]
            answers = []
            with pytest.raises(grpc.aio.AioRpcError) as error:
                async for answer in call(b"invalid", metadata=((REQUEST_ID_HEADER, "req-s"),)):
                    answers.append(answer)
            assert answers == [b"0"]
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            trailers = dict(error.value.trailing_metadata())
            assert trailers[ERROR_FIELD_HEADER] == "member_ids"
            assert trailers[REQUEST_ID_HEADER] == "req-s"
    finally:
        await server.stop(None)
    sample = metrics.registry.get_sample_value
    for code in ("OK", "INVALID_ARGUMENT"):
        labels = {"service": "probe", "method": method, "code": code}
        assert sample("loyalty_grpc_requests_total", labels) == 1
    assert interceptor.in_flight == 0
    assert await interceptor.wait_idle(timeout_s=0.1)


async def test_a_call_the_client_cancels_is_counted_as_cancelled_and_leaves_none_in_flight(
    probe,
) -> None:
    call, metrics = probe
    pending = call(b"sleep 0.25")
    await asyncio.sleep(0.05)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    labels = {"service": "probe", "method": f"/{SERVICE}/Call", "code": "CANCELLED"}
    for _ in range(50):  # the server hears of the cancellation a moment later
        if metrics.registry.get_sample_value("loyalty_grpc_requests_total", labels) == 1:
            break
        await asyncio.sleep(0.01)
    assert metrics.registry.get_sample_value("loyalty_grpc_requests_total", labels) == 1
