"""kill -9 of the ledger in the middle of a PostBatch stream, then a restart."""

import asyncio
import signal
import uuid

import asyncpg
import grpc

from deploy.local.cluster import LocalCluster, free_endpoints
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from tests.conftest import ARTIFACTS, Servers
from tests.services.ledger.support import Ledger

BATCHES = 40
ITEMS = 500


def batch(number: int) -> ledger_pb2.PostBatchRequest:
    return ledger_pb2.PostBatchRequest(
        program_id="acme",
        batch_id=f"b{number}",
        member_ids=[f"m{(number * ITEMS + i) % 1_000}" for i in range(ITEMS)],
        points=[1 + i % 7 for i in range(ITEMS)],
        idempotency_keys=[f"b{number}-{i}" for i in range(ITEMS)],
    )


async def test_acknowledged_batches_survive_a_kill_and_no_batch_is_half_there(
    servers: Servers, database_url: str, nats_namespace: str, request
) -> None:
    ledger_process = LocalCluster(
        database_url=database_url,
        nats_url=servers.nats_url,
        namespace=nats_namespace,
        endpoints=free_endpoints(),
        log_dir=ARTIFACTS / "logs" / f"{request.node.name}-{uuid.uuid4().hex[:6]}",
    )
    await asyncio.to_thread(ledger_process.start, "ledger")
    address = ledger_process.endpoints["ledger"].grpc_address
    acknowledged: list[str] = []
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            await Ledger(channel).setup()
            stub = ledger_pb2_grpc.LedgerServiceStub(channel)

            async def stream():
                for number in range(BATCHES):
                    yield batch(number)

            try:
                async for response in stub.PostBatch(stream()):
                    acknowledged.append(response.batch_id)
                    if len(acknowledged) == 8:
                        ledger_process.signal("ledger", signal.SIGKILL)
            except grpc.aio.AioRpcError as error:
                assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
        assert 8 <= len(acknowledged) < BATCHES
        await asyncio.to_thread(ledger_process.wait, "ledger")

        connection = await asyncpg.connect(database_url)
        try:
            counts = dict(
                await connection.fetch(
                    "SELECT batch_id, count(*) FROM ledger.postings GROUP BY batch_id"
                )
            )
        finally:
            await connection.close()
        # Every acknowledged batch is there whole; nothing else is there but whole batches.
        assert all(counts.get(batch_id) == ITEMS for batch_id in acknowledged)
        assert set(counts.values()) == {ITEMS}

        # The client resends everything after the restart: nothing is doubled, nothing missing.
        await asyncio.to_thread(ledger_process.start, "ledger")
        async with grpc.aio.insecure_channel(address) as channel:
            stub = ledger_pb2_grpc.LedgerServiceStub(channel)

            async def everything():
                for number in range(BATCHES):
                    yield batch(number)

            responses = [response async for response in stub.PostBatch(everything())]
            assert sum(r.posted_count + r.duplicate_count for r in responses) == BATCHES * ITEMS
            assert all(r.rejected_count == 0 for r in responses)
            verified = await Ledger(channel).verify()
            assert list(verified.differences) == [] and verified.program_sum_points == 0
        connection = await asyncpg.connect(database_url)
        try:
            assert (
                await connection.fetchval("SELECT count(*) FROM ledger.postings") == BATCHES * ITEMS
            )
        finally:
            await connection.close()
    finally:
        await asyncio.to_thread(ledger_process.stop)
