# cython: language_level=3
"""The FIFO kernel: burn requests consume lots, earliest expiry first, in one nogil pass.

Semantics in ledger_core/fifo.py. Each account keeps a cursor at its first lot that may still
give points, so many requests on one account cost no more than one walk over its lots.
"""

from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc

cdef extern from *:
    """
    #ifndef LEDGER_CORE_DEBUG
    #define LEDGER_CORE_DEBUG 0
    #endif
    #include <stdio.h>
    #include <stdlib.h>
    /* Not assert(): Python builds extensions with NDEBUG, which would turn it off. */
    #define LC_CHECK(condition) do { if (!(condition)) { fprintf(stderr, "ledger_core: invariant broken at %s:%d", __FILE__, __LINE__); abort(); } } while (0)
    """
    bint LEDGER_CORE_DEBUG
    void check_invariant "LC_CHECK"(bint condition) noexcept nogil


cdef void allocate_range(
    const int64_t* account_offsets,
    int64_t account_count,
    const int64_t* remaining_points,
    const int64_t* vests_at_seconds,
    const int64_t* expires_at_seconds,
    const int64_t* account_indexes,
    const int64_t* points,
    int64_t request_count,
    int64_t as_of_seconds,
    int64_t* cursors,
    int64_t* consumed_points,
    int64_t* shortfall_points,
) noexcept nogil:
    cdef int64_t account, request, wanted, lot, end, available, taken
    for account in range(account_count):
        cursors[account] = account_offsets[account]
    for request in range(request_count):
        account = account_indexes[request]
        wanted = points[request]
        lot = cursors[account]
        end = account_offsets[account + 1]
        while wanted > 0 and lot < end:
            if vests_at_seconds[lot] <= as_of_seconds < expires_at_seconds[lot]:
                available = remaining_points[lot] - consumed_points[lot]
                taken = wanted if wanted < available else available
                consumed_points[lot] += taken
                wanted -= taken
                if consumed_points[lot] < remaining_points[lot]:
                    break
            lot += 1
        cursors[account] = lot
        shortfall_points[request] = wanted
        if LEDGER_CORE_DEBUG:
            check_invariant(0 <= wanted <= points[request])


def allocate_columns(
    *,
    const int64_t[::1] account_offsets,
    const int64_t[::1] remaining_points,
    const int64_t[::1] vests_at_seconds,
    const int64_t[::1] expires_at_seconds,
    const int64_t[::1] account_indexes,
    const int64_t[::1] points,
    int64_t as_of_seconds,
    int64_t[::1] consumed_points,
    int64_t[::1] shortfall_points,
):
    """Fills consumed_points (zeros on entry) and shortfall_points; inputs checked by the caller."""
    cdef int64_t account_count = account_offsets.shape[0] - 1
    cdef int64_t request_count = account_indexes.shape[0]
    cdef int64_t* cursors
    if request_count == 0:
        return
    cursors = <int64_t*>malloc(sizeof(int64_t) * (account_count if account_count > 0 else 1))
    if cursors == NULL:
        raise MemoryError()
    try:
        with nogil:
            allocate_range(
                &account_offsets[0], account_count,
                &remaining_points[0] if remaining_points.shape[0] > 0 else NULL,
                &vests_at_seconds[0] if vests_at_seconds.shape[0] > 0 else NULL,
                &expires_at_seconds[0] if expires_at_seconds.shape[0] > 0 else NULL,
                &account_indexes[0], &points[0], request_count, as_of_seconds, cursors,
                &consumed_points[0] if consumed_points.shape[0] > 0 else NULL,
                &shortfall_points[0],
            )
    finally:
        free(cursors)
