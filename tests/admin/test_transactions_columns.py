"""`import transactions` without the services: a chunk made into a request, and an answer made
into counts and rejects."""

import zoneinfo

from admin.csv_input import Chunk
from admin.transactions_import import COLUMNS, TransactionsImport
from loyalty.campaign.v1 import campaign_pb2

HEADER = ["transaction_id", "member_id", "amount_minor", "occurred_at"]
INDEX = {name: position for position, name in enumerate(HEADER)}
assert set(HEADER) <= set(COLUMNS.known)


def amsterdam_import() -> TransactionsImport:
    kind = TransactionsImport()
    kind.program_id, kind.currency = "acme", "EUR"
    kind.zone = zoneinfo.ZoneInfo("Europe/Amsterdam")
    return kind


def test_a_column_of_times_is_read_as_each_time_alone() -> None:
    kind = amsterdam_import()
    times = [
        "2026-03-01T12:30:00Z",
        "2026-03-01T12:30:00",  # the program's zone: UTC+1 in winter
        "2026-07-01T12:30:00",  # UTC+2 in summer
        "2026-03-29T02:30:00",  # the hour the clocks skip
        "2026-10-25T02:30:00",  # the hour the clocks repeat
        "2026-03-01T12:30:00.123456+05:30",
        "2026-03-01",
    ]

    assert kind.micros_column(times) == [kind.micros(text) for text in times]
    assert kind.micros_column(times)[1] - kind.micros_column(times)[0] == -3_600_000_000


def test_a_chunk_with_a_bad_time_is_made_row_by_row_and_the_row_rejected() -> None:
    kind = amsterdam_import()
    rows = [
        ["t1", "m1", "150", "2026-03-01T12:30:00Z"],
        ["t2", "m2", "250", "soon"],
        ["t3", "m3", "350", "2026-03-01T12:31:00Z"],
    ]
    chunk = Chunk(rows, [2, 3, 4], set(), end_offset=99, end_line=4)

    prepared = kind.prepare(chunk, INDEX, "batch")

    assert prepared.request is not None
    assert list(prepared.request.transaction_ids) == ["t1", "t3"]  # type: ignore[attr-defined]
    assert prepared.lines == [2, 4]
    assert [(r.line, r.reason) for r in prepared.local_rejects] == [(3, "invalid_occurred_at")]


def test_an_answer_is_counted_and_its_refused_rows_named_with_their_lines() -> None:
    kind = amsterdam_import()
    rows = [[f"t{i}", "m1", "100", "2026-03-01T12:30:00Z"] for i in range(5)]
    chunk = Chunk(rows, [2, 3, 5, 6, 7], set(), end_offset=99, end_line=7)
    prepared = kind.prepare(chunk, INDEX, "batch")
    response = campaign_pb2.IngestTransactionsResponse(
        statuses=[
            campaign_pb2.INGEST_ITEM_STATUS_POSTED,
            campaign_pb2.INGEST_ITEM_STATUS_REJECTED,
            campaign_pb2.INGEST_ITEM_STATUS_NO_POINTS,
            campaign_pb2.INGEST_ITEM_STATUS_DUPLICATE,
            campaign_pb2.INGEST_ITEM_STATUS_REJECTED,
        ],
        reason_codes=["", "unknown_member", "", "", ""],
        messages=["", "no such member", "", "", "refused"],
    )

    outcome = kind.outcome(prepared, response)

    assert (outcome.imported, outcome.duplicate) == (2, 1)
    assert [(r.line, r.reason, r.message, r.row[0]) for r in outcome.rejects] == [
        (3, "unknown_member", "no such member", "t1"),
        (7, "rejected", "refused", "t4"),
    ]


def test_an_answer_without_refusals_has_no_rejects() -> None:
    kind = amsterdam_import()
    rows = [[f"t{i}", "m1", "100", "2026-03-01T12:30:00Z"] for i in range(3)]
    prepared = kind.prepare(Chunk(rows, [2, 3, 4], set(), 99, 4), INDEX, "batch")
    response = campaign_pb2.IngestTransactionsResponse(
        statuses=[campaign_pb2.INGEST_ITEM_STATUS_DUPLICATE] * 3
    )

    outcome = kind.outcome(prepared, response)

    assert (outcome.imported, outcome.duplicate, outcome.rejects) == (0, 3, [])
