"""Every request: a request id (taken from X-Request-Id or made) in the response header, in every
log line and in the calls to the services; one JSON log line; Prometheus metrics; a bounded body.

A plain ASGI middleware, outside FastAPI's own, so even a crash answers in the one error shape.
"""

import json
import logging
import re
import time
import uuid
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.shared.logs import log_fields, request_id_var
from services.shared.metrics import LATENCY_BUCKETS_S

logger = logging.getLogger("gateway.http")

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class HttpMetrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram

    @classmethod
    def create(cls) -> "HttpMetrics":
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "loyalty_http_requests",
                "HTTP requests served by the gateway, by route and status.",
                ["method", "route", "status"],
                registry=registry,
            ),
            latency=Histogram(
                "loyalty_http_request_duration_seconds",
                "HTTP request latency, by route.",
                ["method", "route"],
                buckets=LATENCY_BUCKETS_S,
                registry=registry,
            ),
        )


def _error_body(status: int, code: str, message: str, request_id: str) -> bytes:
    return json.dumps(
        {"error": {"code": code, "message": message, "field": "", "request_id": request_id}}
    ).encode()


class _BodyTooLarge(StarletteHTTPException):
    """Raised from `receive` once a body passes the limit. An HTTPException, so that FastAPI's
    body parsing lets it through (it turns other errors into a 400) and it is answered 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is larger than {limit} bytes")


class ObserveMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, body_bytes_max: int) -> None:
        self.app = app
        self.metrics = metrics
        self.body_bytes_max = body_bytes_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        received = 0

        async def receive_counted() -> Message:
            # A chunked body declares no length: it is counted as it arrives.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.body_bytes_max:
                    raise _BodyTooLarge(self.body_bytes_max)
            return message

        async def refuse(error: _BodyTooLarge) -> None:
            body = _error_body(413, "PAYLOAD_TOO_LARGE", error.detail, request_id)
            await _respond(send_with_id, 413, body)

        try:
            if _content_length(scope) > self.body_bytes_max:
                await refuse(_BodyTooLarge(self.body_bytes_max))
            else:
                await self.app(scope, receive_counted, send_with_id)
        except _BodyTooLarge as error:
            if response_started:
                raise
            await refuse(error)
        except Exception:
            logger.exception("unexpected error in %s %s", scope["method"], scope["path"])
            if response_started:
                raise
            await _respond(
                send_with_id,
                500,
                _error_body(
                    500, "INTERNAL", f"internal error (request id {request_id})", request_id
                ),
            )
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            elapsed_s = time.perf_counter() - started
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(elapsed_s)
            state = scope.get("state") or {}
            logger.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra=log_fields(
                    method=scope["method"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed_s * 1000, 3),
                    principal=state.get("principal", ""),
                ),
            )
            request_id_var.reset(token)


def _request_id(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            candidate = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex


def _content_length(scope: Scope) -> int:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
