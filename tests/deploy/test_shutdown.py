"""SIGTERM while calls are in flight: each accepted call completes and its event is published.

Calls that gRPC had not yet handed to a handler when shutdown began are refused (CANCELLED or
UNAVAILABLE) with nothing written, so a client's retry with the same idempotency key completes
them on the next start: together, nothing is lost and nothing is doubled.
"""

import asyncio
import signal
import uuid

import asyncpg
import grpc
import nats
import pytest

from deploy.local.cluster import LocalCluster, free_endpoints
from tests.conftest import ARTIFACTS, Servers
from tests.support import calls

CALLS = 300
REFUSED_BEFORE_START = {grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE}


async def stored_programs(database_url: str) -> set[str]:
    connection = await asyncpg.connect(database_url)
    try:
        return {
            r["program_id"]
            for r in await connection.fetch("SELECT program_id FROM identity.programs")
        }
    finally:
        await connection.close()


async def published_events(nats_url: str, namespace: str) -> int:
    client = await nats.connect(nats_url)
    try:
        return (
            await client.jetstream().stream_info(f"{namespace}_identity".upper())
        ).state.messages
    finally:
        await client.close()


async def test_sigterm_during_calls_loses_none(
    servers: Servers, database_url: str, nats_namespace: str, request: pytest.FixtureRequest
) -> None:
    identity = LocalCluster(
        database_url=database_url,
        nats_url=servers.nats_url,
        namespace=nats_namespace,
        endpoints=free_endpoints(),
        log_dir=ARTIFACTS / "logs" / f"{request.node.name}-{uuid.uuid4().hex[:6]}",
    )
    await asyncio.to_thread(identity.start, "identity")
    signalled = asyncio.Event()
    answered_after_signal = 0

    async def call(channel: grpc.aio.Channel, program_id: str) -> tuple[str, grpc.StatusCode]:
        nonlocal answered_after_signal
        try:
            await calls.create_program(channel, program_id)
            code = grpc.StatusCode.OK
        except grpc.aio.AioRpcError as error:
            code = error.code()
        if signalled.is_set() and code == grpc.StatusCode.OK:
            answered_after_signal += 1
        return program_id, code

    async with grpc.aio.insecure_channel(identity.endpoints["identity"].grpc_address) as channel:
        tasks = [asyncio.create_task(call(channel, f"p{index:04d}")) for index in range(CALLS)]
        for done, finished in enumerate(asyncio.as_completed(tasks), start=1):
            await finished
            if done == 10:
                identity.signal("identity", signal.SIGTERM)
                signalled.set()
        outcomes = dict(task.result() for task in tasks)
    assert await asyncio.to_thread(identity.wait, "identity") == 0

    succeeded = {p for p, code in outcomes.items() if code == grpc.StatusCode.OK}
    refused = {p for p, code in outcomes.items() if code != grpc.StatusCode.OK}
    # Calls in flight at the signal were answered, not dropped.
    assert answered_after_signal > 0
    assert {outcomes[p] for p in refused} <= REFUSED_BEFORE_START
    # What was answered OK is stored and announced; what was refused left no trace.
    assert await stored_programs(database_url) == succeeded
    assert await published_events(servers.nats_url, nats_namespace) == len(succeeded)

    # The client retries the refused calls with their idempotency keys after a restart.
    await asyncio.to_thread(identity.start, "identity")
    try:
        async with grpc.aio.insecure_channel(
            identity.endpoints["identity"].grpc_address
        ) as channel:
            await asyncio.gather(*(calls.create_program(channel, p) for p in sorted(refused)))
            # Retrying one that had succeeded replays its answer and changes nothing.
            await calls.create_program(channel, min(succeeded))
    finally:
        await asyncio.to_thread(identity.stop)
    assert await stored_programs(database_url) == set(outcomes)
    assert await published_events(servers.nats_url, nats_namespace) == CALLS
