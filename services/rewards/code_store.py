"""The SQL of issued codes and of taking codes from a partner pool (asyncpg)."""

import datetime
from dataclasses import dataclass

import asyncpg

from services.rewards.redemption_store import RedemptionRow


@dataclass(frozen=True)
class CodeRow:
    code: str
    member_id: str
    redemption_id: str
    reward_id: str
    partner: bool
    store_ids: list[str]
    expires_at: datetime.datetime | None
    activated_at: datetime.datetime | None
    cancelled_at: datetime.datetime | None
    used_at: datetime.datetime | None
    used_store_id: str
    # The Discount message the code was issued with (migration 009); None before, or without one.
    discount: bytes | None


_CODE_COLUMNS = ", ".join(CodeRow.__dataclass_fields__)


def _code(record: asyncpg.Record) -> CodeRow:
    values = dict(record)
    values["store_ids"] = list(values["store_ids"])
    if values["discount"] is not None:
        values["discount"] = bytes(values["discount"])
    return CodeRow(**values)


async def insert_codes(
    connection: asyncpg.Connection,
    redemption: RedemptionRow,
    codes: list[tuple[str, datetime.datetime | None]],
    *,
    partner: bool,
    store_ids: list[str],
    discount: bytes | None,
) -> int:
    """Issue codes (not yet usable) with the reward's discount as it is now, which the till
    applies whatever the reward's becomes; returns how many were new (a clash is skipped)."""
    status = await connection.execute(
        "INSERT INTO codes (program_id, code, member_id, redemption_id, reward_id, partner, "
        "store_ids, expires_at, discount) "
        "SELECT $1, code, $2, $3, $4, $5, $6, expires_at, $9 "
        "FROM unnest($7::text[], $8::timestamptz[]) AS c(code, expires_at) ON CONFLICT DO NOTHING",
        redemption.program_id,
        redemption.member_id,
        redemption.redemption_id,
        redemption.reward_id,
        partner,
        store_ids,
        [code for code, _ in codes],
        [expires_at for _, expires_at in codes],
        discount,
    )
    return int(status.rsplit(" ", 1)[-1])


def partner_code_usable(validity_left_min: str) -> str:
    """The SQL condition on a pool's row (`partner_codes`) that it may be handed out, given the
    placeholder of the least validity (an interval) it must have left.

    A partner's code with less than that left is never handed out: the member would pay for a
    code expiring before it can be used (the partner may take it back, so it is passed over, not
    taken). Nor is one that is a code of the program already (imported before
    ImportPartnerCodes refused those): it cannot be issued twice, and taken first it would
    refuse every redemption after."""
    return (
        f"(expires_at IS NULL OR expires_at > now() + {validity_left_min}::interval) "
        "AND NOT EXISTS (SELECT 1 FROM codes AS k "
        "WHERE k.program_id = partner_codes.program_id AND k.code = partner_codes.code)"
    )


async def take_partner_codes(
    connection: asyncpg.Connection,
    redemption: RedemptionRow,
    *,
    validity_left_min: datetime.timedelta,
) -> list[tuple[str, datetime.datetime | None]]:
    """Take the oldest unissued codes of the reward's pool that have `validity_left_min` left:
    one too near its expiry is skipped for the next."""
    rows = await connection.fetch(
        "UPDATE partner_codes SET redemption_id = $3 WHERE (program_id, code) IN ("
        "SELECT program_id, code FROM partner_codes "
        "WHERE program_id = $1 AND reward_id = $2 AND redemption_id IS NULL "
        f"AND {partner_code_usable('$5')} ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED) "
        "RETURNING code, expires_at",
        redemption.program_id,
        redemption.reward_id,
        redemption.redemption_id,
        redemption.quantity,
        validity_left_min,
    )
    return [(row["code"], row["expires_at"]) for row in rows]


async def withdraw_codes(connection: asyncpg.Connection, redemption: RedemptionRow) -> None:
    """Codes of a redemption that failed: never shown, so deleted; partner codes go back."""
    await connection.execute(
        "DELETE FROM codes WHERE program_id = $1 AND redemption_id = $2",
        redemption.program_id,
        redemption.redemption_id,
    )
    await connection.execute(
        "UPDATE partner_codes SET redemption_id = NULL WHERE program_id = $1 AND redemption_id = $2",
        redemption.program_id,
        redemption.redemption_id,
    )


async def activate_codes(connection: asyncpg.Connection, redemption: RedemptionRow) -> None:
    await connection.execute(
        "UPDATE codes SET activated_at = now() WHERE program_id = $1 AND redemption_id = $2",
        redemption.program_id,
        redemption.redemption_id,
    )


@dataclass(frozen=True)
class CodeStanding:
    """How many of a redemption's codes are past taking back, by why (see domain.cancel_refusal)."""

    used: int
    partner: int
    expired: int


async def cancel_codes(connection: asyncpg.Connection, redemption: RedemptionRow) -> CodeStanding:
    """Cancel the codes of a redemption unless one cannot be taken back (used, a partner's, or
    expired unused); returns how many of each there were, nothing cancelled if any.

    The codes are locked first, so a till using one at the same moment either finishes before
    (and the cancellation is refused) or finds it cancelled.
    """
    row = await connection.fetchrow(
        "SELECT count(*) FILTER (WHERE used_at IS NOT NULL) AS used, "
        "count(*) FILTER (WHERE partner) AS partner, "
        "count(*) FILTER (WHERE used_at IS NULL AND expires_at <= now()) AS expired FROM ("
        "SELECT used_at, partner, expires_at FROM codes "
        "WHERE program_id = $1 AND redemption_id = $2 FOR UPDATE) c",
        redemption.program_id,
        redemption.redemption_id,
    )
    standing = CodeStanding(used=row["used"], partner=row["partner"], expired=row["expired"])
    if standing.used or standing.partner or standing.expired:
        return standing
    await connection.execute(
        "UPDATE codes SET cancelled_at = now() WHERE program_id = $1 AND redemption_id = $2",
        redemption.program_id,
        redemption.redemption_id,
    )
    return standing


async def reinstate_codes(connection: asyncpg.Connection, redemption: RedemptionRow) -> None:
    """Make the codes of a redemption whose cancellation was undone usable again: none was used
    in between, as cancelled codes cannot be."""
    await connection.execute(
        "UPDATE codes SET cancelled_at = NULL WHERE program_id = $1 AND redemption_id = $2",
        redemption.program_id,
        redemption.redemption_id,
    )


async def codes_of(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, redemption_ids: list[str]
) -> dict[str, list[CodeRow]]:
    records = await connection.fetch(
        f"SELECT {_CODE_COLUMNS} FROM codes "
        "WHERE program_id = $1 AND redemption_id = ANY($2::text[]) ORDER BY issued_at, code",
        program_id,
        redemption_ids,
    )
    found: dict[str, list[CodeRow]] = {}
    for record in records:
        code = _code(record)
        found.setdefault(code.redemption_id, []).append(code)
    return found


# The one code a presented code names (`forms`, see codes.lookup_forms): the code as typed, else
# the generated code it reads as. Partner codes are case-sensitive and may differ only by case, or
# by O and 0: "CINEMAO1" and "CINEMA01" are two codes of two members, and the first, typed as it
# is, must not reach the second through the generated form (upper case, O as 0).
_PRESENTED = (
    "code = (SELECT code FROM codes WHERE program_id = $1 AND code = ANY($2::text[]) "
    "ORDER BY code = ($2::text[])[1] DESC LIMIT 1)"
)


async def find_code(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, forms: list[str]
) -> CodeRow | None:
    record = await connection.fetchrow(
        f"SELECT {_CODE_COLUMNS} FROM codes WHERE program_id = $1 AND {_PRESENTED}",
        program_id,
        forms,
    )
    return None if record is None else _code(record)


async def use_code(
    connection: asyncpg.Connection,
    program_id: str,
    forms: list[str],
    *,
    store_id: str,
    till_id: str,
    transaction_id: str,
) -> CodeRow | None:
    """Mark the code used if it is usable now, exactly once: of two tills at the same moment,
    the second waits for the first's row lock and then finds `used_at` set. Only the one code
    presented is used, never another that reads the same when normalised."""
    record = await connection.fetchrow(
        "UPDATE codes SET used_at = now(), used_store_id = $3, used_till_id = $4, "
        "used_transaction_id = $5 "
        f"WHERE program_id = $1 AND {_PRESENTED} AND used_at IS NULL "
        "AND cancelled_at IS NULL AND activated_at IS NOT NULL "
        "AND (expires_at IS NULL OR expires_at > now()) "
        "AND (cardinality(store_ids) = 0 OR $3 = ANY(store_ids)) "
        f"RETURNING {_CODE_COLUMNS}",
        program_id,
        forms,
        store_id,
        till_id,
        transaction_id,
    )
    return None if record is None else _code(record)
