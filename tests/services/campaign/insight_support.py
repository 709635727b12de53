"""Helpers of the segment, experiment and holdout tests: events as identity, the ledger and
rewards publish them, and small builders."""

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
import nats

from loyalty.campaign.v1 import campaign_pb2, segments_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from tests.services.campaign.support import PROGRAM, Campaign, key

T = TypeVar("T")
_events = itertools.count(1)


async def publish(nats_url: str, namespace: str, subject: str, *events: events_pb2.Event) -> None:
    """Publish events on `<namespace>.<subject>`, each with an event id of its own."""
    client = await nats.connect(nats_url)
    try:
        stream = client.jetstream()
        for event in events:
            event.event_id = event.event_id or str(uuid.uuid4())
            event.program_id = event.program_id or PROGRAM
            await stream.publish(
                f"{namespace}.{subject}",
                event.SerializeToString(),
                headers={"Nats-Msg-Id": event.event_id},
            )
    finally:
        await client.close()


def enrolled(
    member: str, *consents: int, channel: int = common_pb2.CHANNEL_APP
) -> events_pb2.Event:
    return events_pb2.Event(
        member_enrolled=events_pb2.MemberEnrolled(
            member_id=member,
            entry_tier_code="member",
            channel=channel,
            granted_consent_channels=list(consents),
        )
    )


def consent(member: str, channel: int, granted: bool) -> events_pb2.Event:
    event = events_pb2.Event(
        consent_changed=events_pb2.ConsentChanged(
            member_id=member, channel=channel, granted=granted
        )
    )
    event.consent_changed.changed_at.GetCurrentTime()
    event.occurred_at.GetCurrentTime()
    return event


def field_of(error: grpc.aio.AioRpcError) -> str:
    return dict(error.trailing_metadata() or ()).get("loyalty-error-field", "")


def segment(
    segment_id: str, *conditions: segments_pb2.SegmentCondition, **fields
) -> segments_pb2.Segment:  # type: ignore[no-untyped-def]
    name = fields.pop("name", segment_id or "a segment")
    return segments_pb2.Segment(
        segment_id=segment_id, name=name, conditions=list(conditions), **fields
    )


async def create_segment(campaign: Campaign, made: segments_pb2.Segment) -> segments_pb2.Segment:
    response = await campaign.stub.CreateSegment(
        campaign_pb2.CreateSegmentRequest(program_id=PROGRAM, idempotency_key=key(), segment=made)
    )
    return response.segment


async def compute(campaign: Campaign, segment_id: str) -> campaign_pb2.ComputeSegmentResponse:
    return await campaign.stub.ComputeSegment(
        campaign_pb2.ComputeSegmentRequest(
            program_id=PROGRAM, idempotency_key=key(), segment_id=segment_id
        )
    )


async def segments_of(campaign: Campaign, member: str, *segment_ids: str) -> list[str]:
    response = await campaign.stub.CheckSegmentMembership(
        campaign_pb2.CheckSegmentMembershipRequest(
            program_id=PROGRAM, member_id=member, segment_ids=list(segment_ids)
        )
    )
    return list(response.member_segment_ids)


async def eventually(check: Callable[[], Awaitable[T]], expected: T, *, timeout_s: float = 20) -> T:
    """Poll `check` until it returns `expected`; the last value otherwise (for the assert)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await check()
        if value == expected or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)
