"""What campaign asks identity about a member: e-mail delivery's recipient (email_delivery.py)
and enrolment checks (enrolment.py)."""

from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from services.campaign.errors import CampaignError
from services.shared.errors import Unavailable

IDENTITY_TIMEOUT_S = 10.0
# Identity's limit of member ids per BatchGetMemberStatuses call.
MEMBER_STATUSES_MAX = 10_000


class IdentityUnavailable(Unavailable, CampaignError):
    """Identity could not be asked; nothing was written, so a retry is safe."""

    reason = "IDENTITY_UNAVAILABLE"

    def __init__(self, detail: str) -> None:
        super().__init__(f"identity could not be asked for the member: {detail}")


@dataclass(frozen=True)
class Recipient:
    address: str
    consents: bool


class MemberDirectory:
    def __init__(
        self, stub: identity_pb2_grpc.IdentityServiceStub, *, timeout_s: float = IDENTITY_TIMEOUT_S
    ) -> None:
        self.stub = stub
        self.timeout_s = timeout_s

    async def member(self, program_id: str, member_id: str) -> identity_pb2.Member | None:
        """The member as identity holds it; None if identity does not know it."""
        try:
            response = await self.stub.GetMember(
                identity_pb2.GetMemberRequest(program_id=program_id, member_id=member_id),
                timeout=self.timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise IdentityUnavailable(f"{error.code().name}: {error.details()}") from None
        return response.member

    async def statuses(
        self, program_id: str, member_ids: Sequence[str]
    ) -> dict[str, tuple[int, str]]:
        """Each member's status and final survivor ('' unless merged), as identity holds them;
        MEMBER_STATUS_UNSPECIFIED for an id identity did not enrol (in an unknown program, none)."""
        answers: dict[str, tuple[int, str]] = {}
        for start in range(0, len(member_ids), MEMBER_STATUSES_MAX):
            chunk = list(member_ids[start : start + MEMBER_STATUSES_MAX])
            try:
                response = await self.stub.BatchGetMemberStatuses(
                    identity_pb2.BatchGetMemberStatusesRequest(
                        program_id=program_id, member_ids=chunk
                    ),
                    timeout=self.timeout_s,
                )
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND:
                    answers.update((m, (common_pb2.MEMBER_STATUS_UNSPECIFIED, "")) for m in chunk)
                    continue
                raise IdentityUnavailable(f"{error.code().name}: {error.details()}") from None
            answers.update(
                zip(
                    chunk,
                    zip(response.statuses, response.merged_into_member_ids, strict=True),
                    strict=True,
                )
            )
        return answers

    async def recipient(self, program_id: str, member_id: str) -> Recipient | None:
        """The member's e-mail address and e-mail consent; None if identity does not know it."""
        member = await self.member(program_id, member_id)
        if member is None:
            return None
        address = next(
            (i.value for i in member.identifiers if i.kind == common_pb2.IDENTIFIER_KIND_EMAIL),
            "",
        )
        consents = member.status == common_pb2.MEMBER_STATUS_ACTIVE and any(
            c.channel == common_pb2.CONSENT_CHANNEL_EMAIL and c.granted for c in member.consents
        )
        return Recipient(address, consents)
