"""A program that refuses member ids identity has not enrolled (UNKNOWN_MEMBER_POLICY_REFUSE):
purchases, batches and activities of such ids are refused before anything counts them, on real
identity, ledger and campaign processes."""

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc
import pytest

from deploy.local.servers import free_port
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2
from services.campaign.app import SPEC as CAMPAIGN
from services.campaign.app import CampaignConfig
from services.identity.app import SPEC as IDENTITY
from services.identity.app import IdentityConfig
from services.ledger.app import SPEC as LEDGER
from services.ledger.app import LedgerConfig
from tests.services.campaign.streams import eventually
from tests.services.campaign.support import (
    PROGRAM,
    Campaign,
    available,
    batch,
    earning,
    engagement,
    key,
    rate,
)
from tests.services.campaign.test_engagement import record_activity
from tests.services.ledger.support import Ledger
from tests.support.calls import program

POSTED = campaign_pb2.INGEST_ITEM_STATUS_POSTED
REJECTED = campaign_pb2.INGEST_ITEM_STATUS_REJECTED
SHARE = common_pb2.ACTIVITY_KIND_SOCIAL_SHARE
AT = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)


@dataclass
class Platform:
    identity: identity_pb2_grpc.IdentityServiceStub
    ledger: Ledger
    campaign: Campaign

    async def enrol(self) -> str:
        response = await self.identity.EnrollMember(
            identity_pb2.EnrollMemberRequest(
                program_id=PROGRAM,
                idempotency_key=uuid.uuid4().hex,
                channel=common_pb2.CHANNEL_POS,
                identifiers=[
                    identity_pb2.Identifier(
                        kind=common_pb2.IDENTIFIER_KIND_EMAIL,
                        value=f"{uuid.uuid4().hex[:10]}@example.com",
                    )
                ],
            )
        )
        return response.member.member_id

    async def erase(self, member: str) -> None:
        await self.identity.EraseMember(
            identity_pb2.EraseMemberRequest(
                program_id=PROGRAM,
                idempotency_key=key(),
                member_id=member,
                operator_id="dpo",
                reason="GDPR-7",
            )
        )

    async def recorded(self, member: str) -> int:
        """The purchases campaign stored for the member."""
        return await self.campaign.service.runtime.pool.fetchval(
            "SELECT count(*) FROM transactions WHERE program_id = $1 AND member_id = $2",
            PROGRAM,
            member,
        )

    async def account_opened(self, member: str) -> bool:
        try:
            await self.ledger.balance(member)
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
            return False
        return True


@asynccontextmanager
async def refusing_platform(start_service, **campaign_overrides) -> AsyncIterator[Platform]:  # type: ignore[no-untyped-def]
    """Identity, the ledger and campaign, the program refusing unknown members and earning a
    point a euro and 5 points a social share."""
    async with start_service(LEDGER, LedgerConfig, jobs_enabled=False) as (
        ledger_service,
        ledger_channel,
    ):
        ledger_address = f"127.0.0.1:{ledger_service.port}"
        ledger = Ledger(ledger_channel, PROGRAM)
        await ledger.setup(
            return_window_days=0, unknown_member_policy=ledger_pb2.UNKNOWN_MEMBER_POLICY_REFUSE
        )
        async with start_service(IDENTITY, IdentityConfig, ledger_address=ledger_address) as (
            identity_service,
            identity_channel,
        ):
            identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
            await identity.CreateProgram(
                identity_pb2.CreateProgramRequest(
                    program_id=PROGRAM, idempotency_key="create", program=program(PROGRAM)
                )
            )
            overrides = {
                "ledger_address": ledger_address,
                "identity_address": f"127.0.0.1:{identity_service.port}",
                "recognition_enabled": False,
                **campaign_overrides,
            }
            async with start_service(CAMPAIGN, CampaignConfig, **overrides) as (
                campaign_service,
                campaign_channel,
            ):
                campaign = Campaign(
                    campaign_pb2_grpc.CampaignServiceStub(campaign_channel),
                    campaign_service,
                    ledger_address,
                )
                await campaign.live(earning("base", rate=rate(1, 100)))
                await campaign.live(engagement("shares", activity_kind=SHARE, points=5))
                yield Platform(identity, ledger, campaign)


async def share(campaign: Campaign, activity_id: str, member: str) -> engagement_pb2.Activity:
    return await record_activity(
        campaign, activity_id, member, SHARE, channel=common_pb2.CHANNEL_APP
    )


def refused_as(error: grpc.aio.AioRpcError, reason: str) -> str:
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
    metadata = tuple(error.trailing_metadata())
    assert ("loyalty-error-reason", reason) in metadata, metadata
    assert ("loyalty-error-field", "member_id") in metadata, metadata
    return error.details()


async def test_purchases_and_activities_of_ids_identity_never_enrolled_are_refused(
    start_service,
) -> None:
    # Campaign consumes no enrolment here, so every member is asked of identity: a purchase
    # right after an enrolment earns.
    async with refusing_platform(start_service, consumers_enabled=False) as platform:
        campaign = platform.campaign
        ann = await platform.enrol()
        bought = await campaign.purchase(ann, "t1", 1_250, at=AT)
        assert bought.accrual.points == 12
        assert await available(platform.ledger, ann) == 12

        for attempt in range(2):  # the refusal keeps no key: a retry is refused again
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await campaign.purchase("nobody", "t2", 1_250, at=AT)
            details = refused_as(refused.value, "MEMBER_NOT_ENROLLED")
            assert "'nobody' is not enrolled" in details, (attempt, details)
        assert await platform.recorded("nobody") == 0
        assert not await platform.account_opened("nobody")

        [answer] = await campaign.ingest(
            batch("b1", [("t3", ann, 1_000, AT), ("t4", "nobody", 5_000, AT), ("t5", ann, 300, AT)])
        )
        assert list(answer.statuses) == [POSTED, REJECTED, POSTED]
        assert answer.reason_codes[1] == "member_not_enrolled"
        assert answer.messages[1] == "member_ids: is not enrolled"
        assert list(answer.points) == [10, 0, 3]
        assert await available(platform.ledger, ann) == 25
        assert await platform.recorded("nobody") == 0
        assert not await platform.account_opened("nobody")

        shared = await share(campaign, "s1", "nobody")
        assert shared.outcome == engagement_pb2.ACTIVITY_OUTCOME_REJECTED
        assert shared.points == 0
        assert shared.attributes["campaign.rejection"] == "member_not_enrolled"
        # Recorded as refused: sent again, it is the same activity, still without points.
        again = await share(campaign, "s1", "nobody")
        assert again == shared
        assert (await share(campaign, "s2", ann)).points == 5
        assert not await platform.account_opened("nobody")
        assert await available(platform.ledger, ann) == 30


async def test_members_identity_merged_or_erased_are_refused_before_campaign_hears_of_it(
    start_service,
) -> None:
    async with refusing_platform(start_service, consumers_enabled=False) as platform:
        campaign = platform.campaign
        survivor, merged, erased = [await platform.enrol() for _ in range(3)]
        await platform.identity.MergeMembers(
            identity_pb2.MergeMembersRequest(
                program_id=PROGRAM,
                idempotency_key=key(),
                survivor_member_id=survivor,
                merged_member_id=merged,
                operator_id="support-1",
            )
        )
        await platform.erase(erased)
        with pytest.raises(grpc.aio.AioRpcError) as closed:
            await campaign.purchase(merged, "m1", 1_000, at=AT)
        assert f"merged into {survivor!r}" in refused_as(closed.value, "MEMBER_CLOSED")
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await campaign.purchase(erased, "e1", 1_000, at=AT)
        assert "was erased" in refused_as(gone.value, "MEMBER_NOT_ENROLLED")
        [answer] = await campaign.ingest(
            batch("b1", [("m2", merged, 1_000, AT), ("e2", erased, 1_000, AT)])
        )
        assert list(answer.reason_codes) == ["member_closed", "member_not_enrolled"]
        assert (await share(campaign, "s1", erased)).attributes[
            "campaign.rejection"
        ] == "member_not_enrolled"
        for member in (merged, erased):
            assert await platform.recorded(member) == 0
        assert (await campaign.purchase(survivor, "p1", 1_000, at=AT)).accrual.points == 10


async def test_consumed_enrolments_need_no_identity_and_an_unanswered_check_writes_nothing(
    start_service,
) -> None:
    # Campaign's identity address leads nowhere; it learns of members from identity's events.
    async with refusing_platform(
        start_service, identity_address=f"127.0.0.1:{free_port()}"
    ) as platform:
        campaign = platform.campaign
        pool = campaign.service.runtime.pool
        bea, cas = await platform.enrol(), await platform.enrol()

        async def consumed(member: str) -> bool:
            return bool(
                await pool.fetchval(
                    "SELECT enrolled_at IS NOT NULL FROM members "
                    "WHERE program_id = $1 AND member_id = $2",
                    PROGRAM,
                    member,
                )
            )

        await eventually(lambda: consumed(bea))
        await eventually(lambda: consumed(cas))
        assert (await campaign.purchase(bea, "t1", 2_000, at=AT)).accrual.points == 20
        [answer] = await campaign.ingest(batch("b1", [("t2", cas, 700, AT)]))
        assert list(answer.statuses) == [POSTED]

        # An id campaign never heard of must be asked of identity, which does not answer: the
        # call is UNAVAILABLE, nothing is written, and a retry (identity back) is safe.
        with pytest.raises(grpc.aio.AioRpcError) as unanswered:
            await campaign.purchase("someone", "t3", 1_000, at=AT)
        assert unanswered.value.code() == grpc.StatusCode.UNAVAILABLE
        assert ("loyalty-error-reason", "IDENTITY_UNAVAILABLE") in tuple(
            unanswered.value.trailing_metadata()
        )
        with pytest.raises(grpc.aio.AioRpcError) as batch_unanswered:
            await campaign.ingest(batch("b2", [("t4", cas, 700, AT), ("t5", "someone", 1, AT)]))
        assert batch_unanswered.value.code() == grpc.StatusCode.UNAVAILABLE
        assert await platform.recorded("someone") == 0
        assert await platform.recorded(cas) == 1
        assert not await platform.account_opened("someone")

        # Erased: refused from the moment campaign consumes the erasure, without asking.
        await platform.erase(bea)

        async def erased() -> bool:
            return bool(
                await pool.fetchval(
                    "SELECT erased_at IS NOT NULL FROM members "
                    "WHERE program_id = $1 AND member_id = $2",
                    PROGRAM,
                    bea,
                )
            )

        await eventually(erased)
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await campaign.purchase(bea, "t6", 1_000, at=AT)
        assert "was erased" in refused_as(gone.value, "MEMBER_NOT_ENROLLED")
        assert await available(platform.ledger, bea) == 20
