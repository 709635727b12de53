/* The accrual kernel's vector path: 8 transactions at a time with AVX-512 (F, DQ, CD, VL, BW).

   lc_vector_group computes what the common path of accrue_loop (ledger_core/_accrual.pyx) would
   for 8 consecutive transactions: the matched mask, the plan (first probe of the plan table), the
   base and the multipliers' extras with their exact rounding, the transaction cap and the one
   member cap. It writes nothing but its lc_group: the loop in _accrual.pyx writes the entries,
   points and counters lane by lane, in order, and sends every lane the vector path cannot take
   (lc_group.lanes bit clear) through the scalar code instead. A lane leaves the vector path when
   its member index, timestamp or amount is out of the usual range, its timestamp is not in the
   clock's day and offset interval, its mask has no plan at the first probe or a plan the vector
   path cannot take (bonuses, rules with caps of their own), its spend x points per unit reaches
   2**31, its member's counter is not compact in the current period, or an earlier lane of the
   group has the same member (its counter would have changed: vpconflictd).

   Exactness: every quotient is floor(n / d) of integers n < 2**52: n and d convert to doubles
   exactly, n x (1 / d) is within one of the quotient and the remainder, computed in integers,
   corrects it. The rounding is that of the scalar plans (lc_biased_quotient, lc_multiplier_extra):
   a bias added before the division and an odd quotient of an exact tie taken back by one.

   Compiled for AVX-512 with target attributes, called only when the processor has it
   (lc_vector_supported), so the extension still runs on any x86-64 (and builds elsewhere, where
   the vector path is simply absent). */

#ifndef LEDGER_CORE_ACCRUAL_VECTOR_H
#define LEDGER_CORE_ACCRUAL_VECTOR_H

#include <stdint.h>

#define LC_VECTOR_LANES 8
/* A plan's multiplier slots, two to a 64-bit word (extras are below 2**20). */
#define LC_VECTOR_SLOT_PAIRS 4
/* lc_vector_plan.rounding: unit bias (bits 0-31), basis points bias (32-47), and flags. */
#define LC_VECTOR_UNIT_ODD_FIX (1ULL << 48)
#define LC_VECTOR_BASIS_POINTS_ODD_FIX (1ULL << 49)
#define LC_VECTOR_EXCLUDED (1ULL << 50)
#define LC_VECTOR_USABLE (1ULL << 51)
#define LC_VECTOR_ENTRY_COUNT_SHIFT 56
/* Spend x points per unit below this, so that every dividend stays below 2**52. */
#define LC_VECTOR_PRODUCT_LIMIT (1LL << 31)
/* Compact counters (see _accrual.pyx): value * 256 + tier. */
#define LC_VECTOR_COMPACT_IN_COUNTERS (-1)
#define LC_VECTOR_COMPACT_USED_MAX 8388607LL
/* Member state is prefetched this many transactions ahead. */
#define LC_VECTOR_PREFETCH_DISTANCE 32

/* A plan as the vector path reads it: one 64-byte line per plan, gathered by plan index. */
typedef struct {
    int64_t rate;            /* points_per_unit | unit_minor << 32 */
    uint64_t rounding;       /* biases and flags, see above */
    int64_t full_base_min;   /* Plan.full_base_min */
    uint64_t entry_rules;    /* Plan.entry_rules */
    int64_t slot_pairs[LC_VECTOR_SLOT_PAIRS];  /* extra basis points, slot 2k low, 2k + 1 high */
} lc_vector_plan;

/* What lc_vector_group reads; set up once per kernel call. */
typedef struct {
    const int32_t *member_indexes;
    const int64_t *amounts_minor;
    const int32_t *categories;
    const int32_t *channels;
    const int32_t *stores;
    const int64_t *timestamps_seconds;
    int64_t count;
    /* Compact member state: value * 256 + tier (tier alone when no period is capped). */
    const int32_t *member_states;
    int64_t tier_table_size;
    int64_t member_count;
    const uint64_t *tier_masks;
    const uint64_t *category_masks;
    int64_t category_table_size;
    uint64_t category_default;
    const uint64_t *channel_masks;
    int64_t channel_table_size;
    uint64_t channel_default;
    const uint64_t *store_masks;
    int64_t store_table_size;
    uint64_t store_default;
    const int64_t *spend_thresholds_minor;
    const uint64_t *spend_masks;
    int64_t spend_threshold_count;
    const uint64_t *minute_masks;
    int has_minute_window;
    uint64_t all_rules;
    int64_t points_max_per_transaction;
    int64_t member_points_max;  /* the one capped period's cap, < 0 without one */
    const uint64_t *plan_keys;
    const int32_t *plan_indexes;
    int plan_table_bits;
    const lc_vector_plan *plans;
} lc_vector_tables;

/* The clock of the group: timestamps in [utc_low, utc_high) share its local day and offset. */
typedef struct {
    int64_t utc_low;
    int64_t utc_high;
    int64_t day_start_utc;
    uint64_t day_mask;
    int short_cap;  /* the capped period's compact counters are those of this day's period */
} lc_vector_clock;

/* One group's results, lane by lane; entries and points carry the amount's sign. */
typedef struct {
    int64_t values[1 + 8][LC_VECTOR_LANES];  /* the base, then each slot's extra */
    /* For lc_vector_write: the entries of full lanes with the caps taken off (from the last), in
       slots 0 to 3 (slot counts up to 3), and how many of them are kept. */
    int64_t kept[4][LC_VECTOR_LANES];
    int64_t kept_counts[LC_VECTOR_LANES];
    int64_t points[LC_VECTOR_LANES];
    int64_t totals[LC_VECTOR_LANES];         /* before caps, >= 0 */
    int64_t capped[LC_VECTOR_LANES];         /* after them */
    uint64_t entry_rules[LC_VECTOR_LANES];
    int64_t entry_counts[LC_VECTOR_LANES];
    int32_t member_states[LC_VECTOR_LANES];  /* the member's new state, for state_lanes */
    int32_t plan_indexes[LC_VECTOR_LANES];
    uint32_t lanes;           /* computed here; the others go through the scalar code */
    uint32_t full_lanes;      /* every entry of the plan earns: entry_rules, entry_counts */
    uint32_t excluded_lanes;
    uint32_t state_lanes;     /* purchases that count towards the member cap */
    uint32_t written_lanes;   /* lanes lc_vector_write writes: excluded, or full with <= 3 slots */
} lc_group;

/* Where lc_vector_write writes (the kernel's outputs) and the member state it updates. */
typedef struct {
    int64_t *points;
    uint8_t *attribution_counts;
    uint8_t *attribution_rule_indexes;
    int64_t *attribution_points;
    int32_t *member_states;
    const int32_t *member_indexes;
} lc_vector_outputs;

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define LC_VECTOR_TARGET __attribute__((target("avx512f,avx512dq,avx512cd,avx512vl,avx512bw")))

static int lc_vector_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512bw");
}

/* floor(n / d) and its remainder, for 0 <= n < 2**52 and 0 < d < 2**52, with inverse = 1 / d. */
LC_VECTOR_TARGET static inline __m512i lc_vector_divide(__m512i n, __m512i d, __m512d inverse,
                                                         __m512i *remainder) {
    __m512i quotient = _mm512_cvttpd_epi64(_mm512_mul_pd(_mm512_cvtepi64_pd(n), inverse));
    __m512i rest = _mm512_sub_epi64(n, _mm512_mullo_epi64(quotient, d));
    __mmask8 under = _mm512_cmplt_epi64_mask(rest, _mm512_setzero_si512());
    quotient = _mm512_mask_sub_epi64(quotient, under, quotient, _mm512_set1_epi64(1));
    rest = _mm512_mask_add_epi64(rest, under, rest, d);
    __mmask8 over = _mm512_cmpge_epi64_mask(rest, d);
    quotient = _mm512_mask_add_epi64(quotient, over, quotient, _mm512_set1_epi64(1));
    rest = _mm512_mask_sub_epi64(rest, over, rest, d);
    *remainder = rest;
    return quotient;
}

/* An exact tie (remainder 0 after the bias) that landed on an odd quotient goes back by one. */
LC_VECTOR_TARGET static inline __m512i lc_vector_odd_fix(__m512i quotient, __m512i remainder,
                                                          __mmask8 odd_fix) {
    __mmask8 tie = odd_fix & _mm512_cmpeq_epi64_mask(remainder, _mm512_setzero_si512())
        & _mm512_test_epi64_mask(quotient, _mm512_set1_epi64(1));
    return _mm512_mask_sub_epi64(quotient, tie, quotient, _mm512_set1_epi64(1));
}

/* The mask of a dense table (categories, channels, stores): ids outside it get the default. */
LC_VECTOR_TARGET static inline __m512i lc_vector_dense_mask(const uint64_t *masks, int64_t size,
                                                             uint64_t default_mask,
                                                             const int32_t *ids, __mmask8 lanes) {
    __m256i id = _mm256_loadu_si256((const __m256i *)ids);
    __mmask8 inside = lanes & _mm256_cmplt_epu32_mask(id, _mm256_set1_epi32((int32_t)size));
    return _mm512_mask_i32gather_epi64(_mm512_set1_epi64((int64_t)default_mask), inside, id,
                                       (const long long *)masks, 8);
}

LC_VECTOR_TARGET static inline __m512i lc_vector_signed(__m512i values, __mmask8 negative) {
    return _mm512_mask_sub_epi64(values, negative, _mm512_setzero_si512(), values);
}

/* The group of transactions index to index + 7 (all < t->count), into g. */
LC_VECTOR_TARGET static void lc_vector_group(const lc_vector_tables *t, const lc_vector_clock *c,
                                             int64_t index, int64_t slot_count, lc_group *g) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFFLL);
    int64_t ahead = index + LC_VECTOR_PREFETCH_DISTANCE;
    if (ahead + LC_VECTOR_LANES <= t->count) {
        for (int lane = 0; lane < LC_VECTOR_LANES; lane++) {
            uint32_t member = (uint32_t)t->member_indexes[ahead + lane];
            if (member < (uint64_t)t->member_count)
                __builtin_prefetch(&t->member_states[member], 1, 3);
        }
    }

    /* Inputs, and the lanes whose inputs the vector path takes. */
    __m256i members = _mm256_loadu_si256((const __m256i *)(t->member_indexes + index));
    __mmask8 lanes = _mm256_cmplt_epu32_mask(members, _mm256_set1_epi32(
        (int32_t)(t->member_count < 0x7FFFFFFF ? t->member_count : 0x7FFFFFFF)));
    __m512i timestamps = _mm512_loadu_si512(t->timestamps_seconds + index);
    lanes &= _mm512_cmpge_epi64_mask(timestamps, _mm512_set1_epi64(c->utc_low))
        & _mm512_cmplt_epi64_mask(timestamps, _mm512_set1_epi64(c->utc_high));
    __m512i amounts = _mm512_loadu_si512(t->amounts_minor + index);
    __mmask8 negative = _mm512_cmplt_epi64_mask(amounts, zero);
    /* abs(INT64_MIN) is 2**63 unsigned: out of range too. */
    __m512i spends = _mm512_abs_epi64(amounts);
    lanes &= _mm512_cmplt_epu64_mask(spends, _mm512_set1_epi64(LC_VECTOR_PRODUCT_LIMIT));

    /* 1. Match. */
    __m256i states = _mm256_mmask_i32gather_epi32(_mm256_setzero_si256(), lanes, members,
                                                  t->member_states, 4);
    __m256i tiers = _mm256_and_si256(states, _mm256_set1_epi32(255));
    __m512i matched;
    if (t->tier_table_size <= 8) {
        /* Few tiers (the usual case): the table in a register, no gather. */
        __m512i table = _mm512_maskz_loadu_epi64((__mmask8)((1u << t->tier_table_size) - 1),
                                                 t->tier_masks);
        matched = _mm512_permutexvar_epi64(_mm512_cvtepu32_epi64(tiers), table);
    } else {
        matched = _mm512_mask_i32gather_epi64(zero, lanes, tiers,
                                              (const long long *)t->tier_masks, 8);
    }
    matched = _mm512_and_si512(matched, _mm512_set1_epi64((int64_t)(t->all_rules & c->day_mask)));
    if (t->category_table_size)
        matched = _mm512_and_si512(matched, lc_vector_dense_mask(
            t->category_masks, t->category_table_size, t->category_default,
            t->categories + index, lanes));
    if (t->channel_table_size)
        matched = _mm512_and_si512(matched, lc_vector_dense_mask(
            t->channel_masks, t->channel_table_size, t->channel_default,
            t->channels + index, lanes));
    if (t->store_table_size)
        matched = _mm512_and_si512(matched, lc_vector_dense_mask(
            t->store_masks, t->store_table_size, t->store_default, t->stores + index, lanes));
    if (t->spend_threshold_count) {
        __m512i level = zero;
        for (int64_t k = 0; k < t->spend_threshold_count; k++)
            level = _mm512_mask_add_epi64(
                level, _mm512_cmpge_epi64_mask(spends, _mm512_set1_epi64(t->spend_thresholds_minor[k])),
                level, _mm512_set1_epi64(1));
        matched = _mm512_and_si512(matched, _mm512_mask_i64gather_epi64(
            zero, lanes, level, (const long long *)t->spend_masks, 8));
    }
    if (t->has_minute_window) {
        /* Seconds into the day (< 86,400) / 60 as (s x 34,953) >> 21, exact below 86,400. */
        __m256i seconds = _mm512_cvtepi64_epi32(
            _mm512_sub_epi64(timestamps, _mm512_set1_epi64(c->day_start_utc)));
        __m256i minutes = _mm256_srli_epi32(
            _mm256_mullo_epi32(seconds, _mm256_set1_epi32(34953)), 21);
        matched = _mm512_and_si512(matched, _mm512_mask_i32gather_epi64(
            zero, lanes, minutes, (const long long *)t->minute_masks, 8));
    }

    /* The plan: the first probe of the plan table, as the scalar loop's. */
    __m512i entries = _mm512_srli_epi64(
        _mm512_mullo_epi64(matched, _mm512_set1_epi64((int64_t)0x9E3779B97F4A7C15ULL)),
        64 - t->plan_table_bits);
    __m512i keys = _mm512_mask_i64gather_epi64(zero, lanes, entries,
                                               (const long long *)t->plan_keys, 8);
    __m256i plans = _mm512_mask_i64gather_epi32(_mm256_set1_epi32(-1), lanes, entries,
                                                t->plan_indexes, 4);
    lanes &= _mm512_cmpeq_epi64_mask(keys, matched)
        & _mm256_cmpge_epi32_mask(plans, _mm256_setzero_si256());
    /* Plan fields: 8 int64 a plan, so field f of plan p is at (p * 8 + f) * 8 bytes. */
    __m256i rows = _mm256_slli_epi32(plans, 3);
    const long long *plan_base = (const long long *)t->plans;
    __m512i rates = _mm512_mask_i32gather_epi64(zero, lanes, rows, plan_base + 0, 8);
    __m512i roundings = _mm512_mask_i32gather_epi64(zero, lanes, rows, plan_base + 1, 8);
    lanes &= _mm512_test_epi64_mask(roundings, _mm512_set1_epi64((int64_t)LC_VECTOR_USABLE));
    __mmask8 excluded = lanes
        & _mm512_test_epi64_mask(roundings, _mm512_set1_epi64((int64_t)LC_VECTOR_EXCLUDED));

    /* 3. The base: round(spend x points per unit / unit). */
    __m512i products = _mm512_mullo_epi64(spends, _mm512_and_si512(rates, low32));
    lanes &= _mm512_cmplt_epi64_mask(products, _mm512_set1_epi64(LC_VECTOR_PRODUCT_LIMIT));
    __m512i units = _mm512_srli_epi64(rates, 32);
    units = _mm512_mask_blend_epi64(lanes, _mm512_set1_epi64(1), units);
    __m512d inverses = _mm512_div_pd(_mm512_set1_pd(1.0), _mm512_cvtepi64_pd(units));
    __m512i remainders;
    __m512i bases = lc_vector_divide(_mm512_add_epi64(products, _mm512_and_si512(roundings, low32)),
                                     units, inverses, &remainders);
    bases = lc_vector_odd_fix(bases, remainders, _mm512_test_epi64_mask(
        roundings, _mm512_set1_epi64((int64_t)LC_VECTOR_UNIT_ODD_FIX)));
    _mm512_storeu_si512(g->values[0], lc_vector_signed(bases, negative));

    /* 4. The multipliers' extras: round(base x extra basis points / 10,000). */
    __m512i basis_points_biases = _mm512_and_si512(_mm512_srli_epi64(roundings, 32),
                                                   _mm512_set1_epi64(0xFFFF));
    __mmask8 basis_points_odd_fix = _mm512_test_epi64_mask(
        roundings, _mm512_set1_epi64((int64_t)LC_VECTOR_BASIS_POINTS_ODD_FIX));
    const __m512i ten_thousand = _mm512_set1_epi64(10000);
    const __m512d ten_thousandth = _mm512_set1_pd(1.0 / 10000.0);
    __m512i totals = bases;
    for (int64_t pair = 0; pair < (slot_count + 1) / 2; pair++) {
        __m512i slots = _mm512_mask_i32gather_epi64(zero, lanes, rows, plan_base + 4 + pair, 8);
        for (int64_t half = 0; half < 2 && 2 * pair + half < slot_count; half++) {
            __m512i extra_basis_points = half ? _mm512_srli_epi64(slots, 32)
                                              : _mm512_and_si512(slots, low32);
            __m512i extras = lc_vector_divide(
                _mm512_add_epi64(_mm512_mullo_epi64(bases, extra_basis_points),
                                 basis_points_biases),
                ten_thousand, ten_thousandth, &remainders);
            extras = lc_vector_odd_fix(extras, remainders, basis_points_odd_fix);
            totals = _mm512_add_epi64(totals, extras);
            _mm512_storeu_si512(g->values[1 + 2 * pair + half], lc_vector_signed(extras, negative));
        }
    }
    totals = _mm512_maskz_mov_epi64(~excluded, totals);

    /* 6. The transaction cap; 7. the member cap, for purchases. */
    __m512i capped = _mm512_min_epi64(totals, _mm512_set1_epi64(t->points_max_per_transaction));
    __mmask8 state_lanes = 0;
    if (t->member_points_max >= 0) {
        __mmask8 purchases = lanes & ~negative & _mm512_cmpgt_epi64_mask(capped, zero);
        if (!c->short_cap) {
            lanes &= ~purchases;
            purchases = 0;
        }
        __m512i used = _mm512_cvtepi32_epi64(_mm256_srai_epi32(states, 8));
        lanes &= ~(purchases & _mm512_cmpeq_epi64_mask(
            used, _mm512_set1_epi64(LC_VECTOR_COMPACT_IN_COUNTERS)));
        /* A counter of another period counts as none used. */
        used = _mm512_max_epi64(used, zero);
        __m512i room = _mm512_max_epi64(
            _mm512_sub_epi64(_mm512_set1_epi64(t->member_points_max), used), zero);
        capped = _mm512_mask_min_epi64(capped, purchases, capped, room);
        __m512i new_used = _mm512_add_epi64(used, capped);
        lanes &= ~(purchases & _mm512_cmpgt_epi64_mask(
            new_used, _mm512_set1_epi64(LC_VECTOR_COMPACT_USED_MAX)));
        __m256i new_states = _mm256_or_si256(
            _mm256_slli_epi32(_mm512_cvtepi64_epi32(new_used), 8), tiers);
        _mm256_storeu_si256((__m256i *)g->member_states, new_states);
        /* A member met earlier in the group: that lane may change its counter first. */
        __m256i conflicts = _mm256_conflict_epi32(members);
        lanes &= _mm256_cmpeq_epi32_mask(conflicts, _mm256_setzero_si256());
        state_lanes = purchases & lanes;
    }

    __m512i full_base_min = _mm512_mask_i32gather_epi64(zero, lanes, rows, plan_base + 2, 8);
    __mmask8 full = lanes & ~excluded & _mm512_cmpge_epi64_mask(bases, full_base_min);
    __m512i entry_rules = _mm512_mask_i32gather_epi64(zero, full, rows, plan_base + 3, 8);
    __m512i entry_counts = _mm512_srli_epi64(roundings, LC_VECTOR_ENTRY_COUNT_SHIFT);
    _mm512_storeu_si512(g->entry_rules, entry_rules);
    _mm512_storeu_si512(g->entry_counts, entry_counts);
    if (slot_count <= 3) {
        /* 8. The caps taken off the entries from the last (trim_entries in _accrual.pyx): with
           every entry above 0, entry s keeps min(its points, what the cap leaves after the
           entries before it) and is kept while that is above 0. Excluded lanes keep none. */
        __m512i left = capped;
        __m512i kept_counts = zero;
        for (int64_t slot = 0; slot <= 3; slot++) {
            __m512i value = slot <= slot_count ? _mm512_loadu_si512(g->values[slot]) : zero;
            value = _mm512_abs_epi64(value);
            __m512i kept = _mm512_min_epi64(value, left);
            __mmask8 counted = _mm512_cmpgt_epi64_mask(left, zero)
                & _mm512_cmpgt_epi64_mask(entry_counts, _mm512_set1_epi64(slot));
            kept_counts = _mm512_mask_add_epi64(kept_counts, counted, kept_counts,
                                                _mm512_set1_epi64(1));
            left = _mm512_sub_epi64(left, kept);
            _mm512_storeu_si512(g->kept[slot], lc_vector_signed(kept, negative));
        }
        _mm512_storeu_si512(g->kept_counts, _mm512_maskz_mov_epi64(~excluded, kept_counts));
        g->written_lanes = lanes & (full | excluded);
    } else {
        g->written_lanes = excluded;
    }
    _mm512_storeu_si512(g->totals, totals);
    _mm512_storeu_si512(g->capped, capped);
    _mm512_storeu_si512(g->points, lc_vector_signed(capped, negative));
    _mm256_storeu_si256((__m256i *)g->plan_indexes, plans);
    g->lanes = lanes;
    g->full_lanes = full;
    g->excluded_lanes = excluded;
    g->state_lanes = state_lanes;
}


/* Writes the group's lanes from `lane` on, in order, up to the first lane not in written_lanes
   (returned; LC_VECTOR_LANES when it wrote them all): points, counts, entries (from `*used` on,
   which moves past them) and member state. The entries of two lanes at a time are compressed
   into one run (vpcompressq into a register, then a plain store of 8 entries: there is room for
   them, see accrue_loop_vector). */
LC_VECTOR_TARGET static int lc_vector_write(const lc_group *g, int lane, int64_t index,
                                            const lc_vector_outputs *o, int64_t *used) {
    const __m512i zero = _mm512_setzero_si512();
    uint32_t after = ~g->written_lanes & 0xFFu & (0xFFu << lane);
    int end = after ? __builtin_ctz(after) : LC_VECTOR_LANES;
    __mmask8 lanes = (__mmask8)((0xFFu << lane) & ((1u << end) - 1));
    if (!lanes)
        return end;
    _mm512_mask_storeu_epi64(o->points + index, lanes, _mm512_loadu_si512(g->points));
    __m512i counts = _mm512_maskz_loadu_epi64(lanes, g->kept_counts);
    _mm_mask_storeu_epi8(o->attribution_counts + index, lanes, _mm512_cvtepi64_epi8(counts));
    /* Lane l's entries as bits l % 2 * 4 up: the first count of them. */
    __m512i shifts = _mm512_set_epi64(4, 0, 4, 0, 4, 0, 4, 0);
    __m512i one = _mm512_set1_epi64(1);
    __m512i bits = _mm512_sllv_epi64(_mm512_sub_epi64(_mm512_sllv_epi64(one, counts), one), shifts);
    uint64_t lane_bits = (uint64_t)_mm_cvtsi128_si64(_mm512_cvtepi64_epi8(bits));
    lane_bits |= lane_bits >> 8;
    /* Entries lane-major: rows of 4 (one lane's slots 0 to 3), two lanes to a register. */
    __m512i a = _mm512_loadu_si512(g->kept[0]), b = _mm512_loadu_si512(g->kept[1]);
    __m512i c = _mm512_loadu_si512(g->kept[2]), d = _mm512_loadu_si512(g->kept[3]);
    __m512i ab_even = _mm512_unpacklo_epi64(a, b), ab_odd = _mm512_unpackhi_epi64(a, b);
    __m512i cd_even = _mm512_unpacklo_epi64(c, d), cd_odd = _mm512_unpackhi_epi64(c, d);
    __m512i low = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    __m512i high = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    __m512i pairs[4];
    /* pairs[k] holds the rows of lanes 2k and 2k + 1. */
    pairs[0] = _mm512_permutex2var_epi64(ab_even, low, cd_even);   /* lanes 0, 2 */
    pairs[1] = _mm512_permutex2var_epi64(ab_odd, low, cd_odd);     /* lanes 1, 3 */
    pairs[2] = _mm512_permutex2var_epi64(ab_even, high, cd_even);  /* lanes 4, 6 */
    pairs[3] = _mm512_permutex2var_epi64(ab_odd, high, cd_odd);    /* lanes 5, 7 */
    /* Regroup as lanes (0, 1), (2, 3), (4, 5), (6, 7): swap the odd rows' halves in. */
    __m512i rows01 = _mm512_mask_blend_epi64(0xF0, pairs[0], _mm512_shuffle_i64x2(pairs[1], pairs[1], 0x44));
    __m512i rows23 = _mm512_mask_blend_epi64(0x0F, pairs[1], _mm512_shuffle_i64x2(pairs[0], pairs[0], 0xEE));
    __m512i rows45 = _mm512_mask_blend_epi64(0xF0, pairs[2], _mm512_shuffle_i64x2(pairs[3], pairs[3], 0x44));
    __m512i rows67 = _mm512_mask_blend_epi64(0x0F, pairs[3], _mm512_shuffle_i64x2(pairs[2], pairs[2], 0xEE));
    __m512i rows[4] = {rows01, rows23, rows45, rows67};
    /* Rule indexes: the low 4 bytes of each lane's entry_rules, two lanes to 8 bytes. */
    __m256i rule_words = _mm512_cvtepi64_epi32(_mm512_loadu_si512(g->entry_rules));
    __m128i rules_low = _mm256_castsi256_si128(rule_words);
    __m128i rules_high = _mm256_extracti128_si256(rule_words, 1);
    __m128i rule_pairs[4] = {rules_low, _mm_srli_si128(rules_low, 8), rules_high,
                             _mm_srli_si128(rules_high, 8)};
    int64_t entry = *used;
    for (int pair = lane / 2; pair < (end + 1) / 2; pair++) {
        __mmask8 kept = (__mmask8)(lane_bits >> (16 * pair));
        if (2 * pair < lane) kept &= 0xF0;
        if (2 * pair + 1 >= end) kept &= 0x0F;
        _mm512_storeu_si512(o->attribution_points + entry, _mm512_maskz_compress_epi64(kept, rows[pair]));
        __m512i rules = _mm512_maskz_compress_epi64(kept, _mm512_cvtepu8_epi64(rule_pairs[pair]));
        _mm_storel_epi64((__m128i *)(o->attribution_rule_indexes + entry), _mm512_cvtepi64_epi8(rules));
        entry += __builtin_popcount(kept);
    }
    *used = entry;
    __mmask8 states = lanes & g->state_lanes;
    if (states) {
        __m256i members = _mm256_loadu_si256((const __m256i *)(o->member_indexes + index));
        _mm256_mask_i32scatter_epi32(o->member_states, states, members,
                                     _mm256_loadu_si256((const __m256i *)g->member_states), 4);
    }
    return end;
}

#else

static int lc_vector_supported(void) { return 0; }

static void lc_vector_group(const lc_vector_tables *t, const lc_vector_clock *c, int64_t index,
                            int64_t slot_count, lc_group *g) {
    (void)t; (void)c; (void)index; (void)slot_count;
    g->lanes = g->written_lanes = 0;
}

static int lc_vector_write(const lc_group *g, int lane, int64_t index,
                           const lc_vector_outputs *o, int64_t *used) {
    (void)g; (void)index; (void)o; (void)used;
    return lane;
}

#endif

#endif
