"""Tier perks of members the ledger's TierChanged events do not name: an enrolled member holds
the entry tier's perks, and a member merged away or erased holds none, with identity, the ledger
and rewards as real services fed by identity's own events."""

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import nats
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.rewards.v1 import rewards_pb2_grpc
from services.identity.app import SPEC as IDENTITY_SPEC
from services.identity.app import IdentityConfig
from services.ledger.app import SPEC as LEDGER_SPEC
from services.ledger.app import LedgerConfig
from services.rewards.app import SPEC as REWARDS_SPEC
from services.rewards.app import RewardsConfig
from tests.conftest import Servers
from tests.services.identity.conftest import email, enrol
from tests.services.ledger.support import Ledger
from tests.services.rewards.conftest import PROGRAM, Platform
from tests.services.rewards.test_perks import (
    GRANTED,
    WITHDRAWN,
    eventually,
    member_perks,
    publish_tier_change,
    set_perks,
)
from tests.support.calls import program


@dataclass
class Members:
    """Identity, the ledger and rewards of one test."""

    platform: Platform
    identity: identity_pb2_grpc.IdentityServiceStub

    async def enrol(self, address: str) -> str:
        return (await enrol(self.identity, email(address))).member.member_id


@pytest.fixture
async def members(start_service) -> AsyncIterator[Members]:
    async with start_service(LEDGER_SPEC, LedgerConfig) as (ledger_service, ledger_channel):
        ledger = Ledger(ledger_channel)
        await ledger.setup()
        ledger_address = f"127.0.0.1:{ledger_service.port}"
        async with (
            start_service(REWARDS_SPEC, RewardsConfig, ledger_address=ledger_address) as (
                rewards_service,
                rewards_channel,
            ),
            start_service(IDENTITY_SPEC, IdentityConfig, ledger_address=ledger_address) as (
                _,
                identity_channel,
            ),
        ):
            identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
            await identity.CreateProgram(
                identity_pb2.CreateProgramRequest(
                    program_id=PROGRAM, idempotency_key="create", program=program(PROGRAM)
                )
            )
            platform = Platform(
                ledger, rewards_pb2_grpc.RewardsServiceStub(rewards_channel), rewards_service
            )
            yield Members(platform, identity)


async def holds(platform: Platform, member: str, wanted: dict[str, tuple[str, int]]) -> None:
    """Wait until the member's perks (withdrawn ones too) are exactly `wanted`."""

    async def reached():
        return await member_perks(platform, member) == wanted

    with contextlib.suppress(AssertionError):
        await eventually(reached)
    assert await member_perks(platform, member) == wanted


async def announced(database_url: str, member: str) -> dict[str, int]:
    """How many PerkGranted and PerkWithdrawn rewards wrote for the member."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT split_part(subject, '.', 3) AS kind, payload FROM rewards.outbox"
        )
    finally:
        await connection.close()
    counts: dict[str, int] = {}
    for row in rows:
        event = events_pb2.Event.FromString(row["payload"])
        payload = getattr(event, row["kind"])
        if payload.member_id == member:
            counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    return counts


async def publish_identity(servers: Servers, namespace: str, event: events_pb2.Event) -> None:
    """An identity event as identity publishes it, under a message id of its own each time, so
    the same event twice is a redelivery that JetStream does not de-duplicate."""
    subject = f"{namespace}.identity.{event.WhichOneof('payload')}"
    client = await nats.connect(servers.nats_url)
    try:
        await client.jetstream().publish(
            subject, event.SerializeToString(), headers={"Nats-Msg-Id": uuid.uuid4().hex}
        )
    finally:
        await client.close()


def enrolment(member: str, tier: str = "member") -> events_pb2.Event:
    return events_pb2.Event(
        event_id=str(uuid.uuid4()),
        program_id=PROGRAM,
        producer="identity",
        member_enrolled=events_pb2.MemberEnrolled(
            member_id=member, channel=common_pb2.CHANNEL_APP, entry_tier_code=tier
        ),
    )


async def test_an_enrolled_member_holds_the_entry_tiers_perks(members, database_url) -> None:
    platform = members.platform
    await set_perks(platform, "member", "welcome_gift")
    await set_perks(platform, "silver", "free_shipping")
    newcomer = await members.enrol("new@example.com")
    climber = await members.enrol("climber@example.com")
    await holds(platform, newcomer, {"welcome_gift": ("member", GRANTED)})
    await holds(platform, climber, {"welcome_gift": ("member", GRANTED)})

    # The ledger upgrades the climber: the entry tier's perk goes, silver's comes.
    await platform.ledger.earn(climber, 1_500, qualifying=True)
    await holds(
        platform,
        climber,
        {"welcome_gift": ("member", WITHDRAWN), "free_shipping": ("silver", GRANTED)},
    )
    assert await member_perks(platform, newcomer) == {"welcome_gift": ("member", GRANTED)}
    assert await announced(database_url, newcomer) == {"perk_granted": 1}


async def test_perks_set_later_reach_the_members_in_the_entry_tier(members) -> None:
    platform = members.platform
    await set_perks(platform, "member", "welcome_gift")
    member = await members.enrol("early@example.com")
    await holds(platform, member, {"welcome_gift": ("member", GRANTED)})

    # Changing the entry tier's perks changes what its members hold, in the same call.
    await set_perks(platform, "member", "birthday_treat")
    assert await member_perks(platform, member) == {
        "welcome_gift": ("member", WITHDRAWN),
        "birthday_treat": ("member", GRANTED),
    }


async def test_a_late_enrolment_does_not_undo_an_upgrade(
    platform, servers, nats_namespace, database_url
) -> None:
    await set_perks(platform, "member", "welcome_gift")
    await set_perks(platform, "silver", "free_shipping")
    # The ledger opens m2's account with its first earn and upgrades it at once, before
    # rewards reads the enrolment (delivered twice, as JetStream may).
    await platform.ledger.earn("m2", 1_500, qualifying=True)
    await holds(platform, "m2", {"free_shipping": ("silver", GRANTED)})
    late = enrolment("m2")
    await publish_identity(servers, nats_namespace, late)
    await publish_identity(servers, nats_namespace, late)
    # The same consumer reads m3's enrolment after m2's: once m3 holds its perk, m2's was read.
    first = enrolment("m3")
    await publish_identity(servers, nats_namespace, first)
    await holds(platform, "m3", {"welcome_gift": ("member", GRANTED)})
    assert await member_perks(platform, "m2") == {"free_shipping": ("silver", GRANTED)}

    # m3's enrolment again, and once more after its upgrade, has no further effect.
    await publish_identity(servers, nats_namespace, first)
    await platform.ledger.earn("m3", 1_500, qualifying=True)
    await holds(
        platform,
        "m3",
        {"welcome_gift": ("member", WITHDRAWN), "free_shipping": ("silver", GRANTED)},
    )
    await publish_identity(servers, nats_namespace, first)
    await publish_identity(servers, nats_namespace, enrolment("m4"))
    await holds(platform, "m4", {"welcome_gift": ("member", GRANTED)})
    assert await member_perks(platform, "m3") == {
        "welcome_gift": ("member", WITHDRAWN),
        "free_shipping": ("silver", GRANTED),
    }
    assert await announced(database_url, "m3") == {"perk_granted": 2, "perk_withdrawn": 1}


async def test_an_enrolment_the_ledger_corrects_ends_in_the_ledgers_tier(
    platform, servers, nats_namespace
) -> None:
    # Identity still names a removed entry tier; the ledger opened the account in its own
    # entry tier and says so with a TierChanged, which comes first here.
    await set_perks(platform, "member", "welcome_gift")
    now = dt.datetime.now(dt.UTC)
    await publish_tier_change(
        servers, nats_namespace, "m5", "basic", "member", now, str(uuid.uuid4())
    )
    await holds(platform, "m5", {"welcome_gift": ("member", GRANTED)})
    await publish_identity(servers, nats_namespace, enrolment("m5", tier="basic"))
    await publish_identity(servers, nats_namespace, enrolment("m6"))
    await holds(platform, "m6", {"welcome_gift": ("member", GRANTED)})
    assert await member_perks(platform, "m5") == {"welcome_gift": ("member", GRANTED)}


async def test_a_merged_member_loses_its_perks_and_the_survivor_keeps_its_own(
    members, servers, nats_namespace, database_url
) -> None:
    platform = members.platform
    await set_perks(platform, "member", "welcome_gift")
    await set_perks(platform, "silver", "free_shipping")
    card = await members.enrol("card@example.com")
    app = await members.enrol("app@example.com")
    await holds(platform, card, {"welcome_gift": ("member", GRANTED)})
    await holds(platform, app, {"welcome_gift": ("member", GRANTED)})
    await platform.ledger.earn(app, 1_500, qualifying=True)
    await holds(
        platform,
        app,
        {"welcome_gift": ("member", WITHDRAWN), "free_shipping": ("silver", GRANTED)},
    )

    merged = await members.identity.MergeMembers(
        identity_pb2.MergeMembersRequest(
            program_id=PROGRAM,
            idempotency_key="merge",
            survivor_member_id=app,
            merged_member_id=card,
            operator_id="desk-7",
        )
    )
    assert merged is not None
    await holds(platform, card, {"welcome_gift": ("member", WITHDRAWN)})
    assert await member_perks(platform, app) == {
        "welcome_gift": ("member", WITHDRAWN),
        "free_shipping": ("silver", GRANTED),
    }

    # A tier change of the merged member the ledger sent before the merge, delivered after it,
    # grants nothing again; nor does its enrolment delivered again, nor the merge delivered again.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    await publish_tier_change(
        servers, nats_namespace, card, "member", "silver", later, str(uuid.uuid4())
    )
    await publish_identity(servers, nats_namespace, enrolment(card))
    await publish_identity(
        servers,
        nats_namespace,
        events_pb2.Event(
            event_id=str(uuid.uuid4()),
            program_id=PROGRAM,
            producer="identity",
            member_merged=events_pb2.MemberMerged(survivor_member_id=app, merged_member_id=card),
        ),
    )
    probe = await members.enrol("probe@example.com")
    await holds(platform, probe, {"welcome_gift": ("member", GRANTED)})
    # The TierChanged is on another stream: give its consumer as long as the probe took.
    await publish_tier_change(
        servers, nats_namespace, "probe2", "member", "silver", later, str(uuid.uuid4())
    )
    await holds(platform, "probe2", {"free_shipping": ("silver", GRANTED)})
    assert await member_perks(platform, card) == {"welcome_gift": ("member", WITHDRAWN)}
    assert await announced(database_url, card) == {"perk_granted": 1, "perk_withdrawn": 1}


async def test_an_erased_member_loses_its_perks(members, database_url) -> None:
    platform = members.platform
    await set_perks(platform, "member", "welcome_gift")
    await set_perks(platform, "silver", "free_shipping")
    member = await members.enrol("gone@example.com")
    await holds(platform, member, {"welcome_gift": ("member", GRANTED)})
    await platform.ledger.earn(member, 1_500, qualifying=True)
    await holds(
        platform,
        member,
        {"welcome_gift": ("member", WITHDRAWN), "free_shipping": ("silver", GRANTED)},
    )
    await members.identity.EraseMember(
        identity_pb2.EraseMemberRequest(
            program_id=PROGRAM,
            idempotency_key="erase",
            member_id=member,
            operator_id="desk-7",
            reason="ticket 42",
        )
    )
    await holds(
        platform,
        member,
        {"welcome_gift": ("member", WITHDRAWN), "free_shipping": ("silver", WITHDRAWN)},
    )

    # Setting silver's perks again reaches its members, but not the erased one.
    await set_perks(platform, "silver", "free_shipping", "lounge")
    assert await member_perks(platform, member) == {
        "welcome_gift": ("member", WITHDRAWN),
        "free_shipping": ("silver", WITHDRAWN),
    }
    assert await announced(database_url, member) == {"perk_granted": 2, "perk_withdrawn": 2}
