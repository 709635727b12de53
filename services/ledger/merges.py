"""The ledger's SQL for identity's merges: a merged member's account is closed into its survivor.

A closed account names its final survivor, never a member merged since: when B merges into C,
the accounts closed into B are repointed to C in the transaction that closes B, and a merge
announced late (A into B arriving after B into C, as JetStream may redeliver) closes A into C.
So a posting to A is refused naming C, and a refund of A's purchase finds the points in one
step, without walking a chain at read time.
"""

import asyncpg


async def lock_survivor(connection: asyncpg.Connection, program_id: str, survivor_id: str) -> str:
    """The member whose account takes what goes to `survivor_id`: itself, or the survivor it
    was closed into since. Its row is opened if need be (in the program's entry tier, as
    store.open_account) and stays locked to the end of the transaction, so a closure of the
    survivor itself (which locks that row first) runs wholly before or after the caller's:
    never one repointing the accounts closed into the survivor while the caller's closure into
    it is not committed yet."""
    await connection.execute(
        "INSERT INTO member_accounts (program_id, member_id, tier_code, tier_since, last_activity_at) "
        "SELECT program_id, $2, entry_tier_code, now(), now() FROM programs WHERE program_id = $1 "
        "ON CONFLICT DO NOTHING",
        program_id,
        survivor_id,
    )
    closed_into = await connection.fetchval(
        "SELECT closed_into FROM member_accounts WHERE program_id = $1 AND member_id = $2 "
        "FOR UPDATE",
        program_id,
        survivor_id,
    )
    return closed_into if closed_into is not None else survivor_id


async def close_account(
    connection: asyncpg.Connection, program_id: str, member_id: str, survivor_id: str
) -> None:
    """Close the member's account into the survivor's, and repoint the accounts closed into it
    before (set-based, through member_accounts_closed_into of migration 010)."""
    await connection.execute(
        "UPDATE member_accounts SET closed_into = $3 WHERE program_id = $1 AND closed_into = $2",
        program_id,
        member_id,
        survivor_id,
    )
    await connection.execute(
        "UPDATE member_accounts SET closed_into = $3 WHERE program_id = $1 AND member_id = $2",
        program_id,
        member_id,
        survivor_id,
    )


async def closed_into(
    connection: asyncpg.Connection, program_id: str, survivor_id: str
) -> list[str]:
    """The members whose accounts were closed into the survivor's, directly or through members
    merged into it since (a merged member's points passed through those)."""
    rows = await connection.fetch(
        "SELECT member_id FROM member_accounts WHERE program_id = $1 AND closed_into = $2",
        program_id,
        survivor_id,
    )
    return [row["member_id"] for row in rows]


async def record_moved_lots(
    connection: asyncpg.Connection,
    program_id: str,
    *,
    source_member_id: str,
    target_member_id: str,
    moves: list[tuple[int, int]],
) -> None:
    """Record where the target's new lots came from: `moves` are (source lot, target lot). A
    source lot that was moved itself passes on its own origin, so each lot names the lot first
    credited, however many merges it went through."""
    if not moves:
        return
    await connection.execute(
        "INSERT INTO moved_lots (program_id, member_id, lot_id, origin_member_id, origin_lot_id) "
        "SELECT $1, $3, m.target_lot, coalesce(o.origin_member_id, $2), "
        "coalesce(o.origin_lot_id, m.source_lot) "
        "FROM unnest($4::bigint[], $5::bigint[]) AS m(source_lot, target_lot) "
        "LEFT JOIN moved_lots o ON o.program_id = $1 AND o.member_id = $2 "
        "AND o.lot_id = m.source_lot",
        program_id,
        source_member_id,
        target_member_id,
        [source for source, _ in moves],
        [target for _, target in moves],
    )


async def moved_lot_ids(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    *,
    origin_member_id: str,
    origin_lot_ids: list[int],
) -> list[int]:
    """The member's lots moved to it (through any number of merges) from these lots."""
    rows = await connection.fetch(
        "SELECT lot_id FROM moved_lots WHERE program_id = $1 AND member_id = $2 "
        "AND origin_member_id = $3 AND origin_lot_id = ANY($4::bigint[])",
        program_id,
        member_id,
        origin_member_id,
        origin_lot_ids,
    )
    return [row["lot_id"] for row in rows]
