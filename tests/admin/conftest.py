"""The CLI as operators run it (a process of its own) against the four services as processes."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from deploy.local.cluster import LocalCluster
from deploy.local.servers import PROJECT_ROOT
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, rules_pb2
from loyalty.common.v1 import common_pb2

PROGRAM = "acme"


@dataclass
class Admin:
    """Runs `loyalty-admin` against the test's cluster."""

    cluster: LocalCluster
    environment: dict[str, str]

    def command(self, *arguments: str) -> list[str]:
        return [sys.executable, "-m", "admin", *arguments]

    async def run(
        self, *arguments: str, timeout_s: float = 240
    ) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run,
            self.command(*arguments),
            cwd=PROJECT_ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def start(self, *arguments: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*arguments),
            cwd=PROJECT_ROOT,
            env=self.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def channel(self, service: str) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(self.cluster.endpoints[service].grpc_address)


def admin_environment(cluster: LocalCluster) -> dict[str, str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("LOYALTY_ADMIN_")
    }
    for service in ("identity", "ledger", "campaign"):
        environment[f"LOYALTY_ADMIN_{service.upper()}_ADDRESS"] = cluster.endpoints[
            service
        ].grpc_address
    environment["LOYALTY_ADMIN_DATABASE_URL"] = cluster.database_url
    return environment


@pytest.fixture
async def admin(cluster: LocalCluster) -> AsyncIterator[Admin]:
    yield Admin(cluster, admin_environment(cluster))


@pytest.fixture
async def program(admin: Admin) -> str:
    """Program `acme` in EUR created by the CLI, earning 1 point per euro."""
    done = await admin.run(
        "create-program",
        PROGRAM,
        "--currency",
        "EUR",
        "--time-zone",
        "Europe/Amsterdam",
        "--tiers",
        "member:0,gold:100000000",
        "--return-window-days",
        "0",
        "--expiry-months",
        "12",
    )
    assert done.returncode == 0, done.stderr
    async with admin.channel("campaign") as channel:
        campaign = campaign_pb2_grpc.CampaignServiceStub(channel)
        rule = rules_pb2.Rule(
            rule_id="base",
            name="1 point per euro",
            priority=10,
            earning=rules_pb2.EarningRule(
                rate=rules_pb2.EarnRate(points=1, per_amount_minor=100),
                rounding_mode=common_pb2.ROUNDING_MODE_FLOOR,
                qualifying=True,
            ),
        )
        await campaign.CreateRule(
            campaign_pb2.CreateRuleRequest(program_id=PROGRAM, idempotency_key="r1", rule=rule)
        )
        await campaign.ActivateRule(
            campaign_pb2.ActivateRuleRequest(
                program_id=PROGRAM, idempotency_key="r2", rule_id="base", version=1
            )
        )
    return PROGRAM


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    import csv

    with path.open("w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path
