"""Forged page tokens on every list RPC of campaign, on real ledger and campaign processes."""

import base64
import json
import uuid

import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2, segments_pb2
from tests.services.campaign.insight_support import create_segment, segment
from tests.services.campaign.support import PROGRAM, eur, ledger_and_campaign

# What no token of campaign holds, by what the key holds: text (an id or code), a 32-bit
# number (a rule's priority or version, integer columns) or an instant's microseconds.
TEXT = [1, 2**64, 1.5, True, None, ["a"], {"a": 1}, "a\x00", "\ud800"]
INT32 = [2**31, -(2**31) - 1, 2**64, "1", 1.5, True, None]
MICROS = [2**62, -(2**62), 2**63, -(2**63) - 1, 10**30, "1", 1.5, True, None]
FORGERIES = {"text": TEXT, "int32": INT32, "micros": MICROS, "uuid": [*TEXT, "not a uuid"]}

MEMBER = {"program_id": PROGRAM, "member_id": "ann"}
# Per list RPC: its request's fields and its cursor, each key as (what it holds, a true value).
CURSORS: dict[str, tuple[dict[str, object], dict[str, tuple[str, object]]]] = {
    "ListRules": (
        {"program_id": PROGRAM},
        {"priority": ("int32", 10), "rule_id": ("text", "r1"), "version": ("int32", 1)},
    ),
    "ListActivities": (
        {"program_id": PROGRAM},
        {"micros": ("micros", 0), "member_id": ("text", "ann"), "activity_id": ("text", "a1")},
    ),
    "ListMissions": ({"program_id": PROGRAM}, {"after": ("text", "m1")}),
    "ListMemberBadges": (MEMBER, {"micros": ("micros", 0), "code": ("text", "b1")}),
    "ListSegments": ({"program_id": PROGRAM}, {"segment_id": ("text", "spenders")}),
    "ListSegmentMembers": (
        {"program_id": PROGRAM, "segment_id": "spenders"},
        {"segment_id": ("text", "spenders"), "member_id": ("text", "ann")},
    ),
    "ListExperiments": (
        {"program_id": PROGRAM},
        {"experiment_id": ("text", "e1")},
    ),
    "ListNotificationIntents": (
        {"program_id": PROGRAM},
        {
            "micros": ("micros", 0),
            "member": ("text", "ann"),
            "intent": ("uuid", str(uuid.UUID(int=1))),
        },
    ),
}


def forged(**cursor: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()


@pytest.mark.parametrize("method", sorted(CURSORS))
async def test_a_page_token_holding_a_value_its_key_cannot_hold_is_the_callers_error(
    start_service, method: str
) -> None:
    fields, cursor = CURSORS[method]
    true_cursor = {name: value for name, (_, value) in cursor.items()}
    async with ledger_and_campaign(start_service, segments_enabled=False) as (_, campaign):
        spend = segments_pb2.MonetaryCondition(window_days=7, spend_min=eur(1_000))
        await create_segment(
            campaign, segment("spenders", segments_pb2.SegmentCondition(monetary=spend))
        )
        call = getattr(campaign.stub, method)
        request_type = getattr(campaign_pb2, f"{method}Request")
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
