"""Ledger rows to protobuf messages (the servicer's translation, kept apart to stay short)."""

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.ledger.v1 import ledger_pb2
from services.ledger import inactivity, policy, store
from services.ledger.operations import Program
from services.shared.timestamps import instant as shared_instant
from services.shared.timestamps import timestamp


def instant(value: Timestamp, *, present: bool) -> dt.datetime | None:
    """The instant of an optional Timestamp field (`present` is the field's HasField)."""
    return shared_instant(value) if present else None


def posting(row: store.Posting) -> ledger_pb2.Posting:
    reason = ledger_pb2.PostingReason.FromString(row.reason) if row.reason else None
    return ledger_pb2.Posting(
        posting_id=str(row.posting_id),
        member_id=row.member_id,
        kind=row.kind,
        points=row.amount,
        source_reference=row.source_reference,
        reason=reason,
        occurred_at=timestamp(row.occurred_at),
        posted_at=timestamp(row.posted_at),
        batch_id=row.batch_id,
        counterparty_member_id=row.counter_member_id,
        hold_id=row.hold_id,
        reversed_posting_id=str(row.reversed_posting_id) if row.reversed_posting_id else "",
        qualifying=row.qualifying,
        available_points_after=row.available_after,
    )


def lot(row: store.Lot, member_id: str) -> ledger_pb2.Lot:
    return ledger_pb2.Lot(
        lot_id=str(row.lot_id),
        member_id=member_id,
        original_points=row.amount,
        remaining_points=row.remaining,
        earned_at=timestamp(row.earned_at),
        vests_at=timestamp(row.vests_at),
        expires_at=timestamp(row.expires_at),
        vesting_state=ledger_pb2.VESTING_STATE_VESTED
        if row.vested
        else ledger_pb2.VESTING_STATE_PENDING,
        source_reference=row.source_reference,
        posting_id=str(row.posting_id),
    )


def allocations(taken: list[tuple[store.Lot, int]]) -> list[ledger_pb2.SpendAllocation]:
    return [
        ledger_pb2.SpendAllocation(
            lot_id=str(row.lot_id),
            points=amount,
            lot_expires_at=timestamp(row.expires_at),
            lot_source_reference=row.source_reference,
        )
        for row, amount in taken
    ]


def hold(row: store.Hold) -> ledger_pb2.Hold:
    return ledger_pb2.Hold(
        hold_id=row.hold_id,
        member_id=row.member_id,
        points=row.amount,
        status=row.status,
        reference=row.reference,
        created_at=timestamp(row.created_at),
        expires_at=timestamp(row.expires_at),
        closed_at=timestamp(row.closed_at),
        void_reason=row.void_reason,
        posting_id=str(row.posting_id) if row.posting_id else "",
        void_note=row.void_note,
        debt_paid_points=row.debt_paid_points,
    )


def balance(
    program: Program,
    account: store.Account,
    *,
    expiring_points: int | None,
    next_expiry: dt.datetime | None,
    now: dt.datetime,
) -> ledger_pb2.Balance:
    """The balance; `expiring_points` and `next_expiry` are those of the lots' own expiries (None:
    not read, left unset), to which the inactivity deadline adds."""
    if expiring_points is not None:
        expiring_points, next_expiry = inactivity.expiring(
            program.settings,
            last_activity_at=account.last_activity_at,
            spendable_points=account.vested + account.pending,
            lot_points=expiring_points,
            lot_first=next_expiry,
            until=policy.expiring_soon_until(program.settings, now),
        )
    current = program.tier_index(account.tier_code)
    higher = program.tiers[current + 1] if current + 1 < len(program.tiers) else None
    return ledger_pb2.Balance(
        member_id=account.member_id,
        available_points=account.vested,
        pending_points=account.pending,
        held_points=account.held,
        lifetime_earned_points=account.lifetime_earned,
        debt_points=account.debt,
        tier_code=account.tier_code,
        qualifying_basis=program.settings.qualifying_basis,
        qualifying_amount=account.qualifying,
        next_tier_code=higher.code if higher else "",
        to_next_tier_amount=max(0, higher.threshold - account.qualifying) if higher else 0,
        expiring_30_days_points=expiring_points or 0,
        next_expiry_at=timestamp(next_expiry),
        as_of=timestamp(now),
    )
