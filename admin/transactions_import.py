"""`import transactions`: purchases and returns through campaign's IngestTransactions stream, so
the program's earning rules apply exactly as to a POS batch.

Columns: transaction_id, member_id, amount_minor (integer minor units), occurred_at (ISO 8601; a
time without an offset is in the program's time zone) are required; channel (app, webshop, store,
pos, ...), store_id, category, sku, kind (purchase or return), original_transaction_id (of a
return) and currency (must be the program's) are optional. The transaction id is the row's
idempotency key: importing a row twice posts its points once.
"""

import collections
import datetime as dt
import zoneinfo
from collections.abc import AsyncIterator, Sequence
from typing import Any

from admin.connections import Connections
from admin.csv_input import Chunk, Columns
from admin.importing import Outcome, Prepared
from admin.rejects import Reject
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc
from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.shared.timestamps import UNIX_EPOCH, unix_micros

COLUMNS = Columns(
    required=("transaction_id", "member_id", "amount_minor", "occurred_at"),
    optional=(
        "channel",
        "store_id",
        "category",
        "sku",
        "kind",
        "original_transaction_id",
        "currency",
    ),
)
MICROSECOND = dt.timedelta(microseconds=1)


def _names(enum: Any, prefix: str, *, empty: int) -> dict[str, int]:
    """'pos', 'POS' and 'CHANNEL_POS' for CHANNEL_POS; '' for the default."""
    names = {"": empty}
    for name, value in enum.items():
        if value == 0:
            continue
        short = name.removeprefix(prefix)
        names.update({name: value, short: value, short.lower(): value})
    return names


CHANNELS = _names(common_pb2.Channel, "CHANNEL_", empty=common_pb2.CHANNEL_UNSPECIFIED)
KINDS = _names(
    campaign_pb2.TransactionKind, "TRANSACTION_KIND_", empty=campaign_pb2.TRANSACTION_KIND_PURCHASE
)
# Statuses that mean the row is in: posted, or recorded without points.
IMPORTED = frozenset(
    {campaign_pb2.INGEST_ITEM_STATUS_POSTED, campaign_pb2.INGEST_ITEM_STATUS_NO_POINTS}
)


class RowError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class TransactionsImport:
    name = "transactions"
    service = "campaign"
    columns = COLUMNS

    def __init__(self) -> None:
        self.program_id = ""
        self.currency = ""
        self.zone: dt.tzinfo = dt.UTC
        self.stub: campaign_pb2_grpc.CampaignServiceStub | None = None

    async def start(self, connections: Connections, program_id: str) -> None:
        ledger = await connections.ledger()
        with connections.calling("ledger"):
            program = await ledger.GetProgram(
                ledger_pb2.GetProgramRequest(program_id=program_id), timeout=connections.deadline_s
            )
        self.program_id = program_id
        self.currency = program.config.currency
        self.zone = zoneinfo.ZoneInfo(program.config.time_zone)
        self.stub = await connections.campaign()

    def stream(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        assert self.stub is not None
        return self.stub.IngestTransactions(requests)  # type: ignore[no-any-return]

    def micros(self, text: str) -> int:
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return unix_micros(moment)

    def micros_column(self, texts: Sequence[str]) -> list[int]:
        """`micros` of a whole column: one comprehension rather than a call per row."""
        zone = self.zone
        return [
            ((moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)) - UNIX_EPOCH)
            // MICROSECOND
            for moment in map(dt.datetime.fromisoformat, texts)
        ]

    def prepare(self, chunk: Chunk, header_index: dict[str, int], batch_id: str) -> Prepared:
        request = campaign_pb2.IngestTransactionsRequest(
            program_id=self.program_id, batch_id=batch_id, currency=self.currency
        )
        rows, lines, local = self._columns_fast(chunk, header_index, request)
        if rows is None:
            rows, lines, local = self._columns_row_by_row(chunk, header_index, request)
        return Prepared(
            request=request if rows else None,
            rows=rows,
            lines=lines,
            local_rejects=local,
            end_offset=chunk.end_offset,
            end_line=chunk.end_line,
            row_count=len(chunk.rows),
        )

    def _columns_fast(
        self, chunk: Chunk, index: dict[str, int], request: campaign_pb2.IngestTransactionsRequest
    ) -> tuple[list[Sequence[str]] | None, list[int], list[Reject]]:
        """The whole chunk as columns, when every row is well-formed (the usual case)."""
        width = len(index)
        if chunk.undecodable_lines or any(len(row) != width for row in chunk.rows):
            return None, [], []
        columns = list(zip(*chunk.rows, strict=True))
        try:
            amounts = list(map(int, columns[index["amount_minor"]]))
            micros = self.micros_column(columns[index["occurred_at"]])
            channels = (
                [CHANNELS[name] for name in columns[index["channel"]]] if "channel" in index else []
            )
            kinds = [KINDS[name] for name in columns[index["kind"]]] if "kind" in index else []
            if "currency" in index and not set(columns[index["currency"]]) <= {"", self.currency}:
                return None, [], []
        except (ValueError, KeyError, OverflowError):
            return None, [], []
        request.transaction_ids.extend(columns[index["transaction_id"]])
        request.member_ids.extend(columns[index["member_id"]])
        request.amounts_minor.extend(amounts)
        request.occurred_at_unix_micros.extend(micros)
        request.channels.extend(channels)
        request.kinds.extend(kinds)
        for column, field in (
            ("store_id", request.store_ids),
            ("category", request.categories),
            ("sku", request.skus),
            ("original_transaction_id", request.original_transaction_ids),
        ):
            if column in index:
                field.extend(columns[index[column]])
        return list(chunk.rows), list(chunk.lines), []

    def _columns_row_by_row(
        self, chunk: Chunk, index: dict[str, int], request: campaign_pb2.IngestTransactionsRequest
    ) -> tuple[list[Sequence[str]], list[int], list[Reject]]:
        """Row by row, rejecting the rows that cannot become a transaction."""
        rows: list[Sequence[str]] = []
        lines: list[int] = []
        local: list[Reject] = []
        optional = [
            (column, field)
            for column, field in (
                ("store_id", request.store_ids),
                ("category", request.categories),
                ("sku", request.skus),
                ("original_transaction_id", request.original_transaction_ids),
            )
            if column in index
        ]
        for row, line in zip(chunk.rows, chunk.lines, strict=True):
            try:
                values = self._row(row, line, index, chunk.undecodable_lines)
            except RowError as error:
                local.append(Reject(line, error.reason, error.message, row))
                continue
            amount, micros, channel, kind = values
            request.transaction_ids.append(row[index["transaction_id"]])
            request.member_ids.append(row[index["member_id"]])
            request.amounts_minor.append(amount)
            request.occurred_at_unix_micros.append(micros)
            if "channel" in index:
                request.channels.append(channel)  # type: ignore[arg-type]
            if "kind" in index:
                request.kinds.append(kind)  # type: ignore[arg-type]
            for column, field in optional:
                field.append(row[index[column]])
            rows.append(row)
            lines.append(line)
        return rows, lines, local

    def _row(
        self, row: Sequence[str], line: int, index: dict[str, int], undecodable: set[int]
    ) -> tuple[int, int, int, int]:
        if line in undecodable:
            raise RowError("invalid_encoding", "the line is not valid UTF-8")
        if len(row) != len(index):
            raise RowError(
                "wrong_field_count", f"has {len(row)} fields; the header names {len(index)}"
            )
        text = row[index["amount_minor"]]
        try:
            amount = int(text)
        except ValueError:
            raise RowError(
                "invalid_amount",
                f"amount_minor: {text[:40]!r} is not a whole number of minor units",
            ) from None
        text = row[index["occurred_at"]]
        try:
            micros = self.micros(text)
        except (ValueError, OverflowError):
            raise RowError(
                "invalid_occurred_at",
                f"occurred_at: {text[:40]!r} is not an ISO 8601 time such as 2026-03-01T12:30:00Z",
            ) from None
        channel = kind = 0
        if "channel" in index:
            text = row[index["channel"]]
            if text not in CHANNELS:
                raise RowError("invalid_channel", f"channel: {text[:40]!r} is not a known channel")
            channel = CHANNELS[text]
        if "kind" in index:
            text = row[index["kind"]]
            if text not in KINDS:
                raise RowError("invalid_kind", f"kind: {text[:40]!r} is not purchase or return")
            kind = KINDS[text]
        if "currency" in index and row[index["currency"]] not in ("", self.currency):
            raise RowError(
                "wrong_currency",
                f"currency: {row[index['currency']][:8]!r} is not the program's currency {self.currency}",
            )
        return amount, micros, channel, kind

    def outcome(
        self, prepared: Prepared, response: campaign_pb2.IngestTransactionsResponse
    ) -> Outcome:
        counts = collections.Counter(response.statuses)
        imported = sum(counts[status] for status in IMPORTED)
        duplicate = counts[campaign_pb2.INGEST_ITEM_STATUS_DUPLICATE]
        if imported + duplicate == len(response.statuses):
            return Outcome(imported, duplicate, [])
        rejects = [
            Reject(
                prepared.lines[position],
                response.reason_codes[position] or "rejected",
                response.messages[position],
                prepared.rows[position],
            )
            for position, status in enumerate(response.statuses)
            if status not in IMPORTED and status != campaign_pb2.INGEST_ITEM_STATUS_DUPLICATE
        ]
        return Outcome(imported, duplicate, rejects)
