"""Forged page tokens on every list RPC of rewards, on real ledger and rewards processes."""

import base64
import json

import grpc
import pytest

from loyalty.rewards.v1 import rewards_pb2
from tests.services.rewards.conftest import PROGRAM

# What no token of rewards holds, by what the key holds: text (an id or code), a bigint (a
# reward's points price) or an instant's microseconds.
TEXT = [1, 2**64, 1.5, True, None, ["a"], {"a": 1}, "a\x00", "\ud800"]
BIGINT = [2**63, -(2**63) - 1, 2**64, 10**30, "1", 1.5, True, None, {"a": 1}]
MICROS = [2**62, -(2**62), 2**63, -(2**63) - 1, 10**30, "1", 1.5, True, None]
FORGERIES = {"text": TEXT, "bigint": BIGINT, "micros": MICROS}

# Per list RPC: its request's fields and its cursor, each key as (what it holds, a true value).
CURSORS: dict[str, tuple[dict[str, object], dict[str, tuple[str, object]]]] = {
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


def forged(**cursor: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()


@pytest.mark.parametrize("method", sorted(CURSORS))
async def test_a_page_token_holding_a_value_its_key_cannot_hold_is_the_callers_error(
    platform, method: str
) -> None:
    fields, cursor = CURSORS[method]
    true_cursor = {name: value for name, (_, value) in cursor.items()}
    call = getattr(platform.rewards, method)
    request_type = getattr(rewards_pb2, f"{method}Request")
    # The true cursor is answered: each refusal below is the forged value's alone.
    await call(request_type(**fields, page_token=forged(**true_cursor)))
    for name, (holds, _) in cursor.items():
        for value in FORGERIES[holds]:
            token = forged(**{**true_cursor, name: value})
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await call(request_type(**fields, page_token=token))
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (
                name,
                value,
                error.value.details(),
            )
            metadata = tuple(error.value.trailing_metadata())
            assert ("loyalty-error-field", "page_token") in metadata, (name, value)
