"""What the parts of CampaignServicer share: connections, the ledger, compiled rules, limits."""

import datetime as dt
import logging
from dataclasses import dataclass

import asyncpg

from loyalty.campaign.v1 import campaign_pb2_grpc, rules_pb2
from services.campaign import repository_rules
from services.campaign.enrolment import Enrolments
from services.campaign.identity_client import MemberDirectory
from services.campaign.ledger_client import LedgerClient, ProgramSettings
from services.campaign.metrics import CampaignMetrics
from services.campaign.mission_tracker import MissionTracker
from services.campaign.repository_tiers import TiersCache
from services.campaign.rule_compiler import CompiledEarningRule, CompiledRules
from services.campaign.tier_codes import ProgramTiers, followed_rule, with_tier_multipliers
from services.shared.errors import InvalidArgument
from services.shared.idempotency import LOCAL_FORGOTTEN_KEY_SECRET, Forgetting
from services.shared.outbox import Outbox
from services.shared.validation import OCCURRED_AT_AHEAD_MAX_MS

logger = logging.getLogger(__name__)

MEMBER_ID_LENGTH_MAX = 128
REFERENCE_LENGTH_MAX = 128


@dataclass(frozen=True, kw_only=True)
class Limits:
    # Transactions per IngestTransactions batch (RESOURCE_EXHAUSTED beyond).
    batch_size_max: int = 10_000
    # Lines per transaction, and per batch.
    lines_per_transaction_max: int = 1_000
    lines_per_batch_max: int = 100_000
    # Items per ledger PostBatch batch; a larger ingest batch is posted as several.
    ledger_batch_items_max: int = 10_000
    # Ingest batches accrued ahead of the ledger's answers on one stream.
    batches_in_flight_max: int = 4
    # Transactions one backtest replays.
    backtest_transactions_max: int = 20_000_000
    # How far a purchase's, return's or activity's occurred_at may be after the server's time.
    occurred_at_ahead_max_ms: int = OCCURRED_AT_AHEAD_MAX_MS


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_member_id(value: str, field: str = "member_id") -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    if len(value) > MEMBER_ID_LENGTH_MAX or not value.isprintable() or value.strip() != value:
        raise InvalidArgument(field, f"must be at most {MEMBER_ID_LENGTH_MAX} printable characters")
    return value


def check_reference(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    if len(value) > REFERENCE_LENGTH_MAX or not value.isprintable() or value.strip() != value:
        raise InvalidArgument(field, f"must be at most {REFERENCE_LENGTH_MAX} printable characters")
    return value


class RpcBase(campaign_pb2_grpc.CampaignServiceServicer):
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        ledger: LedgerClient,
        *,
        limits: Limits | None = None,
        compiled: CompiledRules | None = None,
        metrics: CampaignMetrics | None = None,
        identity: MemberDirectory | None = None,
        forgetting: Forgetting | None = None,
    ) -> None:
        self.pool = pool
        self.outbox = outbox
        self.ledger = ledger
        self.limits = limits or Limits()
        self.compiled = compiled or CompiledRules()
        self.tiers = TiersCache()
        self.metrics = metrics or CampaignMetrics.create()
        self.missions = MissionTracker(outbox, self.metrics)
        self.enrolments = Enrolments(identity)
        # How an erased member's idempotency keys are kept (CAMPAIGN_FORGOTTEN_KEY_*): its
        # retries are looked up under these forms too.
        self.forgetting = forgetting or Forgetting(LOCAL_FORGOTTEN_KEY_SECRET.encode())

    def compile(
        self,
        program: ProgramSettings,
        rule: rules_pb2.Rule,
        tiers: ProgramTiers | None = None,
        *,
        strict: bool = False,
    ) -> CompiledEarningRule:
        """Compiled as accrual applies it: with `tiers`, following the ledger's renames (a rule
        naming a removed tier matches the tier its members went to; the stored rule is left),
        and with the tiers' own multipliers if it takes them.

        Those multipliers can change after the rule was accepted: more tiers with one may take a
        rule past the kernel's limit of multiplier combinations. Accrual (not `strict`) then
        applies the rule without them, logged, rather than refuse every purchase; creating or
        changing a rule (`strict`) is refused, naming the field."""
        followed = rule if tiers is None else followed_rule(rule, tiers.mappings)
        applied = with_tier_multipliers(followed, program.tier_multipliers)

        def compiled(subject: rules_pb2.Rule) -> CompiledEarningRule:
            return self.compiled.get(
                program.program_id,
                subject,
                time_zone=program.time_zone,
                default_rounding=program.rounding_mode,
                tiers_version=0 if followed is rule or tiers is None else tiers.version,
                tier_multipliers=program.tier_multipliers if applied is not followed else (),
            )

        try:
            return compiled(applied)
        except InvalidArgument as error:
            if strict or applied is followed:
                raise
            logger.error(
                "rule %s@%d of program %s is applied without the tiers' multipliers: %s",
                rule.rule_id,
                rule.version,
                program.program_id,
                error.details(),
            )
            return compiled(followed)

    async def earning_rules(
        self, connection: asyncpg.Connection | asyncpg.Pool, program: ProgramSettings
    ) -> list[CompiledEarningRule]:
        """The live earning rules of the program, compiled (each version once per process and
        tiers version), following the ledger's tier renames."""
        rules = await repository_rules.active_rules(connection, program.program_id, "earning")
        tiers = await self.tiers.get(connection, program.program_id) if rules else None
        return [self.compile(program, rule, tiers) for rule in rules]
