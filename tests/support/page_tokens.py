"""Forged page tokens: what a list RPC must refuse with INVALID_ARGUMENT on page_token, by what
each key of its cursor holds (services/shared/paging.py)."""

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest

# Text (an id or a code) is never a number, a list, a map, NUL or a lone surrogate.
TEXT: list[object] = [1, 2**64, 1.5, True, None, ["a"], {"a": 1}, "a\x00", "\ud800"]
FORGERIES: dict[str, list[object]] = {
    "text": TEXT,
    # An integer column's width, a number's own type.
    "int32": [2**31, -(2**31) - 1, 2**64, "1", 1.5, True, None],
    "bigint": [2**63, -(2**63) - 1, 2**64, 10**30, "1", 1.5, True, None, {"a": 1}],
    # An instant's microseconds: within 64 bits and a date Python can hold.
    "micros": [2**62, -(2**62), 2**63, -(2**63) - 1, 10**30, "1", 1.5, True, None],
    "uuid": [*TEXT, "not a uuid"],
}
# Per key: (what it holds, a true value).
Cursor = dict[str, tuple[str, object]]


def forged(**cursor: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()


async def assert_forgeries_refused(
    call: Callable[[Any], Awaitable[Any]],
    request_type: Callable[..., Any],
    fields: dict[str, object],
    cursor: Cursor,
) -> None:
    """The true cursor is answered, and each key forged in turn is refused naming page_token."""
    true_cursor = {name: value for name, (_, value) in cursor.items()}
    await call(request_type(**fields, page_token=forged(**true_cursor)))
    for name, (holds, _) in cursor.items():
        for value in FORGERIES[holds]:
            token = forged(**{**true_cursor, name: value})
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await call(request_type(**fields, page_token=token))
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (
                name,
                value,
                error.value.details(),
            )
            metadata = tuple(error.value.trailing_metadata())
            assert ("loyalty-error-field", "page_token") in metadata, (name, value)
