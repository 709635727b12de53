"""Reading a request body as JSON, so that a body that cannot be read says why.

FastAPI reads a JSON body with `json.loads`; what that refuses other than as malformed JSON
(nesting past Python's recursion limit, an integer of more than 4300 digits, bytes that are not
UTF-8) became a bare 400 "There was an error parsing the body". Every route reads through
JsonRoute instead, so each of these is a JSON decode error with its reason, answered as any
malformed body is (errors.py: 400 INVALID_ARGUMENT).

An object that names a key twice is refused too: `json.loads` keeps the last, other readers
(a proxy, a log, the client's own library) may take the first, so what was asked is ambiguous.

The query is held to the route's parameters the same way (`check_query`): a parameter the route
does not take was ignored (`DELETE .../identifiers?...&reasn=stolen` released a stolen card
instead of blocking it, `POST /purchases?dry_run=true` recorded the purchase), and one given
twice was read as its last value. Both are 400 on the parameter, as an unknown or repeated key
of a JSON body is. A list parameter (`kinds`) is given once per value, as ever.
"""

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response, params
from fastapi.dependencies.utils import field_annotation_is_sequence, get_flat_params
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from gateway.errors import ApiError

# A parameter's name as an error's field is cut to this many characters.
QUERY_NAME_LENGTH_MAX = 128
# Headers that hold one value: given twice, which one was meant is ambiguous (the first was
# taken), so the request is refused as a JSON key or a query parameter given twice is.
SINGLE_HEADERS = ("Idempotency-Key", "X-Api-Key", "Authorization", "Content-Type")


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def loads(body: bytes) -> Any:
    """The JSON value of a body (RFC 8259: UTF-8), or json.JSONDecodeError saying why not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise json.JSONDecodeError("the body is not UTF-8", "", error.start) from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError:
        raise
    except _DuplicateKey as error:
        message = f"the key {error.key!r} appears twice in one object"
        raise json.JSONDecodeError(message, text, 0) from None
    except RecursionError:
        raise json.JSONDecodeError("the body is nested too deeply", text, 0) from None
    except ValueError as error:  # an integer past Python's digit limit
        raise json.JSONDecodeError(f"a number is too long ({error})", text, 0) from None


class JsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


def is_json(content_type: str) -> bool:
    """application/json or application/<anything>+json, parameters aside (as FastAPI reads a
    body as JSON); no content type at all is read as JSON too."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not media_type:
        return True
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def check_query(request: Request, taken: dict[str, bool]) -> None:
    """400 on the first query parameter the route does not take, or given twice though it holds
    one value. `taken`: each parameter's name, and whether it is a list."""
    for name in dict.fromkeys(request.query_params.keys()):
        field = name[:QUERY_NAME_LENGTH_MAX]
        if name not in taken:
            known = ", ".join(sorted(taken)) or "none"
            raise ApiError(
                400,
                "INVALID_ARGUMENT",
                f"this route takes no query parameter {field!r} (it takes: {known})",
                field=field,
            )
        if not taken[name] and len(request.query_params.getlist(name)) > 1:
            raise ApiError(400, "INVALID_ARGUMENT", "is given more than once", field=field)


def check_headers(request: Request) -> None:
    """400 on the first of SINGLE_HEADERS given more than once."""
    for name in SINGLE_HEADERS:
        if len(request.headers.getlist(name)) > 1:
            raise ApiError(400, "INVALID_ARGUMENT", "is given more than once", field=name)


class JsonRoute(APIRoute):
    """A route that reads its JSON body with `loads`, and refuses a body of another media type
    with 415 (FastAPI would hand its bytes to validation: "Input should be a valid dictionary"),
    or with a Content-Encoding (gzip: the gateway does not decode bodies), a query parameter it
    does not take or that is repeated (`check_query`), and a header that holds one value given
    twice (`check_headers`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_body = self.body_field is not None
        taken = {
            field.alias: field_annotation_is_sequence(field.field_info.annotation)
            for field in get_flat_params(self.dependant)
            if isinstance(field.field_info, params.Query)
        }

        async def read_json_body(request: Request) -> Response:
            check_headers(request)
            check_query(request, taken)
            if takes_body and not is_json(request.headers.get("content-type", "")):
                raise HTTPException(415, "the body must be JSON (Content-Type: application/json)")
            encoding = request.headers.get("content-encoding", "identity").strip().lower()
            if takes_body and encoding not in ("", "identity"):
                # RFC 9110 section 15.5.16. Its bytes were read as JSON text: a gzipped body
                # was 400 "the body is not UTF-8".
                raise HTTPException(
                    415, f"the body must not be encoded (Content-Encoding {encoding[:32]!r})"
                )
            return await handler(JsonRequest(request.scope, request.receive))

        return read_json_body
