"""Translation between identity's protos and its records (no I/O, no rules)."""

import datetime as dt

from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2
from services.identity import members, profiles
from services.identity.members import (
    BlockedIdentifier,
    MemberView,
    StoredConsent,
    StoredIdentifier,
)
from services.shared.timestamps import timestamp

STATUS_TO_PROTO = {
    members.ACTIVE: common_pb2.MEMBER_STATUS_ACTIVE,
    members.SUSPENDED: common_pb2.MEMBER_STATUS_SUSPENDED,
    members.MERGED: common_pb2.MEMBER_STATUS_MERGED,
    members.ERASED: common_pb2.MEMBER_STATUS_ERASED,
}
STATUS_FROM_PROTO = {value: key for key, value in STATUS_TO_PROTO.items()}
BLOCK_REASON_TO_PROTO = {
    members.LOST: identity_pb2.IDENTIFIER_REMOVAL_REASON_LOST,
    members.STOLEN: identity_pb2.IDENTIFIER_REMOVAL_REASON_STOLEN,
}
BLOCK_REASON_FROM_PROTO = {value: key for key, value in BLOCK_REASON_TO_PROTO.items()}


def profile_from_proto(profile: identity_pb2.Profile, prefix: str = "profile.") -> profiles.Profile:
    return profiles.Profile(
        given_name=profile.given_name.strip(),
        family_name=profile.family_name.strip(),
        birthday=profiles.birthday(
            profile.birthday.year, profile.birthday.month, profile.birthday.day, f"{prefix}birthday"
        ),
        locale=profile.locale,
        home_store_id=profile.home_store_id,
        preferences=dict(profile.preferences),
    )


def profile_to_proto(profile: profiles.Profile) -> identity_pb2.Profile:
    message = identity_pb2.Profile(
        given_name=profile.given_name,
        family_name=profile.family_name,
        locale=profile.locale,
        home_store_id=profile.home_store_id,
        preferences=dict(profile.preferences),
    )
    if profile.birthday is not None:
        message.birthday.CopyFrom(local_date(profile.birthday))
    return message


def local_date(date: dt.date) -> common_pb2.LocalDate:
    return common_pb2.LocalDate(year=date.year, month=date.month, day=date.day)


def identifier_to_proto(identifier: StoredIdentifier) -> identity_pb2.Identifier:
    return identity_pb2.Identifier(
        kind=identifier.key.kind,  # type: ignore[arg-type]
        value=identifier.key.value,
        provider=identifier.key.provider,
        verified=identifier.verified,
        added_at=timestamp(identifier.added_at),
    )


def blocked_identifier_to_proto(blocked: BlockedIdentifier) -> identity_pb2.BlockedIdentifier:
    # The card inside an Identifier, as the member's identifiers are shown: an erasure clears
    # every Identifier in the responses it keeps, this one included.
    identifier = identity_pb2.Identifier(
        kind=blocked.key.kind,  # type: ignore[arg-type]
        value=blocked.key.value,
        provider=blocked.key.provider,
        verified=blocked.verified,
    )
    if blocked.added_at is not None:
        identifier.added_at.CopyFrom(timestamp(blocked.added_at))
    return identity_pb2.BlockedIdentifier(
        identifier=identifier,
        reason=BLOCK_REASON_TO_PROTO[blocked.reason],
        blocked_at=timestamp(blocked.blocked_at),
    )


def consent_to_proto(consent: StoredConsent) -> identity_pb2.Consent:
    return identity_pb2.Consent(
        channel=consent.channel,  # type: ignore[arg-type]
        granted=consent.granted,
        changed_at=timestamp(consent.changed_at),
        source_channel=consent.source_channel,  # type: ignore[arg-type]
    )


def member_to_proto(view: MemberView) -> identity_pb2.Member:
    member = view.member
    return identity_pb2.Member(
        member_id=member.member_id,
        program_id=member.program_id,
        status=STATUS_TO_PROTO[member.status],
        profile=profile_to_proto(member.profile),
        identifiers=[identifier_to_proto(i) for i in view.identifiers],
        blocked_identifiers=[blocked_identifier_to_proto(b) for b in view.blocked_identifiers],
        consents=[consent_to_proto(c) for c in view.consents],
        enrollment_channel=member.enrollment_channel,  # type: ignore[arg-type]
        enrollment_store_id=member.enrollment_store_id,
        referral_code=member.referral_code,
        referrer_member_id=member.referrer_member_id,
        merged_into_member_id=member.merged_into_member_id,
        enrolled_at=timestamp(member.enrolled_at),
        update_time=timestamp(member.updated_at),
    )
