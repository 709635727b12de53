"""Campaign's SQL for the RecordPurchase key each purchase was recorded under
(purchase_answer_keys), so a duplicate under another key gets the first answer."""

from collections.abc import Sequence

import asyncpg

from services.shared.pg_arrays import text_array


async def keep_answer_keys(
    connection: asyncpg.Connection, program_id: str, keys: Sequence[tuple[str, str, str]]
) -> None:
    """Keep (member, transaction id, idempotency key) of purchases just recorded. A purchase id
    recorded again after its purchase was taken back (refused by the ledger) keeps its new key."""
    if not keys:
        return
    await connection.execute(
        "INSERT INTO purchase_answer_keys AS a (program_id, member_id, transaction_id, "
        "idempotency_key) SELECT $1, m, t, k FROM unnest($2::text::text[], $3::text::text[], "
        "$4::text::text[]) AS u(m, t, k) ON CONFLICT (program_id, member_id, transaction_id) "
        "DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key",
        program_id,
        text_array([member for member, _, _ in keys]),
        text_array([transaction for _, transaction, _ in keys]),
        text_array([key for _, _, key in keys]),
    )


async def fetch_answer_keys(
    connection: asyncpg.Connection, program_id: str, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The idempotency key each (member, transaction id) purchase was recorded under, for those
    RecordPurchase recorded since campaign migration 026."""
    if not keys:
        return {}
    rows = await connection.fetch(
        "SELECT a.member_id, a.transaction_id, a.idempotency_key FROM purchase_answer_keys a "
        "JOIN unnest($2::text::text[], $3::text::text[]) AS k(member_id, transaction_id) "
        "USING (member_id, transaction_id) "
        "WHERE a.program_id = $1 AND a.member_id = ANY($2::text::text[])",
        program_id,
        text_array([member for member, _ in keys]),
        text_array([transaction for _, transaction in keys]),
    )
    return {(row["member_id"], row["transaction_id"]): row["idempotency_key"] for row in rows}
