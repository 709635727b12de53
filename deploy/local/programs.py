"""The ledger configuration of a typical program, shared by the demo, the benchmarks and the
tests that stand a program up: points earned in euros, pending through a 14-day return window,
expiring on a rolling window, debt recorded, tiers on a rolling year of qualifying points."""

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2


def program_config(
    program_id: str,
    *,
    points_name: str = "points",
    expiry_months: int = 24,
    requalification_period: int = ledger_pb2.CALENDAR_PERIOD_YEAR,
    entry_tier_code: str = "member",
    time_zone: str = "Europe/Amsterdam",
) -> ledger_pb2.ProgramConfig:
    return ledger_pb2.ProgramConfig(
        program_id=program_id,
        points_name=points_name,
        currency="EUR",
        time_zone=time_zone,
        return_window_days=14,
        expiry_policy=ledger_pb2.ExpiryPolicy(
            kind=ledger_pb2.EXPIRY_KIND_ROLLING_MONTHS, months=expiry_months
        ),
        negative_balance_policy=ledger_pb2.NEGATIVE_BALANCE_POLICY_RECORD_DEBT,
        hold_ttl_seconds=900,
        tier_window=ledger_pb2.TierWindow(
            kind=ledger_pb2.TIER_WINDOW_KIND_ROLLING_DAYS,
            rolling_days=365,
            requalification_period=requalification_period,  # type: ignore[arg-type]
        ),
        qualifying_basis=ledger_pb2.QUALIFYING_BASIS_POINTS,
        rounding_mode=common_pb2.ROUNDING_MODE_HALF_EVEN,
        expiry_notice_days=30,
        entry_tier_code=entry_tier_code,
    )
