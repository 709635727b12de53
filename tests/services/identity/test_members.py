"""Enrolment, identifiers and resolving them, through real gRPC, PostgreSQL and JetStream."""

import asyncio

import grpc
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2
from services.identity.identifiers import luhn_valid
from tests.conftest import Servers
from tests.services.identity.conftest import (
    KIND,
    PROGRAM,
    email,
    enrol,
    failure,
    identifier,
    published,
    row_counts,
)
from tests.support.calls import program

CARD = "4000001234567899"  # Luhn-valid

EVERY_KIND = [
    (
        identifier(KIND.IDENTIFIER_KIND_EMAIL, "  Alice.Smith@Example.COM "),
        "alice.smith@example.com",
        "",
    ),
    (identifier(KIND.IDENTIFIER_KIND_PHONE, "+31 6 1234 5678"), "+31612345678", ""),
    (identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, "4000 0012 3456 7899"), CARD, ""),
    (identifier(KIND.IDENTIFIER_KIND_SOCIAL_SUBJECT, "1098-AbC", "google"), "1098-AbC", "google"),
    (
        identifier(KIND.IDENTIFIER_KIND_POS_CUSTOMER_ID, " C-000042 ", "store-pos"),
        "C-000042",
        "store-pos",
    ),
    (
        identifier(KIND.IDENTIFIER_KIND_EXTERNAL_ID, "crm:981", "salesforce"),
        "crm:981",
        "salesforce",
    ),
]


async def test_a_member_enrols_with_every_kind_of_identifier_and_each_resolves(
    identity, servers: Servers, nats_namespace: str
) -> None:
    stub, service = identity
    enrolled = await enrol(
        stub,
        *(given for given, _, _ in EVERY_KIND),
        key="enrol-1",
        channel=common_pb2.CHANNEL_STORE,
        store_id="store-12",
        profile=identity_pb2.Profile(
            given_name="Alice", birthday=common_pb2.LocalDate(year=1990, month=2, day=28)
        ),
        consents=[identity_pb2.Consent(channel=common_pb2.CONSENT_CHANNEL_EMAIL, granted=True)],
    )
    member = enrolled.member
    assert enrolled.created and member.status == common_pb2.MEMBER_STATUS_ACTIVE
    assert member.enrollment_channel == common_pb2.CHANNEL_STORE and member.referral_code
    stored = {(i.kind, i.provider, i.value) for i in member.identifiers}
    assert stored == {(given.kind, provider, value) for given, value, provider in EVERY_KIND}
    for given, _, _ in EVERY_KIND:
        resolved = await stub.ResolveIdentifier(
            identity_pb2.ResolveIdentifierRequest(
                program_id=PROGRAM, kind=given.kind, value=given.value, provider=given.provider
            )
        )
        assert (resolved.member_id, resolved.status) == (
            member.member_id,
            common_pb2.MEMBER_STATUS_ACTIVE,
        )
    await service.relay.flush(timeout_s=10)
    [event] = await published(servers, nats_namespace, "member_enrolled", 1)
    assert event.member_enrolled.member_id == member.member_id
    assert event.member_enrolled.entry_tier_code == "member"
    assert event.member_enrolled.birthday.year == 1990
    assert list(event.member_enrolled.granted_consent_channels) == [
        common_pb2.CONSENT_CHANNEL_EMAIL
    ]


async def test_an_email_domain_is_the_same_in_unicode_and_ascii_and_distinct_from_lookalikes(
    stub,
) -> None:
    """IDNA2008, as registries and mail systems have it: "straße.de" is "xn--strae-oqa.de", and
    "strasse.de" is another domain, whose mailbox belongs to someone else."""
    strasse = (await enrol(stub, email("alice@strasse.de"))).member
    strasse_eszett = (await enrol(stub, email("Alice@Straße.DE"))).member
    assert [i.value for i in strasse_eszett.identifiers] == ["alice@xn--strae-oqa.de"]
    for value, member in (
        ("alice@straße.de", strasse_eszett),
        ("ALICE@XN--STRAE-OQA.DE", strasse_eszett),
        ("alice@strasse.de", strasse),
    ):
        resolved = await stub.ResolveIdentifier(
            identity_pb2.ResolveIdentifierRequest(
                program_id=PROGRAM, kind=KIND.IDENTIFIER_KIND_EMAIL, value=value
            )
        )
        assert resolved.member_id == member.member_id, value
    error = await failure(enrol(stub, email("alice@xn--strae-oqa.de")))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    # An invisible joiner makes IDNA2008 refuse the domain; the IDNA2003 fallback then made
    # straße into strasse, the other domain, whose member was found (final sigma likewise).
    for value in ("alice@straße\u200d.de", "alice@σοφος\u200d.gr"):
        error = await failure(
            stub.ResolveIdentifier(
                identity_pb2.ResolveIdentifierRequest(
                    program_id=PROGRAM, kind=KIND.IDENTIFIER_KIND_EMAIL, value=value
                )
            )
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, value
        assert error.details().startswith("value:"), error.details()


async def test_a_national_phone_number_takes_the_programs_region(stub) -> None:
    member = (await enrol(stub, identifier(KIND.IDENTIFIER_KIND_PHONE, "06-12345678"))).member
    assert member.identifiers[0].value == "+31612345678"
    resolved = await stub.ResolveIdentifier(
        identity_pb2.ResolveIdentifierRequest(
            program_id=PROGRAM, kind=KIND.IDENTIFIER_KIND_PHONE, value="0612345678"
        )
    )
    assert resolved.member_id == member.member_id


BAD_IDENTIFIERS = [
    (identifier(KIND.IDENTIFIER_KIND_EMAIL, "alice"), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_EMAIL, "alice@localhost"), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_EMAIL, "al ice@example.com"), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_EMAIL, "alice@exa_mple.com"), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_EMAIL, "a@b.com", "google"), "identifiers[0].provider"),
    # A newline at the end of a part of the address: `$` matched before it, so each was taken
    # as an address of its own, another account beside alice@example.com's.
    (identifier(KIND.IDENTIFIER_KIND_EMAIL, "alice\n@example.com"), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_EMAIL, "alice@example\n.com"), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_PHONE, "+31 6 123"), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_PHONE, "phone me"), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_PHONE, "+999 1234 5678"), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, "4000001234567898"), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, "40000012345"), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, "4000-ABCD-1234-5678"), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_SOCIAL_SUBJECT, "1098"), "identifiers[0].provider"),
    (identifier(KIND.IDENTIFIER_KIND_SOCIAL_SUBJECT, "1098", "Google!"), "identifiers[0].provider"),
    (identifier(KIND.IDENTIFIER_KIND_SOCIAL_SUBJECT, "a b", "google"), "identifiers[0].value"),
    (
        identifier(KIND.IDENTIFIER_KIND_SOCIAL_SUBJECT, "1098", "google\n"),
        "identifiers[0].provider",
    ),
    (identifier(KIND.IDENTIFIER_KIND_POS_CUSTOMER_ID, " "), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_POS_CUSTOMER_ID, "x" * 129), "identifiers[0].value"),
    (identifier(KIND.IDENTIFIER_KIND_EXTERNAL_ID, "id\x00"), "identifiers[0].value"),
    (
        identifier(KIND.IDENTIFIER_KIND_EXTERNAL_ID, "crm:1", "CRM System"),
        "identifiers[0].provider",
    ),
    (identifier(KIND.IDENTIFIER_KIND_APP_QR_TOKEN, "eyJ..."), "identifiers[0].kind"),
    (identifier(KIND.IDENTIFIER_KIND_UNSPECIFIED, "x"), "identifiers[0].kind"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_IDENTIFIERS)
async def test_a_bad_identifier_names_its_field_and_writes_nothing(
    stub, database, bad, field
) -> None:
    before = await row_counts(database)
    error = await failure(enrol(stub, bad))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(f"{field}:"), error.details()
    assert dict(error.trailing_metadata())["loyalty-error-field"] == field
    assert await row_counts(database) == before


@pytest.mark.parametrize(("bad", "field"), BAD_IDENTIFIERS)
async def test_a_bad_identifier_is_refused_when_added_and_resolved_too(
    stub, database, bad, field
) -> None:
    member = (await enrol(stub, email("alice@example.com"))).member
    before = await row_counts(database)
    error = await failure(
        stub.AddIdentifier(
            identity_pb2.AddIdentifierRequest(
                program_id=PROGRAM,
                idempotency_key="add",
                member_id=member.member_id,
                identifier=bad,
            )
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(field.replace("identifiers[0]", "identifier") + ":")
    assert await row_counts(database) == before
    error = await failure(
        stub.ResolveIdentifier(
            identity_pb2.ResolveIdentifierRequest(
                program_id=PROGRAM, kind=bad.kind, value=bad.value, provider=bad.provider
            )
        )
    )
    assert error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"channel": common_pb2.CHANNEL_UNSPECIFIED}, "channel"),
        (
            {
                "profile": identity_pb2.Profile(
                    birthday=common_pb2.LocalDate(year=1990, month=2, day=30)
                )
            },
            "profile.birthday",
        ),
        ({"profile": identity_pb2.Profile(locale="Dutch")}, "profile.locale"),
        ({"profile": identity_pb2.Profile(locale="nl-NL\n")}, "profile.locale"),
        ({"profile": identity_pb2.Profile(given_name="x" * 101)}, "profile.given_name"),
        (
            {"consents": [identity_pb2.Consent(channel=common_pb2.CONSENT_CHANNEL_UNSPECIFIED)]},
            "consents[0].channel",
        ),
        ({"referral_code": "nope"}, "referral_code"),
        ({"referral_code": "ABCDEFGH"}, "referral_code"),
        ({"idempotency_key": ""}, "idempotency_key"),
    ],
)
async def test_bad_enrolments_name_the_field_and_write_nothing(
    stub, database, fields, field
) -> None:
    before = await row_counts(database)
    request = identity_pb2.EnrollMemberRequest(
        program_id=PROGRAM,
        idempotency_key="k",
        channel=common_pb2.CHANNEL_APP,
        identifiers=[email("alice@example.com")],
    )
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(request, name).extend(value)
        elif hasattr(value, "SerializeToString"):
            getattr(request, name).CopyFrom(value)
        else:
            setattr(request, name, value)
    error = await failure(stub.EnrollMember(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(f"{field}:"), error.details()
    assert await row_counts(database) == before


async def test_no_identifier_and_repeated_identifiers_are_refused(stub) -> None:
    error = await failure(enrol(stub))
    assert error.details().startswith("identifiers:")
    error = await failure(enrol(stub, email("a@example.com"), email("A@example.com")))
    assert error.details().startswith("identifiers[1].value: repeats identifiers[0]")


async def test_an_enrolment_is_idempotent(stub) -> None:
    first = await enrol(stub, email("alice@example.com"), key="same")
    again = await enrol(stub, email("alice@example.com"), key="same")
    assert first.created and not again.created
    assert again.member == first.member
    error = await failure(enrol(stub, email("bob@example.com"), key="same"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_concurrent_enrolments_with_one_email_make_exactly_one_member(stub, database) -> None:
    """With different idempotency keys, one wins and the others get ALREADY_EXISTS naming the
    identifier (the caller may then resolve it); with the same key, all get the one member."""
    outcomes = await asyncio.gather(
        *(
            enrol(stub, email(f"Carol@Example.com{'' if i % 2 else ' '}"), key=f"k{i}")
            for i in range(8)
        ),
        return_exceptions=True,
    )
    created = [o for o in outcomes if isinstance(o, identity_pb2.EnrollMemberResponse)]
    refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(created) == 1 and len(refused) == 7, outcomes
    assert {e.code() for e in refused} == {grpc.StatusCode.ALREADY_EXISTS}
    assert {e.details().split(":")[0] for e in refused} == {"identifiers[0].value"}
    assert await database.fetchval("SELECT count(*) FROM members") == 1
    same_key = await asyncio.gather(
        *(enrol(stub, email("dave@example.com"), key="one") for _ in range(6))
    )
    assert len({r.member.member_id for r in same_key}) == 1
    assert sum(r.created for r in same_key) == 1
    assert await database.fetchval("SELECT count(*) FROM members") == 2


async def test_identifiers_are_unique_within_a_program_only(stub) -> None:
    await stub.CreateProgram(
        identity_pb2.CreateProgramRequest(
            program_id="other", idempotency_key="c", program=program("other")
        )
    )
    first = (await enrol(stub, email("alice@example.com"))).member
    second = (await enrol(stub, email("alice@example.com"), program_id="other")).member
    assert first.member_id != second.member_id
    error = await failure(enrol(stub, email("bob@example.com"), email("ALICE@example.com")))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error.details().startswith("identifiers[1].value:")


async def test_identifiers_are_added_removed_and_released(stub) -> None:
    alice = (await enrol(stub, email("alice@example.com"))).member.member_id
    bob = (await enrol(stub, email("bob@example.com"))).member.member_id
    card = identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, CARD)
    added = await stub.AddIdentifier(
        identity_pb2.AddIdentifierRequest(
            program_id=PROGRAM, idempotency_key="a1", member_id=alice, identifier=card
        )
    )
    assert added.identifier.value == CARD and added.identifier.added_at.seconds > 0
    error = await failure(
        stub.AddIdentifier(
            identity_pb2.AddIdentifierRequest(
                program_id=PROGRAM, idempotency_key="b1", member_id=bob, identifier=card
            )
        )
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS and error.details().startswith(
        "identifier.value:"
    )
    removed = await stub.RemoveIdentifier(
        identity_pb2.RemoveIdentifierRequest(
            program_id=PROGRAM,
            idempotency_key="a2",
            member_id=alice,
            kind=card.kind,
            value="4000-0012-3456-7899",
        )
    )
    assert removed.identifier.value == CARD
    error = await failure(
        stub.ResolveIdentifier(
            identity_pb2.ResolveIdentifierRequest(program_id=PROGRAM, kind=card.kind, value=CARD)
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    await stub.AddIdentifier(
        identity_pb2.AddIdentifierRequest(
            program_id=PROGRAM, idempotency_key="b2", member_id=bob, identifier=card
        )
    )
    resolved = await stub.ResolveIdentifier(
        identity_pb2.ResolveIdentifierRequest(program_id=PROGRAM, kind=card.kind, value=CARD)
    )
    assert resolved.member_id == bob


async def test_adding_an_identifier_the_member_holds_says_so(stub) -> None:
    """A clerk registers a card found again that was never reported lost: the refusal says the
    member holds it, not that another member does (there is no duplicate to hunt for)."""
    alice = (await enrol(stub, email("alice@example.com"))).member.member_id
    bob = (await enrol(stub, email("bob@example.com"))).member.member_id
    card = identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, CARD)

    def add(member_id: str, key: str, value: identity_pb2.Identifier = card):
        return stub.AddIdentifier(
            identity_pb2.AddIdentifierRequest(
                program_id=PROGRAM, idempotency_key=key, member_id=member_id, identifier=value
            )
        )

    await add(alice, "a1")
    for member_id, key, value, reason in (
        (alice, "a2", identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, "4000-0012-3456-7899"), "HELD"),
        (alice, "a3", email("Alice@Example.com"), "HELD"),
        (bob, "b1", card, "TAKEN"),
    ):
        error = await failure(add(member_id, key, value))
        assert error.code() == grpc.StatusCode.ALREADY_EXISTS
        assert ("loyalty-error-reason", f"IDENTIFIER_{reason}") in tuple(error.trailing_metadata())
        assert error.details().startswith("identifier.value:")
        assert ("holds this identifier already" in error.details()) == (reason == "HELD")


async def test_batch_resolve_answers_in_request_order(stub) -> None:
    alice = (await enrol(stub, email("alice@example.com"))).member.member_id
    bob = (await enrol(stub, identifier(KIND.IDENTIFIER_KIND_EXTERNAL_ID, "b-1"))).member.member_id
    answer = await stub.BatchResolveIdentifiers(
        identity_pb2.BatchResolveIdentifiersRequest(
            program_id=PROGRAM,
            lookups=[
                identity_pb2.IdentifierLookup(kind=KIND.IDENTIFIER_KIND_EXTERNAL_ID, value="b-1"),
                identity_pb2.IdentifierLookup(
                    kind=KIND.IDENTIFIER_KIND_EMAIL, value="nobody@example.com"
                ),
                identity_pb2.IdentifierLookup(
                    kind=KIND.IDENTIFIER_KIND_EMAIL, value="not an e-mail"
                ),
                identity_pb2.IdentifierLookup(
                    kind=KIND.IDENTIFIER_KIND_EMAIL, value="ALICE@example.com"
                ),
            ],
        )
    )
    assert list(answer.member_ids) == [bob, "", "", alice]
    assert list(answer.statuses) == [
        common_pb2.MEMBER_STATUS_ACTIVE,
        common_pb2.MEMBER_STATUS_UNSPECIFIED,
        common_pb2.MEMBER_STATUS_UNSPECIFIED,
        common_pb2.MEMBER_STATUS_ACTIVE,
    ]


async def test_a_referral_code_links_the_referrer(stub) -> None:
    referrer = (await enrol(stub, email("alice@example.com"))).member
    referred = (
        await enrol(stub, email("bob@example.com"), referral_code=referrer.referral_code)
    ).member
    assert referred.referrer_member_id == referrer.member_id
    # As a friend retypes it: lower case, grouped.
    code = referrer.referral_code
    typed = f"{code[:4].lower()} - {code[4:].lower()}"
    again = (await enrol(stub, email("cat@example.com"), referral_code=typed)).member
    assert again.referrer_member_id == referrer.member_id


async def test_members_are_listed_in_pages(stub) -> None:
    ids = {(await enrol(stub, email(f"m{i}@example.com"))).member.member_id for i in range(5)}
    seen, token = [], ""
    while True:
        page = await stub.ListMembers(
            identity_pb2.ListMembersRequest(program_id=PROGRAM, page_size=2, page_token=token)
        )
        seen += [m.member_id for m in page.members]
        assert all(m.identifiers for m in page.members)
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(ids)


async def test_card_series_are_luhn_valid_distinct_and_attachable(stub, database) -> None:
    request = identity_pb2.GenerateCardSeriesRequest(
        program_id=PROGRAM, idempotency_key="s1", count=2000, prefix="60012", length=16
    )
    series = await stub.GenerateCardSeries(request)
    cards = list(series.card_numbers)
    assert len(set(cards)) == 2000 and series.series_id
    assert all(len(c) == 16 and c.startswith("60012") and luhn_valid(c) for c in cards)
    assert await stub.GenerateCardSeries(request) == series
    more = await stub.GenerateCardSeries(
        identity_pb2.GenerateCardSeriesRequest(
            program_id=PROGRAM, idempotency_key="s2", count=2000, prefix="60012", length=16
        )
    )
    assert not set(more.card_numbers) & set(cards)
    assert await database.fetchval("SELECT count(*) FROM card_numbers") == 4000
    member = (await enrol(stub, identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, cards[0]))).member
    assert member.identifiers[0].value == cards[0]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 100_001}, "count"),
        ({"prefix": "60a"}, "prefix"),
        ({"length": 11}, "length"),
        ({"length": 20}, "length"),
        ({"prefix": "6001234567", "length": 12}, "prefix"),
    ],
)
async def test_bad_card_series_name_the_field(stub, database, fields, field) -> None:
    request = identity_pb2.GenerateCardSeriesRequest(
        program_id=PROGRAM, idempotency_key="s", count=10, prefix="600", length=16
    )
    for name, value in fields.items():
        setattr(request, name, value)
    error = await failure(stub.GenerateCardSeries(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(f"{field}:"), error.details()
    assert await database.fetchval("SELECT count(*) FROM card_numbers") == 0


async def test_member_statuses_come_in_request_order_with_unknown_ids_unspecified(stub) -> None:
    ann = (await enrol(stub, email("ann@example.com"))).member.member_id
    bob = (await enrol(stub, email("bob@example.com"))).member.member_id
    # NUL, which PostgreSQL's text cannot hold, failed the whole batch's query.
    asked = [bob, "nobody", ann, " not a member id ", "x" * 500, "a\x00b", bob]
    response = await stub.BatchGetMemberStatuses(
        identity_pb2.BatchGetMemberStatusesRequest(program_id=PROGRAM, member_ids=asked)
    )
    active, unknown = common_pb2.MEMBER_STATUS_ACTIVE, common_pb2.MEMBER_STATUS_UNSPECIFIED
    assert list(response.statuses) == [active, unknown, active, unknown, unknown, unknown, active]
    assert list(response.merged_into_member_ids) == [""] * len(asked)

    elsewhere = await failure(
        stub.BatchGetMemberStatuses(
            identity_pb2.BatchGetMemberStatusesRequest(program_id="other", member_ids=[ann])
        )
    )
    assert elsewhere.code() == grpc.StatusCode.NOT_FOUND
    too_many = await failure(
        stub.BatchGetMemberStatuses(
            identity_pb2.BatchGetMemberStatusesRequest(
                program_id=PROGRAM, member_ids=[f"m{i}" for i in range(10_001)]
            )
        )
    )
    assert too_many.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert too_many.details().startswith("member_ids:")
