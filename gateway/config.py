"""The gateway's typed configuration, read from `GATEWAY_*` environment variables at start."""

from dataclasses import dataclass

from services.shared.config import require, require_event_loop

RATE_LIMIT_PER_MINUTE_MAX = 1_000_000
DEADLINE_MAX_MS = 120_000


@dataclass(frozen=True, kw_only=True)
class GatewayConfig:
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9105
    identity_address: str = "127.0.0.1:50051"
    ledger_address: str = "127.0.0.1:50052"
    campaign_address: str = "127.0.0.1:50053"
    rewards_address: str = "127.0.0.1:50054"
    # The longest a call to a service may take; past it the client gets 504.
    upstream_deadline_ms: int = 10_000
    # Requests per minute of an API key whose own limit (requests_per_minute_max) is 0.
    api_key_requests_per_minute_default: int = 600
    # Requests per minute of one member's token.
    member_requests_per_minute_max: int = 120
    # Requests per minute of one client address before it has authenticated (demo login,
    # rejected credentials), against guessing.
    anonymous_requests_per_minute_max: int = 60
    # How long a verified API key or member token is trusted without asking identity again; a
    # revoked key keeps working at most this long.
    auth_cache_ttl_ms: int = 5_000
    auth_cache_entries_max: int = 10_000
    request_body_bytes_max: int = 1_048_576
    page_size_max: int = 200
    # Demo only: POST /v1/programs/{program_id}/demo-login issues a member token for an e-mail
    # without any password. Never enable it outside a demo.
    demo_login: bool = False
    log_level: str = "INFO"
    # "uvloop" or "asyncio", as the services' `<SERVICE>_EVENT_LOOP`.
    event_loop: str = "uvloop"
    # How long SIGTERM waits for requests in flight.
    shutdown_grace_ms: int = 10_000

    def validate(self, prefix: str) -> None:
        require_event_loop(self.event_loop, variable=f"{prefix}_EVENT_LOOP")
        for name in ("http_port", "metrics_port"):
            value = getattr(self, name)
            require(
                0 <= value <= 65_535,
                variable=f"{prefix}_{name.upper()}",
                message="must be a port number",
            )
        for name in (
            "api_key_requests_per_minute_default",
            "member_requests_per_minute_max",
            "anonymous_requests_per_minute_max",
        ):
            require(
                1 <= getattr(self, name) <= RATE_LIMIT_PER_MINUTE_MAX,
                variable=f"{prefix}_{name.upper()}",
                message=f"must be between 1 and {RATE_LIMIT_PER_MINUTE_MAX}",
            )
        require(
            1 <= self.upstream_deadline_ms <= DEADLINE_MAX_MS,
            variable=f"{prefix}_UPSTREAM_DEADLINE_MS",
            message=f"must be between 1 and {DEADLINE_MAX_MS}",
        )
        require(
            0 <= self.auth_cache_ttl_ms <= 300_000,
            variable=f"{prefix}_AUTH_CACHE_TTL_MS",
            message="must be between 0 and 300000",
        )
        require(
            1 <= self.auth_cache_entries_max <= 10_000_000,
            variable=f"{prefix}_AUTH_CACHE_ENTRIES_MAX",
            message="must be between 1 and 10000000",
        )
        require(
            1_024 <= self.request_body_bytes_max <= 64 * 1_048_576,
            variable=f"{prefix}_REQUEST_BODY_BYTES_MAX",
            message="must be between 1024 and 67108864",
        )
        require(
            1 <= self.page_size_max <= 1_000,
            variable=f"{prefix}_PAGE_SIZE_MAX",
            message="must be between 1 and 1000",
        )
