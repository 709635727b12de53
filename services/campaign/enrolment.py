"""Whether members may earn in a program that refuses member ids identity has not enrolled
(the ledger's ProgramConfig.unknown_member_policy, UNKNOWN_MEMBER_POLICY_REFUSE).

Campaign records identity's enrolments and erasures from JetStream (consumers_insight.py), and
merges, whose purchases are refused before this check (purchases.py). A member whose enrolment
it has not consumed yet (enrolled at the till a moment ago, or campaign's consumers behind) is
asked of identity, a batch's members in one BatchGetMemberStatuses call, so a purchase right
after an enrolment earns. Nothing is cached in the process: a member is asked again until its enrolment
is consumed, and an erasure counts from the moment it is consumed or identity says so. Identity
not answering makes the call UNAVAILABLE before anything is written, so a retry is safe.

Under UNKNOWN_MEMBER_POLICY_EARN (the default) nothing here runs: the first earn opens the
member's account in the ledger, as every program did before there was a choice (a migration
importing a program's purchases before its members needs it).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from loyalty.common.v1 import common_pb2
from services.campaign import repository_purchases as store
from services.campaign.identity_client import IdentityUnavailable, MemberDirectory

# The reason code of a refused purchase or activity, in ingest items and activity outcomes.
MEMBER_NOT_ENROLLED = "member_not_enrolled"
# The reason code of a merged member's purchase: the ledger's (REJECT_REASON_MEMBER_CLOSED).
MEMBER_CLOSED = "member_closed"


@dataclass(frozen=True)
class Refusal:
    """Why a member may not earn: a reason code, and what to tell the caller."""

    reason_code: str
    detail: str


class Enrolments:
    def __init__(self, directory: MemberDirectory | None) -> None:
        self.directory = directory

    async def refusals(
        self, connection: asyncpg.Connection, program_id: str, members: Sequence[str]
    ) -> dict[str, Refusal]:
        """The members of `members` that may not earn, each with why; the others may."""
        unique = sorted(set(members))
        recorded = await store.fetch_enrolments(connection, program_id, unique)
        refused: dict[str, Refusal] = {}
        asked = []
        for member in unique:
            enrolment = recorded.get(member)
            if enrolment is not None and enrolment.erased:
                refused[member] = Refusal(MEMBER_NOT_ENROLLED, "was erased")
            elif enrolment is None or not enrolment.enrolled:
                asked.append(member)
        if asked:
            refused.update(await self._ask_identity(program_id, asked))
        return refused

    async def _ask_identity(self, program_id: str, members: list[str]) -> dict[str, Refusal]:
        if self.directory is None:
            raise IdentityUnavailable("campaign was started without an identity address")
        answers = await self.directory.statuses(program_id, members)
        refused = {}
        for member, (status, merged_into) in answers.items():
            refusal = _refusal(status, merged_into)
            if refusal is not None:
                refused[member] = refusal
        return refused


_UNKNOWN = Refusal(MEMBER_NOT_ENROLLED, "is not enrolled")


def _refusal(status: int, merged_into: str) -> Refusal | None:
    if status == common_pb2.MEMBER_STATUS_ACTIVE:
        return None
    if status == common_pb2.MEMBER_STATUS_UNSPECIFIED:
        return _UNKNOWN
    if status == common_pb2.MEMBER_STATUS_MERGED:
        return Refusal(MEMBER_CLOSED, f"merged into {merged_into!r}")
    if status == common_pb2.MEMBER_STATUS_ERASED:
        return Refusal(MEMBER_NOT_ENROLLED, "was erased")
    return Refusal(MEMBER_NOT_ENROLLED, f"is {common_pb2.MemberStatus.Name(status)}")
