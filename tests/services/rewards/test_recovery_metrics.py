"""The recovery worker's runs as the alert on failing jobs sees them: scraped from the process's
metrics port, the failed series is there at zero before the first failure, and a run counts once
however many redemptions failed in it."""

import asyncio
import time
import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families

from deploy.local.servers import free_port
from services.rewards import redemption_store as store
from services.rewards.app import SPEC as REWARDS_SPEC
from services.rewards.app import RewardsConfig
from services.rewards.redemptions import PENDING_STATUS
from tests.services.rewards.conftest import PROGRAM


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample the process's /metrics serves, by name and sorted labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def runs(samples: dict, outcome: str) -> float | None:
    labels = (
        ("outcome", outcome),
        ("scheduled_job", "redemption_recovery"),
        ("service", "rewards"),
    )
    return samples.get(("loyalty_scheduled_job_runs_total", labels))


def recovered(samples: dict, outcome: str) -> float | None:
    return samples.get(("loyalty_rewards_recovered_redemptions_total", (("outcome", outcome),)))


async def test_a_failed_recovery_run_counts_once_on_a_series_exported_at_zero(
    start_service,
) -> None:
    async with start_service(
        REWARDS_SPEC,
        RewardsConfig,
        # Nothing listens there: every call to the ledger fails, so recovery cannot void.
        ledger_address=f"127.0.0.1:{free_port()}",
        campaign_address=f"127.0.0.1:{free_port()}",
        dependency_deadline_ms=200,
        # The redemptions of a failed run are tried again only after this: one failed run.
        redemption_lease_ms=30_000,
        recovery_interval_ms=100,
    ) as (service, _):
        port = service.metrics_port
        before = await asyncio.to_thread(scrape, port)
        # Before anything failed, the alert's series is there at 0 (increase() needs that sample).
        assert runs(before, "failed") == 0 and recovered(before, "failed") == 0

        # Two redemptions abandoned before their hold was known, visible to the same run.
        async with service.pool.acquire() as connection, connection.transaction():
            for index in range(2):
                await store.insert(
                    connection,
                    program_id=PROGRAM,
                    member_id=f"m{index}",
                    redemption_id=uuid.uuid4().hex,
                    key=f"abandoned-{index}",
                    request_hash=b"h",
                    reward_definition=b"",
                    reward_id="r1",
                    quantity=1,
                    points=500,
                    channel=0,
                    store_id="",
                    status=PENDING_STATUS,
                    lease_owner=uuid.uuid4(),
                    lease_s=-1,
                )

        deadline = time.monotonic() + 15
        while not runs(after := await asyncio.to_thread(scrape, port), "failed"):
            assert time.monotonic() < deadline, "no failed recovery run"
            await asyncio.sleep(0.05)
        # One run, counted once as failed; each of its redemptions in the per-redemption count.
        assert runs(after, "failed") == 1
        assert recovered(after, "failed") == 2 and recovered(after, "ended") == 0
        # Runs with nothing to recover count as ok.
        assert (runs(after, "ok") or 0) >= 1
