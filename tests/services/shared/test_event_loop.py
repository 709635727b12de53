"""Services run on uvloop unless `<SERVICE>_EVENT_LOOP=asyncio` says otherwise; both serve."""

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest
import uvloop

from deploy.local.cluster import LocalCluster, free_endpoints
from deploy.local.programs import program_config
from gateway.config import GatewayConfig
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from services.shared.config import ConfigError, load_config
from services.shared.server import EXIT_CONFIG_ERROR, run_on_event_loop
from tests.conftest import ARTIFACTS, Servers

PROJECT_ROOT = Path(__file__).resolve().parents[3]
MEMBERS = 8
EARNS = 64


@pytest.mark.parametrize("name", ["uvloop", "asyncio"])
def test_a_coroutine_runs_on_the_named_loop(name: str) -> None:
    seen: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        seen.append(asyncio.get_running_loop())

    run_on_event_loop(main(), name)
    assert isinstance(seen[0], uvloop.Loop) == (name == "uvloop")
    assert seen[0].is_closed()


def test_a_service_refuses_an_event_loop_it_does_not_know() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "services.ledger"],
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "LEDGER_DATABASE_URL": "postgresql://127.0.0.1:1/unused",
            "LEDGER_NATS_URL": "nats://127.0.0.1:1",
            "LEDGER_EVENT_LOOP": "trio",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == EXIT_CONFIG_ERROR
    assert "LEDGER_EVENT_LOOP: must be one of uvloop, asyncio" in finished.stderr


def test_the_gateway_refuses_an_event_loop_it_does_not_know() -> None:
    assert load_config(GatewayConfig, prefix="GATEWAY", environ={}).event_loop == "uvloop"
    with pytest.raises(ConfigError, match="GATEWAY_EVENT_LOOP: must be one of uvloop, asyncio"):
        load_config(GatewayConfig, prefix="GATEWAY", environ={"GATEWAY_EVENT_LOOP": "trio"})


@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio", None])
async def test_the_ledger_serves_grouped_earns_on_either_loop(
    servers: Servers,
    database_url: str,
    nats_namespace: str,
    request: pytest.FixtureRequest,
    event_loop: str | None,
) -> None:
    """Concurrent Earns (so written in groups, through asyncpg and grpc.aio on the chosen loop)
    are each answered, and sum up; None is the default, uvloop."""
    cluster = LocalCluster(
        database_url=database_url,
        nats_url=servers.nats_url,
        namespace=nats_namespace,
        endpoints=free_endpoints(),
        log_dir=ARTIFACTS / "logs" / f"{request.node.name}-{uuid.uuid4().hex[:6]}",
        extra_env={"LEDGER_EVENT_LOOP": event_loop} if event_loop else {},
    )
    await asyncio.to_thread(cluster.start, "ledger")
    try:
        maps_path = Path(f"/proc/{cluster.processes['ledger'].pid}/maps")
        maps = await asyncio.to_thread(maps_path.read_text)
        assert ("uvloop" in maps) == (event_loop != "asyncio")
        address = cluster.endpoints["ledger"].grpc_address
        async with grpc.aio.insecure_channel(address) as channel:
            ledger = ledger_pb2_grpc.LedgerServiceStub(channel)
            program_id = f"loop-{uuid.uuid4().hex[:8]}"
            await ledger.ConfigureProgram(
                ledger_pb2.ConfigureProgramRequest(
                    program_id=program_id,
                    idempotency_key="configure",
                    config=program_config(program_id),
                )
            )
            answers = await asyncio.gather(
                *(
                    ledger.Earn(
                        ledger_pb2.EarnRequest(
                            program_id=program_id,
                            idempotency_key=f"e{i}",
                            member_id=f"m{i % MEMBERS}",
                            points=i + 1,
                        )
                    )
                    for i in range(EARNS)
                )
            )
            assert sorted(answer.posting.points for answer in answers) == list(range(1, EARNS + 1))
            balances = [
                await ledger.GetBalance(
                    ledger_pb2.GetBalanceRequest(program_id=program_id, member_id=f"m{m}")
                )
                for m in range(MEMBERS)
            ]
            assert [b.balance.lifetime_earned_points for b in balances] == [
                sum(i + 1 for i in range(m, EARNS, MEMBERS)) for m in range(MEMBERS)
            ]
    finally:
        await asyncio.to_thread(cluster.stop)
