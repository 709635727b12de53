/* The accrual kernel's vector path: 16 transactions a group with AVX-512 (F, DQ, CD, VL, BW), or
   with AVX2 where the processor has no AVX-512 (_accrual_vector_avx2.h).

   lc_vector_group computes what the common path of accrue_transaction (ledger_core/_accrual.pyx)
   would for 16 consecutive transactions, as two registers of 8 lanes whose steps are interleaved
   (one group's chain of dependent gathers is long; two chains keep the core busy): the matched
   mask, the plan (the first probe of the plan table, as the scalar loop's), the base and the
   multipliers' extras with their exact rounding, the transaction cap, the one member cap, and the
   entries with the caps taken off. It writes only its lc_group; lc_vector_write then writes the
   usual lanes to the outputs, and the loop in _accrual.pyx writes the others itself, in order,
   sending every lane the vector path does not take (lc_group.lanes bit clear) through the scalar
   code. A lane leaves the vector path when its member index, timestamp or amount is outside the
   usual range, its timestamp is not in the clock's local day and offset interval, its mask has
   no plan at the first probe or a plan the vector path does not take (bonuses, rules with caps of
   their own, a rate of 2**20 points a unit or more), its spend x points per unit reaches 2**31,
   its member's counter is not compact in the current period, or an earlier lane of the group has
   the same member and there is a member cap (that lane may change the counter first: vpconflictd).

   Exactness: every quotient is floor(n / d) for integers n < 2**52: n converts to a double
   exactly, n x (1 / d) is within one of the quotient, and the remainder, computed in integers,
   corrects it. The rounding is that of the scalar plans (lc_biased_quotient, lc_multiplier_extra):
   a bias added before the division, and an odd quotient of an exact tie taken back by one.

   Compiled for AVX-512 and AVX2 through target attributes, each called only when the processor
   has it (lc_vector_instructions_supported, lc_vector_select), so the extension runs on any
   x86-64, and builds elsewhere without either. */

#ifndef LEDGER_CORE_ACCRUAL_VECTOR_H
#define LEDGER_CORE_ACCRUAL_VECTOR_H

#include <stdint.h>
#include <string.h>

/* The instructions the vector path uses: none (the scalar loop), AVX2, AVX-512. */
#define LC_VECTOR_NONE 0
#define LC_VECTOR_AVX2 1
#define LC_VECTOR_AVX512 2

/* Lanes a register (int64), and a group: two registers. */
#define LC_VECTOR_WIDTH 8
#define LC_VECTOR_LANES 16
#define LC_VECTOR_HALVES 2
/* Multiplier slots two to a 64-bit word beyond 3 slots (extras are below 2**20). */
#define LC_VECTOR_SLOT_PAIRS 4
/* lc_vector_plan.rate: points per unit (bits 0-19), unit (20-49), rounding (50-51), flags, and
   the entry count (56-59). */
#define LC_VECTOR_UNIT_SHIFT 20
#define LC_VECTOR_ROUNDING_SHIFT 50
#define LC_VECTOR_EXCLUDED (1ULL << 52)
#define LC_VECTOR_USABLE (1ULL << 53)
#define LC_VECTOR_ENTRY_COUNT_SHIFT 56
#define LC_VECTOR_POINTS_PER_UNIT_MAX ((1LL << 20) - 1)
#define LC_VECTOR_UNIT_MAX ((1LL << 30) - 1)
/* lc_vector_tables.plan_words: the key (matched mask) below bit 52, the plan index + 1 above. */
#define LC_VECTOR_PLAN_SHIFT 52
#define LC_VECTOR_KEY_MASK ((1ULL << LC_VECTOR_PLAN_SHIFT) - 1)
/* Spend x points per unit below this, so that every dividend stays below 2**52. */
#define LC_VECTOR_PRODUCT_LIMIT (1LL << 31)
/* Compact counters (see _accrual.pyx): value * 256 + tier. */
#define LC_VECTOR_COMPACT_IN_COUNTERS (-1)
#define LC_VECTOR_COMPACT_USED_MAX 8388607LL
/* Member state is prefetched this many transactions ahead. */
#ifndef LC_VECTOR_PREFETCH_DISTANCE
#define LC_VECTOR_PREFETCH_DISTANCE 48
#endif
/* Prefetched for reading: measured faster here than with the intent to write. */
#ifndef LC_VECTOR_PREFETCH_WRITE
#define LC_VECTOR_PREFETCH_WRITE 0
#endif

/* A plan as the vector path reads it: one 64-byte line per plan, gathered by plan index. */
typedef struct {
    uint64_t rate;          /* see LC_VECTOR_*_SHIFT */
    uint64_t slots;         /* up to 3 slots' extra basis points, 20 bits each */
    uint64_t full;          /* min(full_base_min, 2**32 - 1) | the first 4 entry rules << 32 */
    uint64_t entry_rules;   /* Plan.entry_rules */
    uint64_t slot_pairs[LC_VECTOR_SLOT_PAIRS];  /* extras, slot 2k low, 2k + 1 high */
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
    /* Compact member state: value * 256 + tier (the tier alone when no period is capped). */
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
    /* With rule sets of up to 52 rules: key | (plan index + 1) << 52 (0: no plan), else NULL. */
    const uint64_t *plan_words;
    int plan_table_bits;
    const lc_vector_plan *plans;
} lc_vector_tables;

/* The clock of a group: timestamps in [utc_low, utc_high) share its local day and offset. */
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
    /* The entries of full lanes with the caps taken off (from the last), slots 0 to 3 (for slot
       counts up to 3), and how many of them are kept. */
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

/* Where lc_vector_write writes (the kernel's outputs), and the member state it updates. */
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
/* Each step for both registers of the group, so that their chains interleave. */
#define LC_HALVES(h) for (int h = 0; h < LC_VECTOR_HALVES; h++)

static int lc_avx512_supported(void) {
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

/* masks[id] for ids below size, default_mask for the others: from registers for tables of up to
   32 masks (permutations instead of a gather, which costs far more), else gathered. */
LC_VECTOR_TARGET static inline __m512i lc_vector_lookup(const uint64_t *masks, int64_t size,
                                                         uint64_t default_mask, __m256i id,
                                                         __mmask8 lanes) {
    __m512i otherwise = _mm512_set1_epi64((int64_t)default_mask);
    __mmask8 inside = lanes & _mm256_cmplt_epu32_mask(id, _mm256_set1_epi32((int32_t)size));
    if (size > 32)
        return _mm512_mask_i32gather_epi64(otherwise, inside, id, (const long long *)masks, 8);
    const long long *table = (const long long *)masks;
    __m512i index = _mm512_cvtepu32_epi64(id);
#define LC_TABLE_PART(k) _mm512_maskz_loadu_epi64( \
        (__mmask8)(size > 8 * (k) ? (size >= 8 * (k) + 8 ? 0xFF : (1u << (size - 8 * (k))) - 1) : 0), \
        table + 8 * (k))
    __m512i found = _mm512_permutex2var_epi64(LC_TABLE_PART(0), index, LC_TABLE_PART(1));
    if (size > 16) {
        __m512i high = _mm512_permutex2var_epi64(LC_TABLE_PART(2), index, LC_TABLE_PART(3));
        found = _mm512_mask_blend_epi64(_mm512_test_epi64_mask(index, _mm512_set1_epi64(16)),
                                        found, high);
    }
#undef LC_TABLE_PART
    return _mm512_mask_blend_epi64(inside, otherwise, found);
}

/* The mask of a dense table (categories, channels, stores): ids outside it get the default. */
LC_VECTOR_TARGET static inline __m512i lc_vector_dense_mask(const uint64_t *masks, int64_t size,
                                                             uint64_t default_mask,
                                                             const int32_t *ids, __mmask8 lanes) {
    __m256i id = _mm256_loadu_si256((const __m256i *)ids);
    return lc_vector_lookup(masks, size, default_mask, id, lanes);
}

LC_VECTOR_TARGET static inline __m512i lc_vector_signed(__m512i values, __mmask8 negative) {
    return _mm512_mask_sub_epi64(values, negative, _mm512_setzero_si512(), values);
}

/* The group of transactions index to index + 15 (all < t->count), into g. */
LC_VECTOR_TARGET static void lc_vector_group_avx512(const lc_vector_tables *t, const lc_vector_clock *c,
                                             int64_t index, int64_t slot_count, lc_group *g) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFFLL);
    const long long *plan_base = (const long long *)t->plans;
    int64_t ahead = index + LC_VECTOR_PREFETCH_DISTANCE;
    if (ahead + LC_VECTOR_LANES <= t->count) {
        /* A prefetch never faults: member indexes are checked below, not here. */
        for (int lane = 0; lane < LC_VECTOR_LANES; lane++)
            __builtin_prefetch(t->member_states + (uint32_t)t->member_indexes[ahead + lane],
                               LC_VECTOR_PREFETCH_WRITE, 3);
    }
    __m512i all_members = _mm512_loadu_si512(t->member_indexes + index);
    __mmask16 known = _mm512_cmplt_epu32_mask(all_members, _mm512_set1_epi32(
        (int32_t)(t->member_count < 0x7FFFFFFF ? t->member_count : 0x7FFFFFFF)));
    __m256i members[2] = {_mm512_castsi512_si256(all_members),
                          _mm512_extracti64x4_epi64(all_members, 1)};
    __mmask8 lanes[2], negative[2], excluded[2], full[2], state_lanes[2] = {0, 0};
    __m512i timestamps[2], spends[2], matched[2], rates[2], bases[2], totals[2];
    __m512i capped[2], remainders[2], entry_counts[2], slot_words[2] = {zero, zero};
    __m256i states[2], tiers[2], plans[2], rows[2];

    /* Inputs, and the lanes whose inputs the vector path takes. */
    LC_HALVES(h) {
        int64_t at = index + LC_VECTOR_WIDTH * h;
        lanes[h] = (__mmask8)(known >> (LC_VECTOR_WIDTH * h));
        timestamps[h] = _mm512_loadu_si512(t->timestamps_seconds + at);
        lanes[h] &= _mm512_cmpge_epi64_mask(timestamps[h], _mm512_set1_epi64(c->utc_low))
            & _mm512_cmplt_epi64_mask(timestamps[h], _mm512_set1_epi64(c->utc_high));
        __m512i amounts = _mm512_loadu_si512(t->amounts_minor + at);
        negative[h] = _mm512_cmplt_epi64_mask(amounts, zero);
        /* abs(INT64_MIN) is 2**63 unsigned: out of range too. */
        spends[h] = _mm512_abs_epi64(amounts);
        lanes[h] &= _mm512_cmplt_epu64_mask(spends[h], _mm512_set1_epi64(LC_VECTOR_PRODUCT_LIMIT));
    }

    /* 1. Match. */
    LC_HALVES(h) {
        states[h] = _mm256_mmask_i32gather_epi32(_mm256_setzero_si256(), lanes[h], members[h],
                                                 t->member_states, 4);
    }
    LC_HALVES(h) {
        tiers[h] = _mm256_and_si256(states[h], _mm256_set1_epi32(255));
        /* Tiers are below the table's size (checked at the boundary). */
        matched[h] = lc_vector_lookup(t->tier_masks, t->tier_table_size, 0, tiers[h], lanes[h]);
        matched[h] = _mm512_and_si512(
            matched[h], _mm512_set1_epi64((int64_t)(t->all_rules & c->day_mask)));
    }
    LC_HALVES(h) {
        int64_t at = index + LC_VECTOR_WIDTH * h;
        if (t->category_table_size)
            matched[h] = _mm512_and_si512(matched[h], lc_vector_dense_mask(
                t->category_masks, t->category_table_size, t->category_default,
                t->categories + at, lanes[h]));
        if (t->channel_table_size)
            matched[h] = _mm512_and_si512(matched[h], lc_vector_dense_mask(
                t->channel_masks, t->channel_table_size, t->channel_default,
                t->channels + at, lanes[h]));
        if (t->store_table_size)
            matched[h] = _mm512_and_si512(matched[h], lc_vector_dense_mask(
                t->store_masks, t->store_table_size, t->store_default, t->stores + at, lanes[h]));
        if (t->spend_threshold_count) {
            __m512i level = zero;
            for (int64_t k = 0; k < t->spend_threshold_count; k++)
                level = _mm512_mask_add_epi64(
                    level, _mm512_cmpge_epi64_mask(
                        spends[h], _mm512_set1_epi64(t->spend_thresholds_minor[k])),
                    level, one);
            matched[h] = _mm512_and_si512(matched[h], _mm512_mask_i64gather_epi64(
                zero, lanes[h], level, (const long long *)t->spend_masks, 8));
        }
        if (t->has_minute_window) {
            /* Seconds into the day (< 86,400) / 60 as (s x 34,953) >> 21, exact below 86,400. */
            __m256i seconds = _mm512_cvtepi64_epi32(
                _mm512_sub_epi64(timestamps[h], _mm512_set1_epi64(c->day_start_utc)));
            __m256i minutes = _mm256_srli_epi32(
                _mm256_mullo_epi32(seconds, _mm256_set1_epi32(34953)), 21);
            matched[h] = _mm512_and_si512(matched[h], _mm512_mask_i32gather_epi64(
                zero, lanes[h], minutes, (const long long *)t->minute_masks, 8));
        }
    }

    /* The plan: the first probe of the plan table, as the scalar loop's. */
    LC_HALVES(h) {
        __m512i entries = _mm512_srli_epi64(
            _mm512_mullo_epi64(matched[h], _mm512_set1_epi64((int64_t)0x9E3779B97F4A7C15ULL)),
            64 - t->plan_table_bits);
        if (t->plan_words != NULL) {
            /* One gather: the key and the plan index (+ 1) in one word. */
            __m512i words = _mm512_mask_i64gather_epi64(zero, lanes[h], entries,
                                                        (const long long *)t->plan_words, 8);
            __m512i found = _mm512_srli_epi64(words, LC_VECTOR_PLAN_SHIFT);
            lanes[h] &= _mm512_cmpeq_epi64_mask(
                _mm512_and_si512(words, _mm512_set1_epi64((int64_t)LC_VECTOR_KEY_MASK)), matched[h])
                & _mm512_test_epi64_mask(found, found);
            plans[h] = _mm512_cvtepi64_epi32(_mm512_sub_epi64(found, one));
        } else {
            __m512i keys = _mm512_mask_i64gather_epi64(zero, lanes[h], entries,
                                                       (const long long *)t->plan_keys, 8);
            plans[h] = _mm512_mask_i64gather_epi32(_mm256_set1_epi32(-1), lanes[h], entries,
                                                   t->plan_indexes, 4);
            lanes[h] &= _mm512_cmpeq_epi64_mask(keys, matched[h])
                & _mm256_cmpge_epi32_mask(plans[h], _mm256_setzero_si256());
        }
        /* Plan fields: 8 int64 a plan, so field f of plan p is at (p * 8 + f) * 8 bytes. */
        rows[h] = _mm256_slli_epi32(plans[h], 3);
    }
    LC_HALVES(h) {
        rates[h] = _mm512_mask_i32gather_epi64(zero, lanes[h], rows[h],
                                               plan_base + 0, 8);
    }

    /* 3. The base: round(spend x points per unit / unit). */
    __mmask8 rounds[2], half_even[2];
    LC_HALVES(h) {
        lanes[h] &= _mm512_test_epi64_mask(rates[h], _mm512_set1_epi64((int64_t)LC_VECTOR_USABLE));
        excluded[h] = lanes[h]
            & _mm512_test_epi64_mask(rates[h], _mm512_set1_epi64((int64_t)LC_VECTOR_EXCLUDED));
        __m512i points_per_unit = _mm512_and_si512(
            rates[h], _mm512_set1_epi64(LC_VECTOR_POINTS_PER_UNIT_MAX));
        __m512i units = _mm512_and_si512(_mm512_srli_epi64(rates[h], LC_VECTOR_UNIT_SHIFT),
                                         _mm512_set1_epi64(LC_VECTOR_UNIT_MAX));
        __m512i rounding = _mm512_and_si512(_mm512_srli_epi64(rates[h], LC_VECTOR_ROUNDING_SHIFT),
                                            _mm512_set1_epi64(3));
        rounds[h] = _mm512_test_epi64_mask(rounding, rounding);
        half_even[h] = _mm512_cmpeq_epi64_mask(rounding, _mm512_set1_epi64(2));
        __m512i products = _mm512_mullo_epi64(spends[h], points_per_unit);
        lanes[h] &= _mm512_cmplt_epi64_mask(products, _mm512_set1_epi64(LC_VECTOR_PRODUCT_LIMIT));
        units = _mm512_mask_blend_epi64(lanes[h], one, units);
        __m512d inverses = _mm512_div_pd(_mm512_set1_pd(1.0), _mm512_cvtepi64_pd(units));
        /* Half up and half even add half the unit; half even takes an odd tie back when the
           unit is even (lc_rounding_bias, lc_rounding_odd_fix). */
        __m512i biases = _mm512_maskz_srli_epi64(rounds[h], units, 1);
        bases[h] = lc_vector_divide(_mm512_add_epi64(products, biases), units, inverses,
                                    &remainders[h]);
        bases[h] = lc_vector_odd_fix(bases[h], remainders[h],
                                     half_even[h] & _mm512_testn_epi64_mask(units, one));
        _mm512_storeu_si512(g->values[0] + LC_VECTOR_WIDTH * h,
                            lc_vector_signed(bases[h], negative[h]));
        totals[h] = bases[h];
    }

    /* 4. The multipliers' extras: round(base x extra basis points / 10,000). */
    const __m512i ten_thousand = _mm512_set1_epi64(10000);
    const __m512d ten_thousandth = _mm512_set1_pd(1.0 / 10000.0);
    for (int64_t slot = 0; slot < slot_count; slot++) {
        if (slot_count <= 3) {
            if (slot == 0) {
                LC_HALVES(h) {
                    slot_words[h] = _mm512_mask_i32gather_epi64(
                        zero, lanes[h], rows[h], plan_base + 1, 8);
                }
            }
        } else if (slot % 2 == 0) {
            LC_HALVES(h) {
                slot_words[h] = _mm512_mask_i32gather_epi64(
                    zero, lanes[h], rows[h], plan_base + 4 + slot / 2, 8);
            }
        }
        LC_HALVES(h) {
            __m512i extra_basis_points = slot_count <= 3
                ? _mm512_and_si512(_mm512_srlv_epi64(slot_words[h], _mm512_set1_epi64(20 * slot)),
                                   _mm512_set1_epi64(0xFFFFF))
                : (slot % 2 ? _mm512_srli_epi64(slot_words[h], 32)
                            : _mm512_and_si512(slot_words[h], low32));
            __m512i biases = _mm512_maskz_mov_epi64(rounds[h], _mm512_set1_epi64(5000));
            __m512i extras = lc_vector_divide(
                _mm512_add_epi64(_mm512_mullo_epi64(bases[h], extra_basis_points), biases),
                ten_thousand, ten_thousandth, &remainders[h]);
            extras = lc_vector_odd_fix(extras, remainders[h], half_even[h]);
            totals[h] = _mm512_add_epi64(totals[h], extras);
            _mm512_storeu_si512(g->values[1 + slot] + LC_VECTOR_WIDTH * h,
                                lc_vector_signed(extras, negative[h]));
        }
    }

    /* 6. The transaction cap; 7. the member cap, for purchases. */
    __mmask16 first_of_member = _mm512_cmpeq_epi32_mask(_mm512_conflict_epi32(all_members),
                                                        _mm512_setzero_si512());
    LC_HALVES(h) {
        totals[h] = _mm512_maskz_mov_epi64(~excluded[h], totals[h]);
        capped[h] = _mm512_min_epi64(totals[h], _mm512_set1_epi64(t->points_max_per_transaction));
        if (t->member_points_max >= 0) {
            __mmask8 purchases = lanes[h] & ~negative[h] & _mm512_cmpgt_epi64_mask(capped[h], zero);
            if (!c->short_cap) {
                lanes[h] &= ~purchases;
                purchases = 0;
            }
            __m512i used = _mm512_cvtepi32_epi64(_mm256_srai_epi32(states[h], 8));
            lanes[h] &= ~(purchases & _mm512_cmpeq_epi64_mask(
                used, _mm512_set1_epi64(LC_VECTOR_COMPACT_IN_COUNTERS)));
            /* A counter of another period counts as none used. */
            used = _mm512_max_epi64(used, zero);
            __m512i room = _mm512_max_epi64(
                _mm512_sub_epi64(_mm512_set1_epi64(t->member_points_max), used), zero);
            capped[h] = _mm512_mask_min_epi64(capped[h], purchases, capped[h], room);
            __m512i new_used = _mm512_add_epi64(used, capped[h]);
            lanes[h] &= ~(purchases & _mm512_cmpgt_epi64_mask(
                new_used, _mm512_set1_epi64(LC_VECTOR_COMPACT_USED_MAX)));
            __m256i new_states = _mm256_or_si256(
                _mm256_slli_epi32(_mm512_cvtepi64_epi32(new_used), 8), tiers[h]);
            _mm256_storeu_si256((__m256i *)(g->member_states + LC_VECTOR_WIDTH * h), new_states);
            /* A member met earlier in the group: that lane may change the counter first. */
            lanes[h] &= (__mmask8)(first_of_member >> (LC_VECTOR_WIDTH * h));
            state_lanes[h] = purchases & lanes[h];
        }
    }

    /* Full lanes (every entry earns) and their entries. */
    LC_HALVES(h) {
        __m512i full_words = _mm512_mask_i32gather_epi64(
            zero, lanes[h], rows[h], plan_base + 2, 8);
        full[h] = lanes[h] & ~excluded[h]
            & _mm512_cmpge_epi64_mask(bases[h], _mm512_and_si512(full_words, low32));
        __m512i entry_rules = slot_count <= 3 ? _mm512_srli_epi64(full_words, 32)
            : _mm512_mask_i32gather_epi64(zero, full[h], rows[h],
                                          plan_base + 3, 8);
        entry_counts[h] = _mm512_srli_epi64(rates[h], LC_VECTOR_ENTRY_COUNT_SHIFT);
        _mm512_storeu_si512(g->entry_rules + LC_VECTOR_WIDTH * h, entry_rules);
        _mm512_storeu_si512(g->entry_counts + LC_VECTOR_WIDTH * h, entry_counts[h]);
    }
    uint32_t written = 0;
    if (slot_count <= 3) {
        /* 8. The caps taken off the entries from the last (trim_entries in _accrual.pyx): with
           every entry above 0, entry s keeps min(its points, what the cap leaves after the
           entries before it), and is kept while that is above 0. Excluded lanes keep none. */
        LC_HALVES(h) {
            __m512i left = capped[h];
            __m512i kept_counts = zero;
            for (int64_t slot = 0; slot <= 3; slot++) {
                __m512i value = slot <= slot_count
                    ? _mm512_abs_epi64(_mm512_loadu_si512(g->values[slot] + LC_VECTOR_WIDTH * h))
                    : zero;
                __m512i kept = _mm512_min_epi64(value, left);
                __mmask8 counted = _mm512_cmpgt_epi64_mask(left, zero)
                    & _mm512_cmpgt_epi64_mask(entry_counts[h], _mm512_set1_epi64(slot));
                kept_counts = _mm512_mask_add_epi64(kept_counts, counted, kept_counts, one);
                left = _mm512_sub_epi64(left, kept);
                _mm512_storeu_si512(g->kept[slot] + LC_VECTOR_WIDTH * h,
                                    lc_vector_signed(kept, negative[h]));
            }
            _mm512_storeu_si512(g->kept_counts + LC_VECTOR_WIDTH * h,
                                _mm512_maskz_mov_epi64(~excluded[h], kept_counts));
            written |= (uint32_t)(lanes[h] & (full[h] | excluded[h])) << (LC_VECTOR_WIDTH * h);
        }
    } else {
        /* Only excluded lanes are written: no entries. */
        LC_HALVES(h) {
            _mm512_storeu_si512(g->kept_counts + LC_VECTOR_WIDTH * h, zero);
            written |= (uint32_t)excluded[h] << (LC_VECTOR_WIDTH * h);
        }
    }
    uint32_t all_lanes = 0, all_full = 0, all_excluded = 0, all_states = 0;
    LC_HALVES(h) {
        _mm512_storeu_si512(g->totals + LC_VECTOR_WIDTH * h, totals[h]);
        _mm512_storeu_si512(g->capped + LC_VECTOR_WIDTH * h, capped[h]);
        _mm512_storeu_si512(g->points + LC_VECTOR_WIDTH * h,
                            lc_vector_signed(capped[h], negative[h]));
        _mm256_storeu_si256((__m256i *)(g->plan_indexes + LC_VECTOR_WIDTH * h), plans[h]);
        all_lanes |= (uint32_t)lanes[h] << (LC_VECTOR_WIDTH * h);
        all_full |= (uint32_t)full[h] << (LC_VECTOR_WIDTH * h);
        all_excluded |= (uint32_t)excluded[h] << (LC_VECTOR_WIDTH * h);
        all_states |= (uint32_t)state_lanes[h] << (LC_VECTOR_WIDTH * h);
    }
    g->lanes = all_lanes;
    g->full_lanes = all_full;
    g->excluded_lanes = all_excluded;
    g->state_lanes = all_states;
    g->written_lanes = written;
}

/* lc_vector_write for the 8 lanes of one register (offset `at` in g), `lanes` of them. */
LC_VECTOR_TARGET static inline void lc_vector_write_half(const lc_group *g, int at,
                                                         __mmask8 lanes, int64_t index,
                                                         const lc_vector_outputs *o,
                                                         int64_t *used) {
    const __m512i one = _mm512_set1_epi64(1);
    _mm512_mask_storeu_epi64(o->points + index, lanes, _mm512_loadu_si512(g->points + at));
    __m512i counts = _mm512_maskz_loadu_epi64(lanes, g->kept_counts + at);
    _mm_mask_storeu_epi8(o->attribution_counts + index, lanes, _mm512_cvtepi64_epi8(counts));
    /* Lane l's entries as bits from l % 2 x 4 on, as many as it keeps; two lanes a byte. */
    __m512i shifts = _mm512_set_epi64(4, 0, 4, 0, 4, 0, 4, 0);
    __m512i bits = _mm512_sllv_epi64(_mm512_sub_epi64(_mm512_sllv_epi64(one, counts), one), shifts);
    uint64_t lane_bits = (uint64_t)_mm_cvtsi128_si64(_mm512_cvtepi64_epi8(bits));
    lane_bits |= lane_bits >> 8;
    /* Entries lane-major: rows of 4 (one lane's slots 0 to 3), two lanes to a register. */
    __m512i a = _mm512_loadu_si512(g->kept[0] + at), b = _mm512_loadu_si512(g->kept[1] + at);
    __m512i c = _mm512_loadu_si512(g->kept[2] + at), d = _mm512_loadu_si512(g->kept[3] + at);
    __m512i ab_even = _mm512_unpacklo_epi64(a, b), ab_odd = _mm512_unpackhi_epi64(a, b);
    __m512i cd_even = _mm512_unpacklo_epi64(c, d), cd_odd = _mm512_unpackhi_epi64(c, d);
    __m512i low = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    __m512i high = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    __m512i rows_02 = _mm512_permutex2var_epi64(ab_even, low, cd_even);
    __m512i rows_13 = _mm512_permutex2var_epi64(ab_odd, low, cd_odd);
    __m512i rows_46 = _mm512_permutex2var_epi64(ab_even, high, cd_even);
    __m512i rows_57 = _mm512_permutex2var_epi64(ab_odd, high, cd_odd);
    __m512i rows[4] = {
        _mm512_mask_blend_epi64(0xF0, rows_02, _mm512_shuffle_i64x2(rows_13, rows_13, 0x44)),
        _mm512_mask_blend_epi64(0x0F, rows_13, _mm512_shuffle_i64x2(rows_02, rows_02, 0xEE)),
        _mm512_mask_blend_epi64(0xF0, rows_46, _mm512_shuffle_i64x2(rows_57, rows_57, 0x44)),
        _mm512_mask_blend_epi64(0x0F, rows_57, _mm512_shuffle_i64x2(rows_46, rows_46, 0xEE)),
    };
    /* Rule indexes: the low 4 bytes of each lane's entry_rules, two lanes to 8 bytes. */
    __m256i rule_words = _mm512_cvtepi64_epi32(_mm512_loadu_si512(g->entry_rules + at));
    __m128i rules_low = _mm256_castsi256_si128(rule_words);
    __m128i rules_high = _mm256_extracti128_si256(rule_words, 1);
    __m128i rule_pairs[4] = {rules_low, _mm_srli_si128(rules_low, 8), rules_high,
                             _mm_srli_si128(rules_high, 8)};
    int64_t entry = *used;
    for (int pair = 0; pair < 4; pair++) {
        __mmask8 kept = (__mmask8)(lane_bits >> (16 * pair));
        /* A run of up to 8 entries: the room for it is there (accrue_loop_vector). */
        _mm512_storeu_si512(o->attribution_points + entry,
                            _mm512_maskz_compress_epi64(kept, rows[pair]));
        __m512i rules = _mm512_maskz_compress_epi64(kept, _mm512_cvtepu8_epi64(rule_pairs[pair]));
        _mm_storel_epi64((__m128i *)(o->attribution_rule_indexes + entry),
                         _mm512_cvtepi64_epi8(rules));
        entry += __builtin_popcount(kept);
    }
    *used = entry;
}

/* Writes the group's lanes from `lane` on, in order, up to the first lane not in written_lanes
   (returned; LC_VECTOR_LANES when it wrote them all): points, counts, entries (from `*used` on,
   which moves past them) and member state. The entries of two lanes at a time are compressed
   into one run (vpcompressq into a register, then a plain store). */
LC_VECTOR_TARGET static int lc_vector_write_avx512(const lc_group *g, int lane, int64_t index,
                                            const lc_vector_outputs *o, int64_t *used) {
    uint32_t after = ~g->written_lanes & 0xFFFFu & (0xFFFFu << lane);
    int end = after ? __builtin_ctz(after) : LC_VECTOR_LANES;
    uint32_t lanes = (0xFFFFu << lane) & ((1u << end) - 1);
    if (!lanes)
        return end;
    LC_HALVES(h) {
        __mmask8 half = (__mmask8)(lanes >> (LC_VECTOR_WIDTH * h));
        if (!half)
            continue;
        int at = LC_VECTOR_WIDTH * h;
        lc_vector_write_half(g, at, half, index + at, o, used);
        __mmask8 states = half & (__mmask8)(g->state_lanes >> at);
        if (states) {
            __m256i members = _mm256_loadu_si256((const __m256i *)(o->member_indexes + index + at));
            _mm256_mask_i32scatter_epi32(o->member_states, states, members,
                                         _mm256_loadu_si256((const __m256i *)(g->member_states + at)), 4);
        }
    }
    return end;
}

#include "_accrual_vector_avx2.h"

/* The best the processor has. */
static int lc_vector_instructions_supported(void) {
    return lc_avx512_supported() ? LC_VECTOR_AVX512
        : lc_avx2_supported() ? LC_VECTOR_AVX2 : LC_VECTOR_NONE;
}

static int lc_vector_instructions = LC_VECTOR_NONE;

/* Which instructions lc_vector_group and lc_vector_write use from now on: at most the best the
   processor has (returned). */
static int lc_vector_select(int instructions) {
    int supported = lc_vector_instructions_supported();
    lc_vector_instructions = instructions < supported ? instructions : supported;
    return lc_vector_instructions;
}

static void lc_vector_group(const lc_vector_tables *t, const lc_vector_clock *c, int64_t index,
                            int64_t slot_count, lc_group *g) {
    if (lc_vector_instructions == LC_VECTOR_AVX512)
        lc_vector_group_avx512(t, c, index, slot_count, g);
    else
        lc_vector_group_avx2(t, c, index, slot_count, g);
}

static int lc_vector_write(const lc_group *g, int lane, int64_t index,
                           const lc_vector_outputs *o, int64_t *used) {
    if (lc_vector_instructions == LC_VECTOR_AVX512)
        return lc_vector_write_avx512(g, lane, index, o, used);
    return lc_vector_write_avx2(g, lane, index, o, used);
}

#else

static int lc_vector_instructions_supported(void) { return LC_VECTOR_NONE; }

static int lc_vector_select(int instructions) { (void)instructions; return LC_VECTOR_NONE; }

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
