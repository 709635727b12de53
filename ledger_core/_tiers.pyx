# cython: language_level=3
"""The tier kernel: new tier per member in one nogil pass (semantics in ledger_core/tiers.py)."""

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
) noexcept nogil:
    cdef int64_t member, tier, earned, floor_tier, points
    cdef int64_t changed_count = 0
    for member in range(member_count):
        points = qualifying_points[member]
        # Thresholds do not decrease: the earned tier is how many of tiers 1.. the points reach.
        earned = 0
        for tier in range(1, tier_count):
            earned += points >= thresholds_points[tier]
        tier = current_tiers[member]
        floor_tier = tier - tiers_down_max if is_requalification else tier
        if earned < floor_tier:
            earned = floor_tier
        new_tiers[member] = <int8_t>earned
        # Written always, kept only when the tier changed: no branch to mispredict.
        changed_member_indexes[changed_count] = member
        changed_count += earned != tier
    return changed_count


def evaluate_tier_columns(
    *,
    const int64_t[::1] qualifying_points,
    const int8_t[::1] current_tiers,
    const int64_t[::1] thresholds_points,
    bint is_requalification,
    int64_t tiers_down_max,
    int8_t[::1] new_tiers,
    int64_t[::1] changed_member_indexes,
):
    """Returns how many members changed; the caller has checked lengths and ranges."""
    cdef int64_t member_count = qualifying_points.shape[0]
    cdef int64_t changed_count = 0
    if member_count == 0:
        return 0
    with nogil:
        changed_count = evaluate_range(
            &qualifying_points[0], &current_tiers[0], member_count, &thresholds_points[0],
            thresholds_points.shape[0], is_requalification, tiers_down_max, &new_tiers[0],
            &changed_member_indexes[0],
        )
    return changed_count
