"""Forged page tokens on every list RPC of rewards, on real ledger and rewards processes."""

import pytest

from loyalty.rewards.v1 import rewards_pb2
from tests.services.rewards.conftest import PROGRAM
from tests.support.page_tokens import Cursor, assert_forgeries_refused

# Per list RPC: its request's fields and its cursor, each key as (what it holds, a true value).
CURSORS: dict[str, tuple[dict[str, object], Cursor]] = {
    "ListRewards": ({"program_id": PROGRAM}, {"price": ("bigint", 500), "id": ("text", "r1")}),
    "ListRedemptions": (
        {"program_id": PROGRAM},
        {"micros": ("micros", 0), "id": ("text", "d1")},
    ),
    "ListTierPerks": ({"program_id": PROGRAM}, {"tier": ("text", "gold")}),
    "ListMemberPerks": (
        {"program_id": PROGRAM, "member_id": "ann"},
        {"perk": ("text", "lounge")},
    ),
}


@pytest.mark.parametrize("method", sorted(CURSORS))
async def test_a_page_token_holding_a_value_its_key_cannot_hold_is_the_callers_error(
    platform, method: str
) -> None:
    fields, cursor = CURSORS[method]
    request_type = getattr(rewards_pb2, f"{method}Request")
    await assert_forgeries_refused(getattr(platform.rewards, method), request_type, fields, cursor)
