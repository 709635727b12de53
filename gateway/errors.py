"""One error shape for every failure, and the one mapping of gRPC status codes to HTTP.

Every error body is `{"error": {"code", "message", "field", "request_id"}}`. `code` is a stable
machine-readable reason: the service's own (`loyalty-error-reason`, such as INSUFFICIENT_POINTS)
when it gives one, else the gateway's (such as SCOPE_MISSING) or the status name. `field` names
what is at fault as the client sent it (a JSON path, a path or query parameter, a header), empty
when nothing the client sent is.

| gRPC status | HTTP |
|---|---|
| INVALID_ARGUMENT, OUT_OF_RANGE | 400 |
| UNAUTHENTICATED | 401 |
| PERMISSION_DENIED | 403 |
| NOT_FOUND | 404 |
| ALREADY_EXISTS, ABORTED | 409 |
| FAILED_PRECONDITION | 409: the request is well formed but the state forbids it now (too few points, a used code, an idempotency key reused for another request) |
| RESOURCE_EXHAUSTED | 429 |
| UNIMPLEMENTED | 501 |
| UNAVAILABLE, CANCELLED | 503, with Retry-After; safe to retry with the same Idempotency-Key |
| DEADLINE_EXCEEDED | 504; retry with the same Idempotency-Key |
| INTERNAL, UNKNOWN, DATA_LOSS | 502 |

A malformed request body, query or header is 400 (code INVALID_ARGUMENT, with the field), like
the services' own INVALID_ARGUMENT, so a client handles bad input one way. So is a query
parameter the operation does not take, or one that holds a single value given twice.
"""

import logging
from collections.abc import Mapping
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.shared.interceptors import ERROR_FIELD_HEADER, ERROR_REASON_HEADER
from services.shared.logs import request_id_var

logger = logging.getLogger("gateway.errors")

HTTP_STATUS_OF_GRPC = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.CANCELLED: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.INTERNAL: 502,
    grpc.StatusCode.UNKNOWN: 502,
    grpc.StatusCode.DATA_LOSS: 502,
}
RETRY_AFTER_UNAVAILABLE_S = 1
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Services name fields as in their protos; idempotency_key is the one every change fills from a
# header. The rest are renamed per call (`fields=`, see json_field).
FIELD_NAMES = {"idempotency_key": IDEMPOTENCY_HEADER}


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable machine-readable reason, such as INSUFFICIENT_POINTS.")
    message: str = Field(description="What went wrong, for humans.")
    field: str = Field("", description="The request field or header at fault; empty if none.")
    request_id: str = Field(description="The request id, also in the X-Request-Id header.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    @classmethod
    def from_rpc(
        cls, error: grpc.aio.AioRpcError, *, method: str, fields: Mapping[str, str] | None = None
    ) -> "ApiError":
        code = error.code()
        trailers = {key: value for key, value in (error.trailing_metadata() or ())}
        status = HTTP_STATUS_OF_GRPC.get(code, 502)
        reason = str(trailers.get(ERROR_REASON_HEADER, "") or "")
        field = str(trailers.get(ERROR_FIELD_HEADER, "") or "")
        message = error.details() or code.name.lower()
        headers: dict[str, str] = {}
        if code == grpc.StatusCode.UNIMPLEMENTED:
            reason = "NOT_IMPLEMENTED"
            message = f"{method} is not implemented by its service yet"
        elif status == 503:
            reason = reason or "UNAVAILABLE"
            headers["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE_S)
            message = f"{method}: a service is unavailable; retry with the same Idempotency-Key"
        elif status == 502:
            logger.warning("%s failed upstream: %s %s", method, code.name, error.details())
            reason = "UPSTREAM_ERROR"
            message = f"{method} failed in its service (request id {request_id_var.get()})"
        elif status == 504:
            reason = reason or "DEADLINE_EXCEEDED"
            message = f"{method} did not answer in time; retry with the same Idempotency-Key"
        if field and message.startswith(f"{field}: "):
            message = message[len(field) + 2 :]
        return cls(
            status,
            reason or code.name,
            message,
            field=json_field(field, fields or {}),
            headers=headers,
        )


def json_field(field: str, renamed: Mapping[str, str]) -> str:
    """The request's name of a service's field: a route's rename of a proto field and of what
    lies under it ("profile" -> "" or "lines.lines" -> "lines", so "lines.lines[2].sku" reads
    "lines[2].sku"), else the name every change gives it (FIELD_NAMES), else the service's own.

    The longest renamed prefix wins, so a route may rename a message and, otherwise, one field
    inside it ("activity" -> "" with "activity.member_id" -> "identifier")."""
    matches = [
        proto for proto in renamed if field == proto or field.startswith((f"{proto}.", f"{proto}["))
    ]
    if not matches:
        return FIELD_NAMES.get(field, field)
    proto = max(matches, key=len)
    json, rest = renamed[proto], field[len(proto) :]
    return json + rest if json else rest.removeprefix(".")


def error_response(
    status: int, code: str, message: str, *, field: str = "", headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "field": field,
            "request_id": request_id_var.get(),
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _field_of(location: tuple[Any, ...]) -> str:
    # ("body", "amount", "amount_minor") -> "amount.amount_minor"; ("header", "x-api-key") -> ...
    # List positions as the services write them: ("body", "identifiers", 0, "kind") ->
    # "identifiers[0].kind".
    parts = list(location[1:]) if len(location) > 1 else list(location)
    if len(parts) > 1 and parts[-1] == "[key]":
        # A map's key is at fault ("preferences", <the key>, "[key]"): the map is the field.
        parts = parts[:-2]
    field = ""
    for part in parts:
        if isinstance(part, int):
            field += f"[{part}]"
        else:
            field += f".{part}" if field else str(part)
    return field


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(
            error.status, error.code, error.message, field=error.field, headers=error.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "is invalid"}
        if first.get("type") == "json_invalid":
            # Its location is a character position, not a field.
            context = first.get("ctx")
            reason = context.get("error", "malformed") if isinstance(context, dict) else ""
            return error_response(400, "INVALID_ARGUMENT", f"the body is not JSON: {reason}")
        if tuple(first.get("loc", ())) == ("body",):
            # The body as a whole (empty, null, an array, a string, a number): FastAPI names it
            # "body", which is no field of the request's JSON.
            empty = first.get("type") == "missing"
            return error_response(
                400,
                "INVALID_ARGUMENT",
                f"the body must be a JSON object{', not empty' if empty else ''}",
            )
        field = _field_of(tuple(first.get("loc", ())))
        code = "INVALID_ARGUMENT"
        if field == IDEMPOTENCY_HEADER and first.get("type") == "missing":
            code = "IDEMPOTENCY_KEY_REQUIRED"
        return error_response(400, code, str(first.get("msg", "is invalid")), field=field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        codes = {
            400: "INVALID_ARGUMENT",
            404: "NOT_FOUND",
            405: "METHOD_NOT_ALLOWED",
            413: "PAYLOAD_TOO_LARGE",
            415: "UNSUPPORTED_MEDIA_TYPE",
        }
        return error_response(
            error.status_code,
            codes.get(error.status_code, f"HTTP_{error.status_code}"),
            str(error.detail),
            headers=dict(error.headers or {}),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error in %s %s", request.method, request.url.path)
        return error_response(
            500, "INTERNAL", f"internal error (request id {request_id_var.get()})"
        )


_DESCRIPTIONS = {
    400: "Malformed input; `field` names it.",
    401: "No credentials, or they were rejected.",
    403: "The credentials lack a scope, or belong to another program.",
    404: "Not found (other members' data is not found either).",
    409: "Conflicts with the current state (insufficient points, used code, key reused).",
    429: "Rate limited; wait Retry-After seconds.",
    501: "The service behind this resource does not implement it yet.",
    503: "A service is unavailable; retry with the same Idempotency-Key.",
    504: "A service did not answer in time.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of error responses, all with the one error shape."""
    chosen = statuses or tuple(_DESCRIPTIONS)
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in chosen}
