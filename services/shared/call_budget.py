"""How much longer the current gRPC call may run, for the database work done on its behalf.

The interceptor sets the call's deadline (on the event loop's clock) around each unary call; a
handler's transaction reads it to bound its statements server-side (database.bound_to_call), so
a statement never outlives its call even when the cancellation sent at the deadline does not
reach PostgreSQL (the process died, the network broke).
"""

import asyncio
import contextvars

# The loop time at which the current call's deadline passes; None outside a bounded call.
deadline_var: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "call_deadline", default=None
)


def remaining_s() -> float | None:
    """Seconds left before the current call's deadline (at least 0), or None without one."""
    deadline = deadline_var.get()
    if deadline is None:
        return None
    return max(0.0, deadline - asyncio.get_running_loop().time())
