"""Profiles and per-channel consents, with the time of each change and the events."""

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2
from tests.conftest import Servers
from tests.services.identity.conftest import PROGRAM, email, enrol, failure, published, row_counts

EMAIL, SMS, PUSH = (
    common_pb2.CONSENT_CHANNEL_EMAIL,
    common_pb2.CONSENT_CHANNEL_SMS,
    common_pb2.CONSENT_CHANNEL_PUSH,
)


async def consent(stub, member_id: str, key: str, *changes: tuple[int, bool]):
    return await stub.UpdateConsents(
        identity_pb2.UpdateConsentsRequest(
            program_id=PROGRAM,
            idempotency_key=key,
            member_id=member_id,
            consent_updates=[identity_pb2.ConsentUpdate(channel=c, granted=g) for c, g in changes],
            source_channel=common_pb2.CHANNEL_APP,
        )
    )


async def test_consents_change_per_channel_with_their_times_and_events(
    identity, servers: Servers, nats_namespace: str
) -> None:
    stub, service = identity
    member = (
        await enrol(
            stub,
            email("alice@example.com"),
            consents=[identity_pb2.Consent(channel=EMAIL, granted=True)],
        )
    ).member
    assert [(c.channel, c.granted) for c in member.consents] == [(EMAIL, True)]
    emailed_at = member.consents[0].changed_at
    after = await consent(stub, member.member_id, "c1", (SMS, True), (EMAIL, True))
    by_channel = {c.channel: c for c in after.consents}
    assert by_channel[EMAIL].changed_at == emailed_at, "an unchanged consent keeps its time"
    assert by_channel[SMS].granted and by_channel[SMS].source_channel == common_pb2.CHANNEL_APP
    withdrawn = await consent(stub, member.member_id, "c2", (EMAIL, False))
    assert not {c.channel: c for c in withdrawn.consents}[EMAIL].granted
    assert await consent(stub, member.member_id, "c2", (EMAIL, False)) == withdrawn
    await service.relay.flush(timeout_s=10)
    events = await published(servers, nats_namespace, "consent_changed", 2)
    assert [(e.consent_changed.channel, e.consent_changed.granted) for e in events] == [
        (SMS, True),
        (EMAIL, False),
    ]
    assert all(e.consent_changed.changed_at.seconds > 0 for e in events)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ([], "consent_updates"),
        ([(common_pb2.CONSENT_CHANNEL_UNSPECIFIED, True)], "consent_updates[0].channel"),
        ([(SMS, True), (SMS, False)], "consent_updates[1].channel"),
    ],
)
async def test_bad_consent_changes_name_the_field(stub, database, changes, field) -> None:
    member_id = (await enrol(stub, email("alice@example.com"))).member.member_id
    before = await row_counts(database)
    error = await failure(consent(stub, member_id, "k", *changes))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(f"{field}:")
    assert await row_counts(database) == before


async def test_the_profile_changes_only_the_masked_fields(
    identity, servers, nats_namespace
) -> None:
    stub, service = identity
    member = (
        await enrol(
            stub,
            email("alice@example.com"),
            profile=identity_pb2.Profile(given_name="Alice", family_name="Smith", locale="nl-NL"),
        )
    ).member
    changes = identity_pb2.Profile(
        given_name="Ignored",
        birthday=common_pb2.LocalDate(year=1991, month=7, day=14),
        preferences={"size": "M"},
    )
    updated = await stub.UpdateProfile(
        identity_pb2.UpdateProfileRequest(
            program_id=PROGRAM,
            idempotency_key="p1",
            member_id=member.member_id,
            profile=changes,
            update_mask=FieldMask(paths=["birthday", "preferences"]),
        )
    )
    assert updated.profile.given_name == "Alice" and updated.profile.birthday.month == 7
    assert dict(updated.profile.preferences) == {"size": "M"}
    read = await stub.GetMember(
        identity_pb2.GetMemberRequest(program_id=PROGRAM, member_id=member.member_id)
    )
    assert read.member.profile == updated.profile
    await service.relay.flush(timeout_s=10)
    [event] = await published(servers, nats_namespace, "member_updated", 1)
    assert list(event.member_updated.changed_fields) == ["birthday", "preferences"]
    assert event.member_updated.birthday.day == 14


@pytest.mark.parametrize(
    ("profile", "paths", "field"),
    [
        (identity_pb2.Profile(), [], "update_mask"),
        (identity_pb2.Profile(), ["email"], "update_mask"),
        (
            identity_pb2.Profile(birthday=common_pb2.LocalDate(year=2999, month=1, day=1)),
            ["birthday"],
            "profile.birthday",
        ),
        (identity_pb2.Profile(locale="english"), ["locale"], "profile.locale"),
        (
            identity_pb2.Profile(preferences={"Bad Key": "x"}),
            ["preferences"],
            "profile.preferences",
        ),
        (identity_pb2.Profile(home_store_id="store 1"), ["home_store_id"], "profile.home_store_id"),
        # A final newline: `$` matched before it.
        (identity_pb2.Profile(home_store_id="s1\n"), ["home_store_id"], "profile.home_store_id"),
        (
            identity_pb2.Profile(preferences={"size\n": "M"}),
            ["preferences"],
            "profile.preferences",
        ),
        (
            identity_pb2.Profile(preferences={"size": "M\x00"}),
            ["preferences"],
            "profile.preferences[size]",
        ),
    ],
)
async def test_bad_profile_changes_name_the_field(stub, database, profile, paths, field) -> None:
    member_id = (await enrol(stub, email("alice@example.com"))).member.member_id
    before = await row_counts(database)
    error = await failure(
        stub.UpdateProfile(
            identity_pb2.UpdateProfileRequest(
                program_id=PROGRAM,
                idempotency_key="p",
                member_id=member_id,
                profile=profile,
                update_mask=FieldMask(paths=paths),
            )
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(f"{field}:"), error.details()
    assert await row_counts(database) == before


async def test_an_unknown_member_is_not_found(stub) -> None:
    error = await failure(
        stub.GetMember(identity_pb2.GetMemberRequest(program_id=PROGRAM, member_id="nobody"))
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = await failure(consent(stub, "nobody", "k", (SMS, True)))
    assert error.code() == grpc.StatusCode.NOT_FOUND
