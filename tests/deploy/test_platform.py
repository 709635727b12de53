"""The whole platform as real processes on real PostgreSQL and NATS."""

import asyncio
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from deploy.local.cluster import SERVICES, LocalCluster
from tests.support import calls

FULL_NAMES = {
    "identity": "loyalty.identity.v1.IdentityService",
    "ledger": "loyalty.ledger.v1.LedgerService",
    "campaign": "loyalty.campaign.v1.CampaignService",
    "rewards": "loyalty.rewards.v1.RewardsService",
}
ROUNDTRIPS = {
    "identity": (calls.identity_roundtrip, "Europe/Amsterdam"),
    "ledger": (calls.ledger_roundtrip, "EUR"),
    "campaign": (calls.campaign_roundtrip, 250),
    "rewards": (calls.rewards_roundtrip, 100),
}


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


async def reflected_services(channel: grpc.aio.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def requests():
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    async for response in stub.ServerReflectionInfo(requests()):
        return {service.name for service in response.list_services_response.service}
    return set()


async def test_every_service_serves_health_reflection_metrics_and_its_database(
    cluster: LocalCluster,
) -> None:
    for name in SERVICES:
        endpoint = cluster.endpoints[name]
        async with grpc.aio.insecure_channel(endpoint.grpc_address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for service in ("", FULL_NAMES[name]):
                response = await health.Check(health_pb2.HealthCheckRequest(service=service))
                assert response.status == health_pb2.HealthCheckResponse.SERVING, (name, service)
            assert FULL_NAMES[name] in await reflected_services(channel)

            roundtrip, expected = ROUNDTRIPS[name]
            assert await roundtrip(channel, "demo") == expected, name

        metrics = await asyncio.to_thread(scrape, endpoint.metrics_url)
        assert f'loyalty_grpc_requests_total{{code="OK",method="/{FULL_NAMES[name]}/' in metrics, (
            name
        )
        assert "loyalty_grpc_request_duration_seconds_bucket" in metrics
        assert "loyalty_outbox_published_events_total" in metrics
