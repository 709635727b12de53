"""Campaign recognition settings through real gRPC and PostgreSQL."""

import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, engagement_pb2
from services.campaign.app import SPEC, CampaignConfig


@pytest.fixture
async def campaign(start_service):
    async with start_service(SPEC, CampaignConfig) as (_, channel):
        yield campaign_pb2_grpc.CampaignServiceStub(channel)


def recognition(**fields) -> engagement_pb2.RecognitionConfig:
    return engagement_pb2.RecognitionConfig(**fields)


async def configure(stub, config, key: str = "r1"):
    return await stub.ConfigureRecognition(
        campaign_pb2.ConfigureRecognitionRequest(
            program_id="acme", idempotency_key=key, config=config
        )
    )


async def test_recognition_is_stored_and_replaced(campaign) -> None:
    milestone = engagement_pb2.Milestone(code="tenth-visit", kind=1, threshold=10, points=500)
    stored = (
        await configure(campaign, recognition(birthday_bonus_points=250, milestones=[milestone]))
    ).config
    read = (
        await campaign.GetRecognition(campaign_pb2.GetRecognitionRequest(program_id="acme"))
    ).config
    assert read == stored and read.milestones[0].code == "tenth-visit"
    await configure(campaign, recognition(birthday_bonus_points=300), key="r2")
    read = (
        await campaign.GetRecognition(campaign_pb2.GetRecognitionRequest(program_id="acme"))
    ).config
    assert read.birthday_bonus_points == 300 and not read.milestones


async def test_unconfigured_recognition_is_not_found(campaign) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await campaign.GetRecognition(campaign_pb2.GetRecognitionRequest(program_id="acme"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (recognition(birthday_bonus_points=-1), "config.birthday_bonus_points"),
        (recognition(signup_bonus_points=-5), "config.signup_bonus_points"),
        (
            recognition(
                milestones=[engagement_pb2.Milestone(code="m", kind=1, threshold=0, points=5)]
            ),
            "config.milestones[0].threshold",
        ),
        (
            recognition(milestones=[engagement_pb2.Milestone(code="m", kind=1, threshold=3)]),
            "config.milestones[0]",
        ),
        (
            recognition(
                milestones=[engagement_pb2.Milestone(code="m", kind=1, threshold=3, points=1)] * 2
            ),
            "config.milestones[1].code",
        ),
        (
            recognition(
                top_members_of_month=engagement_pb2.TopMembersOfMonth(count=10, points=100)
            ),
            "config.top_members_of_month.basis",
        ),
        (
            recognition(
                top_members_of_month=engagement_pb2.TopMembersOfMonth(
                    count=10, points=100, basis=1, settle_delay_hours=745
                )
            ),
            "config.top_members_of_month.settle_delay_hours",
        ),
    ],
)
async def test_bad_recognition_names_the_field(campaign, config, field) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await configure(campaign, config)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(f"{field}:")
