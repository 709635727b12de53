"""`import members`: enrolment in bulk through identity's ImportMembers stream.

Each row's idempotency key is its external id when it has one, else a digest of the row, so a
row sent twice (a resumed import) enrols one member; identity also answers a row whose
identifiers it knows already with that member instead of enrolling another.
"""

import hashlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from admin.connections import Connections
from admin.csv_input import Chunk, Columns
from admin.importing import Outcome, Prepared
from admin.rejects import Reject
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc

IDENTIFIER_COLUMNS = ("external_id", "email", "phone", "card_number")
PROFILE_COLUMNS = ("given_name", "family_name", "birthday", "locale")
COLUMNS = Columns(
    required=(), optional=IDENTIFIER_COLUMNS + PROFILE_COLUMNS, one_of=IDENTIFIER_COLUMNS
)
# Request field of each column.
FIELDS = {
    "external_id": "external_ids",
    "email": "emails",
    "phone": "phones",
    "card_number": "card_numbers",
    "given_name": "given_names",
    "family_name": "family_names",
    "birthday": "birthdays",
    "locale": "locales",
}


def idempotency_key(row: Sequence[str], external_id: str) -> str:
    if external_id.strip():
        return f"member:{external_id.strip()}"
    return "row:" + hashlib.sha256("\x1f".join(row).encode()).hexdigest()[:40]


class MembersImport:
    name = "members"
    service = "identity"
    columns = COLUMNS

    def __init__(self) -> None:
        self.program_id = ""
        self.stub: identity_pb2_grpc.IdentityServiceStub | None = None

    async def start(self, connections: Connections, program_id: str) -> None:
        self.program_id = program_id
        self.stub = await connections.identity()

    def stream(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        assert self.stub is not None
        return self.stub.ImportMembers(requests)  # type: ignore[no-any-return]

    def prepare(self, chunk: Chunk, header_index: dict[str, int], batch_id: str) -> Prepared:
        request = identity_pb2.ImportMembersRequest(
            program_id=self.program_id, batch_id=batch_id, channel=common_pb2.CHANNEL_IMPORT
        )
        present = [column for column in FIELDS if column in header_index]
        identifiers = [header_index[c] for c in IDENTIFIER_COLUMNS if c in header_index]
        external = header_index.get("external_id")
        width = len(header_index)
        rows: list[Sequence[str]] = []
        lines: list[int] = []
        local: list[Reject] = []
        for row, line in zip(chunk.rows, chunk.lines, strict=True):
            if line in chunk.undecodable_lines:
                local.append(Reject(line, "invalid_encoding", "the line is not valid UTF-8", row))
                continue
            if len(row) != width:
                local.append(
                    Reject(
                        line,
                        "wrong_field_count",
                        f"has {len(row)} fields; the header names {width}",
                        row,
                    )
                )
                continue
            if not any(row[i].strip() for i in identifiers):
                local.append(
                    Reject(
                        line,
                        "no_identifier",
                        f"needs at least one of {', '.join(IDENTIFIER_COLUMNS)}",
                        row,
                    )
                )
                continue
            request.idempotency_keys.append(
                idempotency_key(row, row[external] if external is not None else "")
            )
            for column in present:
                getattr(request, FIELDS[column]).append(row[header_index[column]])
            rows.append(row)
            lines.append(line)
        return Prepared(
            request=request if rows else None,
            rows=rows,
            lines=lines,
            local_rejects=local,
            end_offset=chunk.end_offset,
            end_line=chunk.end_line,
            row_count=len(chunk.rows),
        )

    def outcome(self, prepared: Prepared, response: identity_pb2.ImportMembersResponse) -> Outcome:
        imported = duplicate = 0
        rejects = []
        for position, status in enumerate(response.statuses):
            if status == identity_pb2.IMPORT_ITEM_STATUS_ENROLLED:
                imported += 1
            elif status == identity_pb2.IMPORT_ITEM_STATUS_DUPLICATE:
                duplicate += 1
            else:
                message = response.messages[position]
                field = message.partition(":")[0] if ":" in message else ""
                rejects.append(
                    Reject(
                        prepared.lines[position],
                        f"invalid_{field}" if field else "rejected",
                        message,
                        prepared.rows[position],
                    )
                )
        return Outcome(imported, duplicate, rejects)
