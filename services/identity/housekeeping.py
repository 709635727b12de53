"""Identity's background work: finishing merges whose ledger transfer is still pending, and
forgetting API key secrets kept for retries once the retry window has passed."""

import asyncio
import contextlib
import logging
from typing import Protocol

logger = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL_S = 30.0


class Housekeeper(Protocol):
    async def housekeeping(self) -> None: ...


class Housekeeping:
    def __init__(
        self, servicer: Housekeeper, *, interval_s: float = HOUSEKEEPING_INTERVAL_S
    ) -> None:
        self.servicer = servicer
        self.interval_s = interval_s

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.servicer.housekeeping()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)
