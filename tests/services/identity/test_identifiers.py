"""A member's identifiers: a card reported lost or stolen is blocked, not released, and a member
keeps at least one identifier; through real gRPC, PostgreSQL and JetStream."""

import uuid
from pathlib import Path

import asyncpg
import grpc

import services.identity
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from services.identity import identifiers
from services.identity.app import SPEC, IdentityConfig
from services.shared.migrations import apply_migrations
from tests.conftest import Servers
from tests.services.identity.conftest import (
    KIND,
    PROGRAM,
    email,
    enrol,
    failure,
    identifier,
    published,
)
from tests.services.identity.test_forgotten_keys import kept_anywhere
from tests.support.calls import program

CARD = "4000001234567899"  # Luhn-valid
NEW_CARD = "6280000000000008"  # Luhn-valid
HELD_CARD = "4000001234567014"  # Luhn-valid
LOST = identity_pb2.IDENTIFIER_REMOVAL_REASON_LOST
STOLEN = identity_pb2.IDENTIFIER_REMOVAL_REASON_STOLEN


def card(value: str = CARD) -> identity_pb2.Identifier:
    return identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, value)


def remove(stub, member_id: str, given: identity_pb2.Identifier, reason: int = 0, key: str = ""):
    return stub.RemoveIdentifier(
        identity_pb2.RemoveIdentifierRequest(
            program_id=PROGRAM,
            idempotency_key=key or uuid.uuid4().hex,
            member_id=member_id,
            kind=given.kind,
            value=given.value,
            provider=given.provider,
            reason=reason,  # type: ignore[arg-type]
        )
    )


def add(stub, member_id: str, given: identity_pb2.Identifier, key: str = ""):
    return stub.AddIdentifier(
        identity_pb2.AddIdentifierRequest(
            program_id=PROGRAM,
            idempotency_key=key or uuid.uuid4().hex,
            member_id=member_id,
            identifier=given,
        )
    )


def resolve(stub, given: identity_pb2.Identifier):
    return stub.ResolveIdentifier(
        identity_pb2.ResolveIdentifierRequest(
            program_id=PROGRAM, kind=given.kind, value=given.value, provider=given.provider
        )
    )


def reason_of(error: grpc.aio.AioRpcError) -> str:
    return dict(error.trailing_metadata() or ())["loyalty-error-reason"]


async def get_member(stub, member_id: str) -> identity_pb2.Member:
    return (
        await stub.GetMember(identity_pb2.GetMemberRequest(program_id=PROGRAM, member_id=member_id))
    ).member


def blocked_of(member: identity_pb2.Member) -> list[tuple[str, int]]:
    """(card number, reason) of the member's blocked cards, as listed."""
    return [(b.identifier.value, b.reason) for b in member.blocked_identifiers]


async def test_a_stolen_card_is_blocked_and_the_member_gets_a_new_one(
    identity, servers: Servers, nats_namespace: str
) -> None:
    stub, service = identity
    alice = (await enrol(stub, email("alice@example.com"), card())).member.member_id
    first = await remove(stub, alice, card("4000 0012 3456 7899"), STOLEN, key="block-1")
    assert first.blocked and first.identifier.value == CARD and first.removed_at.seconds > 0
    # A retry with the same key answers the same; a new report of the card says it is blocked.
    assert await remove(stub, alice, card("4000 0012 3456 7899"), STOLEN, key="block-1") == first
    error = await failure(remove(stub, alice, card(), STOLEN))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(error) == "IDENTIFIER_BLOCKED"

    # The till: the card identifies nobody, and says why.
    error = await failure(resolve(stub, card()))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(error) == "IDENTIFIER_BLOCKED"
    assert error.details().startswith("value: the card was reported stolen")
    batch = await stub.BatchResolveIdentifiers(
        identity_pb2.BatchResolveIdentifiersRequest(
            program_id=PROGRAM,
            lookups=[identity_pb2.IdentifierLookup(kind=card().kind, value=CARD)],
        )
    )
    assert list(batch.member_ids) == [""]
    assert list(batch.statuses) == [common_pb2.MEMBER_STATUS_UNSPECIFIED]

    # The finder cannot enrol with it, nor can anyone attach it, its owner included.
    error = await failure(enrol(stub, email("finder@example.com"), card()))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(error) == "IDENTIFIER_BLOCKED"
    assert error.details().startswith("identifiers[1].value:")
    bob = (await enrol(stub, email("bob@example.com"))).member.member_id
    for member_id in (bob, alice):
        error = await failure(add(stub, member_id, card()))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert reason_of(error) == "IDENTIFIER_BLOCKED"
        assert error.details().startswith("identifier.value:")

    # Alice keeps her account and gets a replacement card.
    await add(stub, alice, card(NEW_CARD))
    assert (await resolve(stub, card(NEW_CARD))).member_id == alice
    member = (
        await stub.GetMember(identity_pb2.GetMemberRequest(program_id=PROGRAM, member_id=alice))
    ).member
    assert member.status == common_pb2.MEMBER_STATUS_ACTIVE
    assert {i.value for i in member.identifiers} == {"alice@example.com", NEW_CARD}

    # Others learn the member's identifiers changed; the event carries no card number.
    await service.relay.flush(timeout_s=10)
    [blocked, _] = await published(servers, nats_namespace, "member_updated", 2)
    assert blocked.member_updated.member_id == alice
    assert list(blocked.member_updated.changed_fields) == ["identifiers"]
    assert CARD not in str(blocked)


async def test_a_lost_card_found_again_goes_back_to_its_own_member_only(stub) -> None:
    alice = (await enrol(stub, email("alice@example.com"), card())).member.member_id
    bob = (await enrol(stub, email("bob@example.com"))).member.member_id
    await remove(stub, alice, card(), LOST)
    error = await failure(add(stub, bob, card()))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "reported lost" in error.details()
    added = await add(stub, alice, card("4000-0012-3456-7899"))
    assert added.identifier.value == CARD
    assert (await resolve(stub, card())).member_id == alice
    # Released, and so free again: the card is an ordinary identifier once more.
    await remove(stub, alice, card())
    await add(stub, bob, card())
    assert (await resolve(stub, card())).member_id == bob


async def test_an_import_rejects_the_row_of_a_blocked_card_only(stub) -> None:
    alice = (await enrol(stub, email("alice@example.com"), card())).member.member_id
    await remove(stub, alice, card(), STOLEN)
    responses = stub.ImportMembers(
        iter(
            [
                identity_pb2.ImportMembersRequest(
                    program_id=PROGRAM,
                    batch_id="b1",
                    idempotency_keys=["r1", "r2"],
                    card_numbers=[CARD, NEW_CARD],
                    given_names=["Finder", "Carol"],
                    family_names=["", ""],
                )
            ]
        )
    )
    [answer] = [response async for response in responses]
    assert list(answer.statuses) == [
        identity_pb2.IMPORT_ITEM_STATUS_REJECTED,
        identity_pb2.IMPORT_ITEM_STATUS_ENROLLED,
    ]
    assert "blocked" in answer.messages[0]
    error = await failure(resolve(stub, card()))
    assert reason_of(error) == "IDENTIFIER_BLOCKED"


async def test_only_a_card_number_can_be_reported_lost_or_stolen(stub) -> None:
    alice = (
        await enrol(
            stub, email("alice@example.com"), identifier(KIND.IDENTIFIER_KIND_EXTERNAL_ID, "x1")
        )
    ).member.member_id
    for reason in (LOST, STOLEN, 7):
        error = await failure(remove(stub, alice, email("alice@example.com"), reason))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details().startswith("reason:")
    assert (await resolve(stub, email("alice@example.com"))).member_id == alice


async def test_a_member_keeps_at_least_one_identifier(stub) -> None:
    alice = (await enrol(stub, email("alice@example.com"))).member.member_id
    error = await failure(remove(stub, alice, email("alice@example.com")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(error) == "LAST_IDENTIFIER"
    assert error.details().startswith("value:")
    assert (await resolve(stub, email("alice@example.com"))).member_id == alice
    # With a second identifier either may go, and then the other is the last.
    await add(stub, alice, card())
    await remove(stub, alice, email("alice@example.com"))
    error = await failure(remove(stub, alice, card()))
    assert reason_of(error) == "LAST_IDENTIFIER"
    # A stolen card is blocked even when it is the last: the member is kept, by id.
    assert (await remove(stub, alice, card(), STOLEN)).blocked
    member = (
        await stub.GetMember(identity_pb2.GetMemberRequest(program_id=PROGRAM, member_id=alice))
    ).member
    assert member.status == common_pb2.MEMBER_STATUS_ACTIVE and not member.identifiers


async def test_a_lost_card_of_a_merged_member_goes_back_to_its_survivor(start_service) -> None:
    """The card customer who lost the card installed the app and was merged into the app member:
    the card found again goes to the survivor, the same person. (The ledger is down: the merge's
    identity side commits all the same, which is all this needs.)"""
    async with start_service(SPEC, IdentityConfig, ledger_address="127.0.0.1:9") as (_, channel):
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        await stub.CreateProgram(
            identity_pb2.CreateProgramRequest(
                program_id=PROGRAM, idempotency_key="c", program=program(PROGRAM)
            )
        )
        card_member = (await enrol(stub, email("card@example.com"), card())).member.member_id
        app_member = (await enrol(stub, email("app@example.com"))).member.member_id
        await remove(stub, card_member, card(), LOST)
        error = await failure(add(stub, app_member, card()))
        assert reason_of(error) == "IDENTIFIER_BLOCKED"
        error = await failure(
            stub.MergeMembers(
                identity_pb2.MergeMembersRequest(
                    program_id=PROGRAM,
                    idempotency_key="merge-1",
                    survivor_member_id=app_member,
                    merged_member_id=card_member,
                )
            )
        )
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        # The blocked card is listed with the survivor, as the merged member's identifiers are.
        assert blocked_of(await get_member(stub, app_member)) == [(CARD, LOST)]
        assert blocked_of(await get_member(stub, card_member)) == []
        await add(stub, app_member, card())
        assert (await resolve(stub, card())).member_id == app_member
        survivor = await get_member(stub, app_member)
        assert blocked_of(survivor) == [] and CARD in {i.value for i in survivor.identifiers}


def erase(stub, member_id: str, key: str = "erase-1"):
    return stub.EraseMember(
        identity_pb2.EraseMemberRequest(
            program_id=PROGRAM,
            idempotency_key=key,
            member_id=member_id,
            operator_id="dpo",
            reason="ticket 1",
        )
    )


async def import_cards(stub, batch_id: str, *numbers: str) -> identity_pb2.ImportMembersResponse:
    responses = stub.ImportMembers(
        iter(
            [
                identity_pb2.ImportMembersRequest(
                    program_id=PROGRAM,
                    batch_id=batch_id,
                    idempotency_keys=[f"{batch_id}-{i}" for i in range(len(numbers))],
                    card_numbers=list(numbers),
                    given_names=[""] * len(numbers),
                    family_names=[""] * len(numbers),
                )
            ]
        )
    )
    [answer] = [response async for response in responses]
    return answer


async def test_an_erasure_keeps_the_members_blocked_cards_blocked_naming_nobody(
    stub, database
) -> None:
    """The stolen card is in the thief's hands and the lost one in a finder's: erasing their
    member must not free them. What stays is a keyed hash: no card number, no member. The
    member's other card is freed, as before."""
    alice = (
        await enrol(stub, email("alice@example.com"), card(), card(NEW_CARD), card(HELD_CARD))
    ).member.member_id
    await remove(stub, alice, card(), STOLEN)
    await remove(stub, alice, card(NEW_CARD), LOST)
    await erase(stub, alice)
    members_before = await database.fetchval("SELECT count(*) FROM members")

    # Whoever holds the cards cannot enrol with them, however the number is written.
    error = await failure(enrol(stub, email("thief@example.com"), card("4000 0012 3456 7899")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(error) == "IDENTIFIER_BLOCKED"
    assert error.details().startswith("identifiers[1].value: the card was reported stolen")
    error = await failure(enrol(stub, card("6280-0000-0000-0008")))
    assert reason_of(error) == "IDENTIFIER_BLOCKED"
    assert error.details().startswith("identifiers[0].value: the card was reported lost")
    assert await database.fetchval("SELECT count(*) FROM members") == members_before
    # Nor add them: the lost one has no member left to go back to.
    bob = (await enrol(stub, email("bob@example.com"))).member.member_id
    for number, why in ((CARD, "stolen"), (NEW_CARD, "lost")):
        error = await failure(add(stub, bob, card(number)))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert reason_of(error) == "IDENTIFIER_BLOCKED"
        assert error.details().startswith(f"identifier.value: the card was reported {why}")
    # The card Alice still held is free.
    await add(stub, bob, card(HELD_CARD))
    assert {i.value for i in (await get_member(stub, bob)).identifiers} == {
        "bob@example.com",
        HELD_CARD,
    }
    # The till says the card is blocked, as for any blocked card.
    error = await failure(resolve(stub, card("4000 0012 3456 7899")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details().startswith("value: the card was reported stolen")
    # An import rejects their rows and enrols the others.
    answer = await import_cards(stub, "b1", NEW_CARD, CARD, "4000001234567006")
    assert list(answer.statuses) == [
        identity_pb2.IMPORT_ITEM_STATUS_REJECTED,
        identity_pb2.IMPORT_ITEM_STATUS_REJECTED,
        identity_pb2.IMPORT_ITEM_STATUS_ENROLLED,
    ]
    assert all("blocked" in message for message in answer.messages[:2])

    # What is kept: neither the card numbers nor Alice, only the reasons and keyed hashes.
    assert blocked_of(await get_member(stub, alice)) == []
    for table, member_column in (
        ("identifier_lookup", "blocked_member_id"),
        ("blocked_identifiers", "member_id"),
    ):
        assert not await database.fetchval(
            f"SELECT count(*) FROM {table} WHERE value = ANY($1::text[]) OR {member_column} = $2",
            [CARD, NEW_CARD],
            alice,
        ), table
    for number in (CARD, NEW_CARD):
        assert await kept_anywhere(database, number) == [], number
    kept = await database.fetch(
        "SELECT identifier_hash, reason FROM erased_blocked_identifiers ORDER BY reason"
    )
    assert [row["reason"] for row in kept] == ["lost", "stolen"]
    assert all(row["identifier_hash"].startswith("forgotten:v2:") for row in kept)


async def test_a_card_series_never_prints_a_card_blocked_for_an_erased_member(
    stub, monkeypatch
) -> None:
    """The erasure forgets the stolen card's number (and its series) but keeps it blocked: a
    series drawing that number again printed a card that no one could enrol with."""
    alice = (await enrol(stub, email("alice@example.com"), card())).member.member_id
    await remove(stub, alice, card(), STOLEN)
    await erase(stub, alice)
    other = "400000999999999" + identifiers.luhn_check_digit("400000999999999")
    draws = iter([[CARD], [other]])
    monkeypatch.setattr(identifiers, "random_card_numbers", lambda **_: next(draws))
    series = await stub.GenerateCardSeries(
        identity_pb2.GenerateCardSeriesRequest(
            program_id=PROGRAM, idempotency_key="series-1", count=1, prefix="400000", length=16
        )
    )
    assert list(series.card_numbers) == [other]


async def test_get_member_lists_the_members_blocked_cards_until_one_goes_back(stub) -> None:
    """Support sees which card was blocked, when and why, and that a lost one may come back."""
    verified_card = identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, CARD, verified=True)
    alice = (
        await enrol(stub, email("alice@example.com"), verified_card, card(NEW_CARD))
    ).member.member_id
    bob = (await enrol(stub, email("bob@example.com"))).member.member_id
    [held] = [i for i in (await get_member(stub, alice)).identifiers if i.value == CARD]
    lost = await remove(stub, alice, card(), LOST)
    stolen = await remove(stub, alice, card(NEW_CARD), STOLEN)

    member = await get_member(stub, alice)
    assert [i.value for i in member.identifiers] == ["alice@example.com"]
    assert blocked_of(member) == [(CARD, LOST), (NEW_CARD, STOLEN)]
    first, second = member.blocked_identifiers
    # The card as the member held it (shown as identifiers are), and when it was blocked.
    assert first.identifier == held and first.identifier.verified
    assert first.blocked_at == lost.removed_at
    assert second.blocked_at == stolen.removed_at
    assert blocked_of(await get_member(stub, bob)) == []
    listed = await stub.ListMembers(identity_pb2.ListMembersRequest(program_id=PROGRAM))
    assert [blocked_of(m) for m in listed.members] == [
        [(CARD, LOST), (NEW_CARD, STOLEN)],
        [],
    ]

    # The lost card found again goes back to Alice: no longer blocked, no longer listed.
    await add(stub, alice, card())
    member = await get_member(stub, alice)
    assert blocked_of(member) == [(NEW_CARD, STOLEN)]
    assert CARD in {i.value for i in member.identifiers}
    # Lost a second time, it is listed again, as blocked now.
    again = await remove(stub, alice, card(), LOST)
    member = await get_member(stub, alice)
    assert blocked_of(member) == [(NEW_CARD, STOLEN), (CARD, LOST)]
    assert member.blocked_identifiers[1].blocked_at == again.removed_at


async def test_the_cards_blocked_before_the_member_side_was_kept_are_listed(
    database_url: str, tmp_path: Path
) -> None:
    """Migration 008 lists the cards blocked before it: a merged member's with its survivor."""
    migrations = Path(services.identity.__file__).with_name("migrations")
    for path in sorted(migrations.glob("00[1-7]_*.sql")):
        (tmp_path / path.name).write_text(path.read_text())
    connection = await asyncpg.connect(database_url)
    try:
        assert await apply_migrations(connection, schema="identity", directory=tmp_path) == 7
        await connection.execute("SET search_path TO identity")
        await connection.execute(
            "INSERT INTO programs (program_id, name, points_name, currency, time_zone, "
            "entry_tier_code, default_locale) "
            "VALUES ('acme', 'Acme', 'points', 'EUR', 'Europe/Amsterdam', 'm', 'nl-NL')"
        )
        await connection.executemany(
            "INSERT INTO members (program_id, member_id, status, merged_into_member_id, "
            "enrollment_channel, entry_tier_code, referral_code) "
            "VALUES ('acme', $1, $2, $3, 1, 'm', $1)",
            [("alice", "active", ""), ("card", "merged", "app"), ("app", "active", "")],
        )
        await connection.executemany(
            "INSERT INTO identifier_lookup (program_id, kind, value, member_id, member_status, "
            "blocked_member_id, blocked_reason, blocked_at) "
            "VALUES ('acme', $1, $2, '', 'blocked', $3, $4, '2026-01-02T03:04:05Z')",
            [
                (KIND.IDENTIFIER_KIND_CARD_NUMBER, CARD, "alice", "lost"),
                (KIND.IDENTIFIER_KIND_CARD_NUMBER, NEW_CARD, "card", "stolen"),
            ],
        )
        [latest] = migrations.glob("008_*.sql")
        (tmp_path / latest.name).write_text(latest.read_text())
        assert await apply_migrations(connection, schema="identity", directory=tmp_path) == 1
        rows = await connection.fetch(
            "SELECT member_id, value, reason, verified, added_at, blocked_at "
            "FROM blocked_identifiers ORDER BY member_id"
        )
        assert [(r["member_id"], r["value"], r["reason"]) for r in rows] == [
            ("alice", CARD, "lost"),
            ("app", NEW_CARD, "stolen"),
        ]
        assert all(not r["verified"] and r["added_at"] is None for r in rows)
        assert {r["blocked_at"].isoformat() for r in rows} == {"2026-01-02T03:04:05+00:00"}
    finally:
        await connection.close()
