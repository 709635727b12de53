"""Gateway: an HTTP purchase through the gateway at concurrency 64, against the same purchase as a
direct gRPC RecordPurchase to campaign, measured in the same run on the same processes.

Figures (BENCH.md): `gateway.purchase` (req/s) with baseline `campaign.record_purchase` (calls/s),
and `gateway.purchase_p99` (ms) with baseline `campaign.record_purchase_p99`. The four services
and the gateway run as their own processes (as deployed, logging at INFO) on a database made for
the run; the clients are this process. The program is the demo program (10 beans per euro); each
purchase is a new transaction of one of 10,000 members. The gateway call authenticates an API
key (cached for GATEWAY_AUTH_CACHE_TTL_MS, as deployed), checks its scope and rate limit, and
translates JSON to RecordPurchase and back.
"""

import asyncio
import datetime as dt
import itertools
import secrets

import aiohttp
import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from bench.harness import Figure, LatencyRun, Reporter, median_closed_loop
from bench.infra import fresh_database, servers, service_processes
from deploy.local.demo import PROGRAM_ID, load_demo_program
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc

CONCURRENCY = 64
MEMBERS = 10_000
DURATION_S = 8.0
WARMUP_S = 3.0
NAMES = (
    "gateway.purchase",
    "gateway.purchase_p99",
    "campaign.record_purchase",
    "campaign.record_purchase_p99",
)


def run(reporter: Reporter) -> None:
    if not reporter.wants(*NAMES):
        return
    with servers() as (server_url, nats_url):
        asyncio.run(_run(reporter, server_url, nats_url))


async def _run(reporter: Reporter, server_url: str, nats_url: str) -> None:
    async with fresh_database(server_url) as database_url:
        with service_processes(database_url, nats_url) as cluster:
            await asyncio.to_thread(cluster.start_gateway)
            await load_demo_program(cluster.endpoints)
            secret = await _api_key(cluster.endpoints["identity"].grpc_address)
            run_id = secrets.token_hex(3)
            reporter.progress("campaign.record_purchase: measuring (direct gRPC)")
            direct = await _direct(cluster.endpoints["campaign"].grpc_address, run_id)
            reporter.progress("gateway.purchase: measuring (HTTP through the gateway)")
            through = await _through_gateway(cluster.gateway.url, secret, run_id)
    params = {"concurrency": CONCURRENCY, "members": MEMBERS, "seconds": DURATION_S}
    baseline = Figure(
        "campaign.record_purchase", direct.calls_per_s, "calls/s", {**params, "calls": direct.calls}
    )
    reporter.emit(baseline)
    reporter.emit(
        Figure(
            "gateway.purchase", through.calls_per_s, "req/s", {**params, "calls": through.calls}
        ),
        baseline=baseline,
    )
    baseline_p99 = Figure("campaign.record_purchase_p99", direct.p99_ms, "ms", params)
    reporter.emit(baseline_p99)
    reporter.emit(
        Figure("gateway.purchase_p99", through.p99_ms, "ms", params), baseline=baseline_p99
    )


async def _api_key(identity_address: str) -> str:
    async with grpc.aio.insecure_channel(identity_address) as channel:
        created = await identity_pb2_grpc.IdentityServiceStub(channel).CreateApiKey(
            identity_pb2.CreateApiKeyRequest(
                program_id=PROGRAM_ID,
                idempotency_key="bench-pos",
                name="bench POS",
                scopes=["transactions:write"],
                requests_per_minute_max=1_000_000,
            )
        )
    return created.secret


def _now() -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(dt.datetime.now(dt.UTC))
    return stamp


async def _direct(address: str, run_id: str) -> LatencyRun:
    # The harness numbers calls from 0 in every run; transactions must stay unique across runs.
    numbers = itertools.count()
    async with grpc.aio.insecure_channel(address) as channel:
        stub = campaign_pb2_grpc.CampaignServiceStub(channel)

        async def purchase(_: int) -> object:
            index = next(numbers)
            return await stub.RecordPurchase(
                campaign_pb2.RecordPurchaseRequest(
                    program_id=PROGRAM_ID,
                    idempotency_key=f"d{run_id}-{index}",
                    member_id=f"bench-m{index % MEMBERS}",
                    transaction_id=f"d{run_id}-{index}",
                    amount=common_pb2.Money(amount_minor=450 + index % 2_000, currency="EUR"),
                    channel=common_pb2.CHANNEL_POS,
                    store_id="ams-01",
                    occurred_at=_now(),
                )
            )

        return await median_closed_loop(
            purchase, concurrency=CONCURRENCY, duration_s=DURATION_S, warmup_s=WARMUP_S
        )


async def _through_gateway(url: str, secret: str, run_id: str) -> LatencyRun:
    """aiohttp, one keep-alive connection per worker: the client must not be the bottleneck."""
    numbers = itertools.count()
    path = f"/v1/programs/{PROGRAM_ID}/purchases"
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as client:

        async def purchase(_: int) -> object:
            index = next(numbers)
            async with client.post(
                path,
                headers={"X-Api-Key": secret, "Idempotency-Key": f"g{run_id}-{index}"},
                json={
                    "member_id": f"bench-m{index % MEMBERS}",
                    "transaction_id": f"g{run_id}-{index}",
                    "amount": {"amount_minor": 450 + index % 2_000, "currency": "EUR"},
                    "channel": "pos",
                    "store_id": "ams-01",
                    "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
                },
            ) as response:
                body = await response.read()
            if response.status != 201:
                raise RuntimeError(f"purchase answered {response.status}: {body!r}")
            return body

        return await median_closed_loop(
            purchase, concurrency=CONCURRENCY, duration_s=DURATION_S, warmup_s=WARMUP_S
        )
