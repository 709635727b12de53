"""Forged page tokens on every list RPC of identity, through real gRPC on real PostgreSQL."""

import base64
import json

import grpc
import pytest

from loyalty.identity.v1 import identity_pb2
from tests.services.identity.conftest import PROGRAM

# Values that no token of identity holds where it holds text (a program, member or key id).
TEXT_FORGERIES = [1, 2**64, 1.5, True, None, ["a"], {"a": 1}, "a\x00", "\ud800"]


def forged(**cursor: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()


@pytest.mark.parametrize("method", ["ListPrograms", "ListMembers", "ListApiKeys"])
async def test_a_page_token_holding_a_value_of_another_type_is_the_callers_error(
    stub, method: str
) -> None:
    request_type = getattr(identity_pb2, f"{method}Request")
    fields = {} if method == "ListPrograms" else {"program_id": PROGRAM}
    for value in TEXT_FORGERIES:
        request = request_type(**fields, page_token=forged(after=value))
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await getattr(stub, method)(request)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (
            value,
            error.value.details(),
        )
        assert ("loyalty-error-field", "page_token") in tuple(error.value.trailing_metadata())
