"""Changing a program's tiers: renamed and removed tiers move their members' accounts, through
real gRPC on real PostgreSQL and JetStream."""

import asyncio
import uuid

import asyncpg
import grpc
import nats
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from tests.conftest import Servers
from tests.services.ledger.support import Ledger, key
from tests.services.ledger.test_grouped_earns import close_account, error_reason
from tests.services.ledger.test_programs import TIERS, program_config

DEFINITIONS_CHANGED = common_pb2.TIER_CHANGE_REASON_DEFINITIONS_CHANGED
LATERAL = common_pb2.TIER_CHANGE_DIRECTION_LATERAL
DOWNGRADE = common_pb2.TIER_CHANGE_DIRECTION_DOWNGRADE
UPGRADE = common_pb2.TIER_CHANGE_DIRECTION_UPGRADE

BLUE = ledger_pb2.TierDefinition(code="blue", name="Blue", rank=0, threshold=0)
PLATINUM = ledger_pb2.TierDefinition(code="platinum", name="Platinum", rank=3, threshold=20_000)


@pytest.fixture
async def service(start_service):
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (running, channel):
        client = Ledger(channel)
        await client.setup()  # member 0, silver 1,000, gold 5,000
        yield running, client
        await client.assert_clean()


def mapping(from_code: str, to_code: str) -> ledger_pb2.TierCodeMapping:
    return ledger_pb2.TierCodeMapping(from_tier_code=from_code, to_tier_code=to_code)


async def set_tiers(
    ledger: Ledger,
    tiers: list[ledger_pb2.TierDefinition],
    *mappings: ledger_pb2.TierCodeMapping,
    idempotency_key: str | None = None,
) -> ledger_pb2.SetTierDefinitionsResponse:
    return await ledger.stub.SetTierDefinitions(
        ledger_pb2.SetTierDefinitionsRequest(
            program_id="acme",
            idempotency_key=idempotency_key or key(),
            tiers=tiers,
            tier_code_mappings=mappings,
        )
    )


async def history(ledger: Ledger, member: str) -> list[tuple[str, str, int, int]]:
    changes = await ledger.stub.GetTierHistory(
        ledger_pb2.GetTierHistoryRequest(program_id="acme", member_id=member)
    )
    return [(c.from_tier_code, c.to_tier_code, c.direction, c.reason) for c in changes.tier_changes]


async def tier_events(servers: Servers, nats_namespace: str) -> list[events_pb2.TierChanged]:
    client = await nats.connect(servers.nats_url)
    try:
        subscription = await client.jetstream().pull_subscribe(
            f"{nats_namespace}.ledger.tier_changed", stream=f"{nats_namespace}_ledger".upper()
        )
        found: list[events_pb2.TierChanged] = []
        while True:
            try:
                messages = await subscription.fetch(100, timeout=2)
            except TimeoutError:
                return found
            found += [events_pb2.Event.FromString(m.data).tier_changed for m in messages]
    finally:
        await client.close()


async def test_renaming_the_entry_tier_moves_its_members_and_the_entry_tier(
    service, servers: Servers, nats_namespace: str
) -> None:
    running, ledger = service
    await ledger.earn("ann", 10, qualifying=True)
    await ledger.earn("bob", 20, qualifying=True)
    await ledger.earn("cat", 1_500, qualifying=True)  # silver stays silver
    renamed = await set_tiers(ledger, [BLUE, *TIERS[1:]], mapping("member", "blue"))
    assert (renamed.moved_accounts_count, renamed.entry_tier_code) == (2, "blue")
    assert [t.code for t in renamed.tiers] == ["blue", "silver", "gold"]
    assert [(await ledger.balance(m)).tier_code for m in ("ann", "bob", "cat")] == [
        "blue",
        "blue",
        "silver",
    ]
    assert (await history(ledger, "ann"))[0] == ("member", "blue", LATERAL, DEFINITIONS_CHANGED)
    read = (await ledger.stub.GetProgram(ledger_pb2.GetProgramRequest(program_id="acme"))).config
    assert read.entry_tier_code == "blue"
    # ConfigureProgram holds the new entry tier and refuses the old one.
    await ledger.stub.ConfigureProgram(
        ledger_pb2.ConfigureProgramRequest(
            program_id="acme", idempotency_key=key(), config=program_config(entry_tier_code="blue")
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.stub.ConfigureProgram(
            ledger_pb2.ConfigureProgramRequest(
                program_id="acme", idempotency_key=key(), config=program_config()
            )
        )
    assert error_reason(error.value) == "ENTRY_TIER_UNDEFINED"
    await ledger.earn("dan", 5)  # a new member lands in the new entry tier
    assert (await ledger.balance("dan")).tier_code == "blue"
    await running.relay.flush(timeout_s=10)
    moved = [e for e in await tier_events(servers, nats_namespace) if e.reason == 6]
    assert sorted((e.member_id, e.from_tier_code, e.to_tier_code, e.direction) for e in moved) == [
        ("ann", "member", "blue", LATERAL),
        ("bob", "member", "blue", LATERAL),
    ]
    assert {e.member_id: e.qualifying_amount for e in moved} == {"ann": 10, "bob": 20}


async def test_a_tier_folded_into_another_moves_its_members_down_and_evaluates_as_it(
    service,
) -> None:
    _, ledger = service
    await set_tiers(ledger, [*TIERS, PLATINUM])
    await ledger.earn("ann", 25_000, qualifying=True)
    await ledger.earn("bob", 6_000, qualifying=True)
    assert (await ledger.balance("ann")).tier_code == "platinum"
    folded = await set_tiers(ledger, TIERS, mapping("platinum", "gold"))
    assert (folded.moved_accounts_count, folded.entry_tier_code) == (1, "member")
    assert (await ledger.balance("ann")).tier_code == "gold"
    assert (await history(ledger, "ann"))[0] == (
        "platinum",
        "gold",
        DOWNGRADE,
        DEFINITIONS_CHANGED,
    )
    for requalify in (False, True):  # gold is the top tier now, and ann qualifies for it
        evaluated = await ledger.stub.EvaluateTiers(
            ledger_pb2.EvaluateTiersRequest(
                program_id="acme", idempotency_key=key(), requalify=requalify
            )
        )
        assert (evaluated.evaluated_count, list(evaluated.tier_changes)) == (2, [])
    # Silver dropped into gold, a tier above it: an upgrade for its members.
    await ledger.earn("cat", 1_200, qualifying=True)
    await set_tiers(ledger, [TIERS[0], TIERS[2]], mapping("silver", "gold"))
    assert (await history(ledger, "cat"))[0] == ("silver", "gold", UPGRADE, DEFINITIONS_CHANGED)


async def test_dropping_a_held_tier_without_a_mapping_is_refused_naming_it(service) -> None:
    _, ledger = service
    await ledger.earn("ann", 6_000, qualifying=True)  # gold
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await set_tiers(ledger, TIERS[:2])
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("tier_code_mappings:"), error.value.details()
    assert "1 accounts hold tier 'gold'" in error.value.details()
    assert error_reason(error.value) == "TIER_STILL_HELD"
    listed = await ledger.stub.ListTierDefinitions(
        ledger_pb2.ListTierDefinitionsRequest(program_id="acme")
    )
    assert [t.code for t in listed.tiers] == ["member", "silver", "gold"]
    assert (await ledger.balance("ann")).tier_code == "gold"
    # Silver, which nobody holds, is dropped without a mapping.
    dropped = await set_tiers(ledger, [TIERS[0], TIERS[2]])
    assert ([t.code for t in dropped.tiers], dropped.moved_accounts_count) == (
        ["member", "gold"],
        0,
    )


async def test_closed_accounts_neither_block_nor_move(service, database_url: str) -> None:
    _, ledger = service
    await ledger.earn("ann", 6_000, qualifying=True)
    await ledger.earn("bob", 6_000, qualifying=True)
    await ledger.transfer("bob", "ann", transfer_all=True)
    await close_account(database_url, "bob")  # as a merge leaves it
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await set_tiers(ledger, TIERS[:2])
    assert "1 accounts hold tier 'gold'" in error.value.details()
    moved = await set_tiers(ledger, TIERS[:2], mapping("gold", "silver"))
    assert moved.moved_accounts_count == 1
    assert await history(ledger, "bob") == [("member", "gold", UPGRADE, 2)]


async def test_a_retry_replays_and_another_mapping_with_the_key_is_refused(service) -> None:
    _, ledger = service
    await ledger.earn("ann", 10)
    first = await set_tiers(
        ledger, [BLUE, *TIERS[1:]], mapping("member", "blue"), idempotency_key="t"
    )
    again = await set_tiers(
        ledger, [BLUE, *TIERS[1:]], mapping("member", "blue"), idempotency_key="t"
    )
    assert again == first and first.moved_accounts_count == 1
    assert len(await history(ledger, "ann")) == 1  # moved once
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await set_tiers(
            ledger, [BLUE, *TIERS[1:]], mapping("member", "silver"), idempotency_key="t"
        )
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "idempotency_key" in error.value.details()


@pytest.mark.parametrize(
    ("tiers", "mappings", "field", "reason"),
    [
        (TIERS, [mapping("silver", "gold")], "tier_code_mappings[0].from_tier_code", None),
        (
            [BLUE, *TIERS[1:]],
            [mapping("member", "blue"), mapping("member", "blue")],
            "tier_code_mappings[1].from_tier_code",
            None,
        ),
        (
            [BLUE, *TIERS[1:]],
            [mapping("member", "bronze")],
            "tier_code_mappings[0].to_tier_code",
            None,
        ),
        (
            [BLUE, *TIERS[1:]],
            [mapping("member", "Not A Code")],
            "tier_code_mappings[0].to_tier_code",
            None,
        ),
        (
            [BLUE, *TIERS[1:]],
            [mapping("member", "silver")],
            "tier_code_mappings[0].to_tier_code",
            "ENTRY_TIER_NOT_LOWEST",
        ),
    ],
)
async def test_mappings_are_checked_and_name_the_field(
    service, tiers, mappings, field: str, reason: str | None
) -> None:
    _, ledger = service
    await ledger.earn("ann", 10)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await set_tiers(ledger, tiers, *mappings)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(f"{field}:"), error.value.details()
    if reason:
        assert error_reason(error.value) == reason
    assert (await ledger.balance("ann")).tier_code == "member"


async def test_the_entry_tier_dropped_without_a_mapping_is_refused(service) -> None:
    _, ledger = service
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await set_tiers(ledger, [BLUE, *TIERS[1:]])
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "tier_code_mappings" in error.value.details()


async def test_a_code_left_on_accounts_by_an_earlier_change_can_be_mapped(
    service, database_url: str
) -> None:
    _, ledger = service
    await ledger.earn("ann", 10)
    connection = await asyncpg.connect(database_url)
    try:  # as a removal without a mapping left accounts before
        await connection.execute(
            "UPDATE ledger.member_accounts SET tier_code = 'bronze' WHERE member_id = 'ann'"
        )
    finally:
        await connection.close()
    moved = await set_tiers(ledger, TIERS, mapping("bronze", "member"))
    assert moved.moved_accounts_count == 1
    assert (await ledger.balance("ann")).tier_code == "member"
    assert (await history(ledger, "ann"))[0] == ("bronze", "member", LATERAL, DEFINITIONS_CHANGED)


async def test_an_enrolment_naming_a_renamed_entry_tier_lands_in_the_new_one(
    service, servers: Servers, nats_namespace: str
) -> None:
    _, ledger = service
    await set_tiers(ledger, [BLUE, *TIERS[1:]], mapping("member", "blue"))
    # Identity's program still names the old entry tier.
    event = events_pb2.Event(
        event_id=str(uuid.uuid4()),
        program_id="acme",
        member_enrolled=events_pb2.MemberEnrolled(member_id="newbie", entry_tier_code="member"),
    )
    event.occurred_at.GetCurrentTime()
    client = await nats.connect(servers.nats_url)
    try:
        await client.publish(
            f"{nats_namespace}.identity.member_enrolled",
            event.SerializeToString(),
            headers={"Nats-Msg-Id": str(uuid.uuid4())},
        )
    finally:
        await client.close()
    for _ in range(100):
        try:
            balance = await ledger.balance("newbie")
            break
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
            await asyncio.sleep(0.05)
    else:
        pytest.fail("the account was not opened")
    assert balance.tier_code == "blue"


async def plant_tier(database_url: str, member: str, code: str) -> None:
    """Put `code` on the member's account, as a replica with the old tiers cached writes it."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE ledger.member_accounts SET tier_code = $2 WHERE member_id = $1", member, code
        )
    finally:
        await connection.close()


async def eventually_tier(ledger: Ledger, member: str, code: str) -> None:
    for _ in range(200):
        if (await ledger.balance(member)).tier_code == code:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"{member} never reached {code!r}: {(await ledger.balance(member)).tier_code!r}")


async def test_the_tier_job_moves_what_a_replica_with_the_old_tiers_cached_wrote(
    start_service, servers: Servers, nats_namespace: str
) -> None:
    async with (
        start_service(SPEC, LedgerConfig, jobs_enabled=False) as (changing, channel),
        start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, stale_channel),
    ):
        ledger, stale = Ledger(channel), Ledger(stale_channel)
        await ledger.setup()
        await set_tiers(ledger, [*TIERS, PLATINUM])
        await stale.earn("ann", 10)  # the stale replica caches the four tiers for 2 s
        # The entry tier renamed and platinum folded into gold through the other replica...
        await set_tiers(
            ledger, [BLUE, *TIERS[1:]], mapping("member", "blue"), mapping("platinum", "gold")
        )
        # ...while the stale replica still opens accounts in member and upgrades to platinum.
        await stale.earn("dan", 10)
        await stale.earn("eve", 25_000, qualifying=True)
        assert [(await ledger.balance(m)).tier_code for m in ("ann", "dan", "eve")] == [
            "blue",
            "member",
            "platinum",
        ]
        # A replica running the scheduled jobs moves them as the mappings said.
        async with start_service(SPEC, LedgerConfig, jobs_interval_ms=100):
            await eventually_tier(ledger, "dan", "blue")
            await eventually_tier(ledger, "eve", "gold")
        assert (await history(ledger, "dan"))[0] == ("member", "blue", LATERAL, DEFINITIONS_CHANGED)
        assert (await history(ledger, "eve"))[0] == (
            "platinum",
            "gold",
            DOWNGRADE,
            DEFINITIONS_CHANGED,
        )
        await changing.relay.flush(timeout_s=10)
        moved = [
            (e.member_id, e.from_tier_code, e.to_tier_code)
            for e in await tier_events(servers, nats_namespace)
            if e.reason == DEFINITIONS_CHANGED
        ]
        assert sorted(moved) == [
            ("ann", "member", "blue"),
            ("dan", "member", "blue"),
            ("eve", "platinum", "gold"),
        ]


async def test_evaluate_tiers_moves_accounts_on_removed_codes_as_their_mapping(
    service, database_url: str
) -> None:
    _, ledger = service
    await set_tiers(ledger, [*TIERS, PLATINUM])
    await set_tiers(ledger, TIERS, mapping("platinum", "gold"))
    for member, points in (("ann", 100), ("bob", 1_500), ("cat", 30_000), ("dan", 10)):
        await ledger.earn(member, points, qualifying=True)
    await plant_tier(database_url, "ann", "platinum")  # mapped to gold: down to gold
    await plant_tier(database_url, "bob", "bronze")  # never mapped: where it qualifies (silver)
    await plant_tier(database_url, "cat", "platinum")  # gold, the top
    evaluated = await ledger.stub.EvaluateTiers(
        ledger_pb2.EvaluateTiersRequest(program_id="acme", idempotency_key=key())
    )
    assert sorted(
        (c.member_id, c.from_tier_code, c.to_tier_code, c.direction, c.reason)
        for c in evaluated.tier_changes
    ) == [
        ("ann", "platinum", "gold", DOWNGRADE, DEFINITIONS_CHANGED),
        ("bob", "bronze", "silver", UPGRADE, DEFINITIONS_CHANGED),
        ("cat", "platinum", "gold", DOWNGRADE, DEFINITIONS_CHANGED),
    ]
    assert (evaluated.upgraded_count, evaluated.downgraded_count) == (1, 2)
    assert [(await ledger.balance(m)).tier_code for m in ("ann", "bob", "cat", "dan")] == [
        "gold",
        "silver",
        "gold",
        "member",
    ]
    # Re-qualification takes ann down to where she qualifies; a later rename of gold carries
    # the platinum mapping along (platinum -> gold -> vip).
    vip = ledger_pb2.TierDefinition(code="vip", name="VIP", rank=2, threshold=5_000)
    await set_tiers(ledger, [*TIERS[:2], vip], mapping("gold", "vip"))
    await plant_tier(database_url, "ann", "platinum")
    requalified = await ledger.stub.EvaluateTiers(
        ledger_pb2.EvaluateTiersRequest(program_id="acme", idempotency_key=key(), requalify=True)
    )
    assert [(c.member_id, c.to_tier_code) for c in requalified.tier_changes] == [("ann", "member")]
    await plant_tier(database_url, "ann", "platinum")
    await ledger.stub.EvaluateTiers(
        ledger_pb2.EvaluateTiersRequest(
            program_id="acme", idempotency_key=key(), member_ids=["ann"]
        )
    )
    assert (await ledger.balance("ann")).tier_code == "vip"


async def test_each_change_announces_the_tiers_the_mappings_and_a_higher_version(
    service, servers: Servers, nats_namespace: str
) -> None:
    running, ledger = service
    await ledger.earn("ann", 10, qualifying=True)
    await set_tiers(ledger, [BLUE, *TIERS[1:]], mapping("member", "blue"))
    teal = ledger_pb2.TierDefinition(code="teal", name="Teal", rank=0, threshold=0)
    await set_tiers(ledger, [teal, *TIERS[1:]], mapping("blue", "teal"))
    await running.relay.flush(timeout_s=10)
    client = await nats.connect(servers.nats_url)
    try:
        subscription = await client.jetstream().pull_subscribe(
            f"{nats_namespace}.ledger.tier_definitions_changed",
            stream=f"{nats_namespace}_ledger".upper(),
        )
        messages = await subscription.fetch(10, timeout=5)
    finally:
        await client.close()
    announced = [events_pb2.Event.FromString(m.data).tier_definitions_changed for m in messages]
    assert [a.version for a in announced] == [1, 2, 3]  # setup's tiers, then the two renames
    assert [t.code for t in announced[2].tiers] == ["teal", "silver", "gold"]
    assert announced[2].entry_tier_code == "teal"
    # The first rename's mapping follows the second: member's stragglers belong in teal now.
    assert sorted((m.from_tier_code, m.to_tier_code) for m in announced[2].tier_code_mappings) == [
        ("blue", "teal"),
        ("member", "teal"),
    ]
