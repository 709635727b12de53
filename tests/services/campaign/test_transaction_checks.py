"""The per-transaction checks of an ingest batch: each bad transaction is rejected with the reason
of its first problem, the others go on (checked as columns, so every check is exercised here)."""

import datetime as dt

from loyalty.campaign.v1 import campaign_pb2
from loyalty.common.v1 import common_pb2
from services.campaign.rpc_base import Limits
from services.campaign.transactions import Transactions

PURCHASE = campaign_pb2.TRANSACTION_KIND_PURCHASE
RETURN = campaign_pb2.TRANSACTION_KIND_RETURN
AT = int(dt.datetime(2025, 5, 5, 9, 0, tzinfo=dt.UTC).timestamp() * 1_000_000)
# The server's time the checks are made at: a day after the transactions.
NOW = AT + 86_400_000_000


def _row(**fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "transaction_id": "t",
        "member_id": "ann",
        "amount": 1_000,
        "kind": PURCHASE,
        "original": "",
        "micros": AT,
        "channel": common_pb2.CHANNEL_POS,
        "store": "s1",
    }
    row.update(fields)
    return row


def _request(rows: list[dict[str, object]]) -> campaign_pb2.IngestTransactionsRequest:
    return campaign_pb2.IngestTransactionsRequest(
        program_id="acme",
        batch_id="b1",
        currency="EUR",
        transaction_ids=[str(r["transaction_id"]) for r in rows],
        member_ids=[str(r["member_id"]) for r in rows],
        amounts_minor=[int(r["amount"]) for r in rows],  # type: ignore[call-overload]
        kinds=[int(r["kind"]) for r in rows],  # type: ignore[call-overload]
        original_transaction_ids=[str(r["original"]) for r in rows],
        occurred_at_unix_micros=[int(r["micros"]) for r in rows],  # type: ignore[call-overload]
        channels=[int(r["channel"]) for r in rows],  # type: ignore[call-overload]
        store_ids=[str(r["store"]) for r in rows],
    )


def test_each_transaction_is_rejected_for_its_first_problem_only() -> None:
    rows = [
        _row(transaction_id="ok-1"),
        _row(transaction_id=""),
        _row(transaction_id="x" * 129, member_id=""),  # the id is checked first
        _row(transaction_id="m", member_id="m" * 129),
        _row(transaction_id="k", kind=7),
        _row(transaction_id="a1", amount=-5),
        _row(transaction_id="a2", amount=10**12 + 1),
        _row(transaction_id="a3", kind=RETURN, amount=-(10**12) - 1, original="ok-1"),
        _row(transaction_id="r1", kind=RETURN, amount=0, original="ok-1"),
        _row(transaction_id="r2", kind=RETURN, amount=-500),
        _row(transaction_id="o1", micros=0),
        _row(transaction_id="c1", channel=999),
        _row(transaction_id="s1", store="s" * 129),
        _row(transaction_id="ok-2", kind=0),  # no kind is a purchase
        _row(transaction_id="ok-1"),  # the same id for the same member again
        _row(transaction_id="ok-1", member_id="bob"),  # another member's id is another one
        _row(transaction_id="ok-3", kind=RETURN, amount=-500, original="ok-1"),
    ]
    transactions = Transactions.of_ingest(_request(rows), Limits(), now_micros=NOW)
    reasons = {index: code for index, (code, _) in transactions.rejected.items()}
    assert reasons == {
        1: "invalid_transaction_id",
        2: "invalid_transaction_id",
        3: "invalid_member_id",
        4: "invalid_kind",
        5: "invalid_amount",
        6: "invalid_amount",
        7: "invalid_amount",
        8: "invalid_amount",
        9: "missing_original",
        10: "invalid_occurred_at",
        11: "invalid_channel",
        12: "invalid_store_id",
        14: "duplicate_in_batch",
    }
    assert transactions.rejected[8][1] == "amounts_minor: a return refunds a non-zero amount"
    assert transactions.purchases() == [0, 13, 15]
    assert transactions.returns() == [16]
    assert list(transactions.rejected) == sorted(transactions.rejected)


def test_a_duplicate_of_a_rejected_transaction_is_still_a_duplicate() -> None:
    rows = [
        _row(transaction_id="t1", micros=0),
        _row(transaction_id="t1"),
        _row(transaction_id="t2"),
    ]
    transactions = Transactions.of_ingest(_request(rows), Limits(), now_micros=NOW)
    assert {i: code for i, (code, _) in transactions.rejected.items()} == {
        0: "invalid_occurred_at",
        1: "duplicate_in_batch",
    }


def test_lines_are_checked_with_their_transaction() -> None:
    rows = [_row(transaction_id="t1"), _row(transaction_id="t2"), _row(transaction_id="t3")]
    request = _request(rows)
    request.line_counts.extend([2, 0, 3])
    request.line_amounts_minor.extend([500, 500, 100, -1, 100])
    limits = Limits(lines_per_transaction_max=2)
    transactions = Transactions.of_ingest(request, limits, now_micros=NOW)
    assert transactions.rejected == {
        2: ("too_many_lines", "line_counts: at most 2"),
    }
    request.line_counts[2] = 2
    request.line_amounts_minor.pop()
    transactions = Transactions.of_ingest(request, limits, now_micros=NOW)
    assert transactions.rejected == {
        2: ("invalid_line_amount", "line_amounts_minor: 0 to 1000000000000"),
    }
    assert transactions.purchases() == [0, 1]
    # Bounded as a transaction's amount is: a line's points are computed from it.
    request.line_amounts_minor[3] = 10**12 + 1
    transactions = Transactions.of_ingest(request, limits, now_micros=NOW)
    assert transactions.rejected == {
        2: ("invalid_line_amount", "line_amounts_minor: 0 to 1000000000000"),
    }


def test_text_holding_a_nul_character_is_rejected_alone() -> None:
    # PostgreSQL's text cannot hold it: one such transaction failed the whole batch's COPY.
    rows = [
        _row(transaction_id="ok"),
        _row(transaction_id="t\x001"),
        _row(transaction_id="t2", member_id="a\x00n"),
        _row(transaction_id="t3", store="s\x00"),
        _row(transaction_id="t4", kind=RETURN, amount=-500, original="o\x00k"),
    ]
    transactions = Transactions.of_ingest(_request(rows), Limits(), now_micros=NOW)
    reasons = {index: code for index, (code, _) in transactions.rejected.items()}
    assert reasons == {1: "invalid_text", 2: "invalid_text", 3: "invalid_text", 4: "invalid_text"}
    assert transactions.purchases() == [0]


def test_a_transaction_after_the_servers_time_plus_the_allowance_is_rejected() -> None:
    minute = 60_000_000
    rows = [
        _row(transaction_id="past", micros=NOW - 400 * 86_400_000_000),
        _row(transaction_id="fast-till", micros=NOW + 14 * minute),
        _row(transaction_id="edge", micros=NOW + 15 * minute),
        _row(transaction_id="hour-ahead", micros=NOW + 15 * minute + 1),
        _row(transaction_id="next-year", micros=NOW + 365 * 86_400_000_000),
        _row(
            transaction_id="return",
            kind=RETURN,
            amount=-500,
            original="p",
            micros=NOW + 61 * minute,
        ),
    ]
    transactions = Transactions.of_ingest(_request(rows), Limits(), now_micros=NOW)
    future = (
        "occurred_at_in_future",
        "occurred_at_unix_micros: must not be more than 15 minutes after the server's time",
    )
    assert transactions.rejected == {3: future, 4: future, 5: future}
    assert transactions.purchases() == [0, 1, 2]
    transactions = Transactions.of_ingest(
        _request(rows), Limits(occurred_at_ahead_max_ms=90_000), now_micros=NOW
    )
    assert sorted(transactions.rejected) == [1, 2, 3, 4, 5]
    assert transactions.rejected[1][1].endswith("more than 90 seconds after the server's time")
