"""Chaos: every service and the HTTP gateway are killed (SIGKILL) in turn and PostgreSQL crashes
once, under a mixed load of enrolments, purchases (by gRPC, and from a till through the gateway),
activities (by RPC, and from a webshop on JetStream) and redemptions.

The load behaves as real clients do (tests/support/chaos.py): each request has an idempotency key
and is sent again, unchanged, on UNAVAILABLE / DEADLINE_EXCEEDED (HTTP 503 / 504) or a lost
connection until it gets a definite answer.
Afterwards every accepted request is accounted for exactly once: one member per enrolment, one
earn posting per purchase and per activity, one commit per redemption and none for a refused one,
balances equal to what the answers added up to, each event on JetStream once, nothing dead-lettered,
every consumer caught up, and the ledger's Verify clean.

This test has PostgreSQL, NATS and the services to itself: it never touches the machine's servers.
"""

import asyncio
import collections
import contextlib
import logging
import random
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import grpc
import httpx
import nats
import nats.js.errors
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from deploy.local.cluster import GATEWAY, SERVICES, LocalCluster, free_endpoints
from deploy.local.servers import DATA_ROOT, LocalNats, LocalPostgres, free_port
from gateway.auth import POS_SCOPES
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from tests.conftest import ARTIFACTS, RUN_ID
from tests.services.campaign.support import earning, engagement, rate
from tests.services.ledger.test_programs import TIERS, program_config
from tests.support import calls
from tests.support.chaos import (
    Outcome,
    channel,
    post_until_definite,
    publish_until_acked,
    until_definite,
)

pytestmark = pytest.mark.slow
logger = logging.getLogger(__name__)

PROGRAM = "chaos"
NAMESPACE = "chaos"
SEED = 20_240_610
MEMBERS_AT_START = 12
WORKERS = 6
# How the load is mixed: operation -> weight.
MIX = {
    "enrol": 1,
    "purchase": 5,
    "activity_rpc": 3,
    "redeem": 3,
}
# The webshop publishes wishlist adds on JetStream at its own pace, whatever else is down.
WEBSHOP_EVENT_INTERVAL_S = 0.1
WARMUP_S = 2.0
DOWN_S = 0.5
BETWEEN_FAULTS_S = 0.5
# Longer than the five deliveries a consumer gives a message before dead-lettering it (~6 s).
POSTGRES_DOWN_S = 7.0
AFTER_FAULTS_S = 2.0
SETTLE_TIMEOUT_S = 60.0
# The rules: purchases earn 1 point per 0.10 EUR (qualifying, so tiers change during the load);
# a store check-in (by RPC) 40 points, a wishlist add (on JetStream) 30; a voucher costs 250.
CHECK_IN_POINTS = 40
WISHLIST_POINTS = 30
VOUCHER = "voucher"
VOUCHER_POINTS = 250
EARN = common_pb2.POSTING_KIND_EARN
HOLD_COMMIT = common_pb2.POSTING_KIND_HOLD_COMMIT
HOLD_OPEN, HOLD_COMMITTED, HOLD_VOIDED = 1, 2, 3
# The refusals a redemption may end with besides OK (each checked to have spent nothing): not
# enough points, a redemption voided because the ledger failed under it, or a member so new that
# the ledger has no account for them yet.
REDEEM_REFUSALS = {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND}
# Extra settings: redemptions left by a killed rewards process are taken over within seconds.
EXTRA_ENV = {
    "REWARDS_REDEMPTION_LEASE_MS": "6000",
    "REWARDS_RECOVERY_INTERVAL_MS": "1000",
}


@dataclass
class Platform:
    postgres: LocalPostgres
    nats: LocalNats
    cluster: LocalCluster
    events: list[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        self.events.append(f"{time.strftime('%H:%M:%S')} {what}")
        logger.warning("chaos: %s", what)


@pytest.fixture
async def platform(request: pytest.FixtureRequest) -> AsyncIterator[Platform]:
    run_dir = DATA_ROOT / "test-runs" / RUN_ID / f"chaos-{uuid.uuid4().hex[:6]}"
    postgres = LocalPostgres(run_dir / "postgres", port=free_port())
    local_nats = LocalNats(run_dir / "nats", port=free_port())
    cluster: LocalCluster | None = None
    log_dir = ARTIFACTS / "logs" / f"{request.node.name}-{uuid.uuid4().hex[:6]}"
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        database_url = await asyncio.to_thread(postgres.start)
        nats_url = await asyncio.to_thread(local_nats.start)
        cluster = LocalCluster(
            database_url=database_url,
            nats_url=nats_url,
            namespace=NAMESPACE,
            endpoints=free_endpoints(),
            log_dir=log_dir,
            extra_env=EXTRA_ENV,
        )
        await asyncio.to_thread(cluster.start)
        await asyncio.to_thread(cluster.start_gateway)
        yield Platform(postgres, local_nats, cluster)
    finally:
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)
        await asyncio.to_thread(local_nats.stop)
        await asyncio.to_thread(postgres.stop)
        # Keep the servers' own logs beside the services' ones.
        for server, name in ((postgres, "postgres"), (local_nats, "nats")):
            with contextlib.suppress(OSError):
                shutil.copy(server.data_dir / "server.log", log_dir / f"{name}.log")
        local_nats.remove()
        postgres.remove()


class Stubs:
    def __init__(self, cluster: LocalCluster) -> None:
        addresses = {name: e.grpc_address for name, e in cluster.endpoints.items()}
        self.channels = [channel(addresses[name]) for name in SERVICES]
        identity, ledger, campaign, rewards = self.channels
        self.identity = identity_pb2_grpc.IdentityServiceStub(identity)
        self.ledger = ledger_pb2_grpc.LedgerServiceStub(ledger)
        self.campaign = campaign_pb2_grpc.CampaignServiceStub(campaign)
        self.rewards = rewards_pb2_grpc.RewardsServiceStub(rewards)
        self.identity_channel = identity

    async def close(self) -> None:
        for open_channel in self.channels:
            await open_channel.close()


async def set_up_program(stubs: Stubs) -> str:
    """The program in every service; returns the secret of an API key for the tills."""
    await calls.create_program(stubs.identity_channel, PROGRAM)
    await stubs.ledger.ConfigureProgram(
        ledger_pb2.ConfigureProgramRequest(
            program_id=PROGRAM,
            idempotency_key="configure",
            # No return window: points vest at once, so they can be redeemed during the load.
            config=program_config(
                PROGRAM, return_window_days=0, rounding_mode=common_pb2.ROUNDING_MODE_FLOOR
            ),
        )
    )
    await stubs.ledger.SetTierDefinitions(
        ledger_pb2.SetTierDefinitionsRequest(
            program_id=PROGRAM, idempotency_key="tiers", tiers=TIERS
        )
    )
    rules = [
        earning("base", rate=rate(points=1, per_amount_minor=10), qualifying=True),
        engagement(
            "check-in",
            activity_kind=common_pb2.ACTIVITY_KIND_STORE_CHECK_IN,
            points=CHECK_IN_POINTS,
        ),
        engagement(
            "wishlist", activity_kind=common_pb2.ACTIVITY_KIND_WISHLIST_ADD, points=WISHLIST_POINTS
        ),
    ]
    for rule in rules:
        await stubs.campaign.CreateRule(
            campaign_pb2.CreateRuleRequest(
                program_id=PROGRAM, idempotency_key=f"create-{rule.rule_id}", rule=rule
            )
        )
        await stubs.campaign.ActivateRule(
            campaign_pb2.ActivateRuleRequest(
                program_id=PROGRAM,
                idempotency_key=f"activate-{rule.rule_id}",
                rule_id=rule.rule_id,
                version=1,
            )
        )
    await stubs.rewards.CreateReward(
        rewards_pb2.CreateRewardRequest(
            program_id=PROGRAM,
            idempotency_key="reward-voucher",
            reward=rewards_pb2.Reward(
                reward_id=VOUCHER,
                name="EUR 2.50 voucher",
                kind=common_pb2.REWARD_KIND_VOUCHER,
                points_price=VOUCHER_POINTS,
                discount=rewards_pb2.Discount(
                    fixed_amount=common_pb2.Money(amount_minor=250, currency="EUR")
                ),
                stock=rewards_pb2.Stock(unlimited=True),
                status=rewards_pb2.REWARD_STATUS_ACTIVE,
            ),
        )
    )
    created = await stubs.identity.CreateApiKey(
        identity_pb2.CreateApiKeyRequest(
            program_id=PROGRAM,
            idempotency_key="till-key",
            name="Tills",
            scopes=list(POS_SCOPES),
            requests_per_minute_max=60_000,
        )
    )
    return created.secret


def now_timestamp() -> Timestamp:
    stamp = Timestamp()
    # Whole microseconds: the request is sent again byte for byte, so its hash is the same.
    stamp.FromMicroseconds(int(time.time() * 1_000_000))
    return stamp


class Load:
    """Clients sending a seeded mix of requests until told to stop; every request is recorded."""

    def __init__(self, stubs: Stubs, jetstream, seed: int) -> None:  # type: ignore[no-untyped-def]
        self.stubs = stubs
        self.jetstream = jetstream
        self.seed = seed
        self.gateway_url = ""
        self.api_key = ""
        self.outcomes: list[Outcome] = []
        self.members: list[str] = []

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(
            self._webshop(stop),
            self._till(stop),
            *(self._worker(index, stop) for index in range(WORKERS)),
        )

    async def _till(self, stop: asyncio.Event) -> None:
        """A till posting purchases through the HTTP gateway."""
        rng = random.Random(self.seed * 1_000 - 2)
        count = 0
        async with httpx.AsyncClient(
            base_url=self.gateway_url, headers={"X-Api-Key": self.api_key}
        ) as client:
            while not stop.is_set():
                await self.purchase_http(client, rng, f"till-{count}")
                count += 1

    async def purchase_http(
        self, client: httpx.AsyncClient, rng: random.Random, tag: str
    ) -> Outcome:
        member = rng.choice(self.members)
        body = {
            "member_id": member,
            "transaction_id": f"tx-{tag}",
            "amount": {"amount_minor": rng.randrange(100, 5_000), "currency": "EUR"},
            "channel": "pos",
            "store_id": "store-2",
            "occurred_at": now_timestamp().ToJsonString(),
        }
        outcome = Outcome("purchase_http", body["transaction_id"], member)  # type: ignore[arg-type]
        self.outcomes.append(outcome)
        return await post_until_definite(
            outcome, client, f"/v1/programs/{PROGRAM}/purchases", body, rng
        )

    async def _webshop(self, stop: asyncio.Event) -> None:
        rng = random.Random(self.seed * 1_000 - 1)
        count = 0
        while not stop.is_set():
            await self.activity_event(rng, f"web-{count}")
            count += 1
            await asyncio.sleep(WEBSHOP_EVENT_INTERVAL_S)

    async def _worker(self, index: int, stop: asyncio.Event) -> None:
        rng = random.Random(self.seed * 1_000 + index)
        operations, weights = zip(*MIX.items(), strict=True)
        count = 0
        while not stop.is_set():
            operation = rng.choices(operations, weights)[0]
            tag = f"w{index}-{count}"
            count += 1
            await getattr(self, operation)(rng, tag)

    async def enrol(self, rng: random.Random, tag: str) -> Outcome:
        request = identity_pb2.EnrollMemberRequest(
            program_id=PROGRAM,
            idempotency_key=f"enrol-{tag}",
            channel=common_pb2.CHANNEL_APP,
            profile=identity_pb2.Profile(given_name=tag),
            identifiers=[
                identity_pb2.Identifier(
                    kind=common_pb2.IDENTIFIER_KIND_EMAIL, value=f"{tag}@chaos.example"
                )
            ],
        )
        outcome = Outcome("enrol", request.idempotency_key, "")
        self.outcomes.append(outcome)
        await until_definite(
            outcome, lambda t: self.stubs.identity.EnrollMember(request, timeout=t), rng
        )
        if outcome.accepted:
            assert isinstance(outcome.response, identity_pb2.EnrollMemberResponse)
            outcome.member_id = outcome.response.member.member_id
            self.members.append(outcome.member_id)
        return outcome

    async def purchase(self, rng: random.Random, tag: str) -> Outcome:
        member = rng.choice(self.members)
        request = campaign_pb2.RecordPurchaseRequest(
            program_id=PROGRAM,
            idempotency_key=f"tx-{tag}",
            member_id=member,
            transaction_id=f"tx-{tag}",
            amount=common_pb2.Money(amount_minor=rng.randrange(100, 5_000), currency="EUR"),
            channel=common_pb2.CHANNEL_POS,
            store_id="store-1",
            occurred_at=now_timestamp(),
        )
        outcome = Outcome("purchase", request.transaction_id, member)
        self.outcomes.append(outcome)
        return await until_definite(
            outcome, lambda t: self.stubs.campaign.RecordPurchase(request, timeout=t), rng
        )

    async def activity_rpc(self, rng: random.Random, tag: str) -> Outcome:
        member = rng.choice(self.members)
        request = campaign_pb2.RecordActivityRequest(
            program_id=PROGRAM,
            idempotency_key=f"act-{tag}",
            activity=engagement_pb2.Activity(
                activity_id=f"act-{tag}",
                member_id=member,
                kind=common_pb2.ACTIVITY_KIND_STORE_CHECK_IN,
                channel=common_pb2.CHANNEL_APP,
                store_id="store-1",
                occurred_at=now_timestamp(),
            ),
        )
        outcome = Outcome("activity_rpc", request.activity.activity_id, member)
        self.outcomes.append(outcome)
        return await until_definite(
            outcome, lambda t: self.stubs.campaign.RecordActivity(request, timeout=t), rng
        )

    async def activity_event(self, rng: random.Random, tag: str) -> Outcome:
        member = rng.choice(self.members)
        event = events_pb2.Event(
            event_id=str(uuid.UUID(int=rng.getrandbits(128))),
            program_id=PROGRAM,
            producer="chaos-webshop",
            activity_recorded=events_pb2.ActivityRecorded(
                activity_id=f"wish-{tag}",
                member_id=member,
                kind=common_pb2.ACTIVITY_KIND_WISHLIST_ADD,
                channel=common_pb2.CHANNEL_WEBSHOP,
                sku=f"sku-{rng.randrange(100)}",
                occurred_at=now_timestamp(),
            ),
        )
        event.occurred_at.CopyFrom(event.activity_recorded.occurred_at)
        outcome = Outcome("activity_event", event.event_id, member)
        outcome.reason = event.activity_recorded.activity_id
        self.outcomes.append(outcome)
        return await publish_until_acked(
            outcome,
            self.jetstream,
            f"{NAMESPACE}.activity.wishlist_add",
            event.SerializeToString(),
            rng,
        )

    async def redeem(self, rng: random.Random, tag: str) -> Outcome:
        member = rng.choice(self.members)
        request = rewards_pb2.RedeemRequest(
            program_id=PROGRAM,
            idempotency_key=f"redeem-{tag}",
            member_id=member,
            reward_id=VOUCHER,
            quantity=1,
            channel=common_pb2.CHANNEL_APP,
        )
        outcome = Outcome("redeem", request.idempotency_key, member)
        self.outcomes.append(outcome)
        return await until_definite(
            outcome, lambda t: self.stubs.rewards.Redeem(request, timeout=t), rng
        )


async def chaos(platform: Platform) -> None:
    """Kill each service in turn and restart it on its ports; then crash PostgreSQL once."""
    cluster = platform.cluster
    await asyncio.sleep(WARMUP_S)
    for name in SERVICES:
        cluster.signal(name, signal.SIGKILL)
        await asyncio.to_thread(cluster.wait, name)
        platform.note(f"killed {name}")
        await asyncio.sleep(DOWN_S)
        await asyncio.to_thread(cluster.start, name)
        platform.note(f"restarted {name}")
        await asyncio.sleep(BETWEEN_FAULTS_S)
    cluster.signal(GATEWAY, signal.SIGKILL)
    await asyncio.to_thread(cluster.wait, GATEWAY)
    platform.note("killed the gateway")
    await asyncio.sleep(DOWN_S)
    await asyncio.to_thread(cluster.start_gateway)
    platform.note("restarted the gateway")
    await asyncio.sleep(BETWEEN_FAULTS_S)
    await asyncio.to_thread(platform.postgres.stop, mode="immediate")
    platform.note("PostgreSQL crashed (pg_ctl stop -m immediate)")
    await asyncio.sleep(POSTGRES_DOWN_S)
    await asyncio.to_thread(platform.postgres.start)
    platform.note("PostgreSQL restarted")
    await asyncio.sleep(AFTER_FAULTS_S)


SCHEMAS = ("identity", "ledger", "campaign", "rewards")


async def settled(database: asyncpg.Connection, jetstream) -> list[str]:  # type: ignore[no-untyped-def]
    """What is still moving: unpublished outbox rows, consumers behind, redemptions unfinished."""
    moving = []
    for schema in SCHEMAS:
        backlog = await database.fetchval(
            f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"
        )
        if backlog:
            moving.append(f"{schema} outbox: {backlog} unpublished")
    for stream in await jetstream.streams_info():
        for consumer in await jetstream.consumers_info(stream.config.name):
            if consumer.num_pending or consumer.num_ack_pending:
                moving.append(
                    f"consumer {consumer.name}: {consumer.num_pending} pending, "
                    f"{consumer.num_ack_pending} unacknowledged"
                )
    unfinished = await database.fetchval(
        "SELECT count(*) FROM rewards.redemptions WHERE step NOT IN ('committed', 'voided', 'cancelled')"
    )
    if unfinished:
        moving.append(f"{unfinished} redemptions unfinished")
    return moving


async def wait_settled(platform: Platform, jetstream) -> list[str]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    reported = 0.0
    while True:
        database = await asyncpg.connect(platform.postgres.dsn)
        try:
            moving = await settled(database, jetstream)
        finally:
            await database.close()
        if not moving or time.monotonic() > deadline:
            return moving
        if time.monotonic() - reported > 5:
            platform.note(f"settling: {moving}")
            reported = time.monotonic()
        await asyncio.sleep(0.5)


async def test_kill_each_service_and_crash_postgres_under_load_accounts_for_every_request(
    platform: Platform,
) -> None:
    cluster = platform.cluster
    stubs = Stubs(cluster)
    client = await nats.connect(platform.nats.url)
    jetstream = client.jetstream()
    load = Load(stubs, jetstream, SEED)
    try:
        platform.note("platform up")
        load.api_key = await set_up_program(stubs)
        load.gateway_url = cluster.gateway.url
        await asyncio.gather(*(seed_member(load, index) for index in range(MEMBERS_AT_START)))
        platform.note("program and members set up")

        stop = asyncio.Event()
        running = asyncio.create_task(load.run(stop))
        started = time.monotonic()
        await chaos(platform)
        stop.set()
        await running
        platform.note(f"load stopped after {time.monotonic() - started:.1f}s")
        moving = await wait_settled(platform, jetstream)
        platform.note("settled" if not moving else f"not settled: {moving}")

        problems = await account_for(load.outcomes, platform, jetstream, stubs)
        platform.note("accounted for")
        problems += moving
        problems += [
            f"{name} is not running after the test (exit code {process.returncode})"
            for name, process in cluster.processes.items()
            if process.poll() is not None
        ]
    finally:
        await client.close()
        await stubs.close()
    summary = summarize(load.outcomes)
    print("\n".join([*platform.events, summary]))
    assert not problems, "\n".join([summary, *problems[:60]])


async def seed_member(load: Load, index: int) -> None:
    rng = random.Random(SEED + index)
    seeded = await load.enrol(rng, f"s{index}")
    assert seeded.accepted, seeded
    # A few points to start with, so redemptions can succeed from the start.
    for round_ in range(4):
        await load.activity_rpc(rng, f"s{index}-{round_}")


def summarize(outcomes: list[Outcome]) -> str:
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    retried = 0
    for outcome in outcomes:
        code = outcome.code.name if outcome.code else "NONE"
        by_kind[outcome.kind][f"{code}{'/' + outcome.reason if not outcome.accepted else ''}"] += 1
        retried += bool(outcome.retried_codes)
    parts = [f"{kind}: {dict(counts)}" for kind, counts in sorted(by_kind.items())]
    slowest = max((o.elapsed_s for o in outcomes), default=0.0)
    return (
        f"{len(outcomes)} requests, {retried} retried after a fault, the slowest answered "
        f"after {slowest:.1f}s; " + "; ".join(parts)
    )


async def account_for(
    outcomes: list[Outcome], platform: Platform, jetstream, stubs: Stubs
) -> list[str]:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    # Every request got a definite answer, and only the answers the load can expect.
    for outcome in outcomes:
        if outcome.accepted:
            continue
        if outcome.kind == "redeem" and outcome.code in REDEEM_REFUSALS:
            continue
        problems.append(
            f"{outcome.kind} {outcome.key}: final answer {outcome.code} {outcome.reason} "
            f"after {outcome.attempts} attempts ({outcome.retried_codes[-3:]})"
        )
    if not any(o.retried_codes for o in outcomes):
        problems.append("no request met a fault: the chaos did not hit the load")

    database = await asyncpg.connect(platform.postgres.dsn)
    try:
        problems += await _identity(database, outcomes)
        problems += await _postings(database, outcomes)
        problems += await _redemptions(database, outcomes)
        problems += await _balances(database, outcomes)
        problems += await _consumers(database, outcomes)
        problems += await _streams(database, jetstream, outcomes)
    finally:
        await database.close()
    verified = await stubs.ledger.Verify(ledger_pb2.VerifyRequest(program_id=PROGRAM), timeout=30)
    if verified.differences_count or verified.program_sum_points:
        problems.append(f"ledger verify: {verified}")
    if verified.accounts_checked_count < len(accepted(outcomes, "enrol")):
        problems.append(f"ledger verify checked only {verified.accounts_checked_count} accounts")
    return problems


def accepted(outcomes: list[Outcome], kind: str) -> list[Outcome]:
    return [o for o in outcomes if o.kind == kind and o.accepted]


async def _identity(database: asyncpg.Connection, outcomes: list[Outcome]) -> list[str]:
    stored = collections.Counter(
        r["given_name"]
        for r in await database.fetch(
            "SELECT given_name FROM identity.members WHERE program_id = $1", PROGRAM
        )
    )
    enrolled = {o.key.removeprefix("enrol-") for o in accepted(outcomes, "enrol")}
    problems = [f"enrolment {tag}: {stored[tag]} members" for tag in enrolled if stored[tag] != 1]
    problems += [f"member {tag} was never accepted" for tag in set(stored) - enrolled]
    return problems


def expected_earns(outcomes: list[Outcome]) -> dict[tuple[str, str], int]:
    """(member, source reference) -> points, for every accepted purchase and activity."""
    earns = {}
    for outcome in accepted(outcomes, "purchase"):
        assert isinstance(outcome.response, campaign_pb2.RecordPurchaseResponse)
        if outcome.response.accrual.points:
            earns[(outcome.member_id, outcome.key)] = outcome.response.accrual.points
    for outcome in accepted(outcomes, "purchase_http"):
        assert outcome.document is not None
        if outcome.document["points"]:
            earns[(outcome.member_id, outcome.key)] = outcome.document["points"]
    for outcome in accepted(outcomes, "activity_rpc"):
        assert isinstance(outcome.response, campaign_pb2.RecordActivityResponse)
        earns[(outcome.member_id, outcome.key)] = outcome.response.activity.points
    for outcome in accepted(outcomes, "activity_event"):
        # The rule gives every wishlist add its points (no caps, no verification).
        earns[(outcome.member_id, outcome.reason)] = WISHLIST_POINTS
    return earns


async def _postings(database: asyncpg.Connection, outcomes: list[Outcome]) -> list[str]:
    rows = await database.fetch(
        "SELECT member_id, kind, amount, source_reference FROM ledger.postings "
        "WHERE program_id = $1 AND kind = $2",
        PROGRAM,
        EARN,
    )
    posted: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    for row in rows:
        posted[(row["member_id"], row["source_reference"])].append(row["amount"])
    expected = expected_earns(outcomes)
    problems = []
    for key, points in expected.items():
        if posted.get(key) != [points]:
            problems.append(
                f"earn {key}: expected one posting of {points}, found {posted.get(key)}"
            )
    for key in set(posted) - set(expected):
        problems.append(f"earn {key}: posted {posted[key]} for no accepted request")
    for outcome in accepted(outcomes, "activity_rpc"):
        assert isinstance(outcome.response, campaign_pb2.RecordActivityResponse)
        if outcome.response.activity.outcome != engagement_pb2.ACTIVITY_OUTCOME_REWARDED:
            problems.append(f"activity {outcome.key}: {outcome.response.activity.outcome}")
    other = await database.fetch(
        "SELECT kind, count(*) FROM ledger.postings WHERE program_id = $1 AND kind NOT IN ($2, $3) "
        "GROUP BY kind",
        PROGRAM,
        EARN,
        HOLD_COMMIT,
    )
    problems += [f"{row['count']} unexpected postings of kind {row['kind']}" for row in other]
    return problems


async def _redemptions(database: asyncpg.Connection, outcomes: list[Outcome]) -> list[str]:
    """An accepted redemption has its hold committed once, with one commit posting of its price;
    a refused one spent nothing (its hold, if any, voided)."""
    redemptions = {
        r["idempotency_key"]: r
        for r in await database.fetch(
            "SELECT idempotency_key, redemption_id, member_id, step, status, hold_id "
            "FROM rewards.redemptions WHERE program_id = $1",
            PROGRAM,
        )
    }
    holds = collections.defaultdict(list)
    for row in await database.fetch(
        "SELECT reference, hold_id, status, amount FROM ledger.holds WHERE program_id = $1",
        PROGRAM,
    ):
        holds[row["reference"]].append(row)
    commits = collections.defaultdict(list)
    for row in await database.fetch(
        "SELECT hold_id, amount FROM ledger.postings WHERE program_id = $1 AND kind = $2",
        PROGRAM,
        HOLD_COMMIT,
    ):
        commits[row["hold_id"]].append(row["amount"])
    problems = []
    accounted_holds = set()
    for outcome in (o for o in outcomes if o.kind == "redeem"):
        stored = redemptions.get(outcome.key)
        if stored is None:
            if outcome.accepted:
                problems.append(f"redemption {outcome.key} accepted but not stored")
            continue
        its_holds = holds.get(stored["redemption_id"], [])
        accounted_holds.update(h["hold_id"] for h in its_holds)
        committed = [h for h in its_holds if h["status"] == HOLD_COMMITTED]
        spent = [amount for h in its_holds for amount in commits.get(h["hold_id"], [])]
        if outcome.accepted:
            assert isinstance(outcome.response, rewards_pb2.RedeemResponse)
            if outcome.response.redemption.status != rewards_pb2.REDEMPTION_STATUS_COMPLETED:
                problems.append(f"redemption {outcome.key}: answered {outcome.response}")
            if stored["step"] != "committed" or len(committed) != 1 or spent != [-VOUCHER_POINTS]:
                problems.append(
                    f"redemption {outcome.key} accepted: step {stored['step']}, "
                    f"holds {[dict(h) for h in its_holds]}, commits {spent}"
                )
        elif committed or spent or stored["step"] != "voided":
            problems.append(
                f"redemption {outcome.key} refused ({outcome.reason}) but step {stored['step']}, "
                f"holds {[dict(h) for h in its_holds]}, commits {spent}"
            )
        if any(h["status"] == HOLD_OPEN for h in its_holds):
            problems.append(f"redemption {outcome.key} left a hold open")
    stray = [r for ref, rows in holds.items() for r in rows if r["hold_id"] not in accounted_holds]
    problems += [f"hold {dict(r)} belongs to no redemption request" for r in stray]
    return problems


async def _balances(database: asyncpg.Connection, outcomes: list[Outcome]) -> list[str]:
    expected: collections.Counter[str] = collections.Counter()
    for (member, _), points in expected_earns(outcomes).items():
        expected[member] += points
    for outcome in accepted(outcomes, "redeem"):
        expected[outcome.member_id] -= VOUCHER_POINTS
    stored = {
        r["member_id"]: r["balance"]
        for r in await database.fetch(
            "SELECT member_id, vested + pending + held - debt AS balance "
            "FROM ledger.member_accounts WHERE program_id = $1",
            PROGRAM,
        )
    }
    members = {o.member_id for o in accepted(outcomes, "enrol")}
    return [
        f"balance of {member}: {stored.get(member)}, the answers add up to {expected[member]}"
        for member in sorted(members | set(stored))
        if stored.get(member, 0) != expected[member]
    ]


async def _consumers(database: asyncpg.Connection, outcomes: list[Outcome]) -> list[str]:
    """What campaign and the ledger consumed: every enrolled member (member_enrolled), each
    wishlist add once (activity.*), each member's tier as the ledger has it (tier_changed)."""
    problems = []
    members = {o.member_id for o in accepted(outcomes, "enrol")}
    campaign_members = {
        r["member_id"]: r["tier_code"]
        for r in await database.fetch(
            "SELECT member_id, tier_code FROM campaign.members WHERE program_id = $1", PROGRAM
        )
    }
    problems += [f"campaign never heard of member {m}" for m in members - set(campaign_members)]
    ledger_tiers = {
        r["member_id"]: r["tier_code"]
        for r in await database.fetch(
            "SELECT member_id, tier_code FROM ledger.member_accounts WHERE program_id = $1",
            PROGRAM,
        )
    }
    problems += [
        f"member {m}: tier {ledger_tiers.get(m)} in the ledger, {campaign_members.get(m)!r} in campaign"
        for m in members
        if (campaign_members.get(m) or "member") != ledger_tiers.get(m, "member")
    ]
    recorded = collections.Counter(
        r["activity_id"]
        for r in await database.fetch(
            "SELECT activity_id FROM campaign.activities WHERE program_id = $1 AND outcome = $2",
            PROGRAM,
            engagement_pb2.ACTIVITY_OUTCOME_REWARDED,
        )
    )
    for outcome in accepted(outcomes, "activity_event"):
        if recorded[outcome.reason] != 1:
            problems.append(f"wishlist add {outcome.reason}: recorded {recorded[outcome.reason]}x")
    return problems


async def _streams(database: asyncpg.Connection, jetstream, outcomes: list[Outcome]) -> list[str]:  # type: ignore[no-untyped-def]
    """Each event once on its stream (the outbox rows of each service, the accepted publishes of
    the webshop) and nothing dead-lettered."""
    problems = []
    expected = {
        schema: await database.fetchval(f"SELECT count(*) FROM {schema}.outbox")
        for schema in SCHEMAS
    }
    expected["activity"] = len(accepted(outcomes, "activity_event"))
    expected["dead_letter"] = 0
    for name, count in expected.items():
        try:
            info = await jetstream.stream_info(f"{NAMESPACE}_{name}".upper())
        except nats.js.errors.NotFoundError:
            if count:
                problems.append(f"stream {name} missing, expected {count} messages")
            continue
        if info.state.messages != count:
            problems.append(f"stream {name}: {info.state.messages} messages, expected {count}")
    return problems
