# cython: language_level=3
"""The accrual kernel: points for a whole columnar batch in one nogil loop, integers only.

The semantics (stacking order, caps, returns) are documented in ledger_core/rules.py and written
out plainly in ledger_core/reference.py; this file must compute exactly the same.

The kernel stops early, without touching the transaction it stopped at, when the attribution
buffers might not hold one more transaction or a timestamp falls outside the offset table (the
caller grows them, or widens the table, and resumes at that index), when a transaction is invalid
and when points overflow int64 (the caller discards everything).

Where the time goes, and what keeps it low: members come in random order, so their tier and cap
counters are prefetched a few transactions ahead, and the counters of a capped period are
compacted to 4 bytes a member while the kernel runs (see PeriodCounters in _accrual.pxd), with
the member's tier in their low byte, so that a transaction reads one place of member state; the
local day (and what depends on it: week, month, the day's window mask) is recomputed only when a
timestamp leaves the day seen last, the minute of the day only for rule sets with hours windows;
a rule set matches as one uint64 per dimension; a column no rule looks at is not read.

Steps 2 to 5 go through a plan per matched mask (Plan in _accrual.pxd), built the first time a
batch meets the mask and found again through a small hash table: the rate with its rounding as a
bias and a tie fix, the multipliers as slots that every transaction computes alike (as many as
the widest plan met so far, empty ones adding 0, unrolled per width), so that the mix of tiers,
categories and windows leaves no branch to mispredict, and, when every rule earns (the usual
case), the entries written in one go. A mask no plan can take (more than 8 multipliers, a rate
or bonuses that could overflow, a full table) and an amount too large for its plan go rule by
rule, with every overflow check (contributions_by_rule). With one capped period, the member cap
has a short path. Entries carry the amount's sign as they are written.

The vector path (ledger_core/_accrual_vector.h, AVX-512 or else AVX2, chosen at run time:
use_vector_path, use_vector_instructions, vector_path_available) takes 16 transactions at a time
where the rule set allows it (no SKU conditions, at most one capped member period, a batch of 16
transactions or more): match, plan,
base and extras with the same exact rounding, both caps and the trimmed entries, computed for all
16 lanes as two interleaved registers, then written by lc_vector_write (the entries of two lanes
at a time compressed into one run); a lane off the common path (a plan not found at the first
probe, a plan with bonuses or rule caps, a member met earlier in the group while a member cap
applies, a new day, an amount of 2**31 or more, a bad input) goes through accrue_transaction,
the scalar loop's body, in order between the others. On the benchmark 99% of transactions take
the vector path, and the kernel went from about 36 to 18 to 21 ns a transaction (CPU time,
reused buffers; the scalar loop is unchanged and stays the path without AVX-512).

Where its time goes now (1M members, CPU time, builds that leave one part out): lc_vector_write
about 9 of some 22 ns a transaction (writing the entries' runs ~4.5), the member state gather
about 1 (it is prefetched 48 transactions ahead, without which the kernel is 30% slower, and kept
in huge pages; perf piles samples up after it, but they skid), the rest the other gathers (plan
table, plan fields: a gather of 8 lanes costs about 4.5 ns here) and the arithmetic. With fresh
output buffers the first touch of their ~330 MB adds 20 to 100 ms of page zeroing a call,
depending on how readily the system gives huge pages.

The scalar loop runs at about 280 instructions a transaction on the benchmark (callgrind), at
over 3 instructions a cycle: it is bound by instructions more than by memory (members all in
cache make it about 20% faster, not more).

Measured and not kept (10M transactions, 1M members, the benchmark's rule set): multiplier slots
taken from the mask's bits without plans, multipliers two at a time with a sentinel rule, loops
specialised on the dimensions a rule set uses, other prefetch distances (8, 32), two passes per
chunk of 512 transactions (match and plan, then points: 12% more instructions, slower), tables of
each multiplier's points by base (a load instead of a dozen instructions, but 16 KiB a rule
fighting the members' counters for the caches: slower): all slower or no faster than what is
here. For the vector path (CPU time a transaction, reused buffers; the machine is shared, so
A/B runs alternate builds and compare minimums): the first cut, groups of 8 in one register with
every lane's entries written from Cython (trim_entries for caps), ran at about 24 ns, against 18
to 21 for what is here; the plan's fields by loading each lane's row and transposing, instead of
3 gathers (19.2 to 22.4 ns against 21.4 to 22.6: no faster); member state prefetched with the
intent to write (about 2 ns slower than for reading); prefetch distances of 96, 128 and 160
transactions, and a software prefetch of the input columns 512 transactions ahead (no
difference beyond the noise); numpy's huge pages turned off for the outputs (78,000 page faults
a call instead of 2,000, and more system time). lc_vector_group and lc_vector_write fused into
one function (26.5 ns against 21.5 to 24.5: slower, more spills); the Cython-only fields of a
group stored only when some lane needs them (no faster); the member state written back with
plain stores instead of a scatter, and the counts loaded without a mask (no difference beyond the
noise). Entries' runs written to an L1-resident scratch area instead of the outputs cost ~1.5 ns
less, which bounds what non-temporal stores could save there.

The AVX2 path (ledger_core/_accrual_vector_avx2.h, for processors without AVX-512) computes the
same groups as four registers of 4 lanes. On a 2-core AMD EPYC (Zen 3; CPU time a transaction,
reused buffers, alternating with the scalar loop in one process) it runs at 31 to 34 ns against
the scalar loop's 43 to 45: some 150 instructions a transaction in lc_vector_group_avx2 (callgrind;
each 64-bit multiply, conversion, min and max is two to five instructions) and about 30 writing.
Measured and not kept: two passes of two registers instead of four interleaved (fewer spills, but
38.6 against 33.9 ns: the shorter chains hide the gathers' latency less); each lane's row of
entries built from four scalar loads instead of a 4 x 4 transposition a quarter (35.7 against
33.9 ns).
"""

from libc.stdint cimport INT64_MAX, int8_t, int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc

cdef extern from *:
    """
    #ifndef LEDGER_CORE_DEBUG
    #define LEDGER_CORE_DEBUG 0
    #endif
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    /* Not assert(): Python builds extensions with NDEBUG, which would turn it off. */
    #define LC_CHECK(condition) do { if (!(condition)) { fprintf(stderr, "ledger_core: invariant broken at %s:%d", __FILE__, __LINE__); abort(); } } while (0)

    #define LC_SECONDS_PER_DAY 86400LL
    #define LC_BASIS_POINTS_ONE 10000LL
    #define LC_TIMESTAMP_SECONDS_MAX 4102444799LL
    /* Member state is fetched this many transactions ahead: members come in random order. */
    #define LC_PREFETCH_DISTANCE 16LL
    /* Batches shorter than this (from where a call starts) do not take the vector path. */
    #define LC_VECTOR_TRANSACTIONS_MIN 16LL
    /* Compact cap counters (PeriodCounters.compact_used): value * 256 + the member's tier, the
       value the points used, or where the state is; so the tier comes with the counter, in the
       same cache line, and a transaction reads one place of member state rather than two. */
    #define LC_COMPACT_IN_COUNTERS (-1)
    #define LC_COMPACT_OTHER_PERIOD (-2)
    #define LC_COMPACT_USED_MAX 8388607LL
    static inline int32_t lc_compact_value(int32_t compact) { return compact >> 8; }
    static inline int32_t lc_compact_tier(int32_t compact) { return compact & 255; }
    static inline int32_t lc_compact(int64_t value, int32_t tier) {
        return (int32_t)(value * 256 + tier);
    }

    static inline int lc_lowest_bit(uint64_t bits) { return __builtin_ctzll(bits); }
    static inline int lc_popcount(uint64_t bits) { return __builtin_popcountll(bits); }

    /* numerator / denominator rounded (0 floor, 1 half up, 2 half even); no branch on the mode,
       which changes from one transaction to the next. */
    static inline uint64_t lc_rounded_quotient(uint64_t numerator, uint64_t denominator,
                                               int64_t rounding) {
        uint64_t quotient = numerator / denominator;
        uint64_t remainder = numerator - quotient * denominator;
        uint64_t rest = denominator - remainder;
        uint64_t half_up = remainder >= rest;
        uint64_t half_even = (remainder > rest) | ((remainder == rest) & quotient & 1);
        return quotient + ((rounding == 1) & half_up) + ((rounding == 2) & half_even);
    }

    /* ceil(2**64 / d) for 1 < d < 2**32: then n / d is (n * reciprocal) >> 64 for every n
       below 2**32 (Lemire, Kaser, Kurz: "Faster remainder by direct computation", 2019), a
       multiplication instead of a division. 0 for d == 1. */
    static inline uint64_t lc_reciprocal(uint64_t d) {
        return d > 1 ? UINT64_MAX / d + 1 : 0;
    }

    /* As lc_rounded_quotient, through the reciprocal, for numerator < 2**32. */
    static inline uint64_t lc_rounded_quotient_small(uint64_t numerator, uint64_t denominator,
                                                     uint64_t reciprocal, int64_t rounding) {
        uint64_t quotient = denominator == 1 ? numerator
            : (uint64_t)(((unsigned __int128)reciprocal * numerator) >> 64);
        uint64_t remainder = numerator - quotient * denominator;
        uint64_t rest = denominator - remainder;
        uint64_t half_up = remainder >= rest;
        uint64_t half_even = (remainder > rest) | ((remainder == rest) & quotient & 1);
        return quotient + ((rounding == 1) & half_up) + ((rounding == 2) & half_even);
    }

    /* round(x * numerator / denominator) for x, numerator >= 0 and denominator > 0. The usual
       case fits in 64 bits; otherwise the product is exact in 128 bits. Returns 1 when the
       result does not fit in int64. `reciprocal` is lc_reciprocal(denominator), or 0 to divide
       (the compiler turns a constant divisor into a multiplication itself). */
    static inline int lc_scale_rounded(int64_t x, int64_t numerator, int64_t denominator,
                                       uint64_t reciprocal, int64_t rounding, int64_t *result) {
        if (__builtin_expect((uint64_t)x <= 0xFFFFFFFFu && (uint64_t)numerator <= 0x7FFFFFFFu, 1)) {
            uint64_t product = (uint64_t)x * (uint64_t)numerator;
            if (reciprocal != 0 && product <= 0xFFFFFFFFu) {
                *result = (int64_t)lc_rounded_quotient_small(product, (uint64_t)denominator,
                                                             reciprocal, rounding);
            } else {
                *result = (int64_t)lc_rounded_quotient(product, (uint64_t)denominator, rounding);
            }
            return 0;
        }
        unsigned __int128 product = (unsigned __int128)(uint64_t)x * (uint64_t)numerator;
        uint64_t d = (uint64_t)denominator;
        unsigned __int128 quotient = product / d;
        uint64_t remainder = (uint64_t)(product - quotient * d);
        uint64_t rest = d - remainder;
        if ((rounding == 1 && remainder >= rest)
                || (rounding == 2 && (remainder > rest || (remainder == rest && (quotient & 1)))))
            quotient += 1;
        if (quotient > (unsigned __int128)INT64_MAX) return 1;
        *result = (int64_t)quotient;
        return 0;
    }

    static inline int lc_add_overflows(int64_t a, int64_t b, int64_t *sum) {
        return __builtin_add_overflow(a, b, sum);
    }

    static inline void lc_prefetch(const void *address) { __builtin_prefetch(address, 1, 3); }

    /* Member state read in random order: in huge pages where the system gives them (fewer TLB
       misses over a million members), plain malloc below 2 MiB. */
    #include <sys/mman.h>
    #define LC_HUGE_PAGE_BYTES (2u << 20)
    static void *lc_member_state_alloc(size_t bytes) {
        void *block = NULL;
        if (bytes < LC_HUGE_PAGE_BYTES) return malloc(bytes);
        bytes = (bytes + LC_HUGE_PAGE_BYTES - 1) & ~(size_t)(LC_HUGE_PAGE_BYTES - 1);
        if (posix_memalign(&block, LC_HUGE_PAGE_BYTES, bytes) != 0) return NULL;
    #ifdef MADV_HUGEPAGE
        madvise(block, bytes, MADV_HUGEPAGE);
    #endif
        return block;
    }
    static void lc_member_state_free(void *block) { free(block); }

    /* The 8 bytes of `bytes` (lowest first) at `address`, which need not be aligned. */
    static inline void lc_store_bytes(uint8_t *address, uint64_t bytes) {
        uint8_t b[8];
        for (int i = 0; i < 8; i++) b[i] = (uint8_t)(bytes >> (8 * i));
        memcpy(address, b, 8);
    }

    /* Rounding as a bias and a fix, for the plans: round(n / d) is (n + bias) / d, bias 0 to
       floor and d / 2 to round half up, and for half even an exact tie (n + bias a multiple of
       d) that landed on an odd quotient goes back by one (odd_fix 1, else 0). */
    static inline uint64_t lc_rounding_bias(int64_t rounding, uint64_t d) {
        return rounding == 0 ? 0 : d / 2;
    }

    static inline uint64_t lc_rounding_odd_fix(int64_t rounding, uint64_t d) {
        return rounding == 2 && d % 2 == 0;
    }

    /* round(numerator / d) for numerator < 2**63, through the reciprocal (lc_reciprocal) when
       that is exact. */
    static inline uint64_t lc_biased_quotient(uint64_t numerator, uint64_t d, uint64_t reciprocal,
                                              uint64_t bias, uint64_t odd_fix) {
        uint64_t biased = numerator + bias;
        uint64_t quotient;
        if (__builtin_expect(biased <= 0xFFFFFFFFu, 1))
            quotient = reciprocal != 0
                ? (uint64_t)(((unsigned __int128)reciprocal * biased) >> 64) : biased;
        else
            quotient = biased / d;
        return quotient - (odd_fix & (biased == quotient * d) & quotient);
    }

    /* round(base * extra_basis_points / 10,000) for base < 2**43 and extra < 2**20 (a plan's
       bounds), so that the product fits; the divisor is a constant: multiplications only. */
    static inline uint64_t lc_multiplier_extra(uint64_t base, uint64_t extra_basis_points,
                                               uint64_t bias, uint64_t odd_fix) {
        uint64_t biased = base * extra_basis_points + bias;
        uint64_t quotient = biased / (uint64_t)LC_BASIS_POINTS_ONE;
        return quotient - (odd_fix & (biased == quotient * (uint64_t)LC_BASIS_POINTS_ONE) & quotient);
    }
    """
    bint LEDGER_CORE_DEBUG
    int64_t SECONDS_PER_DAY "LC_SECONDS_PER_DAY"
    int64_t BASIS_POINTS_ONE "LC_BASIS_POINTS_ONE"
    int64_t TIMESTAMP_SECONDS_MAX "LC_TIMESTAMP_SECONDS_MAX"
    int64_t PREFETCH_DISTANCE "LC_PREFETCH_DISTANCE"
    int64_t VECTOR_TRANSACTIONS_MIN "LC_VECTOR_TRANSACTIONS_MIN"
    int32_t COMPACT_IN_COUNTERS "LC_COMPACT_IN_COUNTERS"
    int32_t COMPACT_OTHER_PERIOD "LC_COMPACT_OTHER_PERIOD"
    int64_t COMPACT_USED_MAX "LC_COMPACT_USED_MAX"
    int32_t lc_compact_value(int32_t compact) noexcept nogil
    int32_t lc_compact_tier(int32_t compact) noexcept nogil
    int32_t lc_compact(int64_t value, int32_t tier) noexcept nogil
    int lc_lowest_bit(uint64_t bits) noexcept nogil
    int lc_popcount(uint64_t bits) noexcept nogil
    bint lc_scale_rounded(int64_t x, int64_t numerator, int64_t denominator, uint64_t reciprocal,
                          int64_t rounding, int64_t* result) noexcept nogil
    uint64_t lc_reciprocal(uint64_t denominator) noexcept nogil
    bint lc_add_overflows(int64_t a, int64_t b, int64_t* total) noexcept nogil
    void lc_prefetch(const void* address) noexcept nogil
    void* lc_member_state_alloc(size_t bytes) noexcept nogil
    void lc_member_state_free(void* block) noexcept nogil
    void lc_store_bytes(uint8_t* address, uint64_t bytes) noexcept nogil
    void check_invariant "LC_CHECK"(bint condition) noexcept nogil
    uint64_t lc_rounding_bias(int64_t rounding, uint64_t d) noexcept nogil
    uint64_t lc_rounding_odd_fix(int64_t rounding, uint64_t d) noexcept nogil
    uint64_t lc_biased_quotient(uint64_t numerator, uint64_t d, uint64_t reciprocal, uint64_t bias,
                                uint64_t odd_fix) noexcept nogil
    uint64_t lc_multiplier_extra(uint64_t base, uint64_t extra_basis_points, uint64_t bias,
                                 uint64_t odd_fix) noexcept nogil


cdef struct Clock:
    # The offset interval found last: timestamps of a batch mostly share it.
    int64_t interval_start_seconds
    int64_t interval_end_seconds
    int64_t offset_seconds
    # The local day found last, and what follows from it.
    int64_t day_start_local_seconds
    int64_t day
    int64_t week_key
    int64_t month_key
    uint64_t day_window_mask
    int64_t minute_of_day


cdef inline int64_t floor_divide(int64_t a, int64_t b) noexcept nogil:
    cdef int64_t quotient = a / b
    if (a % b != 0) and ((a < 0) != (b < 0)):
        quotient -= 1
    return quotient


cdef inline int64_t month_key_of_day(int64_t day) noexcept nogil:
    # year * 12 + month - 1 of a day since 1970-01-01 (H. Hinnant's civil_from_days).
    cdef int64_t z = day + 719468
    cdef int64_t era = (z if z >= 0 else z - 146096) / 146097
    cdef int64_t day_of_era = z - era * 146097
    cdef int64_t year_of_era = (
        day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096
    ) / 365
    cdef int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100)
    cdef int64_t shifted_month = (5 * day_of_year + 2) / 153
    cdef int64_t month = shifted_month + 3 if shifted_month < 10 else shifted_month - 9
    cdef int64_t year = year_of_era + era * 400 + (1 if month <= 2 else 0)
    return year * 12 + month - 1


cdef inline void find_offset(const RuleTables* tables, int64_t timestamp, Clock* clock) noexcept nogil:
    # Last transition at or before the timestamp; the caller checked that the table covers it.
    cdef int64_t low = 0
    cdef int64_t high = tables.transition_count - 1
    cdef int64_t middle
    while low < high:
        middle = (low + high + 1) / 2
        if tables.transitions_seconds[middle] <= timestamp:
            low = middle
        else:
            high = middle - 1
    clock.interval_start_seconds = tables.transitions_seconds[low]
    clock.interval_end_seconds = (
        tables.transitions_seconds[low + 1] if low + 1 < tables.transition_count
        else tables.table_end_seconds
    )
    clock.offset_seconds = tables.offsets_seconds[low]


cdef inline void start_day(const RuleTables* tables, int64_t local_seconds, Clock* clock) noexcept nogil:
    cdef int64_t day = floor_divide(local_seconds, SECONDS_PER_DAY)
    # 1970-01-01 was a Thursday; ISO weeks start on Monday, so week 0 starts on 1969-12-29.
    cdef int64_t week_key = floor_divide(day + 3, 7)
    cdef int64_t weekday = day + 3 - week_key * 7
    cdef int64_t day_index = day - tables.day_base + 1
    if day_index < 0:
        day_index = 0
    elif day_index > tables.day_table_size - 1:
        day_index = tables.day_table_size - 1
    clock.day = day
    clock.day_start_local_seconds = day * SECONDS_PER_DAY
    clock.week_key = week_key
    clock.month_key = month_key_of_day(day)
    clock.day_window_mask = tables.weekday_masks[weekday] & tables.day_masks[day_index]


cdef inline bint advance_clock(const RuleTables* tables, int64_t timestamp, Clock* clock) noexcept nogil:
    # False when the offset table does not cover the timestamp.
    if timestamp < clock.interval_start_seconds or timestamp >= clock.interval_end_seconds:
        if timestamp < tables.transitions_seconds[0] or timestamp >= tables.table_end_seconds:
            return False
        find_offset(tables, timestamp, clock)
    cdef int64_t local_seconds = timestamp + clock.offset_seconds
    if (local_seconds < clock.day_start_local_seconds
            or local_seconds >= clock.day_start_local_seconds + SECONDS_PER_DAY):
        start_day(tables, local_seconds, clock)
    clock.minute_of_day = (local_seconds - clock.day_start_local_seconds) / 60
    return True


cdef inline uint64_t dense_mask(const uint64_t* masks, int64_t size, uint64_t default, int64_t value) noexcept nogil:
    # Negative ids and ids no rule mentions get the rules without a condition on the dimension.
    return masks[value] if <uint64_t>value < <uint64_t>size else default


cdef inline uint64_t sku_mask(const RuleTables* tables, int64_t sku) noexcept nogil:
    cdef int64_t low = 0
    cdef int64_t high = tables.sku_count
    cdef int64_t middle
    while low < high:
        middle = (low + high) / 2
        if tables.sku_keys[middle] < sku:
            low = middle + 1
        else:
            high = middle
    if low < tables.sku_count and tables.sku_keys[low] == sku:
        return tables.sku_masks[low]
    return tables.sku_default


cdef inline uint64_t spend_mask(const RuleTables* tables, int64_t spend_minor) noexcept nogil:
    cdef int64_t level = 0
    while level < tables.spend_threshold_count and spend_minor >= tables.spend_thresholds_minor[level]:
        level += 1
    return tables.spend_masks[level]


cdef inline int64_t used_in_period(const PeriodCounters* period, int64_t member,
                                   int64_t key) noexcept nogil:
    # The points the member used in period `key`: 0 when its counter holds another period.
    cdef int32_t compact = lc_compact_value(period.compact_used[member])
    cdef const int64_t* counter = &period.counters[2 * member]
    if key == period.compact_key:
        if compact >= 0:
            return compact
        if compact == COMPACT_OTHER_PERIOD:
            return 0
        return counter[1]
    if compact < 0 and counter[0] == key:
        return counter[1]
    return 0


cdef inline void set_used_in_period(PeriodCounters* period, int64_t member, int64_t key,
                                    int64_t used) noexcept nogil:
    # The member's counter becomes (key, used): compact when it can be, else in the counters.
    cdef int32_t tier = lc_compact_tier(period.compact_used[member])
    if key == period.compact_key and 0 <= used <= COMPACT_USED_MAX:
        period.compact_used[member] = lc_compact(used, tier)
        return
    period.counters[2 * member] = key
    period.counters[2 * member + 1] = used
    period.compact_used[member] = lc_compact(
        COMPACT_IN_COUNTERS if key == period.compact_key else COMPACT_OTHER_PERIOD, tier
    )


cdef inline int64_t member_cap(PeriodCounters* periods, int64_t member, const Clock* clock,
                               int64_t points) noexcept nogil:
    # The points the member may still earn in its day, week and month; consumes them. A period
    # without a cap is not looked at; a counter of another period counts as 0 used.
    cdef int64_t keys[3]
    cdef int64_t used[3]
    cdef int64_t period
    keys[0] = clock.day
    keys[1] = clock.week_key
    keys[2] = clock.month_key
    used[0] = used[1] = used[2] = 0
    for period in range(3):
        if periods[period].points_max >= 0:
            used[period] = used_in_period(&periods[period], member, keys[period])
            if used[period] >= periods[period].points_max:
                points = 0
            elif periods[period].points_max - used[period] < points:
                points = periods[period].points_max - used[period]
    for period in range(3):
        if periods[period].points_max >= 0:
            set_used_in_period(&periods[period], member, keys[period], used[period] + points)
    return points


cdef void compact_counters(PeriodCounters* period, const int8_t* member_tiers,
                           int64_t member_count) noexcept nogil:
    # Before the loop: the compact copy of one period's counters, for key compact_key, with the
    # members' tiers.
    cdef int64_t member, key, used, value
    for member in range(member_count):
        key = period.counters[2 * member]
        used = period.counters[2 * member + 1]
        if key != period.compact_key:
            value = COMPACT_OTHER_PERIOD
        elif 0 <= used <= COMPACT_USED_MAX:
            value = used
        else:
            value = COMPACT_IN_COUNTERS
        period.compact_used[member] = lc_compact(value, member_tiers[member])


cdef void expand_counters(PeriodCounters* period, int64_t member_count) noexcept nogil:
    # After the loop: the compact counters back into the caller's layout.
    cdef int64_t member
    for member in range(member_count):
        if period.compact_used[member] >= 0:
            period.counters[2 * member] = period.compact_key
            period.counters[2 * member + 1] = lc_compact_value(period.compact_used[member])


cdef inline int64_t trim_entries(AccrualOutputs* outputs, int64_t first, int64_t end,
                                 int64_t excess, int64_t sign) noexcept nogil:
    # A cap takes points off the contributions in reverse stacking order and the entries left at
    # 0 are dropped; returns the new end. Entries hold sign x points, every one of them points
    # above 0 (none is kept otherwise), so the entries a cap empties are the last ones: dropping
    # them is moving the end. Only transactions that hit a cap come here.
    cdef int64_t taken, entry
    if LEDGER_CORE_DEBUG:
        for entry in range(first, end):
            check_invariant(sign * outputs.attribution_points[entry] > 0)
    while excess > 0 and end > first:
        taken = sign * outputs.attribution_points[end - 1]
        if taken > excess:
            outputs.attribution_points[end - 1] = sign * (taken - excess)
            return end
        excess -= taken
        end -= 1
    return end


cdef inline uint64_t match_rules(const RuleTables* tables, const TransactionColumns* columns,
                                int64_t index, int64_t tier, int64_t spend) noexcept nogil:
    # Step 1: all rules at once, one dimension at a time; columns no rule looks at are not read.
    cdef uint64_t matched = tables.all_rules & tables.tier_masks[tier]
    if tables.category_table_size:
        matched &= dense_mask(tables.category_masks, tables.category_table_size,
                              tables.category_default, columns.categories[index])
    if tables.channel_table_size:
        matched &= dense_mask(tables.channel_masks, tables.channel_table_size,
                              tables.channel_default, columns.channels[index])
    if tables.store_table_size:
        matched &= dense_mask(tables.store_masks, tables.store_table_size,
                              tables.store_default, columns.stores[index])
    if tables.has_sku_condition:
        matched &= sku_mask(tables, columns.skus[index])
    if tables.spend_threshold_count > 0:
        matched &= spend_mask(tables, spend)
    return matched


cdef AccrualProgress accrue_range(
    const RuleTables* tables,
    const TransactionColumns* columns,
    AccrualOutputs* outputs,
    PlanCache* cache,
    int64_t start_index,
    int64_t attribution_used,
    bint vector,
) noexcept nogil:
    # The capped periods' counters are compacted for the periods of the first transaction (the
    # usual batch stays within them) and expanded again afterwards, whatever the status. With
    # `vector`, the vector path takes what it can (see vector_member_states for when).
    cdef Clock clock
    cdef AccrualProgress progress
    cdef lc_vector_tables vector_tables
    cdef int32_t* member_states = NULL
    cdef bint owns_member_states = False
    cdef int64_t period, timestamp
    cdef int64_t keys[3]
    keys[0] = keys[1] = keys[2] = -1
    if tables.needs_local_time and start_index < columns.count:
        timestamp = columns.timestamps_seconds[start_index]
        start_clock(&clock)
        if 0 <= timestamp <= TIMESTAMP_SECONDS_MAX and advance_clock(tables, timestamp, &clock):
            keys[0], keys[1], keys[2] = clock.day, clock.week_key, clock.month_key
    for period in range(3):
        if outputs.periods[period].points_max >= 0:
            outputs.periods[period].compact_key = keys[period]
            compact_counters(&outputs.periods[period], columns.member_tiers, columns.member_count)
    if vector:
        member_states = vector_member_states(tables, columns, outputs, start_index,
                                             &owns_member_states)
    if member_states != NULL:
        set_vector_tables(tables, columns, outputs, cache, member_states, &vector_tables)
        progress = accrue_loop_vector(tables, columns, outputs, cache, &vector_tables,
                                      member_states, start_index, attribution_used)
    else:
        progress = accrue_loop(tables, columns, outputs, cache, start_index, attribution_used)
    if owns_member_states:
        lc_member_state_free(member_states)
    for period in range(3):
        if outputs.periods[period].points_max >= 0:
            expand_counters(&outputs.periods[period], columns.member_count)
    return progress


cdef int32_t* vector_member_states(const RuleTables* tables, const TransactionColumns* columns,
                                   const AccrualOutputs* outputs, int64_t start_index,
                                   bint* owned) noexcept nogil:
    # The member state lc_vector_group gathers (value * 256 + tier), or NULL when the vector path
    # does not take the batch: SKU conditions (a search per transaction), more than one capped
    # period, a batch too short for it. With one capped period its compact counters, with none
    # the tiers in a new array (owned: the caller frees it), when the batch is long enough to pay.
    cdef int64_t period, member
    cdef int32_t* states = NULL
    cdef int64_t capped_periods = 0
    cdef int64_t transactions = columns.count - start_index
    owned[0] = False
    if tables.has_sku_condition or transactions < VECTOR_TRANSACTIONS_MIN:
        return NULL
    for period in range(3):
        if outputs.periods[period].points_max >= 0:
            capped_periods += 1
            states = outputs.periods[period].compact_used
    if capped_periods > 1:
        return NULL
    if capped_periods == 1:
        return states
    if transactions < columns.member_count // 4:
        return NULL
    states = <int32_t*>lc_member_state_alloc(sizeof(int32_t) * columns.member_count + 1)
    if states != NULL:
        owned[0] = True
        for member in range(columns.member_count):
            states[member] = columns.member_tiers[member]
    return states


cdef inline void start_clock(Clock* clock) noexcept nogil:
    # No interval and no day yet: the first timestamp finds both.
    clock.interval_start_seconds = 1
    clock.interval_end_seconds = 0
    clock.offset_seconds = 0
    clock.day_start_local_seconds = -(1 << 40)
    clock.day = clock.week_key = clock.month_key = clock.minute_of_day = 0
    clock.day_window_mask = 0


cdef bint build_plan(const RuleTables* tables, uint64_t matched, Plan* plan) noexcept nogil:
    # The plan of a matched mask; False when the mask must go rule by rule: more multipliers
    # than slots, a rate whose product might not fit, bonuses whose sum might overflow.
    cdef uint64_t bits
    cdef int64_t rule, slot, points
    cdef int64_t bonus_total = 0
    # No rate: a base of 0 (0 x 0 / 1), so every multiplier adds 0 too.
    plan.points_per_unit = 0
    plan.unit_minor = 1
    plan.unit_reciprocal = 0
    plan.unit_bias = plan.unit_odd_fix = plan.basis_points_bias = plan.basis_points_odd_fix = 0
    plan.rate_points_max = INT64_MAX
    plan.rate_rule = 0
    plan.spend_max = INT64_MAX
    plan.full_base_min = INT64_MAX
    plan.entry_count = 0
    plan.entry_rules = 0
    plan.slot_count = plan.bonus_count = 0
    plan.has_slot_caps = False
    plan.excluded = (matched & tables.exclusion_bits) != 0
    if plan.excluded:
        return True
    bits = matched & tables.rate_bits
    if bits:
        rule = lc_lowest_bit(bits)
        if tables.rule_points_per_unit[rule] > 0x7FFFFFFF:
            return False
        plan.points_per_unit = tables.rule_points_per_unit[rule]
        plan.unit_minor = tables.rule_unit_minor[rule]
        plan.unit_reciprocal = tables.rule_unit_reciprocal[rule]
        plan.unit_bias = lc_rounding_bias(tables.rule_rounding[rule], plan.unit_minor)
        plan.unit_odd_fix = lc_rounding_odd_fix(tables.rule_rounding[rule], plan.unit_minor)
        plan.basis_points_bias = lc_rounding_bias(tables.rule_rounding[rule], BASIS_POINTS_ONE)
        plan.basis_points_odd_fix = lc_rounding_odd_fix(tables.rule_rounding[rule], BASIS_POINTS_ONE)
        plan.rate_points_max = tables.rule_points_max[rule]
        plan.rate_rule = <uint8_t>rule
        if plan.points_per_unit > 0:
            plan.spend_max = ((<int64_t>1 << PLAN_BASE_BITS) - 1) // plan.points_per_unit
    plan.slot_count = 0
    plan.has_slot_caps = False
    bits = matched & tables.multiplier_bits
    while bits:
        if plan.slot_count == PLAN_SLOTS_MAX:
            return False
        rule = lc_lowest_bit(bits)
        bits &= bits - 1
        plan.slot_extra_basis_points[plan.slot_count] = tables.rule_extra_basis_points[rule]
        plan.slot_points_max[plan.slot_count] = tables.rule_points_max[rule]
        plan.has_slot_caps |= tables.rule_points_max[rule] != INT64_MAX
        plan.slot_rules[plan.slot_count] = <uint8_t>rule
        plan.slot_count += 1
    for slot in range(plan.slot_count, PLAN_SLOTS_MAX):
        plan.slot_extra_basis_points[slot] = 0
        plan.slot_points_max[slot] = INT64_MAX
        plan.slot_rules[slot] = 0
    set_full_entries(tables, matched, plan)
    plan.bonus_count = 0
    bits = matched & tables.bonus_bits
    while bits:
        rule = lc_lowest_bit(bits)
        bits &= bits - 1
        points = tables.rule_bonus_points[rule]
        if points > tables.rule_points_max[rule]:
            points = tables.rule_points_max[rule]
        # Room for the base and the slots, each below 2**(PLAN_BASE_BITS + 7).
        if lc_add_overflows(bonus_total, points, &bonus_total) or bonus_total > INT64_MAX >> 1:
            return False
        plan.bonus_rules[plan.bonus_count] = <uint8_t>rule
        plan.bonus_points[plan.bonus_count] = points
        plan.bonus_count += 1
    return True


cdef void set_full_entries(const RuleTables* tables, uint64_t matched, Plan* plan) noexcept nogil:
    # full_base_min, entry_count and entry_rules of a plan with its rate and slots set: the least
    # base at which every slot earns (each slot's extra only grows with the base).
    cdef int64_t slot, base
    cdef int64_t base_min = 1
    if (matched & (tables.rate_bits | tables.bonus_bits)) != (matched & tables.rate_bits) \
            or (matched & tables.rate_bits) == 0 or plan.slot_count + 1 > 8 \
            or plan.rate_points_max == 0:
        return
    for slot in range(plan.slot_count):
        if plan.slot_extra_basis_points[slot] == 0 or plan.slot_points_max[slot] == 0:
            return
        base = (BASIS_POINTS_ONE - <int64_t>plan.basis_points_bias) // plan.slot_extra_basis_points[slot]
        if base < 1:
            base = 1
        while lc_multiplier_extra(<uint64_t>base, <uint64_t>plan.slot_extra_basis_points[slot],
                                  plan.basis_points_bias, plan.basis_points_odd_fix) == 0:
            base += 1
        if base > base_min:
            base_min = base
    plan.full_base_min = base_min
    plan.entry_count = 1 + plan.slot_count
    plan.entry_rules = plan.rate_rule
    for slot in range(plan.slot_count):
        plan.entry_rules |= (<uint64_t>plan.slot_rules[slot]) << (8 * (slot + 1))


cdef int32_t find_plan(const RuleTables* tables, PlanCache* cache, uint64_t matched) noexcept nogil:
    # The plan index of a mask the loop's first probe missed, built on first sight; PLAN_BY_RULE
    # when no plan fits the mask or the cache is full.
    cdef uint64_t entry = (matched * <uint64_t>0x9E3779B97F4A7C15) >> (64 - PLAN_TABLE_BITS)
    cdef int32_t plan_index
    while cache.plan_indexes[entry] != PLAN_UNKNOWN:
        if cache.keys[entry] == matched:
            return cache.plan_indexes[entry]
        entry = (entry + 1) & (PLAN_TABLE_SIZE - 1)
    if cache.table_used == PLAN_TABLE_USED_MAX or cache.plan_count == PLANS_MAX:
        return PLAN_BY_RULE
    plan_index = PLAN_BY_RULE
    if build_plan(tables, matched, &cache.plans[cache.plan_count]):
        plan_index = <int32_t>cache.plan_count
        set_vector_plan(&cache.plans[plan_index], &cache.vector_plans[plan_index])
        cache.plan_count += 1
        if cache.plans[plan_index].slot_count > cache.slot_count:
            cache.slot_count = cache.plans[plan_index].slot_count
    cache.keys[entry] = matched
    cache.plan_indexes[entry] = plan_index
    cache.plan_words[entry] = (
        matched | (<uint64_t>(plan_index + 1) << VECTOR_PLAN_SHIFT) if plan_index >= 0 else 0
    )
    cache.table_used += 1
    return plan_index


cdef inline int64_t planned_contributions(const Plan* plan, int64_t slot_count, uint64_t product,
                                          int64_t sign, AccrualOutputs* outputs,
                                          int64_t* used) noexcept nogil:
    # Steps 3 to 5 through a plan, for product = spend x points_per_unit < 2**PLAN_BASE_BITS:
    # nothing can overflow. Entries get the sign of the amount; every entry is written and kept
    # only when not 0 (no branch). Returns the points before caps, >= 0.
    cdef int64_t slot, total
    cdef int64_t entry = used[0]
    cdef int64_t extras[PLAN_SLOTS_MAX]
    cdef int64_t base = <int64_t>lc_biased_quotient(
        product, <uint64_t>plan.unit_minor, plan.unit_reciprocal, plan.unit_bias, plan.unit_odd_fix
    )
    if base > plan.rate_points_max:
        base = plan.rate_points_max
    # All slots first, then the entries: a store to the outputs would make the compiler read the
    # plan again (it might have changed it), and each entry's place depends on the one before.
    for slot in range(slot_count):
        extras[slot] = <int64_t>lc_multiplier_extra(
            <uint64_t>base, <uint64_t>plan.slot_extra_basis_points[slot],
            plan.basis_points_bias, plan.basis_points_odd_fix
        )
    if plan.has_slot_caps:
        for slot in range(slot_count):
            if extras[slot] > plan.slot_points_max[slot]:
                extras[slot] = plan.slot_points_max[slot]
    total = base
    for slot in range(slot_count):
        total += extras[slot]
    if base >= plan.full_base_min:
        # The usual case: every entry earns, so they are the same for every transaction.
        lc_store_bytes(&outputs.attribution_rule_indexes[entry], plan.entry_rules)
        outputs.attribution_points[entry] = sign * base
        for slot in range(slot_count):
            outputs.attribution_points[entry + 1 + slot] = sign * extras[slot]
        used[0] = entry + plan.entry_count
        return total
    outputs.attribution_rule_indexes[entry] = plan.rate_rule
    outputs.attribution_points[entry] = sign * base
    entry += base != 0
    for slot in range(slot_count):
        outputs.attribution_rule_indexes[entry] = plan.slot_rules[slot]
        outputs.attribution_points[entry] = sign * extras[slot]
        entry += extras[slot] != 0
    for slot in range(plan.bonus_count):
        outputs.attribution_rule_indexes[entry] = plan.bonus_rules[slot]
        outputs.attribution_points[entry] = sign * plan.bonus_points[slot]
        entry += plan.bonus_points[slot] != 0
        total += plan.bonus_points[slot]
    used[0] = entry
    return total


cdef inline bint contributions_by_rule(const RuleTables* tables, AccrualOutputs* outputs,
                                       uint64_t matched, int64_t spend, int64_t sign,
                                       int64_t* used, int64_t* total_out) noexcept nogil:
    # Steps 3 to 5 rule by rule, for any mask and amount; True on overflow. Entries get the sign
    # of the amount, the total (returned in total_out) does not.
    cdef int64_t rule, base, extra, total
    cdef int64_t rounding = 0
    cdef int64_t entry = used[0]
    cdef uint64_t bits
    # 3. Base from the first matching rate rule.
    base = 0
    bits = matched & tables.rate_bits
    if bits:
        rule = lc_lowest_bit(bits)
        rounding = tables.rule_rounding[rule]
        if lc_scale_rounded(spend, tables.rule_points_per_unit[rule], tables.rule_unit_minor[rule],
                            tables.rule_unit_reciprocal[rule], rounding, &base):
            return True
        if base > tables.rule_points_max[rule]:
            base = tables.rule_points_max[rule]
        outputs.attribution_rule_indexes[entry] = <uint8_t>rule
        outputs.attribution_points[entry] = sign * base
        entry += base != 0
    total = base
    # 4. Multipliers, additive, each rounded like the base.
    bits = matched & tables.multiplier_bits
    while bits:
        rule = lc_lowest_bit(bits)
        bits &= bits - 1
        if lc_scale_rounded(base, tables.rule_extra_basis_points[rule], BASIS_POINTS_ONE, 0,
                            rounding, &extra):
            return True
        if extra > tables.rule_points_max[rule]:
            extra = tables.rule_points_max[rule]
        if lc_add_overflows(total, extra, &total):
            return True
        outputs.attribution_rule_indexes[entry] = <uint8_t>rule
        outputs.attribution_points[entry] = sign * extra
        entry += extra != 0
    # 5. Fixed bonuses.
    bits = matched & tables.bonus_bits
    while bits:
        rule = lc_lowest_bit(bits)
        bits &= bits - 1
        extra = tables.rule_bonus_points[rule]
        if extra > tables.rule_points_max[rule]:
            extra = tables.rule_points_max[rule]
        if lc_add_overflows(total, extra, &total):
            return True
        outputs.attribution_rule_indexes[entry] = <uint8_t>rule
        outputs.attribution_points[entry] = sign * extra
        entry += extra != 0
    used[0] = entry
    total_out[0] = total
    return False


cdef struct LoopState:
    # What one transaction reads and moves on: the clock, the entries used, the cap's short path,
    # and the call's constants, so that the scalar and the vector loops share accrue_transaction.
    Clock clock
    int64_t used
    # The short path of the member cap (below) holds while the clock's day is short_cap_day_start.
    bint short_cap
    int64_t short_cap_day_start
    int64_t capped_periods
    int64_t cap_period
    PeriodCounters* single
    const int32_t* tier_source
    int64_t entries_max


cdef enum:
    # accrue_transaction's result when the loop goes on (else an AccrualStatus to stop with).
    TRANSACTION_DONE = -1


cdef inline void start_loop(const RuleTables* tables, AccrualOutputs* outputs, LoopState* loop,
                            int64_t attribution_used) noexcept nogil:
    cdef int64_t period
    loop.used = attribution_used
    loop.short_cap = False
    loop.short_cap_day_start = -1
    loop.capped_periods = 0
    loop.cap_period = -1
    loop.single = NULL
    for period in range(3):
        if outputs.periods[period].points_max >= 0:
            loop.capped_periods += 1
            if loop.cap_period < 0:
                loop.cap_period = period
    if loop.capped_periods == 1:
        # One capped period (the usual rule set) has a short path; see accrue_transaction.
        loop.single = &outputs.periods[loop.cap_period]
    loop.tier_source = (
        outputs.periods[loop.cap_period].compact_used if loop.cap_period >= 0 else NULL
    )
    # A transaction writes at most a base, the slots and the bonuses (fewer than the rules).
    loop.entries_max = tables.rule_count + PLAN_SLOTS_MAX
    start_clock(&loop.clock)


cdef inline int accrue_transaction(
    const RuleTables* tables,
    const TransactionColumns* columns,
    AccrualOutputs* outputs,
    PlanCache* cache,
    LoopState* loop,
    int64_t index,
) noexcept nogil:
    # One transaction, all steps; TRANSACTION_DONE, or the status to stop at this index with.
    cdef int64_t member, amount, spend, total, capped, sign, first_entry, timestamp, entry
    cdef int64_t compact, room
    cdef int32_t plan_index, state
    cdef uint64_t matched, table_entry, product
    cdef const Plan* plan
    cdef PeriodCounters* single = loop.single
    if loop.used + loop.entries_max > outputs.attribution_capacity:
        return ACCRUAL_NEEDS_CAPACITY
    member = columns.member_indexes[index]
    if <uint64_t>member >= <uint64_t>columns.member_count:
        return ACCRUAL_BAD_MEMBER_INDEX
    timestamp = columns.timestamps_seconds[index]
    if <uint64_t>timestamp > <uint64_t>TIMESTAMP_SECONDS_MAX:
        return ACCRUAL_BAD_TIMESTAMP
    amount = columns.amounts_minor[index]
    if amount == -INT64_MAX - 1:
        return ACCRUAL_OVERFLOW
    sign = -1 if amount < 0 else 1
    spend = amount * sign

    # 1. Match.
    # The tier from the compact counters when there are some: they are read anyway.
    if loop.tier_source != NULL:
        matched = match_rules(tables, columns, index, lc_compact_tier(loop.tier_source[member]),
                              spend)
    else:
        matched = match_rules(tables, columns, index, columns.member_tiers[member], spend)
    if tables.needs_local_time:
        if not advance_clock(tables, timestamp, &loop.clock):
            return ACCRUAL_OUTSIDE_OFFSET_TABLE
        if loop.clock.day_start_local_seconds != loop.short_cap_day_start:
            # A new local day: is the one capped period still that of the compact counters?
            loop.short_cap_day_start = loop.clock.day_start_local_seconds
            loop.short_cap = (
                single != NULL and clock_key(&loop.clock, loop.cap_period) == single.compact_key
            )
        if tables.has_window:
            matched &= loop.clock.day_window_mask
            if tables.has_minute_window:
                matched &= tables.minute_masks[loop.clock.minute_of_day]

    # 2 to 5 through the mask's plan, or rule by rule when no plan fits the mask or the amount.
    table_entry = (matched * <uint64_t>0x9E3779B97F4A7C15) >> (64 - PLAN_TABLE_BITS)
    plan_index = cache.plan_indexes[table_entry]
    if cache.keys[table_entry] != matched or plan_index < 0:
        plan_index = find_plan(tables, cache, matched)
    first_entry = loop.used
    if plan_index >= 0 and spend <= cache.plans[plan_index].spend_max:
        plan = &cache.plans[plan_index]
        if plan.excluded:
            outputs.points[index] = 0
            outputs.attribution_counts[index] = 0
            return TRANSACTION_DONE
        # A constant slot count for each width, so that the compiler unrolls the slots.
        product = <uint64_t>spend * <uint64_t>plan.points_per_unit
        if cache.slot_count <= 1:
            total = planned_contributions(plan, 1, product, sign, outputs, &loop.used)
        elif cache.slot_count == 2:
            total = planned_contributions(plan, 2, product, sign, outputs, &loop.used)
        elif cache.slot_count == 3:
            total = planned_contributions(plan, 3, product, sign, outputs, &loop.used)
        elif cache.slot_count == 4:
            total = planned_contributions(plan, 4, product, sign, outputs, &loop.used)
        else:
            total = planned_contributions(plan, PLAN_SLOTS_MAX, product, sign, outputs,
                                          &loop.used)
    else:
        if matched & tables.exclusion_bits:
            outputs.points[index] = 0
            outputs.attribution_counts[index] = 0
            return TRANSACTION_DONE
        if contributions_by_rule(tables, outputs, matched, spend, sign, &loop.used, &total):
            return ACCRUAL_OVERFLOW

    # 6. Transaction cap; 7. member caps, for purchases only; 8. trimmed attribution.
    capped = total if total < tables.points_max_per_transaction else tables.points_max_per_transaction
    if loop.capped_periods > 0 and sign > 0 and capped > 0:
        state = single.compact_used[member] if loop.short_cap else COMPACT_IN_COUNTERS * 256
        compact = lc_compact_value(state)
        if compact != COMPACT_IN_COUNTERS:
            # One capped period and a compact counter of the current one (or of another
            # period, which counts as none used): member_cap's result without its loops.
            if compact < 0:
                compact = 0
            room = single.points_max - compact
            if room < capped:
                capped = room if room > 0 else 0
            if compact + capped <= COMPACT_USED_MAX:
                single.compact_used[member] = lc_compact(compact + capped, lc_compact_tier(state))
            else:
                set_used_in_period(single, member, single.compact_key, compact + capped)
        else:
            capped = member_cap(outputs.periods, member, &loop.clock, capped)
    if capped < total:
        loop.used = trim_entries(outputs, first_entry, loop.used, total - capped, sign)
    outputs.attribution_counts[index] = <uint8_t>(loop.used - first_entry)
    outputs.points[index] = sign * capped
    if LEDGER_CORE_DEBUG:
        check_entries(tables, outputs, index, first_entry, loop.used)
    return TRANSACTION_DONE


cdef void check_entries(const RuleTables* tables, const AccrualOutputs* outputs, int64_t index,
                        int64_t first_entry, int64_t end) noexcept nogil:
    # Debug builds: a transaction's entries sum to its points, and there are no more than rules.
    cdef int64_t entry
    cdef int64_t total = 0
    for entry in range(first_entry, end):
        total += outputs.attribution_points[entry]
    check_invariant(total == outputs.points[index])
    check_invariant(end - first_entry <= tables.rule_count)


cdef AccrualProgress accrue_loop(
    const RuleTables* tables_given,
    const TransactionColumns* columns_given,
    AccrualOutputs* outputs_given,
    PlanCache* cache,
    int64_t start_index,
    int64_t attribution_used,
) noexcept nogil:
    # Local copies: the compiler may then keep their fields in registers, where stores through
    # the output pointers would otherwise force it to reload them for every transaction.
    cdef RuleTables tables_local = tables_given[0]
    cdef TransactionColumns columns_local = columns_given[0]
    cdef AccrualOutputs outputs_local = outputs_given[0]
    cdef const RuleTables* tables = &tables_local
    cdef const TransactionColumns* columns = &columns_local
    cdef AccrualOutputs* outputs = &outputs_local
    cdef LoopState loop
    cdef int64_t index, prefetch_member, period
    cdef int status
    cdef int64_t count = columns.count
    start_loop(tables, outputs, &loop, attribution_used)
    cdef const char* prefetch_state = <const char*>columns.member_tiers
    cdef int64_t prefetch_stride = 1
    if loop.tier_source != NULL:
        prefetch_state = <const char*>loop.tier_source
        prefetch_stride = sizeof(int32_t)

    for index in range(start_index, count):
        if index + PREFETCH_DISTANCE < count:
            prefetch_member = columns.member_indexes[index + PREFETCH_DISTANCE]
            if <uint64_t>prefetch_member < <uint64_t>columns.member_count:
                # One place of member state (see the compact counters) in the usual rule sets.
                lc_prefetch(prefetch_state + prefetch_member * prefetch_stride)
                if loop.capped_periods > 1:
                    for period in range(3):
                        if outputs.periods[period].points_max >= 0:
                            lc_prefetch(&outputs.periods[period].compact_used[prefetch_member])
        status = accrue_transaction(tables, columns, outputs, cache, &loop, index)
        if status != TRANSACTION_DONE:
            return progress_at(<AccrualStatus>status, index, loop.used, 0)
    return progress_at(ACCRUAL_DONE, count, loop.used, 0)


cdef inline void vector_clock(const RuleTables* tables, const LoopState* loop,
                              lc_vector_clock* clock) noexcept nogil:
    # The range of timestamps that share the loop clock's local day and offset.
    cdef int64_t day_start_utc
    if not tables.needs_local_time:
        clock.utc_low, clock.utc_high = 0, TIMESTAMP_SECONDS_MAX + 1
        clock.day_start_utc, clock.day_mask, clock.short_cap = 0, ~<uint64_t>0, False
        return
    day_start_utc = loop.clock.day_start_local_seconds - loop.clock.offset_seconds
    clock.utc_low = max(max(loop.clock.interval_start_seconds, day_start_utc), 0)
    clock.utc_high = min(min(loop.clock.interval_end_seconds, day_start_utc + SECONDS_PER_DAY),
                         TIMESTAMP_SECONDS_MAX + 1)
    clock.day_start_utc = day_start_utc
    clock.day_mask = loop.clock.day_window_mask if tables.has_window else ~<uint64_t>0
    clock.short_cap = loop.short_cap


cdef AccrualProgress accrue_loop_vector(
    const RuleTables* tables_given,
    const TransactionColumns* columns_given,
    AccrualOutputs* outputs_given,
    PlanCache* cache,
    const lc_vector_tables* vector_tables,
    int32_t* member_states,
    int64_t start_index,
    int64_t attribution_used,
) noexcept nogil:
    # As accrue_loop, LC_VECTOR_LANES (16) transactions at a time through lc_vector_group where
    # they fit; a lane it leaves, a group that starts on a new day and the last transactions go
    # one by one through accrue_transaction. The lanes' results are written in order.
    cdef RuleTables tables_local = tables_given[0]
    cdef TransactionColumns columns_local = columns_given[0]
    cdef AccrualOutputs outputs_local = outputs_given[0]
    cdef const RuleTables* tables = &tables_local
    cdef const TransactionColumns* columns = &columns_local
    cdef AccrualOutputs* outputs = &outputs_local
    cdef LoopState loop
    cdef lc_group group
    cdef lc_vector_clock clock
    cdef int64_t index = start_index
    cdef int64_t count = columns.count
    cdef int64_t transaction, slot_count, timestamp, first_entry, slot, group_first_entry
    cdef int lane
    cdef int64_t vector_transactions = 0
    cdef int status
    cdef const Plan* plan
    cdef lc_vector_outputs vector_outputs
    vector_outputs.points = outputs.points
    vector_outputs.attribution_counts = outputs.attribution_counts
    vector_outputs.attribution_rule_indexes = outputs.attribution_rule_indexes
    vector_outputs.attribution_points = outputs.attribution_points
    vector_outputs.member_states = member_states
    vector_outputs.member_indexes = columns.member_indexes
    start_loop(tables, outputs, &loop, attribution_used)
    cdef int64_t group_entries_max = LC_VECTOR_LANES * loop.entries_max
    while index < count:
        if (index + LC_VECTOR_LANES > count
                or loop.used + group_entries_max > outputs.attribution_capacity):
            status = accrue_transaction(tables, columns, outputs, cache, &loop, index)
            if status != TRANSACTION_DONE:
                return progress_at(<AccrualStatus>status, index, loop.used, vector_transactions)
            index += 1
            continue
        vector_clock(tables, &loop, &clock)
        timestamp = columns.timestamps_seconds[index]
        if timestamp < clock.utc_low or timestamp >= clock.utc_high:
            # A new day or offset interval (or a bad timestamp): the scalar code moves the clock.
            status = accrue_transaction(tables, columns, outputs, cache, &loop, index)
            if status != TRANSACTION_DONE:
                return progress_at(<AccrualStatus>status, index, loop.used, vector_transactions)
            index += 1
            continue
        slot_count = cache.slot_count
        lc_vector_group(vector_tables, &clock, index, slot_count, &group)
        vector_transactions += lc_popcount(group.lanes)
        # The usual lanes are written by lc_vector_write; the others here, in order between them.
        group_first_entry = loop.used
        lane = lc_vector_write(&group, 0, index, &vector_outputs, &loop.used)
        while lane < LC_VECTOR_LANES:
            transaction = index + lane
            if not (group.lanes >> lane) & 1:
                status = accrue_transaction(tables, columns, outputs, cache, &loop, transaction)
                if status != TRANSACTION_DONE:
                    return progress_at(<AccrualStatus>status, transaction, loop.used,
                                       vector_transactions)
                lane = lc_vector_write(&group, lane + 1, index, &vector_outputs, &loop.used)
                continue
            if (group.excluded_lanes >> lane) & 1:
                outputs.points[transaction] = 0
                outputs.attribution_counts[transaction] = 0
                lane = lc_vector_write(&group, lane + 1, index, &vector_outputs, &loop.used)
                continue
            first_entry = loop.used
            if (group.full_lanes >> lane) & 1:
                lc_store_bytes(&outputs.attribution_rule_indexes[first_entry],
                               group.entry_rules[lane])
                for slot in range(slot_count + 1):
                    outputs.attribution_points[first_entry + slot] = group.values[slot][lane]
                loop.used = first_entry + group.entry_counts[lane]
            else:
                # Some entry earns 0: as planned_contributions, without bonuses (no such plan
                # comes here).
                plan = &cache.plans[group.plan_indexes[lane]]
                outputs.attribution_rule_indexes[loop.used] = plan.rate_rule
                outputs.attribution_points[loop.used] = group.values[0][lane]
                loop.used += group.values[0][lane] != 0
                for slot in range(slot_count):
                    outputs.attribution_rule_indexes[loop.used] = plan.slot_rules[slot]
                    outputs.attribution_points[loop.used] = group.values[1 + slot][lane]
                    loop.used += group.values[1 + slot][lane] != 0
            if (group.state_lanes >> lane) & 1:
                loop.single.compact_used[columns.member_indexes[transaction]] = (
                    group.member_states[lane]
                )
            if group.capped[lane] < group.totals[lane]:
                loop.used = trim_entries(outputs, first_entry, loop.used,
                                         group.totals[lane] - group.capped[lane],
                                         -1 if columns.amounts_minor[transaction] < 0 else 1)
            outputs.attribution_counts[transaction] = <uint8_t>(loop.used - first_entry)
            outputs.points[transaction] = group.points[lane]
            lane = lc_vector_write(&group, lane + 1, index, &vector_outputs, &loop.used)
        if LEDGER_CORE_DEBUG:
            # Every lane, however it was written: entries sum to the points, in order.
            first_entry = group_first_entry
            for lane in range(LC_VECTOR_LANES):
                check_entries(tables, outputs, index + lane, first_entry,
                              first_entry + outputs.attribution_counts[index + lane])
                first_entry += outputs.attribution_counts[index + lane]
            check_invariant(first_entry == loop.used)
        index += LC_VECTOR_LANES
    return progress_at(ACCRUAL_DONE, count, loop.used, vector_transactions)


cdef void set_vector_tables(const RuleTables* tables, const TransactionColumns* columns,
                            const AccrualOutputs* outputs, const PlanCache* cache,
                            const int32_t* member_states, lc_vector_tables* vector) noexcept nogil:
    cdef int64_t period
    vector.member_indexes = columns.member_indexes
    vector.amounts_minor = columns.amounts_minor
    vector.categories = columns.categories
    vector.channels = columns.channels
    vector.stores = columns.stores
    vector.timestamps_seconds = columns.timestamps_seconds
    vector.count = columns.count
    vector.member_states = member_states
    vector.tier_table_size = tables.tier_table_size
    vector.member_count = columns.member_count
    vector.tier_masks = tables.tier_masks
    vector.category_masks = tables.category_masks
    vector.category_table_size = tables.category_table_size
    vector.category_default = tables.category_default
    vector.channel_masks = tables.channel_masks
    vector.channel_table_size = tables.channel_table_size
    vector.channel_default = tables.channel_default
    vector.store_masks = tables.store_masks
    vector.store_table_size = tables.store_table_size
    vector.store_default = tables.store_default
    vector.spend_thresholds_minor = tables.spend_thresholds_minor
    vector.spend_masks = tables.spend_masks
    vector.spend_threshold_count = tables.spend_threshold_count
    vector.minute_masks = tables.minute_masks
    vector.has_minute_window = tables.has_window and tables.has_minute_window
    vector.all_rules = tables.all_rules
    vector.points_max_per_transaction = tables.points_max_per_transaction
    vector.member_points_max = -1
    for period in range(3):
        if outputs.periods[period].points_max >= 0:
            vector.member_points_max = outputs.periods[period].points_max
    vector.plan_keys = cache.keys
    vector.plan_indexes = cache.plan_indexes
    vector.plan_words = cache.plan_words if tables.rule_count <= VECTOR_PLAN_SHIFT else NULL
    vector.plan_table_bits = PLAN_TABLE_BITS
    vector.plans = cache.vector_plans


cdef void set_vector_plan(const Plan* plan, lc_vector_plan* vector) noexcept nogil:
    # The plan as lc_vector_group reads it; not usable there when it has bonuses or rules with
    # caps of their own, or numbers outside the vector path's bounds.
    cdef int64_t slot, pair, rounding
    cdef uint64_t extra
    cdef bint usable
    vector.slots = 0
    for pair in range(LC_VECTOR_SLOT_PAIRS):
        vector.slot_pairs[pair] = 0
    vector.full = 0xFFFFFFFF  # never full
    vector.entry_rules = 0
    if plan.excluded:
        # 0 points a unit of 1 minor unit; no entries.
        vector.rate = (<uint64_t>1 << VECTOR_UNIT_SHIFT) | VECTOR_EXCLUDED | VECTOR_USABLE
        return
    usable = (
        plan.bonus_count == 0 and not plan.has_slot_caps
        and plan.rate_points_max >= (<int64_t>1 << PLAN_BASE_BITS)
        and 0 <= plan.points_per_unit <= VECTOR_POINTS_PER_UNIT_MAX
        and 1 <= plan.unit_minor <= VECTOR_UNIT_MAX
    )
    for slot in range(plan.slot_count):
        extra = <uint64_t>plan.slot_extra_basis_points[slot]
        usable &= extra < (1 << 20)
        extra &= 0xFFFFF
        if slot < 3:
            vector.slots |= extra << (20 * slot)
        vector.slot_pairs[slot // 2] |= extra << (32 * (slot % 2))
    # The rounding mode, back from the plan's biases (see lc_rounding_bias): 0 floor, 1 half up,
    # 2 half even.
    rounding = 0 if plan.basis_points_bias == 0 else (2 if plan.basis_points_odd_fix else 1)
    vector.rate = (
        <uint64_t>plan.points_per_unit
        | (<uint64_t>plan.unit_minor << VECTOR_UNIT_SHIFT)
        | (<uint64_t>rounding << VECTOR_ROUNDING_SHIFT)
        | (VECTOR_USABLE if usable else 0)
        | (<uint64_t>plan.entry_count << VECTOR_ENTRY_COUNT_SHIFT)
    )
    vector.full = (
        <uint64_t>min(plan.full_base_min, <int64_t>0xFFFFFFFF)
        | ((plan.entry_rules & <uint64_t>0xFFFFFFFF) << 32)
    )
    vector.entry_rules = plan.entry_rules


cdef inline AccrualProgress progress_at(AccrualStatus status, int64_t index, int64_t used,
                                        int64_t vector_transactions) noexcept nogil:
    cdef AccrualProgress progress
    progress.status = status
    progress.transaction_index = index
    progress.attribution_used = used
    progress.vector_transactions = vector_transactions
    return progress


cdef inline int64_t clock_key(const Clock* clock, int64_t period) noexcept nogil:
    # The key of the clock's day (period 0), week (1) or month (2).
    if period == 0:
        return clock.day
    if period == 1:
        return clock.week_key
    return clock.month_key


cdef inline const uint64_t* mask_pointer(const uint64_t[::1] masks) noexcept nogil:
    return &masks[0] if masks.shape[0] > 0 else NULL


cdef inline const int64_t* int64_pointer(const int64_t[::1] values) noexcept nogil:
    return &values[0] if values.shape[0] > 0 else NULL


def accrue_columns(
    compiled,
    *,
    const int64_t[::1] transitions_seconds,
    const int64_t[::1] offsets_seconds,
    int64_t table_end_seconds,
    const int32_t[::1] member_indexes,
    const int64_t[::1] amounts_minor,
    const int32_t[::1] categories,
    const int64_t[::1] skus,
    const int32_t[::1] channels,
    const int32_t[::1] stores,
    const int64_t[::1] timestamps_seconds,
    const int8_t[::1] member_tiers,
    int64_t[::1] cap_counters,
    int64_t[::1] points,
    uint8_t[::1] attribution_counts,
    uint8_t[::1] attribution_rule_indexes,
    int64_t[::1] attribution_points,
    int64_t start_index,
    int64_t attribution_used,
):
    """Accrue transactions from start_index on; returns (status, transaction_index, used).

    The caller (ledger_core.accrual) has checked lengths, tiers and the offset table's range.
    """
    cdef RuleTables tables
    cdef TransactionColumns columns
    cdef AccrualOutputs outputs
    cdef AccrualProgress progress
    cdef Py_ssize_t rule, period, entry
    cdef const uint64_t[::1] tier_masks = compiled.tier_masks
    cdef const uint64_t[::1] category_masks = compiled.category_masks
    cdef const uint64_t[::1] channel_masks = compiled.channel_masks
    cdef const uint64_t[::1] store_masks = compiled.store_masks
    cdef const int64_t[::1] sku_keys = compiled.sku_keys
    cdef const uint64_t[::1] sku_masks = compiled.sku_masks
    cdef const uint64_t[::1] weekday_masks = compiled.weekday_masks
    cdef const uint64_t[::1] minute_masks = compiled.minute_masks
    cdef const uint64_t[::1] day_masks = compiled.day_masks
    cdef const int64_t[::1] spend_thresholds = compiled.spend_thresholds_minor
    cdef const uint64_t[::1] spend_masks = compiled.spend_masks
    cdef const int64_t[::1] rule_points_per_unit = compiled.rule_points_per_unit
    cdef const int64_t[::1] rule_unit_minor = compiled.rule_unit_minor
    cdef const int64_t[::1] rule_rounding = compiled.rule_rounding
    cdef const int64_t[::1] rule_extra_basis_points = compiled.rule_extra_basis_points
    cdef const int64_t[::1] rule_bonus_points = compiled.rule_bonus_points
    cdef const int64_t[::1] rule_points_max = compiled.rule_points_max

    if not 0 < transitions_seconds.shape[0] == offsets_seconds.shape[0]:
        raise ValueError("the offset table needs one offset per transition, at least one")
    tables.tier_masks = mask_pointer(tier_masks)
    tables.tier_table_size = tier_masks.shape[0]
    tables.category_masks = mask_pointer(category_masks)
    tables.category_table_size = category_masks.shape[0]
    tables.category_default = compiled.category_default
    tables.channel_masks = mask_pointer(channel_masks)
    tables.channel_table_size = channel_masks.shape[0]
    tables.channel_default = compiled.channel_default
    tables.store_masks = mask_pointer(store_masks)
    tables.store_table_size = store_masks.shape[0]
    tables.store_default = compiled.store_default
    tables.sku_keys = int64_pointer(sku_keys)
    tables.sku_masks = mask_pointer(sku_masks)
    tables.sku_count = sku_keys.shape[0]
    tables.sku_default = compiled.sku_default
    tables.has_sku_condition = sku_keys.shape[0] > 0
    tables.weekday_masks = mask_pointer(weekday_masks)
    tables.minute_masks = mask_pointer(minute_masks)
    tables.day_masks = mask_pointer(day_masks)
    tables.day_base = compiled.day_base
    tables.day_table_size = day_masks.shape[0]
    tables.spend_thresholds_minor = int64_pointer(spend_thresholds)
    tables.spend_masks = mask_pointer(spend_masks)
    tables.spend_threshold_count = spend_thresholds.shape[0]
    tables.rule_count = rule_points_per_unit.shape[0]
    tables.all_rules = (<uint64_t>1 << tables.rule_count) - 1 if tables.rule_count < 64 else ~<uint64_t>0
    tables.rate_bits, tables.multiplier_bits, tables.bonus_bits, tables.exclusion_bits = compiled.kind_bits
    tables.rule_points_per_unit = int64_pointer(rule_points_per_unit)
    tables.rule_unit_minor = int64_pointer(rule_unit_minor)
    tables.rule_rounding = int64_pointer(rule_rounding)
    tables.rule_extra_basis_points = int64_pointer(rule_extra_basis_points)
    tables.rule_bonus_points = int64_pointer(rule_bonus_points)
    tables.rule_points_max = int64_pointer(rule_points_max)
    for rule in range(tables.rule_count):
        tables.rule_unit_reciprocal[rule] = lc_reciprocal(<uint64_t>rule_unit_minor[rule])
    tables.points_max_per_transaction = compiled.points_max_per_transaction
    tables.points_max_per_member_day = compiled.points_max_per_member_day
    tables.points_max_per_member_week = compiled.points_max_per_member_week
    tables.points_max_per_member_month = compiled.points_max_per_member_month
    tables.has_window = compiled.has_window
    tables.has_minute_window = compiled.has_minute_window
    tables.needs_local_time = tables.has_window or (
        tables.points_max_per_member_day >= 0
        or tables.points_max_per_member_week >= 0
        or tables.points_max_per_member_month >= 0
    )
    tables.transitions_seconds = int64_pointer(transitions_seconds)
    tables.offsets_seconds = int64_pointer(offsets_seconds)
    tables.transition_count = transitions_seconds.shape[0]
    tables.table_end_seconds = table_end_seconds

    columns.count = member_indexes.shape[0]
    columns.member_indexes = &member_indexes[0] if columns.count > 0 else NULL
    columns.amounts_minor = &amounts_minor[0] if columns.count > 0 else NULL
    columns.categories = &categories[0] if columns.count > 0 else NULL
    columns.skus = &skus[0] if columns.count > 0 else NULL
    columns.channels = &channels[0] if columns.count > 0 else NULL
    columns.stores = &stores[0] if columns.count > 0 else NULL
    columns.timestamps_seconds = &timestamps_seconds[0] if columns.count > 0 else NULL
    columns.member_tiers = &member_tiers[0] if member_tiers.shape[0] > 0 else NULL
    columns.member_count = member_tiers.shape[0]

    outputs.points = &points[0] if points.shape[0] > 0 else NULL
    points_max_of_period = (
        tables.points_max_per_member_day,
        tables.points_max_per_member_week,
        tables.points_max_per_member_month,
    )
    if cap_counters.shape[0] != 2 * 3 * columns.member_count:
        raise ValueError("cap_counters must hold (key, points) of 3 periods for every member")
    for period in range(3):
        outputs.periods[period].counters = (
            &cap_counters[2 * period * columns.member_count] if columns.member_count > 0 else NULL
        )
        outputs.periods[period].points_max = points_max_of_period[period]
        outputs.periods[period].compact_key = -1
        outputs.periods[period].compact_used = NULL
    outputs.attribution_counts = &attribution_counts[0] if attribution_counts.shape[0] > 0 else NULL
    outputs.attribution_rule_indexes = (
        &attribution_rule_indexes[0] if attribution_rule_indexes.shape[0] > 0 else NULL
    )
    outputs.attribution_points = &attribution_points[0] if attribution_points.shape[0] > 0 else NULL
    outputs.attribution_capacity = attribution_points.shape[0]

    cdef PlanCache* cache = <PlanCache*>malloc(sizeof(PlanCache))
    if cache == NULL:
        raise MemoryError()
    cache.plans = NULL
    cache.vector_plans = NULL
    try:
        cache.plans = <Plan*>malloc(sizeof(Plan) * PLANS_MAX)
        cache.vector_plans = <lc_vector_plan*>malloc(sizeof(lc_vector_plan) * PLANS_MAX)
        if cache.plans == NULL or cache.vector_plans == NULL:
            raise MemoryError()
        for entry in range(PLAN_TABLE_SIZE):
            cache.plan_indexes[entry] = PLAN_UNKNOWN
            cache.plan_words[entry] = 0
        cache.table_used = cache.plan_count = cache.slot_count = 0
        for period in range(3):
            if outputs.periods[period].points_max >= 0:
                # One more byte each, so that a batch without members still gets a pointer.
                outputs.periods[period].compact_used = <int32_t*>lc_member_state_alloc(
                    sizeof(int32_t) * columns.member_count + 1
                )
                if outputs.periods[period].compact_used == NULL:
                    raise MemoryError()
        with nogil:
            progress = accrue_range(&tables, &columns, &outputs, cache, start_index,
                                    attribution_used, vector_path_enabled)
    finally:
        free(cache.plans)
        free(cache.vector_plans)
        free(cache)
        for period in range(3):
            lc_member_state_free(outputs.periods[period].compact_used)
    global vector_transactions_total
    vector_transactions_total += progress.vector_transactions
    return int(progress.status), progress.transaction_index, progress.attribution_used


# The instructions of the vector path, by name; accrue_columns takes the vector path while some are
# selected: the best the processor has, unless use_vector_instructions chose others (for tests and
# measurements). How many transactions the vector path took, over all calls.
VECTOR_INSTRUCTIONS = {"avx2": LC_VECTOR_AVX2, "avx512": LC_VECTOR_AVX512}
cdef int vector_instructions = lc_vector_select(LC_VECTOR_AVX512)
cdef bint vector_path_enabled = vector_instructions != LC_VECTOR_NONE
cdef int64_t vector_transactions_total = 0


def _instructions_name(int instructions):
    for name, value in VECTOR_INSTRUCTIONS.items():
        if value == instructions:
            return name
    return None


def vector_instructions_supported():
    """The instruction sets the vector path can use on this processor, best first."""
    cdef int best = lc_vector_instructions_supported()
    return [name for name, value in sorted(VECTOR_INSTRUCTIONS.items(), key=lambda item: -item[1])
            if value <= best]


def use_vector_instructions(name):
    """Take the vector path with these instructions ("avx512", "avx2"), or not at all (None);
    returns the name used before. A set the processor lacks raises ValueError."""
    global vector_instructions, vector_path_enabled
    previous = _instructions_name(vector_instructions) if vector_path_enabled else None
    if name is not None and name not in vector_instructions_supported():
        raise ValueError(
            f"vector instructions {name!r}: this processor has {vector_instructions_supported()}"
        )
    if name is not None:
        vector_instructions = lc_vector_select(VECTOR_INSTRUCTIONS[name])
    vector_path_enabled = name is not None
    return previous


def use_vector_path(bint enabled):
    """Turn the vector path on (with the best instructions the processor has) or off; returns
    whether it was on."""
    previous = vector_path_enabled
    supported = vector_instructions_supported()
    use_vector_instructions(supported[0] if enabled and supported else None)
    return previous


def vector_path_available():
    """Whether the processor has what the vector path needs (AVX2 at least)."""
    return bool(vector_instructions_supported())


def vector_transaction_count():
    """How many transactions the vector path has accrued in this process (a statistic)."""
    return vector_transactions_total
