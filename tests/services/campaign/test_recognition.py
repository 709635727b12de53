"""Campaign recognition settings through real gRPC and PostgreSQL."""

import datetime as dt
from pathlib import Path

import asyncpg
import grpc
import pytest

import services.campaign
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, engagement_pb2
from services.campaign.app import SPEC, CampaignConfig
from services.shared.migrations import apply_migrations


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


async def test_programs_paid_before_top_of_month_starts_keep_being_paid(
    database_url: str, tmp_path: Path
) -> None:
    """Migration 017 starts a program whose job already settled a month at its first settled
    month, so the month ended before the migration is still paid; the others start afresh."""
    migrations = Path(services.campaign.__file__).with_name("migrations")
    for path in sorted(migrations.glob("0*.sql")):
        if int(path.name[:3]) < 17:
            (tmp_path / path.name).write_text(path.read_text())
    connection = await asyncpg.connect(database_url)
    try:
        assert await apply_migrations(connection, schema="campaign", directory=tmp_path) == 16
        await connection.execute("SET search_path TO campaign")
        first = dt.datetime(2026, 2, 1, 1, 0, tzinfo=dt.UTC)
        await connection.executemany(
            "INSERT INTO job_runs (program_id, job, period, done_at) VALUES ($1, $2, $3, $4)",
            [
                ("acme", "top_of_month", "2026-01", first),
                ("acme", "top_of_month", "2026-02", first + dt.timedelta(days=28)),
                ("acme", "birthday", "2026-03-01", first + dt.timedelta(days=29)),
                ("birthdays-only", "birthday", "2026-03-01", first),
            ],
        )
        [latest] = migrations.glob("017_*.sql")
        (tmp_path / latest.name).write_text(latest.read_text())
        assert await apply_migrations(connection, schema="campaign", directory=tmp_path) == 1
        rows = await connection.fetch("SELECT program_id, since FROM top_of_month_starts")
        assert [tuple(row) for row in rows] == [("acme", first)]
    finally:
        await connection.close()
