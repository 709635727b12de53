"""Campaign follows the ledger's tier renames and removals (TierDefinitionsChanged): an earning
rule naming a renamed tier earns for the tier its members went to, a segment naming it holds
them after the refresh, rules and segments naming a code that matches nobody are reported (ListRules / ListSegments undefined_tier_codes_only, the
gauge) and never rewritten, and a late older announcement changes nothing. The ledger and
campaign run on real PostgreSQL and JetStream."""

import datetime as dt
import uuid

import nats
import pytest

from loyalty.campaign.v1 import campaign_pb2, rules_pb2, segments_pb2
from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.campaign.events import TIER_DEFINITIONS_CONSUMER
from services.campaign.segment_refresh import SegmentRefresh
from tests.services.campaign.insight_support import (
    compute,
    create_segment,
    eventually,
    segment,
    segments_of,
)
from tests.services.campaign.support import PROGRAM, earning, key, ledger_and_campaign, rate
from tests.services.campaign.test_tier_events import tier_of
from tests.services.ledger.test_programs import TIERS
from tests.support.streams import consumed

MEMBER, SILVER, GOLD = TIERS[0], TIERS[1], TIERS[2]
PLUS = ledger_pb2.TierDefinition(code="plus", name="Plus", rank=1, threshold=1_000)


@pytest.fixture
async def services(start_service):  # type: ignore[no-untyped-def]
    # The refresh job runs when the test says (run_once), so what it computes is known.
    async with ledger_and_campaign(start_service, segments_enabled=False) as (ledger, campaign):
        yield ledger, campaign


def in_tiers(*codes: str) -> segments_pb2.SegmentCondition:
    return segments_pb2.SegmentCondition(tier=segments_pb2.TierCondition(tier_codes=list(codes)))


async def undefined_rules(campaign) -> list[str]:  # type: ignore[no-untyped-def]
    response = await campaign.stub.ListRules(
        campaign_pb2.ListRulesRequest(
            program_id=PROGRAM, undefined_tier_codes_only=True, page_size=1
        )
    )
    listed = [rule.rule_id for rule in response.rules]
    while response.next_page_token:  # pages of one: the filter reads on past unlisted rules
        response = await campaign.stub.ListRules(
            campaign_pb2.ListRulesRequest(
                program_id=PROGRAM,
                undefined_tier_codes_only=True,
                page_size=1,
                page_token=response.next_page_token,
            )
        )
        listed += [rule.rule_id for rule in response.rules]
    return listed


async def undefined_segments(campaign) -> list[str]:  # type: ignore[no-untyped-def]
    response = await campaign.stub.ListSegments(
        campaign_pb2.ListSegmentsRequest(program_id=PROGRAM, undefined_tier_codes_only=True)
    )
    return [made.segment_id for made in response.segments]


def gauge(campaign, kind: str) -> float | None:  # type: ignore[no-untyped-def]
    return campaign.service.runtime.metrics.registry.get_sample_value(  # type: ignore[no-any-return]
        "loyalty_campaign_undefined_tier_codes", {"program_id": PROGRAM, "kind": kind}
    )


async def test_rules_follow_renamed_tiers_and_what_matches_nobody_is_listed(
    services, servers, nats_namespace: str, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    ledger, campaign = services

    async def tier_of_ann() -> str | None:
        return await tier_of(database_url, "ann")

    await ledger.earn("ann", 1_500, qualifying=True)  # silver
    assert await eventually(lambda: tier_of_ann(), "silver") == "silver"
    silver_rule = earning(
        "silver_x2",
        rate=rate(),
        tier_codes=["silver"],
        multipliers=[rules_pb2.Multiplier(tier_code="silver", multiplier_bps=20_000)],
    )
    await campaign.live(silver_rule)
    await campaign.live(earning("gold_only", rate=rate(), tier_codes=["gold"]))
    await campaign.live(earning("everybody", rate=rate(), priority=20))
    for segment_id, codes in (("silvers", ["silver"]), ("golds", ["gold"]), ("all", ["member"])):
        await create_segment(campaign, segment(segment_id, in_tiers(*codes)))
        await compute(campaign, segment_id)
    assert await segments_of(campaign, "ann") == ["silvers"]
    assert await undefined_rules(campaign) == []  # the ledger announced nothing yet

    # silver renamed plus; gold dropped without a mapping (nobody holds it).
    await ledger.stub.SetTierDefinitions(
        ledger_pb2.SetTierDefinitionsRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            tiers=[MEMBER, PLUS],
            tier_code_mappings=[
                ledger_pb2.TierCodeMapping(from_tier_code="silver", to_tier_code="plus")
            ],
        )
    )
    assert await eventually(lambda: undefined_rules(campaign), ["gold_only"]) == ["gold_only"]
    # silvers follows the mapping: only golds (gold neither defined nor mapped) is listed.
    assert await undefined_segments(campaign) == ["golds"]
    assert (gauge(campaign, "rule"), gauge(campaign, "segment")) == (1, 1)
    # Nothing rewritten: the stored rule still names silver.
    stored = await campaign.stub.GetRule(
        campaign_pb2.GetRuleRequest(program_id=PROGRAM, rule_id="silver_x2")
    )
    assert list(stored.rule.earning.tier_codes) == ["silver"]

    # ann is in plus now: the rule for silver earns for her, its multiplier too.
    assert await eventually(lambda: tier_of_ann(), "plus") == "plus"
    bought = await campaign.purchase("ann", "t1", 10_000, at=dt.datetime.now(dt.UTC))
    by_rule = {a.rule_id: a.points for a in bought.accrual.applications}
    assert by_rule.get("silver_x2") == 200, by_rule
    assert "gold_only" not in by_rule

    # The segment for silver holds her after the refresh: her TierChanged marked her and the
    # announcement made silvers due; both evaluations compare her plus with silver's target.
    job = SegmentRefresh(campaign.service.runtime.pool, campaign.ledger_client(), None)
    assert (await job.run_once(dt.datetime.now(dt.UTC)))["segments"] == 1
    assert await segments_of(campaign, "ann") == ["silvers"]
    assert (await compute(campaign, "silvers")).member_count == 1
    stored_segment = await campaign.stub.GetSegment(
        campaign_pb2.GetSegmentRequest(program_id=PROGRAM, segment_id="silvers")
    )
    assert list(stored_segment.segment.conditions[0].tier.tier_codes) == ["silver"]

    # A late older announcement (the tiers before, gold still defined) changes nothing.
    stale = events_pb2.Event(
        event_id=str(uuid.uuid4()),
        program_id=PROGRAM,
        producer="ledger",
        tier_definitions_changed=events_pb2.TierDefinitionsChanged(
            tiers=[events_pb2.TierDefinitionCode(code=t.code, rank=t.rank) for t in TIERS],
            entry_tier_code="member",
            version=1,
        ),
    )
    client = await nats.connect(servers.nats_url)
    try:
        await client.jetstream().publish(
            f"{nats_namespace}.ledger.tier_definitions_changed",
            stale.SerializeToString(),
            headers={"Nats-Msg-Id": stale.event_id},
        )
        await consumed(servers, nats_namespace, "ledger", TIER_DEFINITIONS_CONSUMER.durable)
    finally:
        await client.close()
    assert await undefined_rules(campaign) == ["gold_only"]
    assert (gauge(campaign, "rule"), gauge(campaign, "segment")) == (1, 1)

    # The operator's fix takes it off the list.
    fixed = earning("gold_only", rate=rate(), tier_codes=["plus"])
    updated = await campaign.stub.UpdateRule(
        campaign_pb2.UpdateRuleRequest(
            program_id=PROGRAM, idempotency_key=key(), rule=fixed, base_version=1
        )
    )
    assert await undefined_rules(campaign) == ["gold_only"]  # the live version still names gold
    await campaign.stub.ActivateRule(
        campaign_pb2.ActivateRuleRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            rule_id="gold_only",
            version=updated.rule.version,
        )
    )
    assert await undefined_rules(campaign) == []


def test_a_rule_follows_mappings_without_doubling_a_multiplier_of_its_own() -> None:
    from services.campaign.tier_codes import ProgramTiers, followed_rule, rule_undefined_codes

    rule = earning(
        "r",
        rate=rate(),
        tier_codes=["silver", "bronze"],
        multipliers=[
            rules_pb2.Multiplier(tier_code="silver", multiplier_bps=20_000),
            rules_pb2.Multiplier(tier_code="gold", multiplier_bps=30_000),
            rules_pb2.Multiplier(tier_code="plus", multiplier_bps=15_000),
        ],
    )
    tiers = ProgramTiers(
        version=2, codes=frozenset({"member", "plus"}), mappings={"silver": "plus", "gold": "plus"}
    )
    followed = followed_rule(rule, tiers.mappings)
    assert list(followed.earning.tier_codes) == ["silver", "bronze", "plus"]
    # plus has a multiplier of its own: the mapped ones are left (they match nobody moved).
    assert [m.tier_code for m in followed.earning.multipliers] == ["silver", "gold", "plus"]
    assert list(rule.earning.tier_codes) == ["silver", "bronze"]  # the stored rule is left
    assert rule_undefined_codes(rule, tiers) == ["bronze"]
    del rule.earning.multipliers[2]
    followed = followed_rule(rule, tiers.mappings)
    # The first mapped multiplier takes plus; a second would stack on the same members.
    assert [m.tier_code for m in followed.earning.multipliers] == ["plus", "gold"]
    assert followed_rule(earning("e", rate=rate()), tiers.mappings).rule_id == "e"


def test_a_segment_follows_mappings_in_its_query_and_reports_only_what_matches_nobody() -> None:
    from services.campaign.segment_sql import Params, membership_query
    from services.campaign.tier_codes import ProgramTiers, remapped_codes, segment_undefined_codes

    made = segment("s", in_tiers("silver", "bronze", "plus"), in_tiers("gold"))
    tiers = ProgramTiers(
        version=2, codes=frozenset({"member", "plus"}), mappings={"silver": "plus", "gold": "top"}
    )
    assert segment_undefined_codes(made, tiers) == ["bronze"]
    params = Params()
    program = params.add("p", "text")
    membership_query(
        made,
        params,
        program=program,
        entry_tier="member",
        now=dt.datetime.now(dt.UTC),
        time_zone="Europe/Amsterdam",
        tier_mappings=tiers.mappings,
    )
    # One array per condition, followed once when the query is built; the old codes stay.
    arrays = [value for value in params.values if isinstance(value, list)]
    assert arrays == [["silver", "bronze", "plus"], ["gold", "top"]]
    assert list(made.conditions[0].tier.tier_codes) == ["silver", "bronze", "plus"]
    before = ProgramTiers(version=1, codes=frozenset(), mappings={"silver": "plus", "old": "x"})
    assert remapped_codes(before, tiers) == {"gold", "old"}
    assert remapped_codes(None, tiers) == {"silver", "gold"}
