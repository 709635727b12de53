"""The calls rewards makes to other services: the ledger (points, holds) and campaign (segments).

Ledger refusals come back as `LedgerRefused` with the ledger's machine-readable reason
(`loyalty-error-reason`), so the redemption can tell "not enough points" from "hold closed" from
"the ledger is down".
"""

import logging
import time
from dataclasses import dataclass

import grpc

from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc
from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from services.rewards.errors import (
    CampaignUnavailable,
    LedgerUnavailable,
    MemberNotFound,
    ProgramNotConfigured,
)
from services.shared.errors import InvalidArgument
from services.shared.interceptors import ERROR_REASON_HEADER

logger = logging.getLogger(__name__)

# Statuses after which the outcome of a ledger mutation is unknown: it may or may not have happened.
UNKNOWN_OUTCOME = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
# Statuses with which the ledger refused a request for good: asked again, with the same key or
# another, it answers the same (a closed or unknown account, a posting that is no spend of the
# member, a key used for another request). Other statuses may pass (an outage, a deployment
# missing a method or a credential) and are tried again.
REFUSED_FOR_GOOD = {
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.OUT_OF_RANGE,
}
OPERATOR_ID = "rewards"
# How long a program's time zone read from the ledger is used before it is read again, and how
# many programs' zones are kept.
PROGRAM_TIME_ZONE_TTL_S = 30.0
PROGRAM_TIME_ZONES_MAX = 1_000


class LedgerRefused(Exception):
    def __init__(self, code: grpc.StatusCode, reason: str, details: str) -> None:
        super().__init__(f"{code.name} {reason}: {details}")
        self.code = code
        self.reason = reason
        self.details = details

    @property
    def outcome_unknown(self) -> bool:
        return self.code in UNKNOWN_OUTCOME

    @property
    def refused_for_good(self) -> bool:
        return self.code in REFUSED_FOR_GOOD


def _refused(error: grpc.aio.AioRpcError) -> LedgerRefused:
    reason = ""
    for key, value in error.trailing_metadata() or ():
        if key == ERROR_REASON_HEADER and isinstance(value, str):
            reason = value
    return LedgerRefused(error.code(), reason, error.details() or "")


@dataclass(frozen=True)
class MemberStanding:
    """What eligibility and affordability need to know about a member."""

    available_points: int
    tier_code: str


class LedgerClient:
    def __init__(self, channel: grpc.aio.Channel, *, deadline_s: float) -> None:
        self.stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        self.deadline_s = deadline_s
        # Program id -> (when read, monotonic seconds; time zone).
        self._time_zones: dict[str, tuple[float, str]] = {}

    async def standing(self, program_id: str, member_id: str) -> MemberStanding | None:
        """The member's available points and tier; None if the member has no account."""
        try:
            response = await self.stub.GetBalance(
                ledger_pb2.GetBalanceRequest(program_id=program_id, member_id=member_id),
                timeout=self.deadline_s,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                # The ledger refused the member id it was given: the caller's, not an outage.
                detail = (error.details() or "").removeprefix("member_id: ")
                raise InvalidArgument("member_id", detail or "refused by the ledger") from None
            raise LedgerUnavailable(error.code().name) from None
        return MemberStanding(response.balance.available_points, response.balance.tier_code)

    async def program_currency(self, program_id: str) -> str:
        """The program's currency as the ledger holds it (the ledger owns a program's money
        settings); FAILED_PRECONDITION if the ledger does not know the program."""
        return (await self._program_config(program_id)).currency

    async def program_time_zone(self, program_id: str) -> str:
        """The program's time zone as the ledger holds it, in which a code's days of validity
        are counted; read again after PROGRAM_TIME_ZONE_TTL_S (a change reaches codes issued
        after that). FAILED_PRECONDITION if the ledger does not know the program."""
        cached = self._time_zones.get(program_id)
        if cached is not None and time.monotonic() - cached[0] < PROGRAM_TIME_ZONE_TTL_S:
            return cached[1]
        time_zone = (await self._program_config(program_id)).time_zone
        if len(self._time_zones) >= PROGRAM_TIME_ZONES_MAX:
            self._time_zones.clear()
        self._time_zones[program_id] = (time.monotonic(), time_zone)
        return time_zone

    async def _program_config(self, program_id: str) -> ledger_pb2.ProgramConfig:
        try:
            response = await self.stub.GetProgram(
                ledger_pb2.GetProgramRequest(program_id=program_id), timeout=self.deadline_s
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise ProgramNotConfigured(program_id) from None
            raise LedgerUnavailable(error.code().name) from None
        return response.config

    async def require_standing(self, program_id: str, member_id: str) -> MemberStanding:
        standing = await self.standing(program_id, member_id)
        if standing is None:
            raise MemberNotFound(member_id)
        return standing

    async def place_hold(
        self, *, program_id: str, key: str, member_id: str, points: int, reference: str
    ) -> ledger_pb2.Hold:
        request = ledger_pb2.PlaceHoldRequest(
            program_id=program_id,
            idempotency_key=key,
            member_id=member_id,
            points=points,
            reference=reference,
        )
        response = await self._call(self.stub.PlaceHold, request)
        return response.hold

    async def commit_hold(
        self, *, program_id: str, key: str, hold_id: str, reward_id: str
    ) -> ledger_pb2.Hold:
        request = ledger_pb2.CommitHoldRequest(
            program_id=program_id,
            idempotency_key=key,
            hold_id=hold_id,
            reason=ledger_pb2.PostingReason(code="reward_redemption", note=reward_id),
        )
        response = await self._call(self.stub.CommitHold, request)
        return response.hold

    async def void_hold(
        self, *, program_id: str, key: str, hold_id: str, cancelled: bool, note: str
    ) -> ledger_pb2.Hold:
        request = ledger_pb2.VoidHoldRequest(
            program_id=program_id,
            idempotency_key=key,
            hold_id=hold_id,
            reason=common_pb2.HOLD_VOID_REASON_CANCELLED
            if cancelled
            else common_pb2.HOLD_VOID_REASON_REQUESTED,
            note=note,
        )
        response = await self._call(self.stub.VoidHold, request)
        return response.hold

    async def get_hold(self, *, program_id: str, hold_id: str) -> ledger_pb2.Hold:
        request = ledger_pb2.GetHoldRequest(program_id=program_id, hold_id=hold_id)
        response = await self._call(self.stub.GetHold, request)
        return response.hold

    async def credit(
        self, *, program_id: str, key: str, member_id: str, points: int, operator_id: str, note: str
    ) -> ledger_pb2.Posting:
        """Give points back (a cancelled redemption whose hold was already committed)."""
        request = ledger_pb2.AdjustRequest(
            program_id=program_id,
            idempotency_key=key,
            member_id=member_id,
            points=points,
            reason=ledger_pb2.PostingReason(
                operator_id=operator_id or OPERATOR_ID, code="redemption_cancelled", note=note
            ),
        )
        response = await self._call(self.stub.Adjust, request)
        return response.posting

    async def give_back(
        self,
        *,
        program_id: str,
        key: str,
        member_id: str,
        posting_id: str,
        operator_id: str,
        note: str,
    ) -> tuple[int, int]:
        """Reverse a committed spend: its points go back to the lots they came from, keeping their
        expiry (a cancellation must not renew points). Returns the points given back and, of
        those, the points that paid the member's debt first."""
        request = ledger_pb2.ReverseRequest(
            program_id=program_id,
            idempotency_key=key,
            member_id=member_id,
            posting_id=posting_id,
            reason=ledger_pb2.PostingReason(
                operator_id=operator_id or OPERATOR_ID, code="redemption_cancelled", note=note
            ),
        )
        response = await self._call(self.stub.Reverse, request)
        return response.reversed_points, response.debt_paid_points

    async def _call(self, method, request):  # type: ignore[no-untyped-def]
        try:
            return await method(request, timeout=self.deadline_s)
        except grpc.aio.AioRpcError as error:
            raise _refused(error) from None


class CampaignTargeting:
    """What campaign says of whom a reward is for.

    - Segment membership from CheckSegmentMembership, which answers from the membership campaign
      keeps current (services/campaign/segment_refresh.py). A segment campaign does not know holds
      nobody; a campaign that does not implement the call (an older version) counts as nobody in
      any segment, so rewards restricted to segments are eligible for no one.
    - Experiments from CheckRewardTargeting: a reward named by an experiment arm is for that arm's
      members only. A campaign that does not implement the call withholds nothing."""

    def __init__(self, channel: grpc.aio.Channel, *, deadline_s: float) -> None:
        self.stub = campaign_pb2_grpc.CampaignServiceStub(channel)
        self.deadline_s = deadline_s

    async def member_segments(
        self, program_id: str, member_id: str, segment_ids: set[str], *, strict: bool
    ) -> set[str]:
        """Which of `segment_ids` the member is in. When campaign cannot answer, `strict` makes
        that UNAVAILABLE (a redemption); otherwise the member counts as in none (a listing)."""
        if not segment_ids:
            return set()
        try:
            response = await self.stub.CheckSegmentMembership(
                campaign_pb2.CheckSegmentMembershipRequest(
                    program_id=program_id, member_id=member_id, segment_ids=sorted(segment_ids)
                ),
                timeout=self.deadline_s,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.NOT_FOUND):
                return set()
            if strict:
                raise CampaignUnavailable(error.code().name) from None
            logger.warning("segment membership unavailable: %s", error.code().name)
            return set()
        return set(response.member_segment_ids) & segment_ids

    async def withheld_rewards(
        self, program_id: str, member_id: str, reward_ids: list[str]
    ) -> set[str]:
        """Which of `reward_ids` experiments keep from the member. When campaign cannot answer,
        nothing is withheld: which rewards an experiment names is campaign's to know, and every
        redemption at the till must not hang on campaign being up (the cost: while it is down, a
        member may redeem an offer of another arm; each such answer is logged)."""
        if not reward_ids:
            return set()
        try:
            response = await self.stub.CheckRewardTargeting(
                campaign_pb2.CheckRewardTargetingRequest(
                    program_id=program_id, member_id=member_id, reward_ids=reward_ids
                ),
                timeout=self.deadline_s,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                logger.warning(
                    "reward targeting unavailable (%s): nothing withheld from %s",
                    error.code().name,
                    member_id,
                )
            return set()
        return set(response.withheld_reward_ids)
