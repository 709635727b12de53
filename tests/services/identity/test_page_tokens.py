"""Forged page tokens on every list RPC of identity, through real gRPC on real PostgreSQL."""

import pytest

from loyalty.identity.v1 import identity_pb2
from tests.services.identity.conftest import PROGRAM
from tests.support.page_tokens import Cursor, assert_forgeries_refused


@pytest.mark.parametrize("method", ["ListPrograms", "ListMembers", "ListApiKeys"])
async def test_a_page_token_holding_a_value_of_another_type_is_the_callers_error(
    stub, method: str
) -> None:
    request_type = getattr(identity_pb2, f"{method}Request")
    fields = {} if method == "ListPrograms" else {"program_id": PROGRAM}
    cursor: Cursor = {"after": ("text", "a")}
    await assert_forgeries_refused(getattr(stub, method), request_type, fields, cursor)
