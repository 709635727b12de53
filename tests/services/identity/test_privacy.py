"""Merges (identifiers and points move), GDPR export and erasure, with the real ledger."""

import asyncio
import json
from collections.abc import AsyncIterator

import grpc
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from services.identity.app import SPEC, IdentityConfig
from services.identity.housekeeping import Housekeeping
from services.identity.servicer import IdentityServicer
from services.ledger.app import SPEC as LEDGER_SPEC
from services.ledger.app import LedgerConfig
from services.shared.metrics import Metrics
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
from tests.support.calls import program

CARD = "4000001234567899"


async def configure_ledger(ledger: ledger_pb2_grpc.LedgerServiceStub) -> None:
    config = ledger_pb2.ProgramConfig(
        program_id=PROGRAM,
        points_name="points",
        currency="EUR",
        time_zone="Europe/Amsterdam",
        return_window_days=0,
        expiry_policy=ledger_pb2.ExpiryPolicy(kind=ledger_pb2.EXPIRY_KIND_NEVER),
        negative_balance_policy=ledger_pb2.NEGATIVE_BALANCE_POLICY_RECORD_DEBT,
        hold_ttl_seconds=600,
        tier_window=ledger_pb2.TierWindow(
            kind=ledger_pb2.TIER_WINDOW_KIND_CALENDAR_YEAR,
            requalification_period=ledger_pb2.CALENDAR_PERIOD_YEAR,
        ),
        qualifying_basis=ledger_pb2.QUALIFYING_BASIS_POINTS,
        rounding_mode=common_pb2.ROUNDING_MODE_FLOOR,
        entry_tier_code="member",
    )
    await ledger.ConfigureProgram(
        ledger_pb2.ConfigureProgramRequest(
            program_id=PROGRAM, idempotency_key="configure", config=config
        )
    )


async def earn(
    ledger: ledger_pb2_grpc.LedgerServiceStub, member_id: str, points: int, key: str
) -> None:
    await ledger.Earn(
        ledger_pb2.EarnRequest(
            program_id=PROGRAM,
            idempotency_key=key,
            member_id=member_id,
            points=points,
            source_reference=key,
            reason=ledger_pb2.PostingReason(code="purchase"),
        )
    )


@pytest.fixture
async def with_ledger(
    start_service,
) -> AsyncIterator[
    tuple[identity_pb2_grpc.IdentityServiceStub, ledger_pb2_grpc.LedgerServiceStub, object]
]:
    """Identity and the real ledger, in-process on the test's database; identity calls it."""
    async with start_service(LEDGER_SPEC, LedgerConfig) as (ledger_service, ledger_channel):
        address = f"127.0.0.1:{ledger_service.port}"
        async with start_service(SPEC, IdentityConfig, ledger_address=address) as (
            service,
            channel,
        ):
            stub = identity_pb2_grpc.IdentityServiceStub(channel)
            await stub.CreateProgram(
                identity_pb2.CreateProgramRequest(
                    program_id=PROGRAM, idempotency_key="c", program=program(PROGRAM)
                )
            )
            ledger = ledger_pb2_grpc.LedgerServiceStub(ledger_channel)
            await configure_ledger(ledger)
            yield stub, ledger, service


@pytest.fixture
async def ledger_out_of_reach(start_service):  # type: ignore[no-untyped-def]
    """Identity whose ledger is out of reach, with a card member and an app member to merge:
    (stub, service, card member, app member)."""
    async with start_service(SPEC, IdentityConfig, ledger_address="127.0.0.1:9") as (
        service,
        channel,
    ):
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        await stub.CreateProgram(
            identity_pb2.CreateProgramRequest(
                program_id=PROGRAM, idempotency_key="c", program=program(PROGRAM)
            )
        )
        card_member = (
            await enrol(stub, identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, CARD))
        ).member.member_id
        app_member = (await enrol(stub, email("alice@example.com"))).member.member_id
        yield stub, service, card_member, app_member


async def merge(stub, survivor: str, merged: str, key: str = "merge-1"):
    return await stub.MergeMembers(
        identity_pb2.MergeMembersRequest(
            program_id=PROGRAM,
            idempotency_key=key,
            survivor_member_id=survivor,
            merged_member_id=merged,
            operator_id="desk-7",
            note="plastic card customer installed the app",
        )
    )


async def balance(ledger, member_id: str) -> int:
    answer = await ledger.GetBalance(
        ledger_pb2.GetBalanceRequest(program_id=PROGRAM, member_id=member_id)
    )
    return answer.balance.available_points


async def test_a_merge_moves_identifiers_and_points_and_the_ledger_verifies_clean(
    with_ledger, servers: Servers, nats_namespace: str
) -> None:
    stub, ledger, service = with_ledger
    card_member = (
        await enrol(stub, identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, CARD))
    ).member.member_id
    app_member = (await enrol(stub, email("alice@example.com"))).member.member_id
    qr = await stub.IssueQrToken(
        identity_pb2.IssueQrTokenRequest(program_id=PROGRAM, member_id=card_member)
    )
    await earn(ledger, card_member, 120, "p1")
    await earn(ledger, app_member, 30, "p2")
    merged = await merge(stub, app_member, card_member)
    assert merged.transferred_points == 120 and merged.ledger_transfer_id
    assert [i.value for i in merged.moved_identifiers] == [CARD]
    assert {i.value for i in merged.survivor.identifiers} == {CARD, "alice@example.com"}
    assert (await balance(ledger, app_member), await balance(ledger, card_member)) == (150, 0)
    # The ledger's postings of the transfer say why by a fixed code; the merge's note, free text
    # that may be personal, stays in identity, where an erasure blanks it.
    for member_id in (app_member, card_member):
        history = await ledger.ListHistory(
            ledger_pb2.ListHistoryRequest(program_id=PROGRAM, member_id=member_id)
        )
        [moved] = [p for p in history.postings if p.counterparty_member_id]
        assert moved.reason == ledger_pb2.PostingReason(code="member_merge", operator_id="desk-7")
    verified = await ledger.Verify(ledger_pb2.VerifyRequest(program_id=PROGRAM))
    assert verified.differences_count == 0 and verified.program_sum_points == 0
    assert verified.accounts_checked_count >= 2
    # The merged member resolves to the survivor from now on, by identifier and by QR card.
    resolved = await stub.ResolveIdentifier(
        identity_pb2.ResolveIdentifierRequest(
            program_id=PROGRAM, kind=KIND.IDENTIFIER_KIND_CARD_NUMBER, value=CARD
        )
    )
    assert resolved.member_id == app_member
    by_qr = await stub.ResolveIdentifier(
        identity_pb2.ResolveIdentifierRequest(
            program_id=PROGRAM, kind=KIND.IDENTIFIER_KIND_APP_QR_TOKEN, value=qr.token
        )
    )
    assert by_qr.member_id == app_member
    gone = (
        await stub.GetMember(
            identity_pb2.GetMemberRequest(program_id=PROGRAM, member_id=card_member)
        )
    ).member
    assert (
        gone.status == common_pb2.MEMBER_STATUS_MERGED and gone.merged_into_member_id == app_member
    )
    # A retry answers the same; the merged member cannot be merged again.
    assert await merge(stub, app_member, card_member) == merged
    error = await failure(merge(stub, app_member, card_member, key="merge-2"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    await service.relay.flush(timeout_s=10)
    [event] = await published(servers, nats_namespace, "member_merged", 1)
    assert (event.member_merged.merged_member_id, event.member_merged.transferred_points) == (
        card_member,
        120,
    )
    # The export carries the ledger history; an erasure leaves the ledger balanced.
    exported = await stub.ExportMember(
        identity_pb2.ExportMemberRequest(program_id=PROGRAM, member_id=app_member)
    )
    assert exported.available_points == 150
    assert sorted(p.points for p in exported.ledger_postings) == [30, 120]
    section = json.loads(exported.sections[0].content)
    assert section["merges"][0]["merged_member_id"] == card_member
    assert section["merged_members"][0]["member_id"] == card_member
    await stub.EraseMember(
        identity_pb2.EraseMemberRequest(
            program_id=PROGRAM,
            idempotency_key="e1",
            member_id=app_member,
            operator_id="dpo",
            reason="ticket 77",
        )
    )
    verified = await ledger.Verify(ledger_pb2.VerifyRequest(program_id=PROGRAM))
    assert await balance(ledger, app_member) == 150
    assert verified.differences_count == 0 and verified.program_sum_points == 0


async def test_a_merge_records_its_transfer_while_the_ledger_is_down(
    ledger_out_of_reach, database
) -> None:
    """Identity's side commits with the transfer it owes; the merged member resolves to the
    survivor already, and a retry (or housekeeping) completes the transfer later."""
    stub, _, card_member, app_member = ledger_out_of_reach
    error = await failure(merge(stub, app_member, card_member))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "retry with the same idempotency key" in error.details()
    row = await database.fetchrow("SELECT * FROM merges")
    assert row["state"] == "pending" and row["attempt_count"] == 1 and row["last_error"]
    assert row["transfer_idempotency_key"] == f"merge:{card_member}"
    transfer = ledger_pb2.TransferPointsRequest.FromString(row["transfer_request"])
    assert transfer == ledger_pb2.TransferPointsRequest(
        program_id=PROGRAM,
        idempotency_key=f"merge:{card_member}",
        source_member_id=card_member,
        target_member_id=app_member,
        transfer_all=True,
        # The note stays in identity: the ledger keeps reasons out of an erasure's reach.
        reason=ledger_pb2.PostingReason(code="member_merge", operator_id="desk-7"),
    )
    assert row["note"] == "plastic card customer installed the app"
    resolved = await stub.ResolveIdentifier(
        identity_pb2.ResolveIdentifierRequest(
            program_id=PROGRAM, kind=KIND.IDENTIFIER_KIND_CARD_NUMBER, value=CARD
        )
    )
    assert resolved.member_id == app_member
    error = await failure(merge(stub, app_member, card_member))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert await database.fetchval("SELECT attempt_count FROM merges") == 2
    # The survivor cannot be merged on while the card's points are on their way to it: that
    # transfer would find its ledger account closed, and the points would never arrive.
    shop_member = (await enrol(stub, email("alice@shop.example"))).member.member_id
    error = await failure(merge(stub, shop_member, app_member, key="merge-2"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert ("loyalty-error-reason", "MERGE_PENDING") in tuple(error.trailing_metadata())
    assert error.details().startswith(f"merged_member_id: member {app_member!r} is still")
    assert await database.fetchval("SELECT count(*) FROM merges") == 1
    assert (
        await database.fetchval("SELECT count(*) FROM outbox WHERE subject LIKE '%member_merged'")
        == 0
    )


async def test_housekeeping_finishes_a_stalled_merge_once_the_ledger_is_back(
    start_service, ledger_out_of_reach, database
) -> None:
    stub, service, card_member, app_member = ledger_out_of_reach
    async with start_service(LEDGER_SPEC, LedgerConfig) as (_, ledger_channel):
        ledger = ledger_pb2_grpc.LedgerServiceStub(ledger_channel)
        await configure_ledger(ledger)
        await earn(ledger, card_member, 70, "p1")
        await failure(merge(stub, app_member, card_member))
        # Housekeeping of a replica that reaches the ledger.
        servicer = IdentityServicer(service.pool, service.runtime.outbox, ledger=ledger)
        assert await servicer.finish_stalled_merges(older_than_s=0) == 1
        assert await balance(ledger, app_member) == 70
        verified = await ledger.Verify(ledger_pb2.VerifyRequest(program_id=PROGRAM))
        assert verified.differences_count == 0
    row = await database.fetchrow("SELECT state, transferred_points FROM merges")
    assert (row["state"], row["transferred_points"]) == ("completed", 70)


async def with_the_note_in_its_stored_request(database, merged_member_id: str, note: str) -> None:
    """Make the merge look stored before its note stayed in identity: the transfer request kept
    for the ledger carried the note."""
    stored = await database.fetchval(
        "SELECT transfer_request FROM merges WHERE merged_member_id = $1", merged_member_id
    )
    transfer = ledger_pb2.TransferPointsRequest.FromString(stored)
    transfer.reason.note = note
    await database.execute(
        "UPDATE merges SET transfer_request = $2 WHERE merged_member_id = $1",
        merged_member_id,
        transfer.SerializeToString(),
    )


async def test_an_erasure_finishes_a_pending_merge_first_and_blanks_its_note_once_final(
    start_service, ledger_out_of_reach, database
) -> None:
    """A pending merge's stored transfer request is sent to the ledger as it is until the ledger
    acknowledges it, so an erasure cannot blank the note inside it then: while the ledger is
    down the erasure is refused as retryable and erases nothing; with the ledger back it
    finishes the merge, then erases, the note in the stored request too."""
    stub, service, card_member, app_member = ledger_out_of_reach
    await failure(merge(stub, app_member, card_member))
    await with_the_note_in_its_stored_request(database, card_member, "installed the app")
    erase = identity_pb2.EraseMemberRequest(
        program_id=PROGRAM,
        idempotency_key="erase-app",
        member_id=app_member,
        operator_id="dpo",
        reason="ticket 12",
    )
    error = await failure(stub.EraseMember(erase))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "retry with the same idempotency key" in error.details()
    assert await database.fetchval("SELECT count(*) FROM erasures") == 0
    row = await database.fetchrow("SELECT state, note, transfer_request FROM merges")
    assert row["state"] == "pending" and row["note"]
    async with start_service(LEDGER_SPEC, LedgerConfig) as (_, ledger_channel):
        ledger = ledger_pb2_grpc.LedgerServiceStub(ledger_channel)
        await configure_ledger(ledger)
        await earn(ledger, card_member, 25, "p1")
        # A replica that reaches the ledger.
        servicer = IdentityServicer(service.pool, service.runtime.outbox, ledger=ledger)
        erased = await servicer.EraseMember(erase, None)  # type: ignore[arg-type]
        assert erased.member_id == app_member
        assert await balance(ledger, app_member) == 25
    row = await database.fetchrow("SELECT state, note, transfer_request FROM merges")
    assert row["state"] == "completed" and row["note"] == ""
    transfer = ledger_pb2.TransferPointsRequest.FromString(row["transfer_request"])
    assert transfer.reason.note == "" and transfer.idempotency_key == f"merge:{card_member}"
    assert await database.fetchval("SELECT count(*) FROM erasures") == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"merged_member_id": ""}, "merged_member_id"),
        ({"survivor_member_id": ""}, "survivor_member_id"),
        ({"merged_member_id": "same"}, "merged_member_id"),
        ({"note": "x" * 1001}, "note"),
    ],
)
async def test_bad_merges_name_the_field(stub, database, fields, field) -> None:
    request = identity_pb2.MergeMembersRequest(
        program_id=PROGRAM, idempotency_key="m", survivor_member_id="same", merged_member_id="other"
    )
    for name, value in fields.items():
        setattr(request, name, value)
    error = await failure(stub.MergeMembers(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(f"{field}:")
    assert await database.fetchval("SELECT count(*) FROM merges") == 0


PII = {
    "given_name": "Zebedee",
    "family_name": "Quintessa-Wolff",
    "email": "zebedee.qw@example.org",
    "phone": "+31687654321",
    "phone_digits": "687654321",
    "card": CARD,
    "social": "g-8812731-zq",
    "pos": "POS-77123",
    "external": "crm-55501",
    "birthday": "1987-06-05",
    "preference": "size-xxl-unique",
    "added_email": "zq.second@example.org",
    "merge_note": "same person as card holder zq-5521",
    # Cards reported lost (the member's) and stolen (the merged older account's): blocked.
    "lost_card": "4000005551044127",
    "stolen_card": "6280007773025195",
}


async def pii_found(database) -> list[tuple[str, str, str]]:
    """(table, column, value) of every PII value in any column of any identity table: text
    columns (and every other column as text, so dates and JSON too), and the bytes of binary
    columns (the responses kept for retries, the transfer requests kept for merges)."""
    columns = await database.fetch(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema = 'identity' AND t.table_type = 'BASE TABLE'"
    )
    assert any(c["data_type"] == "text" for c in columns)
    assert {"members", "member_identifiers", "identifier_lookup"} <= {
        c["table_name"] for c in columns
    }
    assert {("idempotency_keys", "response"), ("merges", "transfer_request")} <= {
        (c["table_name"], c["column_name"]) for c in columns if c["data_type"] == "bytea"
    }
    found = []
    for column in columns:
        table, name = column["table_name"], column["column_name"]
        condition = (
            f"position(convert_to($1, 'UTF8') in \"{name}\") > 0"
            if column["data_type"] == "bytea"
            else f'strpos(lower("{name}"::text), lower($1)) > 0'
        )
        for value in PII.values():
            if await database.fetchval(f'SELECT count(*) FROM "{table}" WHERE {condition}', value):
                found.append((table, name, value))
    return found


# Retry keys may name the person, as a till's do.
ENROL_KEY = f"enrol:{PII['pos']}"


async def test_after_an_erase_no_identity_table_holds_the_members_pii(
    with_ledger, database, servers: Servers, nats_namespace: str
) -> None:
    stub, _, service = with_ledger
    from google.protobuf.field_mask_pb2 import FieldMask

    enrolled = await enrol(
        stub,
        email(PII["email"].upper()),
        identifier(KIND.IDENTIFIER_KIND_PHONE, "06 87654321"),
        identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, PII["card"]),
        identifier(KIND.IDENTIFIER_KIND_SOCIAL_SUBJECT, PII["social"], "google"),
        identifier(KIND.IDENTIFIER_KIND_POS_CUSTOMER_ID, PII["pos"]),
        identifier(KIND.IDENTIFIER_KIND_EXTERNAL_ID, PII["external"]),
        key=ENROL_KEY,
        profile=identity_pb2.Profile(
            given_name=PII["given_name"],
            family_name=PII["family_name"],
            birthday=common_pb2.LocalDate(year=1987, month=6, day=5),
            locale="nl-NL",
            preferences={"size": PII["preference"]},
        ),
        consents=[identity_pb2.Consent(channel=common_pb2.CONSENT_CHANNEL_EMAIL, granted=True)],
    )
    member_id = enrolled.member.member_id
    other = (await enrol(stub, email("someone.else@example.org"))).member.member_id
    await stub.UpdateProfile(
        identity_pb2.UpdateProfileRequest(
            program_id=PROGRAM,
            idempotency_key=f"profile:{PII['email']}",
            member_id=member_id,
            profile=identity_pb2.Profile(home_store_id="store-1", family_name=PII["family_name"]),
            update_mask=FieldMask(paths=["home_store_id", "family_name"]),
        )
    )
    await stub.AddIdentifier(
        identity_pb2.AddIdentifierRequest(
            program_id=PROGRAM,
            idempotency_key=f"add:{PII['added_email']}",
            member_id=member_id,
            identifier=email(PII["added_email"]),
        )
    )
    await stub.UpdateConsents(
        identity_pb2.UpdateConsentsRequest(
            program_id=PROGRAM,
            # A till's key naming its customer, as the enrolment's does.
            idempotency_key=f"consent:{PII['pos']}",
            member_id=member_id,
            consent_updates=[
                identity_pb2.ConsentUpdate(channel=common_pb2.CONSENT_CHANNEL_SMS, granted=True)
            ],
            source_channel=common_pb2.CHANNEL_APP,
        )
    )
    token = await stub.IssueMemberToken(
        identity_pb2.IssueMemberTokenRequest(
            program_id=PROGRAM, member_id=member_id, scopes=["member:read"]
        )
    )
    # An older account of the person, merged with a note an operator wrote about them, whose
    # card was stolen; and a card of the member's own reported lost.
    old_account = (
        await enrol(
            stub,
            email("old.account@example.net"),
            identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, PII["stolen_card"]),
        )
    ).member.member_id
    for holder, card_number, reason in (
        (old_account, PII["stolen_card"], identity_pb2.IDENTIFIER_REMOVAL_REASON_STOLEN),
        (member_id, PII["lost_card"], identity_pb2.IDENTIFIER_REMOVAL_REASON_LOST),
    ):
        if holder == member_id:
            await stub.AddIdentifier(
                identity_pb2.AddIdentifierRequest(
                    program_id=PROGRAM,
                    idempotency_key=f"add-card:{card_number}",
                    member_id=holder,
                    identifier=identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, card_number),
                )
            )
        await stub.RemoveIdentifier(
            identity_pb2.RemoveIdentifierRequest(
                program_id=PROGRAM,
                idempotency_key=f"block:{card_number}",
                member_id=holder,
                kind=KIND.IDENTIFIER_KIND_CARD_NUMBER,
                value=card_number,
                reason=reason,
            )
        )
    await stub.MergeMembers(
        identity_pb2.MergeMembersRequest(
            program_id=PROGRAM,
            idempotency_key="merge-z",
            survivor_member_id=member_id,
            merged_member_id=old_account,
            operator_id="desk-7",
            note=PII["merge_note"],
        )
    )
    await with_the_note_in_its_stored_request(database, old_account, PII["merge_note"])
    assert {value for _, _, value in await pii_found(database)} == set(PII.values())
    # The merge's stored answer lists the survivor's blocked cards, the merged account's too.
    listed = (
        await stub.GetMember(identity_pb2.GetMemberRequest(program_id=PROGRAM, member_id=member_id))
    ).member
    assert {b.identifier.value for b in listed.blocked_identifiers} == {
        PII["lost_card"],
        PII["stolen_card"],
    }

    request = identity_pb2.EraseMemberRequest(
        program_id=PROGRAM,
        idempotency_key="erase-z",
        member_id=member_id,
        operator_id="dpo-1",
        reason="ticket 4711",
    )
    erased = await stub.EraseMember(request)
    assert erased.member_id == member_id and erased.erased_at.seconds > 0
    assert await pii_found(database) == []
    assert await stub.EraseMember(request) == erased
    error = await failure(
        stub.EraseMember(
            identity_pb2.EraseMemberRequest(
                program_id=PROGRAM,
                idempotency_key="erase-again",
                member_id=member_id,
                operator_id="dpo-1",
                reason="again",
            )
        )
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    # The member stays as a pseudonym; its identifiers are free for anyone.
    kept = (
        await stub.GetMember(identity_pb2.GetMemberRequest(program_id=PROGRAM, member_id=member_id))
    ).member
    assert kept.status == common_pb2.MEMBER_STATUS_ERASED
    assert not kept.identifiers and not kept.consents and kept.profile == identity_pb2.Profile()
    assert not kept.blocked_identifiers
    error = await failure(
        stub.ResolveIdentifier(
            identity_pb2.ResolveIdentifierRequest(
                program_id=PROGRAM, kind=KIND.IDENTIFIER_KIND_EMAIL, value=PII["email"]
            )
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    again = (
        await enrol(stub, email(PII["email"]), identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, CARD))
    ).member
    assert again.member_id not in (member_id, other)
    error = await failure(
        stub.VerifyMemberToken(
            identity_pb2.VerifyMemberTokenRequest(program_id=PROGRAM, token=token.token)
        )
    )
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    # A retry of the original enrolment replays a response with nothing personal in it.
    replay = await enrol(
        stub,
        email(PII["email"].upper()),
        identifier(KIND.IDENTIFIER_KIND_PHONE, "06 87654321"),
        identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, PII["card"]),
        identifier(KIND.IDENTIFIER_KIND_SOCIAL_SUBJECT, PII["social"], "google"),
        identifier(KIND.IDENTIFIER_KIND_POS_CUSTOMER_ID, PII["pos"]),
        identifier(KIND.IDENTIFIER_KIND_EXTERNAL_ID, PII["external"]),
        key=ENROL_KEY,
        profile=identity_pb2.Profile(
            given_name=PII["given_name"],
            family_name=PII["family_name"],
            birthday=common_pb2.LocalDate(year=1987, month=6, day=5),
            locale="nl-NL",
            preferences={"size": PII["preference"]},
        ),
        consents=[identity_pb2.Consent(channel=common_pb2.CONSENT_CHANNEL_EMAIL, granted=True)],
    )
    assert replay.member.member_id == member_id and not replay.member.identifiers
    assert not replay.member.HasField("profile") and not replay.created
    # The keys are kept as their hashes, still bound: the retry re-created nobody and stored its
    # key nowhere, and another enrolment with the key is refused as a reused key.
    assert await database.fetchval("SELECT count(*) FROM members") == 4
    assert not await database.fetchval(
        "SELECT count(*) FROM idempotency_keys WHERE strpos(idempotency_key, $1) > 0", PII["pos"]
    )
    error = await failure(enrol(stub, email("new.person@example.org"), key=ENROL_KEY))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert ("loyalty-error-reason", "IDEMPOTENCY_KEY_REUSED") in tuple(error.trailing_metadata())
    await service.relay.flush(timeout_s=10)
    [event] = await published(servers, nats_namespace, "member_erased", 1)
    assert event.member_erased.member_id == member_id


async def test_erasing_needs_an_operator_and_a_reason(stub, database) -> None:
    member_id = (await enrol(stub, email("alice@example.com"))).member.member_id
    for fields, field in (({"operator_id": ""}, "operator_id"), ({"reason": ""}, "reason")):
        request = identity_pb2.EraseMemberRequest(
            program_id=PROGRAM,
            idempotency_key="e",
            member_id=member_id,
            operator_id="dpo",
            reason="ticket 1",
        )
        for name, value in fields.items():
            setattr(request, name, value)
        error = await failure(stub.EraseMember(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details().startswith(
            f"{field}:"
        )
    assert await database.fetchval("SELECT count(*) FROM erasures") == 0


async def test_an_export_needs_the_ledger(stub) -> None:
    """Without the ledger's history an export would be incomplete, so it is refused as retryable."""
    member_id = (await enrol(stub, email("alice@example.com"))).member.member_id
    error = await failure(
        stub.ExportMember(identity_pb2.ExportMemberRequest(program_id=PROGRAM, member_id=member_id))
    )
    assert error.code() == grpc.StatusCode.UNAVAILABLE


async def test_an_export_of_a_member_without_points_has_an_empty_history(with_ledger) -> None:
    stub, _, _ = with_ledger
    member_id = (await enrol(stub, email("alice@example.com"))).member.member_id
    await stub.UpdateConsents(
        identity_pb2.UpdateConsentsRequest(
            program_id=PROGRAM,
            idempotency_key="c1",
            member_id=member_id,
            consent_updates=[
                identity_pb2.ConsentUpdate(channel=common_pb2.CONSENT_CHANNEL_PUSH, granted=True)
            ],
            source_channel=common_pb2.CHANNEL_APP,
        )
    )
    exported = await stub.ExportMember(
        identity_pb2.ExportMemberRequest(program_id=PROGRAM, member_id=member_id)
    )
    assert exported.member.member_id == member_id and exported.available_points == 0
    assert list(exported.ledger_postings) == []
    section = json.loads(exported.sections[0].content)
    assert section["consent_changes"][0]["granted"] is True


async def test_a_merged_members_referral_code_refers_for_the_survivor_an_erased_ones_for_nobody(
    with_ledger,
) -> None:
    """A card customer shared their referral code before installing the app; after the merge the
    code still refers, for the survivor (the merged member's ledger account is closed). Once the
    survivor is erased, neither code refers anyone any more."""
    stub, _, _ = with_ledger
    card_member = (await enrol(stub, identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, CARD))).member
    app_member = (await enrol(stub, email("alice@example.com"))).member
    await merge(stub, app_member.member_id, card_member.member_id)
    referred = (
        await enrol(stub, email("bob@example.com"), referral_code=card_member.referral_code)
    ).member
    assert referred.referrer_member_id == app_member.member_id
    await stub.EraseMember(
        identity_pb2.EraseMemberRequest(
            program_id=PROGRAM,
            idempotency_key="erase-alice",
            member_id=app_member.member_id,
            operator_id="dpo",
            reason="ticket 5",
        )
    )
    for code in (card_member.referral_code, app_member.referral_code):
        error = await failure(enrol(stub, email("carol@example.com"), referral_code=code))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details().startswith("referral_code:")


async def test_a_merged_member_is_erased_through_its_survivor_only(with_ledger, database) -> None:
    """The card customer's identifiers and points are the survivor's after a merge: erasing the
    merged member alone would answer "erased" while the card still recognises the person."""
    stub, ledger, _ = with_ledger
    card_member = (
        await enrol(stub, identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, CARD))
    ).member.member_id
    app_member = (await enrol(stub, email("alice@example.com"))).member.member_id
    await earn(ledger, card_member, 40, "p1")
    await merge(stub, app_member, card_member)

    def erase(member_id: str, key: str):
        return stub.EraseMember(
            identity_pb2.EraseMemberRequest(
                program_id=PROGRAM,
                idempotency_key=key,
                member_id=member_id,
                operator_id="dpo",
                reason="ticket 9",
            )
        )

    error = await failure(erase(card_member, "erase-card"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert ("loyalty-error-reason", "MEMBER_CLOSED") in tuple(error.trailing_metadata())
    assert error.details().startswith(f"member_id: member {card_member!r} is merged into")
    assert app_member in error.details()
    assert await database.fetchval("SELECT count(*) FROM erasures") == 0
    resolved = await stub.ResolveIdentifier(
        identity_pb2.ResolveIdentifierRequest(
            program_id=PROGRAM, kind=KIND.IDENTIFIER_KIND_CARD_NUMBER, value=CARD
        )
    )
    assert resolved.member_id == app_member
    # Erasing the survivor takes the merged member with it, and frees the card.
    await erase(app_member, "erase-app")
    for member_id in (app_member, card_member):
        kept = (
            await stub.GetMember(
                identity_pb2.GetMemberRequest(program_id=PROGRAM, member_id=member_id)
            )
        ).member
        assert kept.status == common_pb2.MEMBER_STATUS_ERASED
    error = await failure(
        stub.ResolveIdentifier(
            identity_pb2.ResolveIdentifierRequest(
                program_id=PROGRAM, kind=KIND.IDENTIFIER_KIND_CARD_NUMBER, value=CARD
            )
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert await balance(ledger, app_member) == 40


async def test_an_export_holds_what_is_kept_of_the_members_merged_into_it(with_ledger) -> None:
    """A shop customer merged into a card customer, who is merged into the app member: the app
    member's export holds the consents the others gave and both merges, as the erasure of the app
    member erases them."""
    stub, _, _ = with_ledger
    shop = (await enrol(stub, email("alice@shop.example"))).member.member_id
    card = (await enrol(stub, identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, CARD))).member.member_id
    app = (await enrol(stub, email("alice@example.com"))).member.member_id
    # The card customer's card was stolen before the merge: blocked, and still data about them.
    blocked = await stub.RemoveIdentifier(
        identity_pb2.RemoveIdentifierRequest(
            program_id=PROGRAM,
            idempotency_key="stolen",
            member_id=card,
            kind=KIND.IDENTIFIER_KIND_CARD_NUMBER,
            value=CARD,
            reason=identity_pb2.IDENTIFIER_REMOVAL_REASON_STOLEN,
        )
    )
    for member_id, channel in (
        (shop, common_pb2.CONSENT_CHANNEL_EMAIL),
        (card, common_pb2.CONSENT_CHANNEL_SMS),
    ):
        await stub.UpdateConsents(
            identity_pb2.UpdateConsentsRequest(
                program_id=PROGRAM,
                idempotency_key=f"consent-{member_id}",
                member_id=member_id,
                consent_updates=[identity_pb2.ConsentUpdate(channel=channel, granted=True)],
                source_channel=common_pb2.CHANNEL_STORE,
            )
        )
    await merge(stub, card, shop, key="merge-shop")
    await merge(stub, app, card, key="merge-card")
    exported = await stub.ExportMember(
        identity_pb2.ExportMemberRequest(program_id=PROGRAM, member_id=app)
    )
    section = json.loads(exported.sections[0].content)
    assert {m["member_id"] for m in section["merged_members"]} == {shop, card}
    [stolen] = exported.member.blocked_identifiers
    assert stolen.identifier.value == CARD and stolen.blocked_at == blocked.removed_at
    assert stolen.reason == identity_pb2.IDENTIFIER_REMOVAL_REASON_STOLEN
    assert sorted(
        (c["member_id"], c["channel"], c["granted"]) for c in section["consent_changes"]
    ) == sorted(
        [
            (shop, common_pb2.CONSENT_CHANNEL_EMAIL, True),
            (card, common_pb2.CONSENT_CHANNEL_SMS, True),
        ]
    )
    assert sorted(
        (m["merged_member_id"], m["survivor_member_id"]) for m in section["merges"]
    ) == sorted([(shop, card), (card, app)])


async def test_housekeeping_counts_a_run_that_leaves_a_stalled_merge_pending_as_failed(
    ledger_out_of_reach, database
) -> None:
    """A merge whose points the ledger does not take stays pending: each housekeeping run that
    cannot finish it counts as failed, so LoyaltyScheduledJobFailing pages (it was only a
    warning in the log, and the merged member's points never reached the survivor)."""
    stub, service, card_member, app_member = ledger_out_of_reach
    await failure(merge(stub, app_member, card_member))
    await database.execute("UPDATE merges SET created_at = now() - interval '1 hour'")
    metrics = Metrics.create()
    unreachable = grpc.aio.insecure_channel("127.0.0.1:9")
    servicer = IdentityServicer(
        service.pool, service.runtime.outbox, ledger=ledger_pb2_grpc.LedgerServiceStub(unreachable)
    )
    housekeeping = Housekeeping(servicer, metrics, interval_s=3600)
    stop = asyncio.Event()
    worker = asyncio.create_task(housekeeping.run(stop))

    def runs(outcome: str) -> float | None:
        return metrics.registry.get_sample_value(
            "loyalty_scheduled_job_runs_total",
            {"service": "identity", "scheduled_job": "housekeeping", "outcome": outcome},
        )

    try:
        async with asyncio.timeout(30):
            # The worker's first run: a counter has nothing to wait on but a poll.
            while not runs("failed"):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)
        await unreachable.close()
    assert (runs("ok"), runs("failed")) == (0, 1)
    assert await database.fetchval("SELECT state FROM merges") == "pending"
