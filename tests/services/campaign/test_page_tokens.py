"""Forged page tokens on every list RPC of campaign, on real ledger and campaign processes."""

import uuid

import pytest

from loyalty.campaign.v1 import campaign_pb2, segments_pb2
from tests.services.campaign.insight_support import create_segment, segment
from tests.services.campaign.support import PROGRAM, eur, ledger_and_campaign
from tests.support.page_tokens import Cursor, assert_forgeries_refused

MEMBER = {"program_id": PROGRAM, "member_id": "ann"}
# Per list RPC: its request's fields and its cursor, each key as (what it holds, a true value).
CURSORS: dict[str, tuple[dict[str, object], Cursor]] = {
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


@pytest.mark.parametrize("method", sorted(CURSORS))
async def test_a_page_token_holding_a_value_its_key_cannot_hold_is_the_callers_error(
    start_service, method: str
) -> None:
    fields, cursor = CURSORS[method]
    async with ledger_and_campaign(start_service, segments_enabled=False) as (_, campaign):
        spend = segments_pb2.MonetaryCondition(window_days=7, spend_min=eur(1_000))
        await create_segment(
            campaign, segment("spenders", segments_pb2.SegmentCondition(monetary=spend))
        )
        request_type = getattr(campaign_pb2, f"{method}Request")
        await assert_forgeries_refused(getattr(campaign.stub, method), request_type, fields, cursor)
