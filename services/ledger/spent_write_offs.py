"""Write-offs of spent points (WRITE_OFF policy), kept per spend so that cancelling the spend pays
them back.

A refund that finds the purchase's points spent writes off what it cannot take. Cancelling the
spend gives those points back: without this, the member would keep refunded points. Each spend
owes at most what it took of the purchase's points, so a spend made after the refund, or one
of other points, is given back whole; that is why the record is per spend and not a counter on
the account (as held_write_off is, where every hold still held at the refund took part).
Merged members are not followed: a refund booked on a survivor charges no spend."""

import dataclasses

from services.ledger import store
from services.ledger.book import ADJUST, ADJUSTED, REDEEM, REVERSE, MemberBook, PostingDraft

# holds.status of a committed hold (migration 002).
_COMMITTED = 2


@dataclasses.dataclass(frozen=True)
class Charge:
    """What one spend owes of a write-off: its posting id and the points."""

    posting_id: int
    points: int


def allocate(points: int, takers: list[tuple[int, int]]) -> list[Charge]:
    """Share `points` written off among spends `takers` ((posting id, points each may still
    owe)), the latest spend first: the purchase's points it took last are the ones the refund
    reached last. What they cannot owe is written off for good."""
    charges = []
    for posting_id, room in sorted(takers, reverse=True):
        share = min(points, room)
        if share > 0:
            charges.append(Charge(posting_id, share))
            points -= share
    return charges


async def charge_refund(book: MemberBook, lot_ids: list[int], points: int) -> None:
    """Charge `points` a refund wrote off as spent to the spends that took them from the
    purchase's lots `lot_ids`, each at most what it took less what it owes already; spends
    cancelled since owe nothing (the refund took their points back from the lots)."""
    if points <= 0 or not lot_ids:
        return
    takers = await _spends_of_lots(book, lot_ids)
    if not takers:
        return
    owed = await _owed(book, list(takers))
    rooms = [(posting_id, taken - owed.get(posting_id, 0)) for posting_id, taken in takers.items()]
    for charge in allocate(points, rooms):
        await _add(book, charge)


async def charge_commit(book: MemberBook, posting_id: int, points: int) -> None:
    """A hold's commit spent held points whose write-off stood (`points`, held_write_off no
    longer covered by points still held): the commit's spend owes it."""
    if points > 0:
        await _add(book, Charge(posting_id, points))


async def pay_back(
    book: MemberBook, spend: store.Posting, lots: list[store.Lot], given_back: int
) -> int:
    """Of `given_back` points just given back to `lots` by cancelling `spend`, take back first
    what the spend still owes of a write-off, as a negative adjustment cancelling it; returns
    the points taken. Runs in the give-back's transaction, so a retry finds nothing to give
    back and takes nothing again."""
    row = await book.connection.fetchrow(
        "SELECT written_off_points - paid_back_points AS owed FROM spent_write_offs "
        "WHERE program_id = $1 AND member_id = $2 AND posting_id = $3 FOR UPDATE",
        book.program_id,
        spend.member_id,
        spend.posting_id,
    )
    owed = min(row["owed"], given_back) if row is not None else 0
    if owed <= 0:
        return 0
    ordered = sorted(lots, key=lambda lot: (lot.expires_at is None, lot.expires_at, lot.lot_id))
    taken = await book.take_from_lots(
        [book.changed_lots.get(lot.lot_id, lot) for lot in ordered], owed
    )
    paid = sum(taken.values())
    if paid == 0:
        return 0
    posting_id = await book.post(
        PostingDraft(
            kind=ADJUST,
            amount=-paid,
            counter_kind=ADJUSTED,
            source_reference=spend.source_reference,
        )
    )
    await store.record_consumptions(
        book.connection, book.program_id, book.member_id, f"p{posting_id}", taken
    )
    await book.connection.execute(
        "UPDATE spent_write_offs SET paid_back_points = paid_back_points + $4 "
        "WHERE program_id = $1 AND member_id = $2 AND posting_id = $3",
        book.program_id,
        spend.member_id,
        spend.posting_id,
        paid,
    )
    # Points given back that did not come back to the balance, as debt paid is counted.
    book.debt_paid_points += paid
    return paid


async def _spends_of_lots(book: MemberBook, lot_ids: list[int]) -> dict[int, int]:
    """{spend posting id: points it took from lots `lot_ids`}: redeems and committed holds of
    the member not given back since."""
    rows = await book.connection.fetch(
        "SELECT c.consumer, sum(c.amount) AS taken FROM lot_consumptions c "
        "WHERE c.program_id = $1 AND c.member_id = $2 AND c.lot_id = ANY($3::bigint[]) "
        "GROUP BY c.consumer",
        book.program_id,
        book.member_id,
        lot_ids,
    )
    by_posting = {int(r["consumer"][1:]): int(r["taken"]) for r in rows if r["consumer"][0] == "p"}
    by_hold = {r["consumer"][1:]: int(r["taken"]) for r in rows if r["consumer"][0] == "h"}
    spends: dict[int, int] = {}
    if by_posting:
        for r in await book.connection.fetch(
            "SELECT posting_id FROM postings WHERE program_id = $1 AND member_id = $2 "
            "AND posting_id = ANY($3::bigint[]) AND kind = $4",
            book.program_id,
            book.member_id,
            list(by_posting),
            REDEEM,
        ):
            spends[r["posting_id"]] = by_posting[r["posting_id"]]
    if by_hold:
        for r in await book.connection.fetch(
            "SELECT hold_id, posting_id FROM holds WHERE program_id = $1 AND member_id = $2 "
            "AND hold_id = ANY($3::text[]) AND status = $4",
            book.program_id,
            book.member_id,
            list(by_hold),
            _COMMITTED,
        ):
            spends[r["posting_id"]] = by_hold[r["hold_id"]]
    if not spends:
        return spends
    given_back = await book.connection.fetch(
        "SELECT DISTINCT reversed_posting_id FROM postings WHERE program_id = $1 "
        "AND member_id = $2 AND reversed_posting_id = ANY($3::bigint[]) AND kind = $4 "
        "AND amount > 0",
        book.program_id,
        book.member_id,
        list(spends),
        REVERSE,
    )
    for r in given_back:
        spends.pop(r["reversed_posting_id"], None)
    return spends


async def _owed(book: MemberBook, posting_ids: list[int]) -> dict[int, int]:
    rows = await book.connection.fetch(
        "SELECT posting_id, written_off_points FROM spent_write_offs WHERE program_id = $1 "
        "AND member_id = $2 AND posting_id = ANY($3::bigint[])",
        book.program_id,
        book.member_id,
        posting_ids,
    )
    return {r["posting_id"]: int(r["written_off_points"]) for r in rows}


async def _add(book: MemberBook, charge: Charge) -> None:
    await book.connection.execute(
        "INSERT INTO spent_write_offs (program_id, member_id, posting_id, written_off_points) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (program_id, member_id, posting_id) DO UPDATE "
        "SET written_off_points = spent_write_offs.written_off_points + EXCLUDED.written_off_points",
        book.program_id,
        book.member_id,
        charge.posting_id,
        charge.points,
    )
