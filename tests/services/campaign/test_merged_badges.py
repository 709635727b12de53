"""A survivor's badges and mission progress include those of the members merged into it, through
a chain of merges (zed into ann, then ann into bob): each badge once, its earliest award, and a
mission completed by more than one of them once, its earliest completion. Rows stay under the
member that earned them; campaign's reads follow members.merged_into."""

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from tests.services.campaign.support import PROGRAM
from tests.services.campaign.test_merge_withdrawal_events import services  # noqa: F401
from tests.services.campaign.test_returns import MONDAY, merge

COMPLETED = engagement_pb2.MISSION_PROGRESS_STATE_COMPLETED


async def badges(campaign, member: str, page_size: int = 0) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    shown, token = [], ""
    while True:
        page = await campaign.stub.ListMemberBadges(
            campaign_pb2.ListMemberBadgesRequest(
                program_id=PROGRAM, member_id=member, page_size=page_size, page_token=token
            )
        )
        shown += [(b.badge_code, b.awarded_at.ToMicroseconds()) for b in page.badges]
        if not page.next_page_token:
            return shown
        token = page.next_page_token


async def progress(campaign, member: str) -> engagement_pb2.MissionProgress:  # type: ignore[no-untyped-def]
    answer = await campaign.stub.GetMissionProgress(
        campaign_pb2.GetMissionProgressRequest(
            program_id=PROGRAM, member_id=member, mission_id="two-buys"
        )
    )
    return answer.progresses[0]


async def test_a_chain_of_merges_shows_each_badge_and_completion_once(
    services,  # noqa: F811
    servers,
    nats_namespace,
) -> None:
    ledger, campaign, connection = services
    for member in ("zed", "ann"):
        await campaign.purchase(member, f"{member}1", 1_000, at=MONDAY)
        await campaign.purchase(member, f"{member}2", 1_000, at=MONDAY)
    zed, ann = await badges(campaign, "zed"), await badges(campaign, "ann")
    assert sorted(code for code, _ in zed) == sorted(code for code, _ in ann) == ["duo", "new"]
    first = await progress(campaign, "zed")
    assert first.state == COMPLETED
    await merge(ledger, connection, servers, nats_namespace, "zed", "ann")
    await merge(ledger, connection, servers, nats_namespace, "ann", "bob")
    # Each code once, the earliest award (zed's), newest first; the same page by page.
    assert await badges(campaign, "bob") == sorted(zed, key=lambda b: (-b[1], b[0]))
    assert await badges(campaign, "bob", page_size=1) == await badges(campaign, "bob")
    shown = await progress(campaign, "bob")
    assert (shown.member_id, shown.state) == ("bob", COMPLETED)
    assert shown.completed_at == first.completed_at
    # The rows stay where they were earned.
    held = await connection.fetch(
        "SELECT member_id FROM campaign.member_badges WHERE program_id = $1 ORDER BY 1", PROGRAM
    )
    assert [row[0] for row in held] == ["ann", "ann", "zed", "zed"]
