from libc.stdint cimport int8_t, int64_t

cdef int64_t evaluate_range(
    const int64_t* qualifying_points,
    const int8_t* current_tiers,
    int64_t member_count,
    const int64_t* thresholds_points,
    int64_t tier_count,
    bint is_requalification,
    int64_t tiers_down_max,
    int8_t* new_tiers,
    int64_t* changed_member_indexes,
) noexcept nogil
