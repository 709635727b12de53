"""How the gateway is put together: the FastAPI application, its services and its middleware."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.auth import API_KEY_SCOPES, MEMBER_SCOPES, Authenticator
from gateway.config import GatewayConfig
from gateway.errors import __doc__ as ERRORS_DOC
from gateway.errors import install_handlers
from gateway.observe import HttpMetrics, ObserveMiddleware
from gateway.ratelimit import RateLimiter
from gateway.routes import (
    demo,
    earning,
    members,
    points,
    privacy,
    programs,
    rewards,
    transactions,
)
from gateway.upstream import Upstreams

STATIC = Path(__file__).parent / "static"
# The card page loads only the gateway's own files and asks only the gateway (no third party
# learns of a member's visit), runs no inline script (a member's or a reward's name that got
# into the page as markup would not run) and is framed by no other site (a framed Redeem
# button could be clicked by a trick). The favicon is a data: URL; the QR code inline SVG.
CARD_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
READINESS_TIMEOUT_S = 1.0


def description(config: GatewayConfig) -> str:
    api_key_scopes = "\n".join(f"| `{s}` | {what} |" for s, what in API_KEY_SCOPES.items())
    member_scopes = "\n".join(f"| `{s}` | {what} |" for s, what in MEMBER_SCOPES.items())
    errors = (ERRORS_DOC or "").split("\n", 1)[1]
    return f"""HTTP/JSON API of the loyalty platform, for apps, webshops and tills.

## Authentication
- **API keys** (integrations): `X-Api-Key: <secret>` or `Authorization: ApiKey <secret>`.
- **Member tokens** (the app and the card page): `Authorization: Bearer <token>`. A member sees
  only its own data: another member's id answers 404, exactly as an unknown one. `me` in a path
  names the member of the token.

API key scopes:

| scope | allows |
|---|---|
{api_key_scopes}

Member token scopes:

| scope | allows |
|---|---|
{member_scopes}

## Rate limits
Per API key (its `requests_per_minute_max`, else {config.api_key_requests_per_minute_default}
per minute), per member token ({config.member_requests_per_minute_max} per minute) and per client
address for requests without accepted credentials ({config.anonymous_requests_per_minute_max}
per minute). Over the limit: 429 with `Retry-After` in seconds.

## Changes
Every change (POST, PATCH, DELETE; not `codes/validate`) needs an `Idempotency-Key` header
(400 `IDEMPOTENCY_KEY_REQUIRED` without one). A retry with the same key returns the first result;
the same key with another request is 409 `IDEMPOTENCY_KEY_REUSED`. Keys are per caller.

## Errors
{errors}
Every response carries `X-Request-Id` (yours, if you sent a valid one); the services log it too.
"""


def create_app(config: GatewayConfig) -> FastAPI:
    metrics = HttpMetrics.create()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upstreams = Upstreams.connect(config)
        app.state.upstreams = upstreams
        app.state.authenticator = Authenticator(config, upstreams, RateLimiter())
        try:
            yield
        finally:
            await upstreams.close()

    app = FastAPI(
        title="Loyalty platform API",
        version="1.0.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        # A path with a slash too many is not found (404 in the one error shape). Starlette
        # answered 307 with an empty body and a Location built from the Host header, so any
        # Host a client (or an attacker before a cache) sent came back as the redirect's host.
        redirect_slashes=False,
    )
    app.state.config = config
    app.state.metrics = metrics
    install_handlers(app)
    for module in (programs, members, points, transactions, earning, rewards, privacy):
        app.include_router(module.router)
    if config.demo_login:
        app.include_router(demo.router)
    _page_and_health(app)
    app.add_middleware(
        ObserveMiddleware, metrics=metrics, body_bytes_max=config.request_body_bytes_max
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _openapi(app, config)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI, config: GatewayConfig) -> dict[str, Any]:
    """FastAPI's document, less its 422 responses: bad input is 400 in the one error shape."""
    document = get_openapi(
        title=app.title, version=app.version, description=description(config), routes=app.routes
    )
    for path in document.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _page_and_health(app: FastAPI) -> None:
    app.mount("/card/assets", StaticFiles(directory=STATIC), name="card-assets")

    @app.get("/card", include_in_schema=False)
    async def card_page() -> FileResponse:
        return FileResponse(STATIC / "card.html", media_type="text/html", headers=CARD_PAGE_HEADERS)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/card")

    @app.get("/healthz", include_in_schema=False)
    async def liveness() -> JSONResponse:
        return JSONResponse({"status": "alive"})

    @app.get("/readyz", include_in_schema=False)
    async def readiness() -> JSONResponse:
        """Ready when every service answers its gRPC health check as SERVING."""
        upstreams: Upstreams = app.state.upstreams
        results = await asyncio.gather(
            *(_serving(channel) for channel in upstreams.channels), return_exceptions=True
        )
        names = ("identity", "ledger", "campaign", "rewards")
        status = {name: result is True for name, result in zip(names, results, strict=True)}
        ready = all(status.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "services": status},
            status_code=200 if ready else 503,
        )


async def _serving(channel: Any) -> bool:
    response = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=""), timeout=READINESS_TIMEOUT_S
    )
    return bool(response.status == health_pb2.HealthCheckResponse.SERVING)
