"""One platform for the gateway tests: the four services and the gateway as real processes on a
database and NATS namespace of their own, with the demo program, its demo member and API keys.

Starting the platform takes seconds, so it is started once per session; every test makes its own
members (unique e-mails), so tests stay independent of each other and of their order.
"""

import asyncio
import datetime as dt
import itertools
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import grpc
import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from deploy.local import demo
from deploy.local.cluster import LocalCluster, free_endpoints, free_gateway_endpoint
from gateway.auth import API_KEY_SCOPES, POS_SCOPES
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from tests.conftest import ARTIFACTS, RUN_ID, Servers, with_database

PROGRAM = demo.PROGRAM_ID
OTHER_PROGRAM = "gateway-other"
NOT_IMPLEMENTED = "campaign/rewards method not implemented yet"
_numbers = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_numbers)}-{secrets.token_hex(3)}"


@dataclass
class GatewayPlatform:
    cluster: LocalCluster
    url: str
    keys: dict[str, str]  # purpose -> secret
    demo_member_id: str

    @property
    def identity_address(self) -> str:
        return self.cluster.endpoints["identity"].grpc_address

    @property
    def ledger_address(self) -> str:
        return self.cluster.endpoints["ledger"].grpc_address

    @property
    def campaign_address(self) -> str:
        return self.cluster.endpoints["campaign"].grpc_address

    @property
    def rewards_address(self) -> str:
        return self.cluster.endpoints["rewards"].grpc_address

    def client(self, *, key: str | None = None, token: str | None = None) -> httpx.Client:
        headers = {}
        if key is not None:
            headers["X-Api-Key"] = self.keys.get(key, key)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def enrol(self, *, email: str | None = None, given_name: str = "Test") -> str:
        """A new member of the demo program, enrolled through the gateway; returns its id."""
        with self.client(key="admin") as client:
            response = client.post(
                f"/v1/programs/{PROGRAM}/members",
                headers={"Idempotency-Key": unique("enrol")},
                json={
                    "channel": "app",
                    "profile": {"given_name": given_name},
                    "identifiers": [
                        {"kind": "email", "value": email or f"{unique('m')}@t.example"}
                    ],
                },
            )
        assert response.status_code == 201, response.text
        return str(response.json()["member"]["member_id"])

    def member_token(self, member_id: str, *, scopes: tuple[str, ...] = ()) -> str:
        async def issue() -> str:
            async with grpc.aio.insecure_channel(self.identity_address) as channel:
                issued = await identity_pb2_grpc.IdentityServiceStub(channel).IssueMemberToken(
                    identity_pb2.IssueMemberTokenRequest(
                        program_id=PROGRAM,
                        member_id=member_id,
                        scopes=list(scopes or ("member:read", "member:write", "rewards:redeem")),
                    )
                )
            return issued.token

        return asyncio.run(issue())

    def earn(self, member_id: str, points: int, *, expires_in_days: int = 0) -> None:
        """Vested points straight through the ledger (test set-up, not the gateway's business)."""

        async def earn() -> None:
            now = dt.datetime.now(dt.UTC)
            request = ledger_pb2.EarnRequest(
                program_id=PROGRAM,
                idempotency_key=unique("earn"),
                member_id=member_id,
                points=points,
                source_reference=unique("ref"),
                vests_at=_stamp(now - dt.timedelta(seconds=1)),
                qualifying=True,
            )
            if expires_in_days:
                request.expires_at.CopyFrom(_stamp(now + dt.timedelta(days=expires_in_days)))
            async with grpc.aio.insecure_channel(self.ledger_address) as channel:
                await ledger_pb2_grpc.LedgerServiceStub(channel).Earn(request)

        asyncio.run(earn())

    def create_key(self, *, scopes: tuple[str, ...], requests_per_minute_max: int = 0) -> str:
        return asyncio.run(
            _create_key(
                self.identity_address,
                PROGRAM,
                scopes=scopes,
                requests_per_minute_max=requests_per_minute_max,
            )
        )


def _stamp(value: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


async def _create_key(
    address: str, program_id: str, *, scopes: tuple[str, ...], requests_per_minute_max: int = 0
) -> str:
    async with grpc.aio.insecure_channel(address) as channel:
        created = await identity_pb2_grpc.IdentityServiceStub(channel).CreateApiKey(
            identity_pb2.CreateApiKeyRequest(
                program_id=program_id,
                idempotency_key=unique("key"),
                name=unique("test key"),
                scopes=list(scopes),
                requests_per_minute_max=requests_per_minute_max,
            )
        )
    return created.secret


async def _set_up(cluster: LocalCluster) -> tuple[dict[str, str], str]:
    await demo.load_demo_program(cluster.endpoints)
    loaded = await demo.load_demo_member(cluster.endpoints, cluster.gateway.url)
    identity = cluster.endpoints["identity"].grpc_address
    async with grpc.aio.insecure_channel(identity) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        other = identity_pb2.Program(
            program_id=OTHER_PROGRAM,
            name="Other",
            points_name="points",
            currency="EUR",
            time_zone="Europe/Amsterdam",
            entry_tier_code="green",
            default_locale="nl-NL",
        )
        await stub.CreateProgram(
            identity_pb2.CreateProgramRequest(
                program_id=OTHER_PROGRAM, idempotency_key="other", program=other
            )
        )
    keys = {
        "admin": await _create_key(identity, PROGRAM, scopes=tuple(sorted(API_KEY_SCOPES))),
        "pos": await _create_key(identity, PROGRAM, scopes=POS_SCOPES),
        "reader": await _create_key(identity, PROGRAM, scopes=("members:read",)),
        "other-program": await _create_key(
            identity, OTHER_PROGRAM, scopes=tuple(sorted(API_KEY_SCOPES))
        ),
    }
    member_id = loaded["member"].split("(")[1].rstrip(")")
    return keys, member_id


async def _create_database(servers: Servers, name: str) -> None:
    admin = await asyncpg.connect(servers.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def _drop_database(servers: Servers, name: str) -> None:
    admin = await asyncpg.connect(servers.database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def gateway_platform(servers: Servers) -> Iterator[GatewayPlatform]:
    database = f"loyalty_t{RUN_ID}_gateway"
    asyncio.run(_create_database(servers, database))
    cluster = LocalCluster(
        database_url=with_database(servers.database_url, database),
        nats_url=servers.nats_url,
        namespace=f"t{RUN_ID}_gw",
        endpoints=free_endpoints(),
        log_dir=ARTIFACTS / "logs" / f"gateway-{uuid.uuid4().hex[:6]}",
        gateway=free_gateway_endpoint(),
    )
    try:
        cluster.start()
        cluster.start_gateway(
            extra_env={
                "GATEWAY_DEMO_LOGIN": "true",
                # Tests log in often from one address and read a lot as one member.
                "GATEWAY_ANONYMOUS_REQUESTS_PER_MINUTE_MAX": "100000",
                "GATEWAY_MEMBER_REQUESTS_PER_MINUTE_MAX": "100000",
                "GATEWAY_API_KEY_REQUESTS_PER_MINUTE_DEFAULT": "100000",
            }
        )
        keys, member_id = asyncio.run(_set_up(cluster))
        yield GatewayPlatform(
            cluster=cluster, url=cluster.gateway.url, keys=keys, demo_member_id=member_id
        )
    finally:
        cluster.stop()
        asyncio.run(_drop_database(servers, database))


@pytest.fixture
def platform(gateway_platform: GatewayPlatform) -> GatewayPlatform:
    return gateway_platform


@pytest.fixture
def admin(platform: GatewayPlatform) -> Iterator[httpx.Client]:
    with platform.client(key="admin") as client:
        yield client
