"""What the resources share: the services, the member in the path (and whether it exists), the
Idempotency-Key header, paging, and finding the member a transaction is for."""

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
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2
from loyalty.ledger.v1 import ledger_pb2

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


async def claimed_key(request: Request, principal: Principal, key: str) -> str:
    """The Idempotency-Key as the services get it (the caller's own: Principal.idempotency_key),
    claimed first with identity for this route. Each service refuses a key it holds for another
    request, but only among its own keys; the claim refuses the same key on another route
    whichever service runs either, so a key reused by mistake never makes a second, unrelated
    change (409 IDEMPOTENCY_KEY_REUSED). A retry on its own route claims it again, unchanged."""
    services = upstreams(request)
    forwarded = principal.idempotency_key(key)
    route = request.scope["route"]
    await services.call(
        services.identity.ClaimIdempotencyKey,
        identity_pb2.ClaimIdempotencyKeyRequest(
            program_id=principal.program_id,
            idempotency_key=forwarded,
            operation=f"{request.method} {route.path}",
        ),
        # The operation is the gateway's own constant, not something the client sent.
        fields={"operation": ""},
    )
    return forwarded


async def known_member(services: Upstreams, principal: Principal, member_id: str) -> str:
    """The member the path names (Principal.member_id_of), 404 MEMBER_NOT_FOUND on member_id
    (the ledger's answer, as the balance gives it) when it is unknown: the ledger holds no
    account for it and identity never enrolled it. For the routes whose service answers an
    unknown member as one with nothing yet (missions, badges, perks, rewards, redemptions, a
    basket's preview), so they answer as the balance, lots and history do.

    A merged or erased member is known (the ledger keeps its account, identity its record), and
    so is one enrolled whose account the ledger has not opened yet (it opens it when it reads
    the enrolment, or at the first earn if the program's ledger part came later): identity is
    asked only when the ledger holds no account. A member token's member is known already
    (identity verified the token), so it costs no call."""
    member = principal.member_id_of(member_id)
    if principal.is_member:
        return member
    try:
        await services.call(
            services.ledger.GetBalance,
            ledger_pb2.GetBalanceRequest(program_id=principal.program_id, member_id=member),
        )
    except ApiError as unknown:
        if unknown.status != 404:
            raise
        found = await services.call(
            services.identity.BatchGetMemberStatuses,
            identity_pb2.BatchGetMemberStatusesRequest(
                program_id=principal.program_id, member_ids=[member]
            ),
        )
        if found.statuses[0] == common_pb2.MEMBER_STATUS_UNSPECIFIED:
            raise
    return member


async def enrolled_without_account(
    services: Upstreams, principal: Principal, member_id: str, missing: ApiError
) -> bool:
    """Whether the ledger's 404 (`missing`) is of a member identity enrolled and keeps active
    whose account the ledger has not opened yet: it opens it when its consumer reads the
    enrolment (behind under load, or while the ledger restarts), or at the first earn if the
    program's ledger part came later. Such a member reads as the empty account it will get.
    Asked only once the ledger has answered 404, so a member with an account costs no extra
    call; a member token's member is enrolled already (identity verified the token). A merged
    or erased member without an account keeps the ledger's 404, as before."""
    if missing.status != 404 or missing.code != "MEMBER_NOT_FOUND":
        return False
    if principal.is_member:
        return True
    found = await services.call(
        services.identity.BatchGetMemberStatuses,
        identity_pb2.BatchGetMemberStatusesRequest(
            program_id=principal.program_id, member_ids=[member_id]
        ),
    )
    return found.statuses[0] == common_pb2.MEMBER_STATUS_ACTIVE


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
