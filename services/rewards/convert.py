"""Stored rows to proto messages."""

import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.rewards.v1 import rewards_pb2
from services.rewards import codes as code_format
from services.rewards import domain
from services.rewards.code_store import CodeRow
from services.rewards.redemption_store import RedemptionRow
from services.shared.timestamps import from_epoch_seconds

# Why a code cannot be used, by its status: the reason UseCode answers.
UNUSABLE_REASONS = {
    rewards_pb2.CODE_STATUS_UNKNOWN: ("CODE_UNKNOWN", "no such code in this program"),
    rewards_pb2.CODE_STATUS_USED: ("CODE_USED", "the code was used already"),
    rewards_pb2.CODE_STATUS_EXPIRED: ("CODE_EXPIRED", "the code expired"),
    rewards_pb2.CODE_STATUS_CANCELLED: ("CODE_CANCELLED", "the code's redemption was cancelled"),
    rewards_pb2.CODE_STATUS_WRONG_STORE: (
        "CODE_WRONG_STORE",
        "the code is not valid in this store",
    ),
    rewards_pb2.CODE_STATUS_NOT_YET_VALID: ("CODE_NOT_YET_VALID", "the code is not valid yet"),
}


def timestamp(moment: datetime.datetime) -> Timestamp:
    return from_epoch_seconds(moment.timestamp())


def code_status(code: CodeRow | None, now: datetime.datetime, store_id: str | None = None) -> int:
    """The state of a code as a till in `store_id` sees it (None: any store); a code of an
    unfinished redemption is unknown."""
    if code is None or code.activated_at is None:
        return rewards_pb2.CODE_STATUS_UNKNOWN
    if code.cancelled_at is not None:
        return rewards_pb2.CODE_STATUS_CANCELLED
    if code.used_at is not None:
        return rewards_pb2.CODE_STATUS_USED
    if code.expires_at is not None and code.expires_at <= now:
        return rewards_pb2.CODE_STATUS_EXPIRED
    if store_id is not None and code.store_ids and store_id not in code.store_ids:
        return rewards_pb2.CODE_STATUS_WRONG_STORE
    return rewards_pb2.CODE_STATUS_VALID


def issued_code(code: CodeRow, now: datetime.datetime) -> rewards_pb2.IssuedCode:
    issued = rewards_pb2.IssuedCode(
        # A partner's code is shown as the partner issued it: grouped with dashes, one that
        # looks like ours would not be accepted where it is redeemed.
        code=code.code if code.partner else code_format.display(code.code),
        status=code_status(code, now),
        used_store_id=code.used_store_id,
    )
    if code.expires_at is not None:
        issued.expires_at.CopyFrom(timestamp(code.expires_at))
    if code.used_at is not None:
        issued.used_at.CopyFrom(timestamp(code.used_at))
    return issued


def redemption(
    row: RedemptionRow, codes: list[CodeRow], now: datetime.datetime
) -> rewards_pb2.Redemption:
    message = rewards_pb2.Redemption(
        redemption_id=row.redemption_id,
        program_id=row.program_id,
        member_id=row.member_id,
        reward_id=row.reward_id,
        quantity=row.quantity,
        points_spent=row.points,
        status=row.status,
        # Codes show once the redemption completed; before, they are not usable.
        codes=[issued_code(code, now) for code in codes if code.activated_at is not None],
        hold_id=row.hold_id,
        posting_id=row.posting_id,
        failure_reason=row.failure_reason if row.step == domain.VOIDED else "",
        channel=row.channel,  # type: ignore[arg-type]
        create_time=timestamp(row.created_at),
    )
    if row.completed_at is not None:
        message.complete_time.CopyFrom(timestamp(row.completed_at))
    if row.cancelled_at is not None:
        message.cancel_time.CopyFrom(timestamp(row.cancelled_at))
    return message
