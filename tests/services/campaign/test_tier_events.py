"""The member's tier campaign keeps (for tier conditions and multipliers) follows the ledger's,
whatever order the TierChanged events arrive in: after a consumer crash JetStream redelivers the
messages it held once their ack wait passes, after later ones were handled."""

import asyncio
import datetime as dt
import uuid
from types import SimpleNamespace

import asyncpg
import grpc
import nats
import pytest

from loyalty.campaign.v1 import rules_pb2
from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from services.campaign.consumers import TierHandler
from services.campaign.events import MEMBER_CONSUMER, SEGMENT_FACTS_CONSUMERS, TIER_CONSUMER
from services.campaign.ledger_client import LedgerClient
from tests.services.campaign.support import PROGRAM, earning, ledger_and_campaign, rate
from tests.services.ledger.test_programs import TIERS
from tests.support.streams import consumed

MEMBER = "m-tiers"


@pytest.fixture
async def services(start_service):  # type: ignore[no-untyped-def]
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        yield ledger, campaign


async def campaign_tier(database_url: str) -> str | None:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetchval(  # type: ignore[no-any-return]
            "SELECT tier_code FROM campaign.members WHERE program_id = $1 AND member_id = $2",
            PROGRAM,
            MEMBER,
        )
    finally:
        await connection.close()


async def test_a_late_redelivered_tier_change_leaves_the_current_tier(
    services, servers, nats_namespace: str, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    ledger, _ = services
    await ledger.earn(MEMBER, 6_000, qualifying=True)  # straight to gold (from 5000)
    client = await nats.connect(servers.nats_url)
    try:
        for _ in range(600):
            if await campaign_tier(database_url) == "gold":
                break
            await asyncio.sleep(0.05)
        assert await campaign_tier(database_url) == "gold"

        # An earlier change (member -> silver) that a crashed consumer held comes back now.
        stale = events_pb2.Event(
            event_id=str(uuid.uuid4()),
            program_id=PROGRAM,
            producer="ledger",
            tier_changed=events_pb2.TierChanged(
                member_id=MEMBER, from_tier_code="member", to_tier_code="silver"
            ),
        )
        stale.occurred_at.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        await client.jetstream().publish(
            f"{nats_namespace}.ledger.tier_changed",
            stale.SerializeToString(),
            headers={"Nats-Msg-Id": stale.event_id},
        )
        # Both consumers of tier changes write the tier: the tier consumer and the segments'.
        await consumed(servers, nats_namespace, "ledger", TIER_CONSUMER.durable)
        for spec in SEGMENT_FACTS_CONSUMERS:
            if "ledger.tier_changed" in spec.filter_subjects:
                await consumed(servers, nats_namespace, "ledger", spec.durable)
    finally:
        await client.close()
    assert await campaign_tier(database_url) == "gold"


async def tier_of(database_url: str, member: str) -> str | None:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetchval(  # type: ignore[no-any-return]
            "SELECT tier_code FROM campaign.members WHERE program_id = $1 AND member_id = $2",
            PROGRAM,
            member,
        )
    finally:
        await connection.close()


async def enrol(client: nats.NATS, namespace: str, member: str, entry_tier_code: str) -> None:
    """Identity's MemberEnrolled, naming the entry tier identity's program has."""
    enrolled = events_pb2.Event(
        event_id=str(uuid.uuid4()),
        program_id=PROGRAM,
        producer="identity",
        member_enrolled=events_pb2.MemberEnrolled(
            member_id=member, entry_tier_code=entry_tier_code
        ),
    )
    enrolled.occurred_at.GetCurrentTime()
    await client.jetstream().publish(
        f"{namespace}.identity.member_enrolled",
        enrolled.SerializeToString(),
        headers={"Nats-Msg-Id": str(uuid.uuid4())},
    )


async def test_a_member_enrolled_under_a_renamed_entry_tier_gets_the_ledger_s_tier(
    services, servers, nats_namespace: str, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    ledger, _ = services
    blue = ledger_pb2.TierDefinition(code="blue", name="Blue", rank=0, threshold=0)
    await ledger.stub.SetTierDefinitions(
        ledger_pb2.SetTierDefinitionsRequest(
            program_id=PROGRAM,
            idempotency_key="rename-entry",
            tiers=[blue, *TIERS[1:]],
            tier_code_mappings=[
                ledger_pb2.TierCodeMapping(from_tier_code="member", to_tier_code="blue")
            ],
        )
    )
    # One member new to the ledger, one whose account an earn opened first (in blue, silently).
    await ledger.earn("early", 10)
    client = await nats.connect(servers.nats_url)
    try:
        for member in ("newbie", "early"):
            await enrol(client, nats_namespace, member, "member")  # identity's stale entry tier
        for _ in range(600):
            tiers = [await tier_of(database_url, m) for m in ("newbie", "early")]
            if tiers == ["blue", "blue"]:
                break
            await asyncio.sleep(0.05)
        assert tiers == ["blue", "blue"]
        # The enrolment delivered again after the ledger's correction leaves the real tier.
        await enrol(client, nats_namespace, "newbie", "member")
        await consumed(servers, nats_namespace, "ledger", TIER_CONSUMER.durable)
        await consumed(servers, nats_namespace, "identity", MEMBER_CONSUMER.durable)
    finally:
        await client.close()
    assert await tier_of(database_url, "newbie") == "blue"


async def test_a_rule_naming_a_tier_the_ledger_no_longer_defines_is_refused(services) -> None:  # type: ignore[no-untyped-def]
    ledger, campaign = services
    blue = ledger_pb2.TierDefinition(code="blue", name="Blue", rank=0, threshold=0)
    await ledger.stub.SetTierDefinitions(
        ledger_pb2.SetTierDefinitionsRequest(
            program_id=PROGRAM,
            idempotency_key="rename-entry",
            tiers=[blue, *TIERS[1:]],
            tier_code_mappings=[
                ledger_pb2.TierCodeMapping(from_tier_code="member", to_tier_code="blue")
            ],
        )
    )
    stale = earning(
        "welcome",
        rate=rate(),
        tier_codes=["gold", "member"],
        multipliers=[rules_pb2.Multiplier(tier_code="member", multiplier_bps=20_000)],
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await campaign.live(stale)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("rule.earning.tier_codes[1]:"), error.value.details()
    assert "'member'" in error.value.details()
    del stale.earning.tier_codes[1]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await campaign.live(stale)
    assert error.value.details().startswith("rule.earning.multipliers[0].tier_code:")
    stale.earning.multipliers[0].tier_code = "blue"
    assert (await campaign.live(stale)).earning.multipliers[0].tier_code == "blue"


async def test_a_tier_change_the_segments_consumer_handles_late_leaves_the_current_tier(
    services, servers, nats_namespace: str, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    # Two consumers take the tier changes: the tier consumer and the segments' (for their
    # re-evaluation), each at its own pace. The segments' one is held back here behind a message
    # it waits on (a member's row another transaction holds), as a crash or a backlog holds it
    # back, while the tier consumer handles the late change and moves on.
    ledger, _ = services
    await ledger.earn(MEMBER, 6_000, qualifying=True)  # straight to gold (from 5000)
    client = await nats.connect(servers.nats_url)
    holder = await asyncpg.connect(database_url)
    try:
        for _ in range(600):
            if await campaign_tier(database_url) == "gold":
                break
            await asyncio.sleep(0.05)
        assert await campaign_tier(database_url) == "gold"
        await holder.execute(
            "INSERT INTO campaign.members (program_id, member_id) VALUES ($1, 'held') "
            "ON CONFLICT DO NOTHING",
            PROGRAM,
        )
        holding = holder.transaction()
        await holding.start()
        await holder.execute(
            "SELECT 1 FROM campaign.members WHERE program_id = $1 AND member_id = 'held' "
            "FOR UPDATE",
            PROGRAM,
        )
        # Only the segments' consumer writes a member_enrolled it is given (the tier consumer
        # skips what is not a tier change): it waits for the held row.
        held = events_pb2.Event(
            event_id=str(uuid.uuid4()),
            program_id=PROGRAM,
            producer="ledger",
            member_enrolled=events_pb2.MemberEnrolled(member_id="held", entry_tier_code="member"),
        )
        stale = events_pb2.Event(
            event_id=str(uuid.uuid4()),
            program_id=PROGRAM,
            producer="ledger",
            tier_changed=events_pb2.TierChanged(
                member_id=MEMBER, from_tier_code="member", to_tier_code="silver"
            ),
        )
        stale.occurred_at.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        for event in (held, stale):
            await client.jetstream().publish(
                f"{nats_namespace}.ledger.tier_changed",
                event.SerializeToString(),
                headers={"Nats-Msg-Id": event.event_id},
            )
        await consumed(servers, nats_namespace, "ledger", TIER_CONSUMER.durable)
        assert await campaign_tier(database_url) == "gold"
        await holding.rollback()
        for spec in SEGMENT_FACTS_CONSUMERS:
            if "ledger.tier_changed" in spec.filter_subjects:
                await consumed(servers, nats_namespace, "ledger", spec.durable)
    finally:
        await holder.close()
        await client.close()
    assert await campaign_tier(database_url) == "gold"


class HeldLedger(LedgerClient):
    """The real ledger client of a replica that stalls right after reading the member's tier
    (a pause, a GC, a slow network), until the test lets it go on."""

    def __init__(self, address: str) -> None:
        super().__init__(ledger_pb2_grpc.LedgerServiceStub(grpc.aio.insecure_channel(address)))
        self.read = asyncio.Event()
        self.release = asyncio.Event()

    async def member_tier(self, program_id: str, member_id: str) -> str:
        tier = await super().member_tier(program_id, member_id)
        self.read.set()
        await self.release.wait()
        return tier


async def waiting_on_a_lock(database_url: str) -> bool:
    """Whether a session of this database waits on a lock (the service's tier consumer)."""
    connection = await asyncpg.connect(database_url)
    try:
        return bool(
            await connection.fetchval(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        )
    finally:
        await connection.close()


async def test_a_replica_stalled_between_reading_and_writing_the_tier_leaves_the_latest(
    services, servers, nats_namespace: str, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    # Two replicas handle two changes of one member: replica A (a handler of its own here) reads
    # the ledger's tier (silver) and stalls before writing it; meanwhile the ledger moves the
    # member to gold and replica B (the service's own consumer) handles that change. A must not
    # write silver after B wrote gold.
    ledger, campaign = services
    await ledger.earn(MEMBER, 1_000, qualifying=True)  # silver (from 1000)
    for _ in range(600):
        if await campaign_tier(database_url) == "silver":
            break
        await asyncio.sleep(0.05)
    assert await campaign_tier(database_url) == "silver"
    await consumed(servers, nats_namespace, "ledger", TIER_CONSUMER.durable)

    held = HeldLedger(campaign.ledger_address)
    replica_a = TierHandler(campaign.service.runtime.pool, held)
    change = events_pb2.Event(
        event_id=str(uuid.uuid4()),
        program_id=PROGRAM,
        producer="ledger",
        tier_changed=events_pb2.TierChanged(
            member_id=MEMBER, from_tier_code="member", to_tier_code="silver"
        ),
    )
    # A redelivery of the change to silver, as a replica whose ack was lost gets it again.
    handling = asyncio.create_task(
        replica_a(SimpleNamespace(data=change.SerializeToString(), subject="ledger.tier_changed"))  # type: ignore[arg-type]
    )
    try:
        await held.read.wait()
        await ledger.earn(MEMBER, 5_000, qualifying=True)  # gold (from 5000)
        # Replica B either writes gold (nothing keeps it from it) or waits for A.
        for _ in range(600):
            if await campaign_tier(database_url) == "gold" or await waiting_on_a_lock(database_url):
                break
            await asyncio.sleep(0.05)
    finally:
        held.release.set()
        await handling
    await consumed(servers, nats_namespace, "ledger", TIER_CONSUMER.durable)
    assert await campaign_tier(database_url) == "gold"
