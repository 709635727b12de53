"""The job that forgets member-cap history older than the retention, so `cap_history` does not
grow for ever (one row per member, capped rule and period a member earned in after a later one).

A purchase that arrives later than the retention (`CAMPAIGN_CAP_HISTORY_RETENTION_DAYS`) finds no
history for its day, week or month and is capped as if they had used nothing. (Periods counters
left before migration 013 get their history from cap_history_backfill.py.) The counters (`cap_counters`, one row per member and rule) are
not touched: they hold the latest period only.
"""

import datetime as dt
import logging
from dataclasses import dataclass

import asyncpg
from prometheus_client import Counter

from services.campaign import member_caps
from services.campaign import repository_purchases as store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CapHistoryPruning:
    pool: asyncpg.Pool
    retention_days: int
    pruned_rows: Counter

    async def run_once(self, now: dt.datetime) -> int:
        """Delete the history of periods wholly before `now` less the retention; returns the rows
        deleted. Safe with several replicas: a row two of them delete goes once."""
        first_keys = member_caps.history_horizon(int(now.timestamp()), self.retention_days)
        deleted = await store.prune_cap_history(self.pool, first_keys)
        self.pruned_rows.inc(deleted)
        if deleted:
            logger.info(
                "pruned %d cap history rows before day, week and month keys %s", deleted, first_keys
            )
        return deleted
