"""The platform on a 3-node NATS JetStream cluster on 127.0.0.1, streams replicated 3 times: the
ledger stream's leader is SIGKILLed in the middle of a bulk ingest, and nothing is lost or doubled.

The ingest posts purchases in the ledger, whose outbox announces tier upgrades on the ledger
stream; rewards consumes them and grants tier perks, announced on the rewards stream. After the
kill every purchase is posted once, each stream holds each event of its producer's outbox once,
rewards applied each tier change once, and the killed node, restarted, catches up.
"""

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import grpc
import nats
import numpy as np
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from deploy.local.cluster import LocalCluster, free_endpoints
from deploy.local.programs import program_config
from deploy.local.servers import DATA_ROOT, PROJECT_ROOT, LocalNats, LocalNatsCluster
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, rules_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from services.shared.jetstream import (
    DEAD_LETTER_STREAM,
    HEADER_MSG_ID,
    ConsumerSpec,
    JetStream,
    PullConsumer,
    StreamSpec,
    server_urls,
)
from services.shared.server import EXIT_CONFIG_ERROR
from tests.conftest import ARTIFACTS, RUN_ID

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

PROGRAM = "acme"
# Each member buys once or twice a batch, about 100 points a purchase: members cross the silver
# threshold around the 12th batch and gold around the 27th, so tier changes (which rewards applies
# one by one, a few dozen a second on a busy machine) flow from the ledger all through the ingest,
# and the kill lands in the middle of them.
MEMBERS = 400
TRANSACTIONS = 20_000
BATCH_SIZE = 500
KILL_AFTER_BATCHES = 12
REPLICAS = 3
SERVICES = ("ledger", "campaign", "rewards")
TIERS = (("member", 0), ("silver", 1_500), ("gold", 3_500))
PERKS = {"silver": ("silver_lounge",), "gold": ("gold_lounge", "gold_gift")}
SETTLE_TIMEOUT_S = 45.0


@pytest.fixture
def nats_cluster(request: pytest.FixtureRequest) -> Iterator[LocalNatsCluster]:
    cluster = LocalNatsCluster(
        DATA_ROOT / "test-runs" / RUN_ID / f"nats-cluster-{uuid.uuid4().hex[:6]}", size=3
    )
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        logs = ARTIFACTS / "logs" / f"{request.node.name}-nats"
        logs.mkdir(parents=True, exist_ok=True)
        for node in cluster.nodes:
            with contextlib.suppress(OSError):
                shutil.copy(node.data_dir / "server.log", logs / f"{node.data_dir.name}.log")
        cluster.remove()


@pytest.fixture
async def platform(
    nats_cluster: LocalNatsCluster, database_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[LocalCluster]:
    extra_env = {f"{name.upper()}_NATS_STREAM_REPLICAS": str(REPLICAS) for name in SERVICES}
    extra_env |= {"LEDGER_JOBS_ENABLED": "false", "CAMPAIGN_RECOGNITION_ENABLED": "false"}
    running = LocalCluster(
        database_url=database_url,
        # Every node: a service whose server is killed reconnects to another.
        nats_url=nats_cluster.url,
        namespace=f"c{RUN_ID}",
        endpoints=free_endpoints(),
        log_dir=ARTIFACTS / "logs" / f"{request.node.name}-{uuid.uuid4().hex[:6]}",
        extra_env=extra_env,
    )
    try:
        await asyncio.to_thread(running.start, *SERVICES)
        yield running
    finally:
        await asyncio.to_thread(running.stop)


async def test_killing_the_stream_leader_mid_ingest_loses_and_doubles_nothing(
    nats_cluster: LocalNatsCluster, platform: LocalCluster, database_url: str
) -> None:
    ledger_stream = f"{platform.namespace}_ledger".upper()
    rewards_stream = f"{platform.namespace}_rewards".upper()
    admin = await nats.connect(nats_cluster.urls, max_reconnect_attempts=-1)
    database = await asyncpg.connect(database_url)
    try:
        js = admin.jetstream(timeout=10)
        for stream in (ledger_stream, rewards_stream):
            info = await js.stream_info(stream)
            assert info.config.num_replicas == REPLICAS, info.config

        await set_up_program(platform)
        killed, progress = await ingest_killing_the_leader(
            platform, nats_cluster, js, ledger_stream
        )
        assert killed.routes is not None
        # Every transaction was posted: none rejected, none taken for a duplicate.
        assert (progress.items_done, progress.items_posted) == (TRANSACTIONS, TRANSACTIONS)
        assert (progress.items_duplicate, progress.items_rejected) == (0, 0)

        await settled(database, js, ledger_stream)
        cluster = (await js.stream_info(ledger_stream)).cluster
        assert cluster is not None and cluster.leader not in (None, killed.routes.server_name)
        # The ledger's outbox relay was publishing when the leader died, and retried.
        ledger_log = (platform.log_dir / "ledger.log").read_text()
        assert "acknowledged after" in ledger_log or "outbox relay could not publish" in ledger_log

        # Each ingested transaction is posted exactly once, and the ledger verifies clean.
        postings = await database.fetch(
            "SELECT source_reference, count(*) AS n FROM ledger.postings "
            "WHERE program_id = $1 AND source_reference <> '' GROUP BY source_reference",
            PROGRAM,
        )
        assert {row["source_reference"] for row in postings} == {
            f"t{index}" for index in range(TRANSACTIONS)
        }
        assert {row["n"] for row in postings} == {1}
        await assert_ledger_clean(platform)

        # The ledger stream holds each event of the ledger's outbox exactly once.
        ledger_events = await outbox_events(database, "ledger")
        tier_changes = {
            e for e, subject in ledger_events.items() if subject.endswith("tier_changed")
        }
        assert len(tier_changes) > MEMBERS, "too few tier changes to exercise the consumers"
        stored = await stream_events(js, ledger_stream)
        assert Counter(stored.values()) == {1: len(ledger_events)}
        assert set(stored) == set(ledger_events)

        # Rewards applied every tier change once, and announced each perk it granted once.
        processed = await database.fetch(
            "SELECT event_id FROM rewards.processed_events WHERE consumer = 'rewards_tier_changed'"
        )
        assert {str(row["event_id"]) for row in processed} == tier_changes
        rewards_events = await outbox_events(database, "rewards")
        stored = await stream_events(js, rewards_stream)
        assert Counter(stored.values()) == {1: len(rewards_events)}
        assert set(stored) == set(rewards_events)
        # Replaying the perk events in stream order leaves every member holding exactly the perks
        # of their final tier. A tier change redelivered after a newer one is rightly ignored, so a
        # gold member may never have been granted silver's perks: the test asks for the end state.
        grants, held = await perk_events(js, rewards_stream)
        assert set(grants.values()) == {1}
        tiers = await final_tiers(database)
        expected = {
            (member, perk) for member, tier in tiers.items() for perk in PERKS.get(tier, ())
        }
        assert held == expected
        current = await database.fetch(
            "SELECT member_id, perk_code FROM rewards.member_perks "
            "WHERE program_id = $1 AND status = 1",
            PROGRAM,
        )
        assert {(row["member_id"], row["perk_code"]) for row in current} == expected

        # The killed node, restarted, catches up with the stream from its own store.
        await asyncio.to_thread(nats_cluster.restart, killed)
        leader_state = (await js.stream_info(ledger_stream)).state
        await caught_up(js, ledger_stream, killed)
        local_state = await asyncio.to_thread(node_stream_state, killed, ledger_stream)
        assert (local_state["messages"], local_state["last_seq"]) == (
            leader_state.messages,
            leader_state.last_seq,
        )
    finally:
        await database.close()
        await admin.close()


async def test_a_publish_and_a_consumer_ride_through_a_leader_election(
    nats_cluster: LocalNatsCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """The pieces the platform test stands on: JetStream.publish waits out an election and the
    new leader still knows the Nats-Msg-Ids of the old one; a PullConsumer whose consumer changes
    leader fetches on and gets every message once."""
    jetstream = await JetStream.connect(
        nats_cluster.url,
        namespace=f"e{RUN_ID}",
        client_name="test",
        # Longer than an election (about 5 s), so the publish itself rides through it.
        publish_timeout_s=20,
        stream_replicas=REPLICAS,
    )
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        await jetstream.declare_stream(StreamSpec(name="ledger"))
        await jetstream.declare_stream(DEAD_LETTER_STREAM)
        stream = jetstream.namespace.stream("ledger")
        subject = jetstream.namespace.subject("ledger.points_posted")
        seen: list[str] = []

        async def handle(message: Msg) -> None:
            seen.append((message.headers or {})[HEADER_MSG_ID])

        spec = ConsumerSpec(
            stream="ledger", durable="probe", filter_subjects=("ledger.points_posted",)
        )
        task = asyncio.create_task(PullConsumer(jetstream, spec, handle).run(stop))
        await jetstream.publish(subject, b"before", msg_id="before")
        await eventually(lambda: seen == ["before"])

        info = await jetstream.context.stream_info(stream)
        assert info.cluster is not None and info.cluster.leader
        consumer = await jetstream.context.consumer_info(stream, "probe")
        assert consumer.cluster is not None
        killed_name = info.cluster.leader
        await asyncio.to_thread(nats_cluster.node(killed_name).kill)
        with caplog.at_level("INFO", logger="services.shared.jetstream"):
            # Published at once, so it meets the election however slow the rest is.
            publishing = asyncio.create_task(jetstream.publish(subject, b"during", msg_id="during"))
            if consumer.cluster.leader != info.cluster.leader:
                # The consumer's leader lives elsewhere: make it change too.
                answer = await step_down(jetstream, stream, "probe")
                assert json.loads(answer.data).get("success") is True, answer.data
            during = await publishing
            again = await jetstream.publish(subject, b"before", msg_id="before")
        assert "publish of during acknowledged after" in caplog.text
        assert (during.duplicate, again.duplicate) == (None, True)
        await eventually(lambda: "during" in seen)
        assert seen == ["before", "during"]
        info = await jetstream.context.stream_info(stream)
        assert info.cluster is not None and info.cluster.leader != killed_name
        assert info.state.messages == 2
        moved = await jetstream.context.consumer_info(stream, "probe")
        # The consumer had an election: a new leader, or (a stepdown with the other replica still
        # catching up) the same one elected anew.
        assert moved.cluster is not None
        assert (moved.cluster.leader, moved.cluster.leader_since) != (
            consumer.cluster.leader,
            consumer.cluster.leader_since,
        )
    finally:
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 10)
        await jetstream.close()


async def test_a_stream_declared_with_more_replicas_is_scaled_up(
    nats_cluster: LocalNatsCluster,
) -> None:
    """A deployment moving from one server to a cluster: its streams get the new replica count
    when the services start with it, keeping their messages."""
    single = await JetStream.connect(nats_cluster.url, namespace=f"s{RUN_ID}", client_name="test")
    replicated = await JetStream.connect(
        nats_cluster.url, namespace=f"s{RUN_ID}", client_name="test", stream_replicas=REPLICAS
    )
    try:
        await single.declare_stream(StreamSpec(name="ledger"))
        stream = single.namespace.stream("ledger")
        await single.publish(single.namespace.subject("ledger.x"), b"kept", msg_id="kept")
        assert (await single.context.stream_info(stream)).config.num_replicas == 1
        await replicated.declare_stream(StreamSpec(name="ledger"))
        info = await replicated.context.stream_info(stream)
        assert (info.config.num_replicas, info.state.messages) == (REPLICAS, 1)
        # A spec's own count wins over the deployment's.
        await replicated.declare_stream(StreamSpec(name="ledger", replicas=1))
        assert (await replicated.context.stream_info(stream)).config.num_replicas == 1
    finally:
        await single.close()
        await replicated.close()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LEDGER_NATS_STREAM_REPLICAS", "7", "must be 1 to 5"),
        ("LEDGER_NATS_FETCH_WAIT_MS", "0", "must be 10 to 30000"),
    ],
)
def test_a_service_refuses_nats_settings_it_cannot_work_with(
    variable: str, value: str, message: str
) -> None:
    environment = {
        **os.environ,
        "LEDGER_DATABASE_URL": "postgresql://127.0.0.1:1/unused",
        "LEDGER_NATS_URL": "nats://127.0.0.1:1,nats://127.0.0.1:2",
        variable: value,
    }
    finished = subprocess.run(
        [sys.executable, "-m", "services.ledger"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == EXIT_CONFIG_ERROR
    assert f"{variable}: {message}" in finished.stderr


def test_a_nats_url_may_list_a_clusters_servers() -> None:
    assert server_urls("nats://a:4222") == ["nats://a:4222"]
    assert server_urls(" nats://a:4222, nats://b:4222 ,") == ["nats://a:4222", "nats://b:4222"]
    with pytest.raises(ValueError, match="comma-separated NATS URLs"):
        server_urls(" , ")


async def step_down(jetstream: JetStream, stream: str, consumer: str) -> Msg:
    """Ask the consumer's leader to step down, again while nobody answers: when the killed node
    led the meta group too, the API has no leader until one is elected (about 5 s, longer on a
    loaded machine: a CI run timed out a single 10 s request)."""
    subject = f"$JS.API.CONSUMER.LEADER.STEPDOWN.{stream}.{consumer}"
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        try:
            return await jetstream.client.request(subject, b"", timeout=10)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
            if asyncio.get_running_loop().time() > deadline:
                raise


async def eventually(check: Callable[[], bool], *, timeout_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        if loop.time() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(0.05)


async def set_up_program(platform: LocalCluster) -> None:
    """Tiers at 1500 and 3500 qualifying points, one point per euro, perks for silver and gold."""
    async with (
        grpc.aio.insecure_channel(platform.endpoints["ledger"].grpc_address) as ledger_channel,
        grpc.aio.insecure_channel(platform.endpoints["campaign"].grpc_address) as campaign_channel,
        grpc.aio.insecure_channel(platform.endpoints["rewards"].grpc_address) as rewards_channel,
    ):
        ledger = ledger_pb2_grpc.LedgerServiceStub(ledger_channel)
        await ledger.ConfigureProgram(
            ledger_pb2.ConfigureProgramRequest(
                program_id=PROGRAM,
                idempotency_key="configure",
                config=program_config(PROGRAM),
            )
        )
        await ledger.SetTierDefinitions(
            ledger_pb2.SetTierDefinitionsRequest(
                program_id=PROGRAM,
                idempotency_key="tiers",
                tiers=[
                    ledger_pb2.TierDefinition(
                        code=code, name=code.title(), rank=rank, threshold=threshold
                    )
                    for rank, (code, threshold) in enumerate(TIERS)
                ],
            )
        )
        campaign = campaign_pb2_grpc.CampaignServiceStub(campaign_channel)
        await campaign.CreateRule(
            campaign_pb2.CreateRuleRequest(
                program_id=PROGRAM,
                idempotency_key="create-base",
                rule=rules_pb2.Rule(
                    rule_id="base",
                    name="1 point per euro",
                    priority=10,
                    earning=rules_pb2.EarningRule(
                        rate=rules_pb2.EarnRate(points=1, per_amount_minor=100), qualifying=True
                    ),
                ),
            )
        )
        await campaign.ActivateRule(
            campaign_pb2.ActivateRuleRequest(
                program_id=PROGRAM, idempotency_key="activate-base", rule_id="base", version=1
            )
        )
        rewards = rewards_pb2_grpc.RewardsServiceStub(rewards_channel)
        for tier, codes in PERKS.items():
            await rewards.SetTierPerks(
                rewards_pb2.SetTierPerksRequest(
                    program_id=PROGRAM,
                    idempotency_key=f"perks-{tier}",
                    tier_code=tier,
                    perks=[rewards_pb2.TierPerk(perk_code=c, name=c) for c in codes],
                )
            )


def ingest_requests() -> list[campaign_pb2.IngestTransactionsRequest]:
    """Purchases of 5 to 200 euros, each member one in every MEMBERS / BATCH_SIZE batches."""
    rng = np.random.default_rng(7)
    # Within the tier window (the last 365 days), one microsecond apart.
    first_micros = int(time.time() * 1_000_000) - TRANSACTIONS
    requests = []
    for start in range(0, TRANSACTIONS, BATCH_SIZE):
        indexes = range(start, start + BATCH_SIZE)
        requests.append(
            campaign_pb2.IngestTransactionsRequest(
                program_id=PROGRAM,
                batch_id=f"b{start}",
                currency="EUR",
                transaction_ids=[f"t{i}" for i in indexes],
                member_ids=[f"m{i % MEMBERS}" for i in indexes],
                amounts_minor=rng.integers(500, 20_000, BATCH_SIZE).tolist(),
                channels=[common_pb2.CHANNEL_POS] * BATCH_SIZE,
                store_ids=["store-1"] * BATCH_SIZE,
                occurred_at_unix_micros=[first_micros + i for i in indexes],
                categories=["books"] * BATCH_SIZE,
            )
        )
    return requests


async def ingest_killing_the_leader(
    platform: LocalCluster, nats_cluster: LocalNatsCluster, js: JetStreamContext, stream: str
) -> tuple[LocalNats, campaign_pb2.IngestProgress]:
    """Stream the ingest; once KILL_AFTER_BATCHES are answered, SIGKILL the stream's leader."""
    requests = ingest_requests()

    async def feed() -> AsyncIterator[campaign_pb2.IngestTransactionsRequest]:
        for request in requests:
            yield request

    killed: LocalNats | None = None
    progress = campaign_pb2.IngestProgress()
    options = [("grpc.max_send_message_length", 64 * 2**20)]
    address = platform.endpoints["campaign"].grpc_address
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        campaign = campaign_pb2_grpc.CampaignServiceStub(channel)
        answered = 0
        async for response in campaign.IngestTransactions(feed(), timeout=120):
            answered += 1
            progress = response.progress
            if answered == KILL_AFTER_BATCHES:
                info = await js.stream_info(stream)
                assert info.cluster is not None and info.cluster.leader
                killed = nats_cluster.node(info.cluster.leader)
                await asyncio.to_thread(killed.kill)
    assert killed is not None, f"the ingest ended after {answered} batches, before the kill"
    return killed, progress


async def settled(database: asyncpg.Connection, js: JetStreamContext, stream: str) -> None:
    """Until every outbox is published and rewards has applied every tier change."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT_S
    while True:
        # Tier changes first: applying one writes perk events to the rewards outbox.
        missing = await database.fetchval(
            "SELECT count(*) FROM ledger.outbox o WHERE o.subject LIKE '%.ledger.tier_changed' "
            "AND NOT EXISTS (SELECT 1 FROM rewards.processed_events p "
            "WHERE p.consumer = 'rewards_tier_changed' AND p.event_id = o.event_id)"
        )
        backlog = await database.fetchval(
            "SELECT (SELECT count(*) FROM ledger.outbox WHERE published_at IS NULL) "
            "+ (SELECT count(*) FROM campaign.outbox WHERE published_at IS NULL) "
            "+ (SELECT count(*) FROM rewards.outbox WHERE published_at IS NULL)"
        )
        if backlog == 0 and missing == 0:
            return
        if loop.time() > deadline:
            consumer = await js.consumer_info(stream, "rewards_tier_changed")
            raise AssertionError(
                f"not settled after {SETTLE_TIMEOUT_S:.0f}s: {backlog} events unpublished, "
                f"{missing} tier changes not applied by rewards; {consumer}"
            )
        await asyncio.sleep(0.2)


async def assert_ledger_clean(platform: LocalCluster) -> None:
    async with grpc.aio.insecure_channel(platform.endpoints["ledger"].grpc_address) as channel:
        result = await ledger_pb2_grpc.LedgerServiceStub(channel).Verify(
            ledger_pb2.VerifyRequest(program_id=PROGRAM)
        )
    assert list(result.differences) == [] and result.program_sum_points == 0, result


async def outbox_events(database: asyncpg.Connection, schema: str) -> dict[str, str]:
    """Event id → subject of everything the service wrote to its outbox (all published now)."""
    rows = await database.fetch(f"SELECT event_id, subject FROM {schema}.outbox")
    return {str(row["event_id"]): row["subject"] for row in rows}


async def read_stream(js: JetStreamContext, stream: str) -> list[Msg]:
    """Every message of the stream, in order, through an ordered consumer."""
    info = await js.stream_info(stream)
    last_seq = info.state.last_seq
    assert info.config.subjects
    subscription = await js.subscribe(
        info.config.subjects[0], stream=stream, ordered_consumer=True, pending_msgs_limit=-1
    )
    messages: list[Msg] = []
    try:
        while not messages or messages[-1].metadata.sequence.stream < last_seq:
            message = await subscription.next_msg(timeout=10)
            messages.append(message)
    finally:
        await subscription.unsubscribe()
    return messages


async def stream_events(js: JetStreamContext, stream: str) -> Counter[str]:
    """How many times each Nats-Msg-Id is stored, checking it is the event's own id."""
    stored: Counter[str] = Counter()
    for message in await read_stream(js, stream):
        msg_id = (message.headers or {}).get(HEADER_MSG_ID, "")
        assert msg_id == events_pb2.Event.FromString(message.data).event_id
        stored[msg_id] += 1
    return stored


async def perk_events(
    js: JetStreamContext, stream: str
) -> tuple[Counter[tuple[str, str]], set[tuple[str, str]]]:
    """How often each (member, perk) was granted, and what the members hold after every event."""
    grants: Counter[tuple[str, str]] = Counter()
    held: set[tuple[str, str]] = set()
    for message in await read_stream(js, stream):
        event = events_pb2.Event.FromString(message.data)
        kind = event.WhichOneof("payload")
        if kind == "perk_granted":
            perk = (event.perk_granted.member_id, event.perk_granted.perk_code)
            grants[perk] += 1
            held.add(perk)
        elif kind == "perk_withdrawn":
            held.discard((event.perk_withdrawn.member_id, event.perk_withdrawn.perk_code))
    return grants, held


async def final_tiers(database: asyncpg.Connection) -> dict[str, str]:
    rows = await database.fetch(
        "SELECT member_id, tier_code FROM ledger.member_accounts WHERE program_id = $1", PROGRAM
    )
    return {row["member_id"]: row["tier_code"] for row in rows}


async def caught_up(js: JetStreamContext, stream: str, node: LocalNats) -> None:
    """Until the stream's leader reports the node as a current replica."""
    assert node.routes is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        cluster = (await js.stream_info(stream)).cluster
        assert cluster is not None
        peers = {peer.name: peer for peer in cluster.replicas or []}
        peer = peers.get(node.routes.server_name)
        if cluster.leader == node.routes.server_name or (
            peer is not None and peer.current and not peer.lag
        ):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{node.routes.server_name} did not catch up with {stream}")


def node_stream_state(node: LocalNats, stream: str) -> dict[str, int]:
    """The stream as the node itself stores it, from its monitoring endpoint."""
    url = f"http://127.0.0.1:{node.monitor_port}/jsz?accounts=true&streams=true"
    with urllib.request.urlopen(url, timeout=5) as response:
        report = json.load(response)
    for account in report.get("account_details", []):
        for detail in account.get("stream_detail", []):
            if detail["name"] == stream:
                return detail["state"]
    raise AssertionError(f"{stream} is not on {node.url}")
