"""The ledger's SQL for program-wide exports: accounts and postings in primary-key order, paged
by keyset, so each page is one index range scan however large the program is."""

import asyncpg

from services.ledger.store import _ACCOUNT_FIELDS, _POSTING_FIELDS, Account, Posting


async def accounts_page(
    pool: asyncpg.Pool, program_id: str, *, after_member_id: str, limit: int
) -> list[Account]:
    rows = await pool.fetch(
        f"SELECT {', '.join(_ACCOUNT_FIELDS)} FROM member_accounts "
        "WHERE program_id = $1 AND member_id > $2 ORDER BY member_id LIMIT $3",
        program_id,
        after_member_id,
        limit,
    )
    return [Account(**dict(row)) for row in rows]


async def postings_page(
    pool: asyncpg.Pool, program_id: str, *, after: tuple[str, int], limit: int
) -> list[Posting]:
    rows = await pool.fetch(
        f"SELECT {', '.join(_POSTING_FIELDS)} FROM postings "
        "WHERE program_id = $1 AND (member_id, posting_id) > ($2, $3) "
        "ORDER BY member_id, posting_id LIMIT $4",
        program_id,
        after[0],
        after[1],
        limit,
    )
    return [Posting(**dict(row)) for row in rows]
