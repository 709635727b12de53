"""gRPC channels from one service to another: request ids travel along, deadlines are set.

Retries of UNAVAILABLE are left to gRPC's retry policy, which only retries calls that did not
reach the server's handler; mutations carry idempotency keys, so a caller may also retry them.
"""

import json
from collections.abc import Callable
from typing import Any

import grpc

from services.shared.interceptors import REQUEST_ID_HEADER
from services.shared.logs import request_id_var

DEFAULT_DEADLINE_S = 10.0

_RETRY_POLICY = json.dumps(
    {
        # Behind a headless Kubernetes Service the name resolves to every ready pod: spread the
        # calls over all of them (pick_first would send everything to one).
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ],
    }
)


async def _with_request_id(
    client_call_details: grpc.aio.ClientCallDetails, *, default_timeout_s: float | None
) -> grpc.aio.ClientCallDetails:
    request_id = request_id_var.get()
    if not request_id:
        return client_call_details
    metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
    if REQUEST_ID_HEADER not in metadata:
        metadata.add(REQUEST_ID_HEADER, request_id)
    timeout = (
        client_call_details.timeout
        if client_call_details.timeout is not None
        else default_timeout_s
    )
    return grpc.aio.ClientCallDetails(
        client_call_details.method,
        timeout,
        metadata,
        client_call_details.credentials,
        client_call_details.wait_for_ready,
    )


# One interceptor object per kind of call: a channel files each interceptor under the first kind
# it is an instance of, so one object of all four kinds intercepted unary calls only.


class _UnaryUnaryRequestId(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        details = await _with_request_id(client_call_details, default_timeout_s=DEFAULT_DEADLINE_S)
        return await continuation(details, request)


# A client stream (PostBatch under an ingest) lasts as long as its caller feeds it: it gets the
# request id, so the ledger's lines and events name the ingest, and no default deadline.


class _StreamUnaryRequestId(grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        details = await _with_request_id(client_call_details, default_timeout_s=None)
        return await continuation(details, request_iterator)


class _StreamStreamRequestId(grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        details = await _with_request_id(client_call_details, default_timeout_s=None)
        return await continuation(details, request_iterator)


# How soon a channel tries again to connect to a service that went away. gRPC's defaults (1 s,
# growing to 120 s) leave a caller cut off for seconds to minutes after a restarted service is
# back; a service's own dependencies are few and close, so retrying often costs little.
RECONNECT_BACKOFF_FIRST_MS = 100
RECONNECT_BACKOFF_MAX_MS = 2_000


def service_channel(address: str) -> grpc.aio.Channel:
    """A channel to another service of the platform."""
    return grpc.aio.insecure_channel(
        address,
        interceptors=[_UnaryUnaryRequestId(), _StreamUnaryRequestId(), _StreamStreamRequestId()],
        options=[
            ("grpc.enable_retries", 1),
            ("grpc.service_config", _RETRY_POLICY),
            ("grpc.initial_reconnect_backoff_ms", RECONNECT_BACKOFF_FIRST_MS),
            ("grpc.max_reconnect_backoff_ms", RECONNECT_BACKOFF_MAX_MS),
            # gRPC shares connections among a process's channels by address: a new channel would
            # get an old one's connection still backing off from a service that has since come
            # back on that address (a restart, a reused port), and fail at once.
            ("grpc.use_local_subchannel_pool", 1),
        ],
    )
