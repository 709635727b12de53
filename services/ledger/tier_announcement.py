"""Announcing a program's tiers after SetTierDefinitions, in its transaction.

The ledger owns the tiers; identity (its entry tier), rewards (eligibility, perks) and campaign
(rules, segments) keep copies of tier codes and follow this event. It carries the whole state
(tiers, every mapping still in force, the entry tier) rather than the change alone, so a
consumer that applies only the newest version it sees ends where the ledger is.
"""

import asyncpg

from loyalty.events.v1 import events_pb2
from services.ledger import events, repository
from services.ledger.domain import Tier
from services.shared.outbox import Outbox


async def announce_tiers(
    connection: asyncpg.Connection,
    outbox: Outbox,
    program_id: str,
    *,
    tiers: list[Tier],
    entry_tier_code: str,
) -> int:
    """Raise the program's tiers version and enqueue TierDefinitionsChanged; returns the
    version. `tiers` are sorted by rank; the mappings are read as recorded just before."""
    version = await repository.raise_tiers_version(connection, program_id)
    mappings = await repository.fetch_tier_mappings(connection, program_id)
    await outbox.enqueue(
        connection,
        events.TIER_DEFINITIONS_CHANGED,
        events_pb2.Event(
            program_id=program_id,
            tier_definitions_changed=events_pb2.TierDefinitionsChanged(
                tiers=[events_pb2.TierDefinitionCode(code=t.code, rank=t.rank) for t in tiers],
                tier_code_mappings=[
                    events_pb2.TierCodeMapping(from_tier_code=code, to_tier_code=mapping.to_code)
                    for code, mapping in sorted(mappings.items())
                ],
                entry_tier_code=entry_tier_code,
                version=version,
            ),
        ),
    )
    return version
