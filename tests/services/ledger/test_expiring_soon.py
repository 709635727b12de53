"""The balance's "expiring in 30 days" counts 30 local days in the program's time zone: up to the
same local time 30 calendar days on, across a change of the clocks too (Europe/Amsterdam, which
moves to summer time on 28 March 2027 and back on 31 October 2027).

The balance is read through a servicer whose clock the test sets, on the service's database."""

import datetime as dt
from zoneinfo import ZoneInfo

from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from services.ledger.jobs import Jobs
from services.ledger.ledger import Ledger as LedgerBook
from services.ledger.servicer import LedgerServicer
from tests.services.ledger.support import Ledger, ts

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def amsterdam(*fields: int) -> dt.datetime:
    return dt.datetime(*fields, tzinfo=AMSTERDAM).astimezone(dt.UTC)


def clocked_servicer(running, now: dt.datetime) -> LedgerServicer:
    runtime = running.runtime
    jobs = Jobs(
        runtime.pool,
        LedgerBook(runtime.outbox),
        runtime.outbox,
        runtime.metrics,
        clock=lambda: now,
        interval_s=1,
    )
    return LedgerServicer(runtime.pool, runtime.outbox, jobs, clock=lambda: now)


async def expiring_at(running, ledger: Ledger, member: str, now: dt.datetime) -> int:
    servicer = clocked_servicer(running, now)
    request = ledger_pb2.GetBalanceRequest(program_id=ledger.program_id, member_id=member)
    response = await servicer.GetBalance(request, None)  # type: ignore[arg-type]
    return response.balance.expiring_30_days_points


async def test_expiring_in_30_days_ends_at_the_same_local_time_across_a_change_of_the_clocks(
    start_service,
) -> None:
    """At 12:00 on 10 March, "expiring in 30 days" runs to 12:00 on 9 April, summer time: a lot
    expiring at 12:30 that day is not in it. 30 x 24 hours ran to 13:00 and counted it. At 12:00
    on 10 October it runs to 12:00 on 9 November, winter time; 30 x 24 hours ended at 11:00 and
    left out a lot expiring at 11:30."""
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (running, channel):
        ledger = Ledger(channel)
        await ledger.setup()
        lots = {
            "spring": [(amsterdam(2027, 4, 9, 11, 30), 1), (amsterdam(2027, 4, 9, 12, 30), 10)],
            "autumn": [
                (amsterdam(2027, 11, 9, 11, 30), 100),
                (amsterdam(2027, 11, 9, 12, 30), 1000),
            ],
            # 30 days after 02:30 on 26 February is 02:30 on 28 March, which the clocks skip:
            # read with winter time's offset (03:30 summer time), as the return window reads it.
            "gap": [(amsterdam(2027, 3, 28, 3, 15), 7), (amsterdam(2027, 3, 28, 3, 45), 70)],
        }
        for member, expiries in lots.items():
            for expires, points in expiries:
                await ledger.earn(member, points, expires_at=ts(expires))
        assert await expiring_at(running, ledger, "spring", amsterdam(2027, 3, 10, 12, 0)) == 1
        assert await expiring_at(running, ledger, "autumn", amsterdam(2027, 10, 10, 12, 0)) == 100
        assert await expiring_at(running, ledger, "gap", amsterdam(2027, 2, 26, 2, 30)) == 7
        # Within one offset, 30 local days are 30 x 24 hours, as before.
        assert await expiring_at(running, ledger, "spring", amsterdam(2027, 3, 10, 10, 30)) == 0
        assert await expiring_at(running, ledger, "spring", amsterdam(2027, 3, 10, 11, 31)) == 1
        await ledger.assert_clean()
