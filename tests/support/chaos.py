"""A load client that behaves as a real one does when servers die under it.

Every request carries an idempotency key. On UNAVAILABLE, DEADLINE_EXCEEDED or a lost connection
the client sends the *same* request with the *same* key again, with a growing delay, until it gets
a definite answer; it records each request with its key and final outcome, so a test can account
for every accepted request afterwards.
"""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import nats.errors
import nats.js.errors
from google.protobuf.message import Message
from nats.js import JetStreamContext

from services.shared.interceptors import ERROR_REASON_HEADER

# What says "try again, the outcome is unknown": anything else is a definite answer.
RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
# The same over HTTP: the gateway's 503 (UNAVAILABLE) and 504 (deadline), and a rate limit's 429.
RETRYABLE_HTTP_STATUSES = frozenset({429, 503, 504})
ATTEMPT_TIMEOUT_S = 5.0
BACKOFF_FIRST_S = 0.05
BACKOFF_MAX_S = 1.0
# A request with no definite answer after this long is recorded as such (and fails the test).
DEFINITE_ANSWER_WITHIN_S = 90.0
# Reconnect quickly to a restarted server instead of gRPC's default backoff of up to two minutes.
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
)


@dataclass
class Outcome:
    """One logical request: its kind, key and member, and how it ended."""

    kind: str
    key: str
    member_id: str
    code: grpc.StatusCode | None = None
    reason: str = ""
    response: Message | None = None
    # The JSON answer of an HTTP request.
    document: dict[str, Any] | None = None
    attempts: int = 0
    retried_codes: list[str] = field(default_factory=list)
    # From the first attempt to the definite answer.
    elapsed_s: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.code == grpc.StatusCode.OK

    @property
    def definite(self) -> bool:
        return self.code is not None and self.code not in RETRYABLE_CODES


def channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address, options=list(CHANNEL_OPTIONS))


class Backoff:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.delay_s = BACKOFF_FIRST_S

    async def sleep(self) -> None:
        await asyncio.sleep(self.delay_s * (0.5 + self.rng.random()))
        self.delay_s = min(self.delay_s * 2, BACKOFF_MAX_S)


async def until_definite(
    outcome: Outcome,
    send: Callable[[float], Awaitable[Message]],
    rng: random.Random,
) -> Outcome:
    """Send (the same request, with its key) until the answer is definite; fill in `outcome`."""
    backoff = Backoff(rng)
    started_at = time.monotonic()
    give_up_at = started_at + DEFINITE_ANSWER_WITHIN_S
    while True:
        outcome.attempts += 1
        outcome.elapsed_s = time.monotonic() - started_at
        try:
            outcome.response = await send(ATTEMPT_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            outcome.code = error.code()
            outcome.reason = _reason(error)
            outcome.elapsed_s = time.monotonic() - started_at
            if outcome.code not in RETRYABLE_CODES:
                return outcome
            outcome.retried_codes.append(outcome.code.name)
            if time.monotonic() > give_up_at:
                return outcome
            await backoff.sleep()
            continue
        outcome.code = grpc.StatusCode.OK
        outcome.reason = ""
        outcome.elapsed_s = time.monotonic() - started_at
        return outcome


async def publish_until_acked(
    outcome: Outcome,
    jetstream: JetStreamContext,
    subject: str,
    payload: bytes,
    rng: random.Random,
) -> Outcome:
    """Publish with the event id as Nats-Msg-Id until the stream acknowledges it."""
    backoff = Backoff(rng)
    give_up_at = time.monotonic() + DEFINITE_ANSWER_WITHIN_S
    while True:
        outcome.attempts += 1
        try:
            await jetstream.publish(
                subject, payload, timeout=ATTEMPT_TIMEOUT_S, headers={"Nats-Msg-Id": outcome.key}
            )
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as error:
            outcome.retried_codes.append(type(error).__name__)
            if time.monotonic() > give_up_at:
                outcome.code = grpc.StatusCode.UNAVAILABLE
                return outcome
            await backoff.sleep()
            continue
        outcome.code = grpc.StatusCode.OK
        return outcome


async def post_until_definite(
    outcome: Outcome,
    client: httpx.AsyncClient,
    path: str,
    body: dict[str, Any],
    rng: random.Random,
) -> Outcome:
    """POST (the same body, with the same Idempotency-Key) until the answer is definite; a 2xx is
    accepted (code OK), any other definite status is recorded as `HTTP <status>` in the reason."""
    backoff = Backoff(rng)
    started_at = time.monotonic()
    give_up_at = started_at + DEFINITE_ANSWER_WITHIN_S
    while True:
        outcome.attempts += 1
        try:
            response = await client.post(
                path,
                json=body,
                headers={"Idempotency-Key": outcome.key},
                timeout=ATTEMPT_TIMEOUT_S,
            )
        except httpx.TransportError as error:
            outcome.retried_codes.append(type(error).__name__)
        else:
            if response.status_code not in RETRYABLE_HTTP_STATUSES:
                outcome.elapsed_s = time.monotonic() - started_at
                outcome.document = response.json()
                if response.is_success:
                    outcome.code, outcome.reason = grpc.StatusCode.OK, ""
                else:
                    outcome.code = grpc.StatusCode.UNKNOWN
                    outcome.reason = f"HTTP {response.status_code} {response.text[:200]}"
                return outcome
            outcome.retried_codes.append(f"HTTP {response.status_code}")
        if time.monotonic() > give_up_at:
            outcome.code = grpc.StatusCode.UNAVAILABLE
            return outcome
        await backoff.sleep()


def _reason(error: grpc.aio.AioRpcError) -> str:
    for key, value in error.trailing_metadata() or ():
        if key == ERROR_REASON_HEADER and isinstance(value, str):
            return value
    return ""
