from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t

# Outcome of one pass of the kernel over a batch (see _accrual.pyx for the codes).
cdef enum AccrualStatus:
    ACCRUAL_DONE = 0
    ACCRUAL_NEEDS_CAPACITY = 1
    ACCRUAL_OVERFLOW = 2
    ACCRUAL_BAD_MEMBER_INDEX = 3
    ACCRUAL_BAD_TIMESTAMP = 4
    ACCRUAL_OUTSIDE_OFFSET_TABLE = 5

# The compiled rule set as raw pointers; bit r of each mask stands for rule r.
cdef struct RuleTables:
    const uint64_t* tier_masks
    int64_t tier_table_size
    const uint64_t* category_masks
    int64_t category_table_size
    uint64_t category_default
    const uint64_t* channel_masks
    int64_t channel_table_size
    uint64_t channel_default
    const uint64_t* store_masks
    int64_t store_table_size
    uint64_t store_default
    const int64_t* sku_keys
    const uint64_t* sku_masks
    int64_t sku_count
    uint64_t sku_default
    bint has_sku_condition
    const uint64_t* weekday_masks
    const uint64_t* minute_masks
    const uint64_t* day_masks
    int64_t day_base
    int64_t day_table_size
    const int64_t* spend_thresholds_minor
    const uint64_t* spend_masks
    int64_t spend_threshold_count
    uint64_t all_rules
    uint64_t rate_bits
    uint64_t multiplier_bits
    uint64_t bonus_bits
    uint64_t exclusion_bits
    int64_t rule_count
    const int64_t* rule_points_per_unit
    const int64_t* rule_unit_minor
    uint64_t rule_unit_reciprocal[64]
    const int64_t* rule_rounding
    const int64_t* rule_extra_basis_points
    const int64_t* rule_bonus_points
    const int64_t* rule_points_max
    int64_t points_max_per_transaction
    int64_t points_max_per_member_day
    int64_t points_max_per_member_week
    int64_t points_max_per_member_month
    bint has_window
    bint has_minute_window
    bint needs_local_time
    const int64_t* transitions_seconds
    const int64_t* offsets_seconds
    int64_t transition_count
    int64_t table_end_seconds

# One columnar batch of transactions.
cdef struct TransactionColumns:
    int64_t count
    const int32_t* member_indexes
    const int64_t* amounts_minor
    const int32_t* categories
    const int64_t* skus
    const int32_t* channels
    const int32_t* stores
    const int64_t* timestamps_seconds
    const int8_t* member_tiers
    int64_t member_count

# The cap counters of one period (day, week or month). The caller's block holds (key, points)
# per member, 16 bytes in a random place per transaction; while the kernel runs, the members'
# counters for one key (the first transaction's period) live in `compact_used`, 4 bytes each,
# which caches far better. compact_used[m] is value * 256 + member m's tier, the value the points
# m used in period compact_key, or COMPACT_IN_COUNTERS (the block holds them: 2**23 or more, or
# negative) or COMPACT_OTHER_PERIOD (the block holds the member's counter of another period).
# With the tier there, a transaction of a rule set with caps reads one place of member state.
cdef struct PeriodCounters:
    int64_t* counters
    int32_t* compact_used
    int64_t compact_key
    int64_t points_max  # < 0: no cap on this period

# Where the kernel writes; the cap counters (day, week and month blocks) are updated in place.
cdef struct AccrualOutputs:
    int64_t* points
    PeriodCounters periods[3]
    uint8_t* attribution_counts
    uint8_t* attribution_rule_indexes
    int64_t* attribution_points
    int64_t attribution_capacity

cdef struct AccrualProgress:
    AccrualStatus status
    int64_t transaction_index
    int64_t attribution_used
    int64_t vector_transactions  # how many went through the vector path

cdef enum:
    # Multiplier slots of a plan; the loop computes as many as the widest plan met so far.
    PLAN_SLOTS_MAX = 8
    PLANS_MAX = 1024
    # The hash table from matched masks to plans: 2**PLAN_TABLE_BITS entries, at most half used.
    PLAN_TABLE_BITS = 12
    PLAN_TABLE_SIZE = 4096
    PLAN_TABLE_USED_MAX = 2048
    # Plan index of an empty entry, and of a mask accrued rule by rule (no plan fits it).
    PLAN_UNKNOWN = -1
    PLAN_BY_RULE = -2
    # A plan's base stays below 2**PLAN_BASE_BITS (else the transaction goes rule by rule), so
    # base x extra basis points (< 2**20) fits in 63 bits and no sum of a plan can overflow.
    PLAN_BASE_BITS = 43


cdef struct Plan:
    # What a transaction with a given matched mask earns, laid out for the loop: the rate, the
    # multipliers as slots (empty slots add 0, so every transaction computes the same number of
    # slots: no branch that the mix of tiers and categories would make unpredictable) and the
    # bonuses, whose points do not depend on the transaction.
    int64_t points_per_unit
    # Spends up to this keep spend x points_per_unit below 2**PLAN_BASE_BITS; larger ones go rule
    # by rule.
    int64_t spend_max
    int64_t unit_minor
    uint64_t unit_reciprocal
    # The rate's rounding (see lc_biased_quotient), over unit_minor and over 10,000.
    uint64_t unit_bias
    uint64_t unit_odd_fix
    uint64_t basis_points_bias
    uint64_t basis_points_odd_fix
    int64_t rate_points_max
    int64_t slot_extra_basis_points[PLAN_SLOTS_MAX]
    int64_t slot_points_max[PLAN_SLOTS_MAX]
    uint8_t slot_rules[PLAN_SLOTS_MAX]
    uint8_t rate_rule
    bint excluded
    bint has_slot_caps  # a slot's rule has its own cap
    int64_t slot_count
    # From this base on, the base and every multiplier earn points, so that the entries are the
    # same for every transaction: `entry_count` of them, with the rule indexes of `entry_rules`
    # (one byte each). INT64_MAX when that cannot be (bonuses, a multiplier of 1x, a cap of 0).
    int64_t full_base_min
    int64_t entry_count
    uint64_t entry_rules
    int64_t bonus_count
    uint8_t bonus_rules[64]
    int64_t bonus_points[64]


cdef extern from "_accrual_vector.h":
    # The vector path (ledger_core/_accrual_vector.h): 16 transactions at a time with AVX-512 or
    # AVX2.
    enum:
        LC_VECTOR_NONE
        LC_VECTOR_AVX2
        LC_VECTOR_AVX512
        LC_VECTOR_LANES
        LC_VECTOR_SLOT_PAIRS
    int64_t VECTOR_UNIT_SHIFT "LC_VECTOR_UNIT_SHIFT"
    int64_t VECTOR_ROUNDING_SHIFT "LC_VECTOR_ROUNDING_SHIFT"
    uint64_t VECTOR_EXCLUDED "LC_VECTOR_EXCLUDED"
    uint64_t VECTOR_USABLE "LC_VECTOR_USABLE"
    int64_t VECTOR_ENTRY_COUNT_SHIFT "LC_VECTOR_ENTRY_COUNT_SHIFT"
    int64_t VECTOR_POINTS_PER_UNIT_MAX "LC_VECTOR_POINTS_PER_UNIT_MAX"
    int64_t VECTOR_UNIT_MAX "LC_VECTOR_UNIT_MAX"
    int64_t VECTOR_PLAN_SHIFT "LC_VECTOR_PLAN_SHIFT"

    ctypedef struct lc_vector_plan:
        uint64_t rate
        uint64_t slots
        uint64_t full
        uint64_t entry_rules
        uint64_t slot_pairs[LC_VECTOR_SLOT_PAIRS]

    ctypedef struct lc_vector_tables:
        const int32_t* member_indexes
        const int64_t* amounts_minor
        const int32_t* categories
        const int32_t* channels
        const int32_t* stores
        const int64_t* timestamps_seconds
        int64_t count
        const int32_t* member_states
        int64_t tier_table_size
        int64_t member_count
        const uint64_t* tier_masks
        const uint64_t* category_masks
        int64_t category_table_size
        uint64_t category_default
        const uint64_t* channel_masks
        int64_t channel_table_size
        uint64_t channel_default
        const uint64_t* store_masks
        int64_t store_table_size
        uint64_t store_default
        const int64_t* spend_thresholds_minor
        const uint64_t* spend_masks
        int64_t spend_threshold_count
        const uint64_t* minute_masks
        int has_minute_window
        uint64_t all_rules
        int64_t points_max_per_transaction
        int64_t member_points_max
        const uint64_t* plan_keys
        const int32_t* plan_indexes
        const uint64_t* plan_words
        int plan_table_bits
        const lc_vector_plan* plans

    ctypedef struct lc_vector_clock:
        int64_t utc_low
        int64_t utc_high
        int64_t day_start_utc
        uint64_t day_mask
        int short_cap

    ctypedef struct lc_group:
        int64_t values[9][LC_VECTOR_LANES]
        int64_t kept[4][LC_VECTOR_LANES]
        int64_t kept_counts[LC_VECTOR_LANES]
        int64_t points[LC_VECTOR_LANES]
        int64_t totals[LC_VECTOR_LANES]
        int64_t capped[LC_VECTOR_LANES]
        uint64_t entry_rules[LC_VECTOR_LANES]
        int64_t entry_counts[LC_VECTOR_LANES]
        int32_t member_states[LC_VECTOR_LANES]
        int32_t plan_indexes[LC_VECTOR_LANES]
        uint32_t lanes
        uint32_t full_lanes
        uint32_t excluded_lanes
        uint32_t state_lanes
        uint32_t written_lanes

    ctypedef struct lc_vector_outputs:
        int64_t* points
        uint8_t* attribution_counts
        uint8_t* attribution_rule_indexes
        int64_t* attribution_points
        int32_t* member_states
        const int32_t* member_indexes

    int lc_vector_instructions_supported() noexcept nogil
    int lc_vector_select(int instructions) noexcept nogil
    void lc_vector_group(const lc_vector_tables* tables, const lc_vector_clock* clock,
                         int64_t index, int64_t slot_count, lc_group* group) noexcept nogil
    int lc_vector_write(const lc_group* group, int lane, int64_t index,
                        const lc_vector_outputs* outputs, int64_t* used) noexcept nogil


cdef struct PlanCache:
    # The plans of the masks met so far in one kernel call (a batch has few distinct masks).
    uint64_t keys[PLAN_TABLE_SIZE]
    int32_t plan_indexes[PLAN_TABLE_SIZE]
    int64_t table_used
    Plan* plans
    # The same plans as the vector path reads them (lc_vector_plan), by the same index, and the
    # table as key | (plan index + 1) << VECTOR_PLAN_SHIFT, for rule sets of up to 52 rules.
    lc_vector_plan* vector_plans
    uint64_t plan_words[PLAN_TABLE_SIZE]
    int64_t plan_count
    int64_t slot_count  # the most slots of any plan so far


cdef AccrualProgress accrue_range(
    const RuleTables* tables,
    const TransactionColumns* columns,
    AccrualOutputs* outputs,
    PlanCache* cache,
    int64_t start_index,
    int64_t attribution_used,
    bint vector,
) noexcept nogil
