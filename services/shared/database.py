"""The asyncpg pool of a service, bound to the service's own schema."""

import asyncio
import logging
import math
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from services.shared import call_budget

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Errors after which the same transaction may succeed when run again from the start.
RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected
TRANSACTION_ATTEMPTS_MAX = 5
# Errors that say the database went away (a restart, a crash, a failover, the network), not that
# the work is wrong: nothing committed, or the outcome is unknown, and the same work with the same
# idempotency key may be run again once the database is back.
_CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,  # 08xxx, e.g. the connection closed in mid-operation
    asyncpg.CannotConnectNowError,  # 57P03: starting up, shutting down, in recovery
    asyncpg.AdminShutdownError,  # 57P01: terminated by a shutdown
    asyncpg.CrashShutdownError,  # 57P02: terminated because another server process crashed
    asyncpg.TooManyConnectionsError,
    ConnectionError,
    OSError,
)


def connection_lost(error: BaseException) -> bool:
    """Whether `error` means the database is out of reach rather than the request is at fault."""
    if isinstance(error, _CONNECTION_LOST):
        return True
    # asyncpg raises a bare InterfaceError when a connection that was closed under it (or a pool
    # that is closing) is used, e.g. "cannot call Transaction.__aexit__(): the underlying
    # connection is closed".
    message = str(error)
    return isinstance(error, asyncpg.InterfaceError) and (
        "is closed" in message or "is closing" in message
    )


# Every text key here is an identifier (program, member, item key, reference) whose order means
# nothing to people: compared byte by byte under C, and through the locale's strcoll under any
# other collation at every step of every index descent. A COPY into a postings-like table with two
# text-keyed indexes cost 7 to 12 % more a row in a C.UTF-8 database than with those columns in C.
BYTEWISE_COLLATIONS = frozenset({"C", "POSIX"})


async def check_collation(connection: asyncpg.Connection) -> str:
    """The database's collation; a warning, naming the fix, when it is not byte order."""
    collation: str = await connection.fetchval(
        "SELECT datcollate FROM pg_database WHERE datname = current_database()"
    )
    if collation not in BYTEWISE_COLLATIONS:
        logger.warning(
            "the database's collation is %s, not C: each comparison of a text key in an index "
            "goes through the locale; create the database with LOCALE 'C' TEMPLATE template0 "
            "(deploy/README.md)",
            collation,
        )
    return collation


# The longest a statement may run unless its call allows longer (bound_to_call): PostgreSQL
# cancels it past this, a job's and a consumer's as well as a call's.
STATEMENT_TIMEOUT_MS = 30_000
# The client's own wait on top of the longest statement: it only notices a server that no longer
# answers at all; statement_timeout is what bounds statements.
COMMAND_TIMEOUT_MARGIN_S = 5.0


async def create_pool(
    dsn: str,
    *,
    schema: str,
    size_min: int = 2,
    size_max: int = 10,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    longest_statement_ms: int | None = None,
) -> asyncpg.Pool:
    """A pool whose statements PostgreSQL stops after `statement_timeout_ms`; those of a call
    given longer (bound_to_call) may run `longest_statement_ms`, so the client waits that long."""
    longest_ms = max(statement_timeout_ms, longest_statement_ms or 0)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=size_min,
        max_size=size_max,
        command_timeout=longest_ms / 1000 + COMMAND_TIMEOUT_MARGIN_S,
        server_settings={
            "search_path": schema,
            "application_name": f"loyalty-{schema}",
            # Enforced by the server: a statement stops even when its client is gone.
            "statement_timeout": str(statement_timeout_ms),
            # A prepared statement switches to a generic plan after five runs, and keeps it until
            # its tables are analyzed again. Planned while a program's tables were still small
            # (a new program, an import), that plan finds a group's accounts by scanning all the
            # program's rows: a unary Earn cost the database 0.85 ms instead of 0.42 ms within
            # seconds of a fresh start, and more as the tables grew. Planning every run costs
            # tens of microseconds a statement.
            "plan_cache_mode": "force_custom_plan",
        },
    )
    assert pool is not None
    return pool


async def bound_to_call(connection: asyncpg.Connection) -> None:
    """At the start of a transaction: its statements may run as long as the gRPC call it serves
    has left (longer than the pool's statement_timeout for a call with a long deadline of its
    own, shorter when the caller's deadline is near), and PostgreSQL stops them past it even if
    the cancellation sent at the deadline never arrives. Outside a call, nothing changes."""
    remaining_s = call_budget.remaining_s()
    if remaining_s is None:
        return
    # 0 would mean no timeout at all; SET LOCAL ends with the transaction.
    timeout_ms = max(1, math.ceil(remaining_s * 1000))
    await connection.execute(f"SET LOCAL statement_timeout = {timeout_ms}")


async def in_transaction(
    pool: asyncpg.Pool,
    work: Callable[[asyncpg.Connection], Awaitable[T]],
    *,
    isolation: str = "read_committed",
) -> T:
    """Run `work` in one transaction, again from the start on a serialization failure/deadlock."""
    for attempt in range(1, TRANSACTION_ATTEMPTS_MAX + 1):
        try:
            async with pool.acquire() as connection, connection.transaction(isolation=isolation):
                return await work(connection)
        except asyncpg.PostgresError as error:
            if error.sqlstate not in RETRYABLE_SQLSTATES or attempt == TRANSACTION_ATTEMPTS_MAX:
                raise
            await asyncio.sleep(0.005 * 2**attempt)
    raise AssertionError("unreachable")


_PARAMETER = re.compile(r"\$(\d+)")


class Writes:
    """Data-modifying statements sent together as one statement, each a CTE of it: one round trip
    for all. They run on one snapshot and none sees another's rows, so each must write rows that
    no other one touches (as when each table is written once)."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._selects: list[str] = []
        self._args: list[object] = []

    def _numbered(self, sql: str, args: tuple[object, ...]) -> str:
        offset = len(self._args)
        self._args.extend(args)
        return _PARAMETER.sub(lambda match: f"${int(match[1]) + offset}", sql)

    def add(self, sql: str, *args: object) -> None:
        """An INSERT, UPDATE or DELETE, with its own $1, $2... parameters."""
        self._parts.append(self._numbered(sql, args))

    def select(self, expression: str, *args: object) -> None:
        """An expression to evaluate once the writes are done (such as pg_notify)."""
        self._selects.append(self._numbered(expression, args))

    async def run(self, connection: asyncpg.Connection) -> None:
        if not self._parts and not self._selects:
            return
        ctes = ", ".join(f"w{index} AS ({part})" for index, part in enumerate(self._parts))
        await connection.execute(
            f"{'WITH ' + ctes if ctes else ''} SELECT {', '.join(self._selects) or '1'}",
            *self._args,
        )
        self._parts, self._selects, self._args = [], [], []


async def write(target: "asyncpg.Connection | Writes", sql: str, *args: object) -> None:
    """Run a data-modifying statement now, or add it to `Writes` to run with others."""
    if isinstance(target, Writes):
        target.add(sql, *args)
    else:
        await target.execute(sql, *args)
