"""What the resources share: the services, the member in the path, the Idempotency-Key header,
paging, and finding the member a transaction is for."""

import datetime as dt
from typing import Annotated

from fastapi import Header, Path, Query, Request

from gateway import convert
from gateway.auth import Principal
from gateway.enums import to_proto
from gateway.errors import IDEMPOTENCY_HEADER, ApiError, error_responses
from gateway.models import MemberRef
from gateway.upstream import Upstreams
from loyalty.campaign.v1 import campaign_pb2
from loyalty.identity.v1 import identity_pb2

PREFIX = "/v1/programs/{program_id}"
PAGE_SIZE_MAX = 200
MEMBER_ID_PATTERN = r"^[^\x00-\x1f/]+$"

MemberIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=MEMBER_ID_PATTERN,
        description="A member id, or `me` with a member token.",
    ),
]
IdempotencyKey = Annotated[
    str,
    Header(
        alias=IDEMPOTENCY_HEADER,
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="Required for every change; a retry with the same key has no second effect.",
    ),
]
PageSize = Annotated[
    int, Query(ge=0, le=PAGE_SIZE_MAX, description="At most this many; 0 is the default.")
]
PageToken = Annotated[
    str, Query(max_length=1024, description="The next_page_token of the previous page.")
]

# Every operation documents the one error shape for each status it can answer.
ERRORS = error_responses()


def upstreams(request: Request) -> Upstreams:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams


async def recorded_answer(
    services: Upstreams, reference: MemberRef, retry: campaign_pb2.FindRecordedAnswerRequest
) -> campaign_pb2.FindRecordedAnswerResponse | None:
    """Campaign's stored answer to a transaction that names its member by an identifier, if it
    is a retry (`retry`: the request without its member), else None. Asked before member_of:
    a retry gets the first answer even when the identifier no longer resolves to that member
    (its QR token has expired, the card was blocked since, a merge moved it). A transaction
    named by member_id needs no such step: campaign answers its retry from the record."""
    if reference.identifier is None or reference.member_id:
        return None  # named by member id, or named twice (member_of refuses it)
    found = await services.call(services.campaign.FindRecordedAnswer, retry)
    return found if found.WhichOneof("answer") else None


async def member_of(
    services: Upstreams, principal: Principal, reference: MemberRef, *, at: dt.datetime
) -> str:
    """The member a transaction names, by id or by an identifier resolved through identity.
    `at` is the transaction's occurred_at: a QR token is checked as of then, when the till
    scanned it (perhaps offline), not when the transaction reaches the gateway."""
    if bool(reference.member_id) == (reference.identifier is not None):
        raise ApiError(
            400,
            "INVALID_ARGUMENT",
            "give either member_id or identifier",
            field="member_id",
        )
    if reference.member_id:
        return reference.member_id
    assert reference.identifier is not None
    resolved = await services.call(
        services.identity.ResolveIdentifier,
        identity_pb2.ResolveIdentifierRequest(
            program_id=principal.program_id,
            kind=to_proto(reference.identifier.kind),  # type: ignore[arg-type]
            value=reference.identifier.value,
            provider=reference.identifier.provider,
            at=convert.timestamp(at),
        ),
        # The lookup's fields are the `identifier` object of the transaction's JSON.
        fields={
            "kind": "identifier.kind",
            "value": "identifier.value",
            "provider": "identifier.provider",
        },
    )
    return resolved.member_id


def member_field(reference: MemberRef) -> str:
    """Where the request named the member that member_of found: a service's complaint about the
    member id it was given is about the identifier when the client sent one."""
    return "identifier" if reference.identifier is not None else "member_id"
