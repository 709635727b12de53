"""The ledger's tests share one way to start it: in-process on the test's database, jobs off
(tests run them by hand), with the program "acme", checked clean (verify) at the end."""

import pytest

from services.ledger.app import SPEC, LedgerConfig
from tests.services.ledger.support import Ledger


@pytest.fixture
async def ledger(start_service):  # type: ignore[no-untyped-def]
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        client = Ledger(channel)
        await client.setup()
        yield client
        await client.assert_clean()


@pytest.fixture
async def service(start_service):  # type: ignore[no-untyped-def]
    """The running ledger beside its client, for tests that read what it published (its relay)
    or run its jobs by hand; no return window, so what is earned is available at once."""
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (running, channel):
        client = Ledger(channel)
        await client.setup(return_window_days=0)
        yield running, client
        await client.assert_clean()
