from libc.stdint cimport int64_t

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
) noexcept nogil
