"""Opaque page tokens: a cursor the client hands back unchanged, refused if tampered with."""

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from services.shared.errors import InvalidArgument
from services.shared.timestamps import from_unix_micros
from services.shared.validation import INT64_MAX


def encode_page_token(cursor: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor, separators=(",", ":")).encode()).decode()


def decode_page_token(
    token: str, *, keys: tuple[str, ...], types: Mapping[str, type] | None = None
) -> dict[str, Any] | None:
    """The cursor of `token`, None for the first page; INVALID_ARGUMENT if it is not ours.
    `types` names the exact type of a key's value, so a forged token cannot reach a query; an
    `int` must also fit in 64 bits (JSON numbers have no bound, a bigint column has) and a `str`
    hold no NUL character nor lone surrogate (PostgreSQL's text cannot)."""
    if not token:
        return None
    try:
        cursor = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidArgument("page_token", "is not a token this service issued") from None
    if not isinstance(cursor, dict) or set(cursor) != set(keys):
        raise InvalidArgument("page_token", "is not a token this service issued")
    for key, kind in (types or {}).items():
        value = cursor[key]
        out_of_range = isinstance(value, int) and not -INT64_MAX - 1 <= value <= INT64_MAX
        unstorable = isinstance(value, str) and not _storable(value)
        if type(value) is not kind or out_of_range or unstorable:
            raise InvalidArgument("page_token", "is not a token this service issued")
    return cursor


def _storable(text: str) -> bool:
    """Whether PostgreSQL's text can hold `text`: no NUL, and no lone surrogate (which a JSON
    escape such as \\ud800 gives and UTF-8 cannot encode)."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def cursor_instant(micros: int) -> dt.datetime:
    """The instant a page token's microseconds name; past what an instant holds, the token is
    forged (INVALID_ARGUMENT on page_token)."""
    try:
        return from_unix_micros(micros)
    except OverflowError:
        raise InvalidArgument("page_token", "is not a token this service issued") from None
