"""What must hold with the ledger and rewards as real processes: the last units under a crowd,
and a kill -9 in the middle of a redemption."""

import asyncio
import datetime as dt
import signal
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import cast

import asyncpg
import grpc
import pytest

from deploy.local.cluster import LocalCluster, free_endpoints
from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from services.rewards import redemption_store as store
from services.rewards.remote import LedgerClient, LedgerRefused
from services.rewards.steps import RedemptionSteps
from services.shared.clients import service_channel
from services.shared.metrics import Metrics
from tests.conftest import ARTIFACTS, Servers
from tests.services.ledger.support import Ledger
from tests.services.rewards.conftest import PROGRAM, reason, reward

MEMBERS = 100
STOCK = 10


# Quick recovery for the kill test: a dead driver's redemption is taken over 2 s after its last
# step.
QUICK_RECOVERY = {
    "REWARDS_REDEMPTION_LEASE_MS": "2000",
    "REWARDS_DEPENDENCY_DEADLINE_MS": "1000",
    "REWARDS_RECOVERY_INTERVAL_MS": "200",
}


# The race test's crowd on a machine other tests load too: the calls' deadlines are the test's
# own timeout, not the default 10 s (and 3 s a dependency call), which it measures nothing about.
PATIENT = {
    "REWARDS_DEADLINE_MS": "60000",
    "LEDGER_DEADLINE_MS": "60000",
    "REWARDS_DEPENDENCY_DEADLINE_MS": "15000",
    "REWARDS_REDEMPTION_LEASE_MS": "60000",
    "REWARDS_HOLD_RETRY_MS": "30000",
}


@pytest.fixture
async def processes(
    servers: Servers, database_url: str, nats_namespace: str, request
) -> AsyncIterator[LocalCluster]:
    """Ledger and rewards as processes, with `environment` parametrized indirectly."""
    running = LocalCluster(
        database_url=database_url,
        nats_url=servers.nats_url,
        namespace=nats_namespace,
        endpoints=free_endpoints(),
        log_dir=ARTIFACTS / "logs" / f"{request.node.name}-{uuid.uuid4().hex[:6]}",
        extra_env={
            "REWARDS_POOL_SIZE_MAX": "20",
            "LEDGER_POOL_SIZE_MAX": "20",
            **getattr(request, "param", {}),
        },
    )
    try:
        await asyncio.to_thread(running.start, "ledger", "rewards")
        yield running
    finally:
        await asyncio.to_thread(running.stop)


def channels(cluster: LocalCluster) -> tuple[grpc.aio.Channel, grpc.aio.Channel]:
    return (
        grpc.aio.insecure_channel(cluster.endpoints["ledger"].grpc_address),
        grpc.aio.insecure_channel(cluster.endpoints["rewards"].grpc_address),
    )


@pytest.mark.parametrize("processes", [PATIENT], indirect=True)
async def test_a_hundred_members_race_for_ten_units(
    processes: LocalCluster, database_url: str
) -> None:
    ledger_channel, rewards_channel = channels(processes)
    async with ledger_channel, rewards_channel:
        ledger = Ledger(ledger_channel)
        await ledger.setup()
        members = [f"m{i}" for i in range(MEMBERS)]
        await asyncio.gather(*(ledger.earn(member, 1_000) for member in members))
        stub = rewards_pb2_grpc.RewardsServiceStub(rewards_channel)
        created = await stub.CreateReward(
            rewards_pb2.CreateRewardRequest(
                program_id=PROGRAM, idempotency_key="create", reward=reward(points_price=600)
            )
        )
        reward_id = created.reward.reward_id

        async def redeem(member: str):
            try:
                response = await stub.Redeem(
                    rewards_pb2.RedeemRequest(
                        program_id=PROGRAM,
                        idempotency_key=f"redeem-{member}",
                        member_id=member,
                        reward_id=reward_id,
                        quantity=1,
                        channel=common_pb2.CHANNEL_APP,
                    ),
                    timeout=90,
                )
            except grpc.aio.AioRpcError as error:
                return error
            return response.redemption

        results = dict(zip(members, await asyncio.gather(*map(redeem, members)), strict=True))
        winners = {m: r for m, r in results.items() if isinstance(r, rewards_pb2.Redemption)}
        losers = {m: r for m, r in results.items() if isinstance(r, grpc.aio.AioRpcError)}

        assert len(winners) == STOCK and len(losers) == MEMBERS - STOCK
        codes = {code.code for r in winners.values() for code in r.codes}
        assert len(codes) == STOCK
        for error in losers.values():
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error
            assert reason(error) == "OUT_OF_STOCK" and "out of stock" in error.details()
            # Refused before it started or after losing the race for the last units: either way
            # the field is named.
            assert error.details().startswith("reward_id: "), error.details()
        for member in members:
            balance = await ledger.balance(member)
            expected = 400 if member in winners else 1_000
            assert (balance.available_points, balance.held_points) == (expected, 0), member
            if member in losers:
                history = await ledger.stub.ListHistory(
                    ledger_pb2.ListHistoryRequest(program_id=PROGRAM, member_id=member)
                )
                assert [p.kind for p in history.postings] == [common_pb2.POSTING_KIND_EARN]
        stock = (
            await stub.GetReward(
                rewards_pb2.GetRewardRequest(program_id=PROGRAM, reward_id=reward_id)
            )
        ).reward.stock
        assert (stock.available, stock.reserved, stock.redeemed) == (0, 0, STOCK)
        await ledger.assert_clean()
    # Losers refused up front wrote nothing; those that got as far as a hold were voided.
    connection = await asyncpg.connect(database_url)
    try:
        steps = dict(
            await connection.fetch("SELECT step, count(*) FROM rewards.redemptions GROUP BY step")
        )
    finally:
        await connection.close()
    assert steps.get("committed") == STOCK and set(steps) <= {"committed", "voided"}


async def _wait_for_step(database_url: str, step: str, *, timeout_s: float = 20.0) -> str:
    connection = await asyncpg.connect(database_url)
    try:
        for _ in range(int(timeout_s / 0.05)):
            redemption_id = await connection.fetchval(
                "SELECT redemption_id FROM rewards.redemptions WHERE step = $1", step
            )
            if redemption_id:
                return redemption_id
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
    raise AssertionError(f"no redemption reached {step}")


@pytest.mark.parametrize("processes", [QUICK_RECOVERY], indirect=True)
async def test_a_kill_between_hold_and_commit_leaves_no_hold_open(
    processes: LocalCluster, database_url: str
) -> None:
    ledger_channel, rewards_channel = channels(processes)
    async with ledger_channel, rewards_channel:
        ledger = Ledger(ledger_channel)
        await ledger.setup()
        await ledger.earn("m1", 5_000)
        stub = rewards_pb2_grpc.RewardsServiceStub(rewards_channel)
        created = await stub.CreateReward(
            rewards_pb2.CreateRewardRequest(
                program_id=PROGRAM, idempotency_key="create", reward=reward()
            )
        )
        reward_id = created.reward.reward_id
        request = rewards_pb2.RedeemRequest(
            program_id=PROGRAM,
            member_id="m1",
            reward_id=reward_id,
            quantity=1,
            channel=common_pb2.CHANNEL_APP,
        )
        request.idempotency_key = "before"
        await stub.Redeem(request)

    # Restart rewards with a pause after the hold, and kill it during the pause.
    processes.signal("rewards", signal.SIGTERM)
    await asyncio.to_thread(processes.wait, "rewards")
    processes.extra_env["REWARDS_PAUSE_AFTER_HOLD_MS"] = "60000"
    await asyncio.to_thread(processes.start, "rewards")
    ledger_channel, rewards_channel = channels(processes)
    async with ledger_channel, rewards_channel:
        stub = rewards_pb2_grpc.RewardsServiceStub(rewards_channel)
        request.idempotency_key = "killed"
        redeeming = asyncio.ensure_future(stub.Redeem(request, timeout=30))
        redemption_id = await _wait_for_step(database_url, "hold_placed")
        processes.signal("rewards", signal.SIGKILL)
        with pytest.raises(grpc.aio.AioRpcError):
            await redeeming
        await asyncio.to_thread(processes.wait, "rewards")
        ledger = Ledger(ledger_channel)
        held = await ledger.balance("m1")
        assert held.held_points == 500  # the hold is open while rewards is down

    processes.extra_env["REWARDS_PAUSE_AFTER_HOLD_MS"] = "0"
    await asyncio.to_thread(processes.start, "rewards")
    ledger_channel, rewards_channel = channels(processes)
    async with ledger_channel, rewards_channel:
        stub = rewards_pb2_grpc.RewardsServiceStub(rewards_channel)
        ledger = Ledger(ledger_channel)
        for _ in range(200):
            redemption = (
                await stub.GetRedemption(
                    rewards_pb2.GetRedemptionRequest(
                        program_id=PROGRAM, redemption_id=redemption_id
                    )
                )
            ).redemption
            if redemption.status != rewards_pb2.REDEMPTION_STATUS_PENDING:
                break
            await asyncio.sleep(0.1)
        assert redemption.status == rewards_pb2.REDEMPTION_STATUS_FAILED
        hold = (
            await ledger.stub.GetHold(
                ledger_pb2.GetHoldRequest(program_id=PROGRAM, hold_id=redemption.hold_id)
            )
        ).hold
        assert hold.status == ledger_pb2.HOLD_STATUS_VOIDED
        balance = await ledger.balance("m1")
        assert (balance.available_points, balance.held_points) == (4_500, 0)

        # The stock matches the codes issued: one redemption completed, one code.
        stock = (
            await stub.GetReward(
                rewards_pb2.GetRewardRequest(program_id=PROGRAM, reward_id=reward_id)
            )
        ).reward.stock
        assert (stock.available, stock.reserved, stock.redeemed) == (9, 0, 1)
        listed = await stub.ListRedemptions(rewards_pb2.ListRedemptionsRequest(program_id=PROGRAM))
        assert sum(len(r.codes) for r in listed.redemptions) == 1

        # The interrupted request, retried with its key, answers the recorded failure.
        request.idempotency_key = "killed"
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.Redeem(request)
        assert reason(error.value) == "INTERRUPTED"
        await ledger.assert_clean()


def _pending_redemption(redemption_id: str) -> store.RedemptionRow:
    # Only what asking for the hold reads; the rest of the row plays no part.
    return cast(
        store.RedemptionRow,
        SimpleNamespace(
            program_id=PROGRAM, member_id="m1", points=500, redemption_id=redemption_id
        ),
    )


async def test_a_hold_asked_while_the_ledger_restarts_is_placed_once_it_is_back(
    processes: LocalCluster,
) -> None:
    ledger_channel = grpc.aio.insecure_channel(processes.endpoints["ledger"].grpc_address)
    async with ledger_channel:
        ledger = Ledger(ledger_channel)
        await ledger.setup()
        await ledger.earn("m1", 5_000)
    processes.signal("ledger", signal.SIGKILL)
    await asyncio.to_thread(processes.wait, "ledger")

    channel = service_channel(processes.endpoints["ledger"].grpc_address)
    client = LedgerClient(channel, deadline_s=1.0)

    def steps(hold_retry_s: float) -> RedemptionSteps:
        return RedemptionSteps(
            None,  # type: ignore[arg-type]  # asking for a hold touches neither pool nor outbox
            None,  # type: ignore[arg-type]
            client,
            Metrics.create(),
            targeting=None,  # type: ignore[arg-type]  # nor campaign
            lease_s=30.0,
            pause_after_hold_s=0.0,
            partner_code_validity_left_min=dt.timedelta(0),
            stopping=asyncio.Event(),
            hold_retry_s=hold_retry_s,
        )

    async with channel:
        # Without retries, the ledger being down fails the hold with an unknown outcome.
        with pytest.raises(LedgerRefused) as refused:
            await steps(0.0).hold_with_retries(_pending_redemption("r-no-retry"))
        assert refused.value.outcome_unknown

        # With them, the hold asked during the outage is placed once the ledger is back.
        holding = asyncio.ensure_future(
            steps(30.0).hold_with_retries(_pending_redemption("r-retried"))
        )
        await asyncio.sleep(1.5)
        assert not holding.done()
        await asyncio.to_thread(processes.start, "ledger")
        hold = await asyncio.wait_for(holding, 30)
        assert (hold.points, hold.status) == (500, ledger_pb2.HOLD_STATUS_HELD)

        # Asked again with its key (a later retry of the step), it is the same one hold.
        again = await steps(0.0).hold_with_retries(_pending_redemption("r-retried"))
        assert again.hold_id == hold.hold_id
    async with grpc.aio.insecure_channel(processes.endpoints["ledger"].grpc_address) as fresh:
        balance = await Ledger(fresh).balance("m1")
        assert (balance.available_points, balance.held_points) == (4_500, 500)
