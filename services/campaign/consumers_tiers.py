"""Campaign follows the ledger's tier changes (ledger.tier_definitions_changed).

On each announcement newer than the one kept (program_tiers; a redelivery or a late older one
changes nothing) the tiers and mappings are kept, which earning rules follow when compiled
(services/campaign/tier_codes.py), and the rules and segments naming a code that matches nobody
now are reported: a warning per rule or segment naming its codes, and the gauge
loyalty_campaign_undefined_tier_codes{program_id,kind}. Nothing is rewritten: a rule change is
the operator's, who finds them with ListRules / ListSegments(undefined_tier_codes_only).
"""

import logging

import asyncpg
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry, Gauge

from loyalty.events.v1 import events_pb2
from services.campaign import repository_rules, repository_segments, repository_tiers
from services.campaign.tier_codes import (
    RULE,
    SEGMENT,
    ProgramTiers,
    rule_undefined_codes,
    segment_undefined_codes,
)

logger = logging.getLogger(__name__)

# Rules and segments read per statement while reporting.
REPORT_CHUNK = 500


def undefined_gauge(registry: CollectorRegistry) -> Gauge:
    return Gauge(
        "loyalty_campaign_undefined_tier_codes",
        "Rules (current versions not archived) and segments naming a tier code that matches no "
        "member since the ledger's last tier change: a rule's code the tiers neither define nor "
        "map, a segment's code the tiers do not define. Set when the change is consumed.",
        ["program_id", "kind"],
        registry=registry,
    )


def tiers_of(changed: events_pb2.TierDefinitionsChanged) -> ProgramTiers:
    return ProgramTiers(
        version=changed.version,
        codes=frozenset(tier.code for tier in changed.tiers),
        mappings={m.from_tier_code: m.to_tier_code for m in changed.tier_code_mappings},
    )


async def undefined_rules(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, tiers: ProgramTiers
) -> list[tuple[str, list[str]]]:
    """(rule id, codes) of the rules whose current version (as ListRules shows it, archived
    left out) names codes the tiers neither define nor map."""
    found: list[tuple[str, list[str]]] = []
    after: tuple[int, str, int] | None = None
    while True:
        page = await repository_rules.list_rules(
            connection, program_id, status=0, all_versions=False, after=after, limit=REPORT_CHUNK
        )
        for stored in page:
            codes = rule_undefined_codes(stored.rule, tiers)
            if codes:
                found.append((stored.rule.rule_id, codes))
        if len(page) < REPORT_CHUNK:
            return found
        last = page[-1].rule
        after = (last.priority, last.rule_id, last.version)


async def undefined_segments(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, tiers: ProgramTiers
) -> list[tuple[str, list[str]]]:
    """(segment id, codes) of the segments whose tier conditions name undefined codes."""
    found: list[tuple[str, list[str]]] = []
    after = ""
    while True:
        page = await repository_segments.list_segments(connection, program_id, after, REPORT_CHUNK)
        for stored in page:
            codes = segment_undefined_codes(stored.segment, tiers)
            if codes:
                found.append((stored.segment.segment_id, codes))
        if len(page) < REPORT_CHUNK:
            return found
        after = page[-1].segment.segment_id


class TierDefinitionsHandler:
    """Keeps the ledger's newest tiers per program and reports what no longer matches."""

    def __init__(self, pool: asyncpg.Pool, gauge: Gauge) -> None:
        self.pool = pool
        self.gauge = gauge

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        if event.WhichOneof("payload") != "tier_definitions_changed":
            return
        program_id = event.program_id
        tiers = tiers_of(event.tier_definitions_changed)
        async with self.pool.acquire() as connection:
            if not await repository_tiers.keep_tiers(connection, program_id, tiers):
                logger.info(
                    "tiers version %d of program %s is not newer than the one kept; ignored",
                    tiers.version,
                    program_id,
                )
                return
            rules = await undefined_rules(connection, program_id, tiers)
            segments = await undefined_segments(connection, program_id, tiers)
        for kind, found in ((RULE, rules), (SEGMENT, segments)):
            for subject, codes in found:
                logger.warning(
                    "%s %s of program %s names tiers %s that the ledger's tiers (version %d) %s: "
                    "it matches no member in them until an operator changes it",
                    kind,
                    subject,
                    program_id,
                    codes,
                    tiers.version,
                    "neither define nor map" if kind == RULE else "do not define",
                )
            self.gauge.labels(program_id, kind).set(len(found))
