"""What identity consumes from JetStream: the ledger's tiers, whose entry tier it follows.

The ledger owns tiers; identity's program names the entry tier only to announce it in
MemberEnrolled. When SetTierDefinitions renames the entry tier, TierDefinitionsChanged brings
the new code, and the program takes it (announced as program_updated, as UpdateProgram would).
Each program's newest version is kept (ledger_tiers), so a redelivery or a late older event
changes nothing; one arriving before identity's program exists is kept for CreateProgram.
"""

import logging

import asyncpg
from nats.aio.msg import Msg

from loyalty.events.v1 import events_pb2
from services.identity import domain, events, repository
from services.identity.servicer import program_event, program_to_proto
from services.shared.jetstream import ConsumerSpec
from services.shared.outbox import Outbox

logger = logging.getLogger(__name__)

TIER_DEFINITIONS_CONSUMER = ConsumerSpec(
    stream="ledger",
    durable="identity_tier_definitions",
    filter_subjects=("ledger.tier_definitions_changed",),
)


def ledger_tiers(changed: events_pb2.TierDefinitionsChanged) -> domain.LedgerTiers:
    return domain.LedgerTiers(
        version=changed.version,
        entry_tier_code=changed.entry_tier_code,
        tier_codes=tuple(tier.code for tier in changed.tiers),
        mappings={m.from_tier_code: m.to_tier_code for m in changed.tier_code_mappings},
    )


class TierDefinitionsHandler:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox) -> None:
        self.pool = pool
        self.outbox = outbox

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        if event.WhichOneof("payload") != "tier_definitions_changed":
            return
        tiers = ledger_tiers(event.tier_definitions_changed)
        async with self.pool.acquire() as connection, connection.transaction():
            await repository.lock_ledger_tiers(connection, event.program_id)
            if not await repository.store_ledger_tiers(connection, event.program_id, tiers):
                logger.info(
                    "tiers version %d of program %s is not newer than the one kept; ignored",
                    tiers.version,
                    event.program_id,
                )
                return
            if not await repository.set_entry_tier(
                connection, event.program_id, tiers.entry_tier_code
            ):
                return  # no program yet (CreateProgram takes it), or it names this tier
            stored = await repository.fetch_program(connection, event.program_id)
            assert stored is not None
            logger.info(
                "program %s follows the ledger's entry tier %s (tiers version %d)",
                event.program_id,
                tiers.entry_tier_code,
                tiers.version,
            )
            await self.outbox.enqueue(
                connection,
                events.PROGRAM_UPDATED,
                events_pb2.Event(
                    program_id=event.program_id,
                    program_updated=program_event(program_to_proto(stored)),
                ),
            )
