"""Campaign follows the ledger's tier changes (ledger.tier_definitions_changed).

On each announcement newer than the one kept (program_tiers; a redelivery or a late older one
changes nothing) the tiers and mappings are kept, which earning rules follow when compiled and
segments when computed (services/campaign/tier_codes.py). The segments naming a code whose
mapping the announcement changed are made due in the same transaction, so the refresh job's
next pass computes them in full with the new mappings: a member the ledger moved may have been
evaluated (and have left) before the mapping was known. The rules and segments naming a code
that matches nobody now (neither defined nor mapped) are reported: a warning per rule or segment
naming its codes, and the gauge loyalty_campaign_undefined_tier_codes{program_id,kind}. Nothing
is rewritten: a rule change is the operator's, who finds them with ListRules /
ListSegments(undefined_tier_codes_only).
"""

import logging
from collections.abc import Callable

import asyncpg
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry, Gauge

from loyalty.campaign.v1 import segments_pb2
from loyalty.events.v1 import events_pb2
from services.campaign import repository_rules, repository_segments, repository_tiers
from services.campaign.tier_codes import (
    RULE,
    SEGMENT,
    ProgramTiers,
    remapped_codes,
    rule_undefined_codes,
    segment_tier_codes,
    segment_undefined_codes,
)

logger = logging.getLogger(__name__)

# Rules and segments read per statement while reporting.
REPORT_CHUNK = 500


def undefined_gauge(registry: CollectorRegistry) -> Gauge:
    return Gauge(
        "loyalty_campaign_undefined_tier_codes",
        "Rules (current versions not archived) and segments naming a tier code that matches no "
        "member since the ledger's last tier change: a code the tiers neither define nor map "
        "(a mapped code follows the rename). Set when the change is consumed.",
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
    """(segment id, codes) of the segments whose tier conditions name codes the tiers neither
    define nor map."""
    return await _segments_naming(
        connection, program_id, lambda segment: segment_undefined_codes(segment, tiers)
    )


async def remapped_segments(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, codes: set[str]
) -> list[str]:
    """The segments whose tier conditions name one of `codes`."""
    if not codes:
        return []
    found = await _segments_naming(
        connection,
        program_id,
        lambda segment: [code for code in segment_tier_codes(segment) if code in codes],
    )
    return [segment_id for segment_id, _ in found]


async def _segments_naming(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    codes_of: Callable[[segments_pb2.Segment], list[str]],
) -> list[tuple[str, list[str]]]:
    """(segment id, codes) of the segments for which `codes_of` names any, in pages."""
    found: list[tuple[str, list[str]]] = []
    after = ""
    while True:
        page = await repository_segments.list_segments(connection, program_id, after, REPORT_CHUNK)
        for stored in page:
            codes = codes_of(stored.segment)
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
            async with connection.transaction():
                before = await repository_tiers.fetch_tiers(connection, program_id)
                if not await repository_tiers.keep_tiers(connection, program_id, tiers):
                    logger.info(
                        "tiers version %d of program %s is not newer than the one kept; ignored",
                        tiers.version,
                        program_id,
                    )
                    return
                # With two announcements of a program consumed at once, `before` may be older
                # than what was replaced: more segments are recomputed, none fewer but for a
                # mapping one version changed and the next changed back.
                remapped = await remapped_segments(
                    connection, program_id, remapped_codes(before, tiers)
                )
                await repository_segments.recompute_in_full(connection, program_id, remapped)
            if remapped:
                logger.info(
                    "segments %s of program %s name tiers the ledger remapped (version %d): "
                    "computed in full at the refresh job's next pass",
                    remapped,
                    program_id,
                    tiers.version,
                )
            rules = await undefined_rules(connection, program_id, tiers)
            segments = await undefined_segments(connection, program_id, tiers)
        for kind, found in ((RULE, rules), (SEGMENT, segments)):
            for subject, codes in found:
                logger.warning(
                    "%s %s of program %s names tiers %s that the ledger's tiers (version %d) "
                    "neither define nor map: it matches no member in them until an operator "
                    "changes it",
                    kind,
                    subject,
                    program_id,
                    codes,
                    tiers.version,
                )
            self.gauge.labels(program_id, kind).set(len(found))
