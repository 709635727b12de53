"""Whether a member may redeem a reward now, by tier, segment and experiment arm.

Asked of the ledger (the member's tier) and campaign (segments, experiment arms) when Redeem
starts, and again where the redemption reserves its stock (steps.reserve_stock): a change while
its points are held (the reward restricted to other tiers, the member moved to another tier or
out of a segment) is seen there, and the redemption fails as Redeem's first check would.
"""

from dataclasses import dataclass

from loyalty.rewards.v1 import rewards_pb2
from services.rewards import domain
from services.rewards.remote import CampaignTargeting, LedgerClient

NOT_ELIGIBLE = "NOT_ELIGIBLE"


@dataclass(frozen=True)
class MemberTargeting:
    """What the ledger and campaign said of one member, for one eligibility (`asked_for`)."""

    tier_code: str
    segment_ids: frozenset[str]
    withheld: bool
    # The eligibility the answers were asked for: one naming other segments needs asking again.
    asked_for: rewards_pb2.Eligibility


async def ask(
    ledger: LedgerClient,
    targeting: CampaignTargeting,
    *,
    program_id: str,
    member_id: str,
    reward: rewards_pb2.Reward,
    tier_code: str | None = None,
) -> MemberTargeting:
    """Ask what the reward's eligibility needs: the tier (unless given, or the reward names no
    tier), the segments it names (strict: campaign down is UNAVAILABLE, not "in none"), and
    whether an experiment withholds it. Raises MemberNotFound, LedgerUnavailable or
    CampaignUnavailable."""
    if tier_code is None:
        tier_code = ""
        if reward.eligibility.tier_codes:
            standing = await ledger.require_standing(program_id, member_id)
            tier_code = standing.tier_code
    segments = await targeting.member_segments(
        program_id, member_id, set(reward.eligibility.segment_ids), strict=True
    )
    withheld = await targeting.withheld_rewards(program_id, member_id, [reward.reward_id])
    asked_for = rewards_pb2.Eligibility()
    asked_for.CopyFrom(reward.eligibility)
    return MemberTargeting(
        tier_code=tier_code,
        segment_ids=frozenset(segments),
        withheld=bool(withheld),
        asked_for=asked_for,
    )


def refusal(reward: rewards_pb2.Reward, member: MemberTargeting) -> str | None:
    """Why the member may not redeem the reward (the message of a NOT_ELIGIBLE), or None."""
    if not domain.is_eligible(
        reward, tier_code=member.tier_code, segment_ids=set(member.segment_ids)
    ):
        return "the member's tier or segments do not include this reward"
    if member.withheld:
        return "the reward is offered to another group of members (an experiment)"
    return None
