"""Per-credential rate limits: a sliding-window counter per key in this process's memory.

The `limits` library keeps the counters. A gateway replica limits on its own, so N replicas
allow up to N times a key's limit; put a shared storage (the library supports Redis) behind it
when that matters.
"""

import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from gateway.errors import ApiError


class RateLimiter:
    def __init__(self) -> None:
        self._strategy = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._items: dict[int, RateLimitItem] = {}

    async def hit(self, key: str, *, per_minute: int) -> None:
        """Count one request of `key`; over its limit, 429 with Retry-After."""
        item = self._items.get(per_minute)
        if item is None:
            item = self._items.setdefault(per_minute, RateLimitItemPerMinute(per_minute))
        if await self._strategy.hit(item, key):
            return
        stats = await self._strategy.get_window_stats(item, key)
        retry_after_s = max(1, math.ceil(stats.reset_time - time.time()))
        raise ApiError(
            429,
            "RATE_LIMITED",
            f"more than {per_minute} requests per minute; retry after {retry_after_s}s",
            headers={"Retry-After": str(retry_after_s)},
        )
