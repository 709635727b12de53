"""Following the ledger's tier renames and removals in the catalog and the tier perks.

The ledger owns tiers and announces each change of a program's tiers (TierDefinitionsChanged,
with every mapping of a removed code to the tier its members went to). Rewards keeps tier codes
in two places: a reward's eligibility and the perks of each tier. On each announcement newer
than the one kept (program_tiers; a redelivery or a late older one changes nothing):

- eligibility codes are rewritten through the mappings (domain.follow_tier_codes); rewards are
  not versioned, so the rewrite is logged per reward with the codes before and after;
- the perks of a removed tier join its target's, after the target's own, and move with the
  members holding them (member_tiers, member_perks), so nobody loses a perk to a rename;
  members already in the target are granted them (PerkGranted), in chunks;
- codes neither defined nor mapped stay and are reported: a warning per reward or perk, the
  gauge loyalty_rewards_undefined_tier_codes{program_id}, and undefined_tier_codes, which
  ListRewards(undefined_tier_codes_only) lists.
"""

import logging

import asyncpg
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry, Gauge

from loyalty.events.v1 import events_pb2
from loyalty.rewards.v1 import rewards_pb2
from services.rewards import domain
from services.rewards.perks import grant_perks, tier_member_pages, tier_perk_codes
from services.shared.jetstream import ConsumerSpec
from services.shared.outbox import Outbox

logger = logging.getLogger(__name__)

TIER_DEFINITIONS_CONSUMER = ConsumerSpec(
    stream="ledger",
    durable="rewards_tier_definitions",
    filter_subjects=("ledger.tier_definitions_changed",),
)

# Rewards read per statement: memory stays bounded whatever the catalog's size.
REWARDS_CHUNK = 500


def undefined_gauge(registry: CollectorRegistry) -> Gauge:
    return Gauge(
        "loyalty_rewards_undefined_tier_codes",
        "Rewards and tier perks naming a tier code the ledger's tiers neither define nor map "
        "(as of the ledger's last tier change); they match no member in that tier.",
        ["program_id"],
        registry=registry,
    )


async def keep_tiers(
    connection: asyncpg.Connection, program_id: str, version: int, codes: list[str]
) -> bool:
    """Keep the ledger's tiers unless as new or newer ones are kept; True when kept."""
    kept = await connection.fetchval(
        "INSERT INTO program_tiers AS t (program_id, version, tier_codes) VALUES ($1, $2, $3)"
        " ON CONFLICT (program_id) DO UPDATE SET version = EXCLUDED.version,"
        " tier_codes = EXCLUDED.tier_codes, received_at = now()"
        " WHERE t.version < EXCLUDED.version RETURNING true",
        program_id,
        version,
        codes,
    )
    return bool(kept)


async def _rewrite_rewards(
    connection: asyncpg.Connection, program_id: str, mappings: dict[str, str], defined: set[str]
) -> list[tuple[str, str, str]]:
    """Rewrite every reward's eligibility; returns ('reward', id, code) of undefined codes."""
    undefined: list[tuple[str, str, str]] = []
    after = ""
    while True:
        rows = await connection.fetch(
            "SELECT reward_id, definition FROM rewards WHERE program_id = $1 AND reward_id > $2"
            " ORDER BY reward_id LIMIT $3 FOR UPDATE",
            program_id,
            after,
            REWARDS_CHUNK,
        )
        if not rows:
            return undefined
        after = rows[-1]["reward_id"]
        for row in rows:
            reward = rewards_pb2.Reward.FromString(row["definition"])
            codes = list(reward.eligibility.tier_codes)
            if not codes:
                continue
            rewritten, missing = domain.follow_tier_codes(codes, mappings=mappings, defined=defined)
            undefined += [("reward", row["reward_id"], code) for code in missing]
            if rewritten == codes:
                continue
            del reward.eligibility.tier_codes[:]
            reward.eligibility.tier_codes.extend(rewritten)
            await connection.execute(
                "UPDATE rewards SET definition = $3, updated_at = now()"
                " WHERE program_id = $1 AND reward_id = $2",
                program_id,
                row["reward_id"],
                reward.SerializeToString(deterministic=True),
            )
            logger.info(
                "reward %s of program %s: eligible tiers %s -> %s (the ledger renamed or "
                "removed tiers)",
                row["reward_id"],
                program_id,
                codes,
                rewritten,
            )


async def _move_perks(
    connection: asyncpg.Connection, program_id: str, from_code: str, to_code: str
) -> bool:
    """The perks of the removed `from_code` join `to_code`'s, after its own; the members
    holding from_code (as told so far) are in to_code now, and keep their perks under it.
    True when perks moved."""
    moved = await connection.fetch(
        "UPDATE tier_perks SET tier_code = $3, position = position + coalesce((SELECT"
        " max(position) + 1 FROM tier_perks WHERE program_id = $1 AND tier_code = $3), 0)"
        " WHERE program_id = $1 AND tier_code = $2 RETURNING perk_code",
        program_id,
        from_code,
        to_code,
    )
    await connection.execute(
        "UPDATE member_tiers SET tier_code = $3 WHERE program_id = $1 AND tier_code = $2",
        program_id,
        from_code,
        to_code,
    )
    await connection.execute(
        "UPDATE member_perks SET tier_code = $3"
        " WHERE program_id = $1 AND tier_code = $2 AND status = 1",
        program_id,
        from_code,
        to_code,
    )
    return bool(moved)


async def _grant(
    connection: asyncpg.Connection,
    outbox: Outbox,
    program_id: str,
    tier_code: str,
    perk_codes: list[str],
) -> None:
    """Grant `perk_codes` to the members in `tier_code` not holding them: those who came from
    another removed tier folded into it, those in it before, and those whose move the ledger
    announced before this change reached rewards (their perks were withdrawn then)."""
    async for members in tier_member_pages(connection, program_id, tier_code):
        await grant_perks(
            connection, outbox, program_id, members, tier_code=tier_code, perk_codes=perk_codes
        )


async def _undefined_perks(
    connection: asyncpg.Connection, program_id: str, defined: set[str]
) -> list[tuple[str, str, str]]:
    rows = await connection.fetch(
        "SELECT perk_code, tier_code FROM tier_perks"
        " WHERE program_id = $1 AND tier_code <> ALL($2::text[])",
        program_id,
        sorted(defined),
    )
    return [("perk", row["perk_code"], row["tier_code"]) for row in rows]


async def _report(
    connection: asyncpg.Connection, program_id: str, undefined: list[tuple[str, str, str]]
) -> int:
    """Replace the program's report; returns how many rewards and perks it names."""
    await connection.execute("DELETE FROM undefined_tier_codes WHERE program_id = $1", program_id)
    await connection.executemany(
        "INSERT INTO undefined_tier_codes (program_id, kind, subject_id, tier_code)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        [(program_id, kind, subject, code) for kind, subject, code in undefined],
    )
    for kind, subject, code in undefined:
        logger.warning(
            "%s %s of program %s names tier %r, which the ledger's tiers neither define nor "
            "map: it matches no member in that tier until an operator changes it",
            kind,
            subject,
            program_id,
            code,
        )
    return len({(kind, subject) for kind, subject, _ in undefined})


async def recheck_reward(connection: asyncpg.Connection, reward: rewards_pb2.Reward) -> None:
    """After CreateReward or UpdateReward: report the reward's codes the ledger's tiers (as
    last announced) do not define, or forget its report once it names only defined ones."""
    codes = await connection.fetchval(
        "SELECT tier_codes FROM program_tiers WHERE program_id = $1", reward.program_id
    )
    await connection.execute(
        "DELETE FROM undefined_tier_codes WHERE program_id = $1 AND kind = 'reward'"
        " AND subject_id = $2",
        reward.program_id,
        reward.reward_id,
    )
    if codes is None:
        return
    missing = [code for code in reward.eligibility.tier_codes if code not in set(codes)]
    await connection.executemany(
        "INSERT INTO undefined_tier_codes (program_id, kind, subject_id, tier_code)"
        " VALUES ($1, 'reward', $2, $3) ON CONFLICT DO NOTHING",
        [(reward.program_id, reward.reward_id, code) for code in missing],
    )


class TierDefinitionsHandler:
    """Applies the ledger's TierDefinitionsChanged to the catalog and the tier perks."""

    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, gauge: Gauge) -> None:
        self.pool = pool
        self.outbox = outbox
        self.gauge = gauge

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        if event.WhichOneof("payload") != "tier_definitions_changed":
            return
        changed = event.tier_definitions_changed
        program_id = event.program_id
        defined = {tier.code for tier in changed.tiers}
        mappings = {m.from_tier_code: m.to_tier_code for m in changed.tier_code_mappings}
        async with self.pool.acquire() as connection, connection.transaction():
            if not await keep_tiers(connection, program_id, changed.version, sorted(defined)):
                logger.info(
                    "tiers version %d of program %s is not newer than the one kept; ignored",
                    changed.version,
                    program_id,
                )
                return
            undefined = await _rewrite_rewards(connection, program_id, mappings, defined)
            targets = {
                to_code
                for from_code, to_code in sorted(mappings.items())
                if await _move_perks(connection, program_id, from_code, to_code)
            }
            # After all moves: a tier several removed tiers were folded into grants all their
            # perks to all the members they brought.
            for target in sorted(targets):
                perk_codes = await tier_perk_codes(connection, program_id, target)
                await _grant(connection, self.outbox, program_id, target, perk_codes)
            undefined += await _undefined_perks(connection, program_id, defined)
            count = await _report(connection, program_id, undefined)
        self.gauge.labels(program_id).set(count)
