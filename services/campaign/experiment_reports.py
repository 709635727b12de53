"""The reports' messages from per-arm sums: rates, means and uplifts with intervals (pure)."""

from loyalty.campaign.v1 import experiments_pb2
from loyalty.common.v1 import common_pb2
from services.campaign.repository_experiments import ArmSums
from services.campaign.uplift import Sample, rate_uplift, uplift
from services.shared import validation

CONFIDENCE_BPS_DEFAULT = 9_500


def confidence_bps_of(confidence_bps: int) -> int:
    if confidence_bps == 0:
        return CONFIDENCE_BPS_DEFAULT
    return validation.in_range(confidence_bps, "confidence_bps", low=5_000, high=9_990)


def money(amount: float, currency: str) -> common_pb2.Money:
    return common_pb2.Money(amount_minor=round(amount), currency=currency)


def arm_report(code: str, control: bool, sums: ArmSums, currency: str) -> experiments_pb2.ArmReport:
    members = sums.members
    return experiments_pb2.ArmReport(
        arm_code=code,
        control=control,
        member_count=members,
        participant_count=sums.active,
        participation_rate=sums.active / members if members else 0.0,
        redemption_rate=sums.redeemers / members if members else 0.0,
        spend_per_member=money(sums.spend_minor / members if members else 0.0, currency),
        points_per_member=round(sums.points / members) if members else 0,
    )


def arm_uplift(
    code: str, treatment: ArmSums, control: ArmSums, confidence: float, currency: str
) -> experiments_pb2.ArmUplift:
    participation = rate_uplift(
        treatment.active, treatment.members, control.active, control.members, confidence=confidence
    )
    redemption = rate_uplift(
        treatment.redeemers,
        treatment.members,
        control.redeemers,
        control.members,
        confidence=confidence,
    )
    spend = uplift(
        Sample(treatment.members, float(treatment.spend_minor), treatment.spend_squares),
        Sample(control.members, float(control.spend_minor), control.spend_squares),
        confidence=confidence,
    )
    return experiments_pb2.ArmUplift(
        arm_code=code,
        participation_uplift_bps=round(participation.difference * 10_000),
        participation_uplift_lower_bps=round(participation.lower * 10_000),
        participation_uplift_upper_bps=round(participation.upper * 10_000),
        redemption_uplift_bps=round(redemption.difference * 10_000),
        redemption_uplift_lower_bps=round(redemption.lower * 10_000),
        redemption_uplift_upper_bps=round(redemption.upper * 10_000),
        spend_uplift=money(spend.difference, currency),
        spend_uplift_lower=money(spend.lower, currency),
        spend_uplift_upper=money(spend.upper, currency),
        interval_available=spend.interval_available,
    )
