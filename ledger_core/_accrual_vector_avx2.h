/* The accrual kernel's vector path with AVX2: lc_vector_group and lc_vector_write (see
   _accrual_vector.h for what they compute) for processors without AVX-512, such as AMD's before
   Zen 4. Same lanes, same fallbacks, same exact rounding; only the means differ:

   - a group of 16 is four registers of 4 int64 lanes, and lane masks are vectors (all ones or
     zero a lane) rather than mask registers;
   - AVX2 has no 64-bit multiply, conversion between int64 and double, min, max or abs: products
     are 32 x 32 bits (every factor here is below 2**32, checked where it is not certain),
     conversions go through the double whose mantissa holds the integer (exact below 2**52), and
     min and max are a compare and a blend;
   - no vpconflictd: a member met earlier in the group is found by comparing the 16 members with
     themselves shifted by 1 to 15 lanes;
   - no compress store: a lane's kept entries are the first of its row of 4 (the caps trim from
     the last), so the whole row is written and the next lane's row starts where the kept ones
     end. The room is there: a group reserves LC_VECTOR_LANES x entries_max entries, and
     entries_max (the rule count + 8 slots) is at least 8.

   Compiled for AVX2 through target attributes and called only when the processor has it. */

#ifndef LEDGER_CORE_ACCRUAL_VECTOR_AVX2_H
#define LEDGER_CORE_ACCRUAL_VECTOR_AVX2_H

#define LC_AVX2_TARGET __attribute__((target("avx2")))
#define LC_AVX2_WIDTH 4
#define LC_AVX2_QUARTERS 4
/* Each step for the four registers of the group, so that their chains interleave. */
#define LC_QUARTERS(h) for (int h = 0; h < LC_AVX2_QUARTERS; h++)

static int lc_avx2_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

LC_AVX2_TARGET static inline __m256i lc_avx2_set1(int64_t value) {
    return _mm256_set1_epi64x((long long)value);
}

/* Lane masks: all ones where true. */
LC_AVX2_TARGET static inline __m256i lc_avx2_not(__m256i mask) {
    return _mm256_xor_si256(mask, _mm256_set1_epi64x(-1));
}

LC_AVX2_TARGET static inline __m256i lc_avx2_andnot(__m256i mask, __m256i other) {
    return _mm256_andnot_si256(mask, other);  /* other & ~mask */
}

LC_AVX2_TARGET static inline __m256i lc_avx2_lt(__m256i a, __m256i b) {
    return _mm256_cmpgt_epi64(b, a);
}

LC_AVX2_TARGET static inline __m256i lc_avx2_ge(__m256i a, __m256i b) {
    return lc_avx2_not(_mm256_cmpgt_epi64(b, a));
}

LC_AVX2_TARGET static inline __m256i lc_avx2_test(__m256i a, __m256i bits) {
    return lc_avx2_not(_mm256_cmpeq_epi64(_mm256_and_si256(a, bits), _mm256_setzero_si256()));
}

LC_AVX2_TARGET static inline __m256i lc_avx2_min(__m256i a, __m256i b) {
    return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b));
}

LC_AVX2_TARGET static inline __m256i lc_avx2_max(__m256i a, __m256i b) {
    return _mm256_blendv_epi8(b, a, _mm256_cmpgt_epi64(a, b));
}

LC_AVX2_TARGET static inline uint32_t lc_avx2_bits(__m256i mask) {
    return (uint32_t)_mm256_movemask_pd(_mm256_castsi256_pd(mask));
}

LC_AVX2_TARGET static inline __m256i lc_avx2_from_bits(uint32_t bits) {
    const __m256i lane_bits = _mm256_set_epi64x(8, 4, 2, 1);
    return _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x(bits), lane_bits), lane_bits);
}

/* -values where negative, values elsewhere: (v ^ -1) - (-1) is -v. */
LC_AVX2_TARGET static inline __m256i lc_avx2_signed(__m256i values, __m256i negative) {
    return _mm256_sub_epi64(_mm256_xor_si256(values, negative), negative);
}

/* a x b for a < 2**64 and b < 2**32 (low 64 bits). */
LC_AVX2_TARGET static inline __m256i lc_avx2_multiply_small(__m256i a, __m256i b) {
    __m256i low = _mm256_mul_epu32(a, b);
    __m256i high = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), b);
    return _mm256_add_epi64(low, _mm256_slli_epi64(high, 32));
}

/* a x b, the low 64 bits of the product, for any a and b. */
LC_AVX2_TARGET static inline __m256i lc_avx2_multiply(__m256i a, __m256i b) {
    __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b),
                                     _mm256_mul_epu32(a, _mm256_srli_epi64(b, 32)));
    return _mm256_add_epi64(_mm256_mul_epu32(a, b), _mm256_slli_epi64(cross, 32));
}

/* n as a double, exactly, for 0 <= n < 2**52: the double 2**52 + n has n as its mantissa. */
LC_AVX2_TARGET static inline __m256d lc_avx2_to_double(__m256i n) {
    const __m256d magic = _mm256_set1_pd(4503599627370496.0);
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(n, _mm256_castpd_si256(magic))),
                         magic);
}

/* The integer of x, truncated, for -1 < x < 2**52. */
LC_AVX2_TARGET static inline __m256i lc_avx2_truncate(__m256d x) {
    const __m256d magic = _mm256_set1_pd(4503599627370496.0);
    __m256d whole = _mm256_round_pd(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    return _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(whole, magic)),
                            _mm256_castpd_si256(magic));
}

/* floor(n / d) and its remainder, for 0 <= n < 2**52 and 0 < d < 2**32, with inverse = 1 / d:
   the double quotient is within one of the true one, and the remainder corrects it. */
LC_AVX2_TARGET static inline __m256i lc_avx2_divide(__m256i n, __m256i d, __m256d inverse,
                                                    __m256i *remainder) {
    const __m256i zero = _mm256_setzero_si256();
    __m256i quotient = lc_avx2_truncate(_mm256_mul_pd(lc_avx2_to_double(n), inverse));
    __m256i rest = _mm256_sub_epi64(n, lc_avx2_multiply_small(quotient, d));
    __m256i under = _mm256_cmpgt_epi64(zero, rest);
    quotient = _mm256_add_epi64(quotient, under);
    rest = _mm256_add_epi64(rest, _mm256_and_si256(under, d));
    __m256i over = lc_avx2_ge(rest, d);
    quotient = _mm256_sub_epi64(quotient, over);
    rest = _mm256_sub_epi64(rest, _mm256_and_si256(over, d));
    *remainder = rest;
    return quotient;
}

/* An exact tie (remainder 0 after the bias) that landed on an odd quotient goes back by one. */
LC_AVX2_TARGET static inline __m256i lc_avx2_odd_fix(__m256i quotient, __m256i remainder,
                                                     __m256i odd_fix) {
    const __m256i one = _mm256_set1_epi64x(1);
    __m256i tie = _mm256_and_si256(
        _mm256_and_si256(odd_fix, _mm256_cmpeq_epi64(remainder, _mm256_setzero_si256())),
        _mm256_cmpeq_epi64(_mm256_and_si256(quotient, one), one));
    return _mm256_add_epi64(quotient, tie);
}

/* 64-bit fields of a table, at 64-bit indexes, for the lanes of `mask` (0 in the others). */
LC_AVX2_TARGET static inline __m256i lc_avx2_gather(const void *table, __m256i indexes,
                                                    __m256i mask) {
    return _mm256_mask_i64gather_epi64(_mm256_setzero_si256(), (const long long *)table, indexes,
                                       mask, 8);
}

/* masks[id] for 0 <= id < size, default_mask for the others (and for lanes outside `lanes`):
   from one or two registers for tables of up to 8 masks (a permutation costs less than a
   gather), else gathered. */
LC_AVX2_TARGET static inline __m256i lc_avx2_lookup(const uint64_t *masks, int64_t size,
                                                    uint64_t default_mask, __m256i id,
                                                    __m256i lanes) {
    __m256i otherwise = lc_avx2_set1((int64_t)default_mask);
    __m256i inside = _mm256_and_si256(
        lanes, _mm256_and_si256(_mm256_cmpgt_epi64(id, lc_avx2_set1(-1)),
                                _mm256_cmpgt_epi64(lc_avx2_set1(size), id)));
    if (size > 8)
        return _mm256_mask_i64gather_epi64(otherwise, (const long long *)masks, id, inside, 8);
    /* Element id of 4 int64 is int32 elements 2 id and 2 id + 1. */
    __m256i twice = _mm256_slli_epi64(id, 1);
    __m256i pairs = _mm256_or_si256(
        twice, _mm256_slli_epi64(_mm256_add_epi64(twice, _mm256_set1_epi64x(1)), 32));
    __m256i low_part = _mm256_maskload_epi64(
        (const long long *)masks, lc_avx2_lt(_mm256_set_epi64x(3, 2, 1, 0), lc_avx2_set1(size)));
    __m256i found = _mm256_permutevar8x32_epi32(low_part, pairs);
    if (size > 4) {
        __m256i high_part = _mm256_maskload_epi64(
            (const long long *)masks + 4,
            lc_avx2_lt(_mm256_set_epi64x(7, 6, 5, 4), lc_avx2_set1(size)));
        __m256i high = _mm256_permutevar8x32_epi32(high_part, pairs);
        found = _mm256_blendv_epi8(found, high, lc_avx2_test(id, _mm256_set1_epi64x(4)));
    }
    return _mm256_blendv_epi8(otherwise, found, inside);
}

/* The low 32 bits of each lane, as 4 int32. */
LC_AVX2_TARGET static inline __m128i lc_avx2_narrow(__m256i values) {
    return _mm256_castsi256_si128(
        _mm256_permutevar8x32_epi32(values, _mm256_set_epi32(7, 5, 3, 1, 6, 4, 2, 0)));
}

/* Lanes (of 16) whose member an earlier lane of the group has: compared with the members
   shifted by 1 to 15 lanes, read from a copy that has 16 sentinels before the members. */
LC_AVX2_TARGET static inline uint32_t lc_avx2_repeated_members(const int32_t *members) {
    int32_t copy[2 * LC_VECTOR_LANES];
    __m256i sentinel = _mm256_set1_epi32(-1);
    __m256i first = _mm256_loadu_si256((const __m256i *)members);
    __m256i second = _mm256_loadu_si256((const __m256i *)(members + 8));
    _mm256_storeu_si256((__m256i *)copy, sentinel);
    _mm256_storeu_si256((__m256i *)(copy + 8), sentinel);
    _mm256_storeu_si256((__m256i *)(copy + 16), first);
    _mm256_storeu_si256((__m256i *)(copy + 24), second);
    __m256i repeated_first = _mm256_setzero_si256(), repeated_second = _mm256_setzero_si256();
    for (int shift = 1; shift < LC_VECTOR_LANES; shift++) {
        const int32_t *earlier = copy + LC_VECTOR_LANES - shift;
        repeated_first = _mm256_or_si256(repeated_first, _mm256_cmpeq_epi32(
            first, _mm256_loadu_si256((const __m256i *)earlier)));
        repeated_second = _mm256_or_si256(repeated_second, _mm256_cmpeq_epi32(
            second, _mm256_loadu_si256((const __m256i *)(earlier + 8))));
    }
    return (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(repeated_first))
        | (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(repeated_second)) << 8;
}

LC_AVX2_TARGET static void lc_vector_group_avx2(const lc_vector_tables *t,
                                                const lc_vector_clock *c, int64_t index,
                                                int64_t slot_count, lc_group *g) {
    const __m256i zero = _mm256_setzero_si256();
    const __m256i one = _mm256_set1_epi64x(1);
    const __m256i low32 = _mm256_set1_epi64x(0xFFFFFFFFLL);
    const lc_vector_plan *plans_table = t->plans;
    int64_t ahead = index + LC_VECTOR_PREFETCH_DISTANCE;
    if (ahead + LC_VECTOR_LANES <= t->count) {
        /* A prefetch never faults: member indexes are checked below, not here. */
        for (int lane = 0; lane < LC_VECTOR_LANES; lane++)
            __builtin_prefetch(t->member_states + (uint32_t)t->member_indexes[ahead + lane],
                               LC_VECTOR_PREFETCH_WRITE, 3);
    }
    int64_t member_limit = t->member_count < 0x7FFFFFFF ? t->member_count : 0x7FFFFFFF;
    __m256i lanes[4], negative[4], excluded[4], full[4], state_lanes[4];
    __m256i members[4], timestamps[4], spends[4], matched[4], rates[4], bases[4], totals[4];
    __m256i capped[4], remainders[4], entry_counts[4], plans[4], rows[4], tiers[4];
    __m256i slot_words[4] = {zero, zero, zero, zero};
    __m128i states[4];

    /* Inputs, and the lanes whose inputs the vector path takes. */
    LC_QUARTERS(h) {
        int64_t at = index + LC_AVX2_WIDTH * h;
        members[h] = _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(t->member_indexes + at)));
        lanes[h] = _mm256_and_si256(_mm256_cmpgt_epi64(members[h], lc_avx2_set1(-1)),
                                    _mm256_cmpgt_epi64(lc_avx2_set1(member_limit), members[h]));
        timestamps[h] = _mm256_loadu_si256((const __m256i *)(t->timestamps_seconds + at));
        lanes[h] = _mm256_and_si256(lanes[h], _mm256_and_si256(
            lc_avx2_ge(timestamps[h], lc_avx2_set1(c->utc_low)),
            lc_avx2_lt(timestamps[h], lc_avx2_set1(c->utc_high))));
        __m256i amounts = _mm256_loadu_si256((const __m256i *)(t->amounts_minor + at));
        negative[h] = _mm256_cmpgt_epi64(zero, amounts);
        /* -INT64_MIN stays negative: out of range too. */
        spends[h] = lc_avx2_signed(amounts, negative[h]);
        lanes[h] = _mm256_and_si256(lanes[h], _mm256_and_si256(
            _mm256_cmpgt_epi64(spends[h], lc_avx2_set1(-1)),
            lc_avx2_lt(spends[h], lc_avx2_set1(LC_VECTOR_PRODUCT_LIMIT))));
        state_lanes[h] = zero;
    }

    /* 1. Match. */
    LC_QUARTERS(h) {
        states[h] = _mm_mask_i32gather_epi32(_mm_setzero_si128(), t->member_states,
                                             lc_avx2_narrow(members[h]),
                                             lc_avx2_narrow(lanes[h]), 4);
    }
    LC_QUARTERS(h) {
        tiers[h] = _mm256_cvtepi32_epi64(_mm_and_si128(states[h], _mm_set1_epi32(255)));
        /* Tiers are below the table's size (checked at the boundary). */
        matched[h] = lc_avx2_lookup(t->tier_masks, t->tier_table_size, 0, tiers[h], lanes[h]);
        matched[h] = _mm256_and_si256(
            matched[h], lc_avx2_set1((int64_t)(t->all_rules & c->day_mask)));
    }
    LC_QUARTERS(h) {
        int64_t at = index + LC_AVX2_WIDTH * h;
#define LC_DENSE(ids) _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)((ids) + at)))
        if (t->category_table_size)
            matched[h] = _mm256_and_si256(matched[h], lc_avx2_lookup(
                t->category_masks, t->category_table_size, t->category_default,
                LC_DENSE(t->categories), lanes[h]));
        if (t->channel_table_size)
            matched[h] = _mm256_and_si256(matched[h], lc_avx2_lookup(
                t->channel_masks, t->channel_table_size, t->channel_default,
                LC_DENSE(t->channels), lanes[h]));
        if (t->store_table_size)
            matched[h] = _mm256_and_si256(matched[h], lc_avx2_lookup(
                t->store_masks, t->store_table_size, t->store_default,
                LC_DENSE(t->stores), lanes[h]));
#undef LC_DENSE
        if (t->spend_threshold_count) {
            __m256i level = zero;
            for (int64_t k = 0; k < t->spend_threshold_count; k++)
                level = _mm256_sub_epi64(level, lc_avx2_ge(
                    spends[h], lc_avx2_set1(t->spend_thresholds_minor[k])));
            matched[h] = _mm256_and_si256(matched[h],
                                          lc_avx2_gather(t->spend_masks, level, lanes[h]));
        }
        if (t->has_minute_window) {
            /* Seconds into the day (< 86,400) / 60 as (s x 34,953) >> 21, exact below 86,400. */
            __m256i seconds = _mm256_sub_epi64(timestamps[h], lc_avx2_set1(c->day_start_utc));
            __m256i minutes = _mm256_srli_epi64(
                _mm256_mul_epu32(seconds, _mm256_set1_epi64x(34953)), 21);
            matched[h] = _mm256_and_si256(matched[h],
                                          lc_avx2_gather(t->minute_masks, minutes, lanes[h]));
        }
    }

    /* The plan: the first probe of the plan table, as the scalar loop's. */
    LC_QUARTERS(h) {
        __m256i entries = _mm256_srl_epi64(
            lc_avx2_multiply(matched[h], lc_avx2_set1((int64_t)0x9E3779B97F4A7C15ULL)),
            _mm_cvtsi32_si128(64 - t->plan_table_bits));
        if (t->plan_words != NULL) {
            /* One gather: the key and the plan index (+ 1) in one word. */
            __m256i words = lc_avx2_gather(t->plan_words, entries, lanes[h]);
            __m256i found = _mm256_srli_epi64(words, LC_VECTOR_PLAN_SHIFT);
            lanes[h] = _mm256_and_si256(lanes[h], _mm256_and_si256(
                _mm256_cmpeq_epi64(
                    _mm256_and_si256(words, lc_avx2_set1((int64_t)LC_VECTOR_KEY_MASK)), matched[h]),
                lc_avx2_not(_mm256_cmpeq_epi64(found, zero))));
            plans[h] = _mm256_sub_epi64(found, one);
        } else {
            __m256i keys = lc_avx2_gather(t->plan_keys, entries, lanes[h]);
            plans[h] = _mm256_cvtepi32_epi64(_mm256_mask_i64gather_epi32(
                _mm_set1_epi32(-1), t->plan_indexes, entries, lc_avx2_narrow(lanes[h]), 4));
            lanes[h] = _mm256_and_si256(lanes[h], _mm256_and_si256(
                _mm256_cmpeq_epi64(keys, matched[h]), _mm256_cmpgt_epi64(plans[h], lc_avx2_set1(-1))));
        }
        /* Plan fields: 8 int64 a plan, so field f of plan p is at index p * 8 + f. */
        rows[h] = _mm256_slli_epi64(plans[h], 3);
    }
    LC_QUARTERS(h) {
        rates[h] = lc_avx2_gather(&plans_table->rate, rows[h], lanes[h]);
    }

    /* 3. The base: round(spend x points per unit / unit). */
    __m256i rounds[4], half_even[4];
    LC_QUARTERS(h) {
        lanes[h] = _mm256_and_si256(lanes[h], lc_avx2_test(rates[h], lc_avx2_set1((int64_t)LC_VECTOR_USABLE)));
        excluded[h] = _mm256_and_si256(
            lanes[h], lc_avx2_test(rates[h], lc_avx2_set1((int64_t)LC_VECTOR_EXCLUDED)));
        __m256i points_per_unit = _mm256_and_si256(rates[h], lc_avx2_set1(LC_VECTOR_POINTS_PER_UNIT_MAX));
        __m256i units = _mm256_and_si256(_mm256_srli_epi64(rates[h], LC_VECTOR_UNIT_SHIFT),
                                         lc_avx2_set1(LC_VECTOR_UNIT_MAX));
        __m256i rounding = _mm256_and_si256(_mm256_srli_epi64(rates[h], LC_VECTOR_ROUNDING_SHIFT),
                                            lc_avx2_set1(3));
        rounds[h] = lc_avx2_not(_mm256_cmpeq_epi64(rounding, zero));
        half_even[h] = _mm256_cmpeq_epi64(rounding, lc_avx2_set1(2));
        /* Spend < 2**31 and points per unit < 2**20 in the lanes: a 32 x 32-bit product. */
        __m256i products = _mm256_mul_epu32(spends[h], points_per_unit);
        lanes[h] = _mm256_and_si256(lanes[h], lc_avx2_lt(products, lc_avx2_set1(LC_VECTOR_PRODUCT_LIMIT)));
        units = _mm256_blendv_epi8(one, units, lanes[h]);
        __m256d inverses = _mm256_div_pd(_mm256_set1_pd(1.0), lc_avx2_to_double(units));
        /* Half up and half even add half the unit; half even takes an odd tie back when the
           unit is even (lc_rounding_bias, lc_rounding_odd_fix). */
        __m256i biases = _mm256_and_si256(rounds[h], _mm256_srli_epi64(units, 1));
        __m256i products_lane = _mm256_and_si256(products, lanes[h]);
        bases[h] = lc_avx2_divide(_mm256_add_epi64(products_lane, biases), units, inverses,
                                  &remainders[h]);
        bases[h] = lc_avx2_odd_fix(
            bases[h], remainders[h],
            _mm256_and_si256(half_even[h], _mm256_cmpeq_epi64(_mm256_and_si256(units, one), zero)));
        _mm256_storeu_si256((__m256i *)(g->values[0] + LC_AVX2_WIDTH * h),
                            lc_avx2_signed(bases[h], negative[h]));
        totals[h] = bases[h];
    }

    /* 4. The multipliers' extras: round(base x extra basis points / 10,000). */
    const __m256i ten_thousand = lc_avx2_set1(10000);
    const __m256d ten_thousandth = _mm256_set1_pd(1.0 / 10000.0);
    for (int64_t slot = 0; slot < slot_count; slot++) {
        if (slot_count <= 3) {
            if (slot == 0) {
                LC_QUARTERS(h) {
                    slot_words[h] = lc_avx2_gather(
                        &plans_table->slots, rows[h], lanes[h]);
                }
            }
        } else if (slot % 2 == 0) {
            LC_QUARTERS(h) {
                slot_words[h] = lc_avx2_gather(
                    &plans_table->slot_pairs[slot / 2], rows[h], lanes[h]);
            }
        }
        LC_QUARTERS(h) {
            __m256i extra_basis_points = slot_count <= 3
                ? _mm256_and_si256(_mm256_srl_epi64(slot_words[h], _mm_cvtsi32_si128((int)(20 * slot))),
                                   lc_avx2_set1(0xFFFFF))
                : (slot % 2 ? _mm256_srli_epi64(slot_words[h], 32)
                            : _mm256_and_si256(slot_words[h], low32));
            __m256i biases = _mm256_and_si256(rounds[h], lc_avx2_set1(5000));
            /* The base is below 2**31 and the extra below 2**32: a 32 x 32-bit product. */
            __m256i extras = lc_avx2_divide(
                _mm256_add_epi64(_mm256_mul_epu32(bases[h], extra_basis_points), biases),
                ten_thousand, ten_thousandth, &remainders[h]);
            extras = lc_avx2_odd_fix(extras, remainders[h], half_even[h]);
            totals[h] = _mm256_add_epi64(totals[h], extras);
            _mm256_storeu_si256((__m256i *)(g->values[1 + slot] + LC_AVX2_WIDTH * h),
                                lc_avx2_signed(extras, negative[h]));
        }
    }

    /* 6. The transaction cap; 7. the member cap, for purchases. */
    uint32_t first_of_member = t->member_points_max >= 0
        ? ~lc_avx2_repeated_members(t->member_indexes + index) : 0xFFFFu;
    LC_QUARTERS(h) {
        totals[h] = lc_avx2_andnot(excluded[h], totals[h]);
        capped[h] = lc_avx2_min(totals[h], lc_avx2_set1(t->points_max_per_transaction));
        if (t->member_points_max >= 0) {
            __m256i purchases = _mm256_and_si256(
                lc_avx2_andnot(negative[h], lanes[h]), _mm256_cmpgt_epi64(capped[h], zero));
            if (!c->short_cap) {
                lanes[h] = lc_avx2_andnot(purchases, lanes[h]);
                purchases = zero;
            }
            __m256i used = _mm256_cvtepi32_epi64(_mm_srai_epi32(states[h], 8));
            lanes[h] = lc_avx2_andnot(_mm256_and_si256(purchases, _mm256_cmpeq_epi64(
                used, lc_avx2_set1(LC_VECTOR_COMPACT_IN_COUNTERS))), lanes[h]);
            /* A counter of another period counts as none used. */
            used = lc_avx2_max(used, zero);
            __m256i room = lc_avx2_max(
                _mm256_sub_epi64(lc_avx2_set1(t->member_points_max), used), zero);
            capped[h] = _mm256_blendv_epi8(capped[h], lc_avx2_min(capped[h], room), purchases);
            __m256i new_used = _mm256_add_epi64(used, capped[h]);
            lanes[h] = lc_avx2_andnot(_mm256_and_si256(purchases, _mm256_cmpgt_epi64(
                new_used, lc_avx2_set1(LC_VECTOR_COMPACT_USED_MAX))), lanes[h]);
            __m128i new_states = _mm_or_si128(_mm_slli_epi32(lc_avx2_narrow(new_used), 8),
                                              lc_avx2_narrow(tiers[h]));
            _mm_storeu_si128((__m128i *)(g->member_states + LC_AVX2_WIDTH * h), new_states);
            /* A member met earlier in the group: that lane may change the counter first. */
            lanes[h] = _mm256_and_si256(
                lanes[h], lc_avx2_from_bits((first_of_member >> (LC_AVX2_WIDTH * h)) & 15));
            state_lanes[h] = _mm256_and_si256(purchases, lanes[h]);
        }
    }

    /* Full lanes (every entry earns) and their entries. */
    LC_QUARTERS(h) {
        __m256i full_words = lc_avx2_gather(&plans_table->full, rows[h], lanes[h]);
        full[h] = _mm256_and_si256(
            lc_avx2_andnot(excluded[h], lanes[h]),
            lc_avx2_ge(bases[h], _mm256_and_si256(full_words, low32)));
        __m256i entry_rules = slot_count <= 3 ? _mm256_srli_epi64(full_words, 32)
            : lc_avx2_gather(&plans_table->entry_rules, rows[h], full[h]);
        entry_counts[h] = _mm256_srli_epi64(rates[h], LC_VECTOR_ENTRY_COUNT_SHIFT);
        _mm256_storeu_si256((__m256i *)(g->entry_rules + LC_AVX2_WIDTH * h), entry_rules);
        _mm256_storeu_si256((__m256i *)(g->entry_counts + LC_AVX2_WIDTH * h), entry_counts[h]);
    }
    uint32_t written = 0;
    if (slot_count <= 3) {
        /* 8. The caps taken off the entries from the last (trim_entries in _accrual.pyx): with
           every entry above 0, entry s keeps min(its points, what the cap leaves after the
           entries before it), and is kept while that is above 0. Excluded lanes keep none. */
        LC_QUARTERS(h) {
            __m256i left = capped[h];
            __m256i kept_counts = zero;
            for (int64_t slot = 0; slot <= 3; slot++) {
                __m256i value = slot <= slot_count
                    ? lc_avx2_signed(_mm256_loadu_si256(
                          (const __m256i *)(g->values[slot] + LC_AVX2_WIDTH * h)), negative[h])
                    : zero;
                __m256i kept = lc_avx2_min(value, left);
                __m256i counted = _mm256_and_si256(
                    _mm256_cmpgt_epi64(left, zero),
                    _mm256_cmpgt_epi64(entry_counts[h], lc_avx2_set1(slot)));
                kept_counts = _mm256_sub_epi64(kept_counts, counted);
                left = _mm256_sub_epi64(left, kept);
                _mm256_storeu_si256((__m256i *)(g->kept[slot] + LC_AVX2_WIDTH * h),
                                    lc_avx2_signed(kept, negative[h]));
            }
            _mm256_storeu_si256((__m256i *)(g->kept_counts + LC_AVX2_WIDTH * h),
                                lc_avx2_andnot(excluded[h], kept_counts));
            written |= lc_avx2_bits(_mm256_and_si256(lanes[h], _mm256_or_si256(full[h], excluded[h])))
                << (LC_AVX2_WIDTH * h);
        }
    } else {
        LC_QUARTERS(h) {
            /* Only excluded lanes are written: no entries, and rows of zeros (written past the
               last entry, so that no earlier group's values land in the caller's buffers). */
            _mm256_storeu_si256((__m256i *)(g->kept_counts + LC_AVX2_WIDTH * h), zero);
            for (int slot = 0; slot < 4; slot++)
                _mm256_storeu_si256((__m256i *)(g->kept[slot] + LC_AVX2_WIDTH * h), zero);
            written |= lc_avx2_bits(excluded[h]) << (LC_AVX2_WIDTH * h);
        }
    }
    uint32_t all_lanes = 0, all_full = 0, all_excluded = 0, all_states = 0;
    LC_QUARTERS(h) {
        _mm256_storeu_si256((__m256i *)(g->totals + LC_AVX2_WIDTH * h), totals[h]);
        _mm256_storeu_si256((__m256i *)(g->capped + LC_AVX2_WIDTH * h), capped[h]);
        _mm256_storeu_si256((__m256i *)(g->points + LC_AVX2_WIDTH * h),
                            lc_avx2_signed(capped[h], negative[h]));
        _mm_storeu_si128((__m128i *)(g->plan_indexes + LC_AVX2_WIDTH * h), lc_avx2_narrow(plans[h]));
        all_lanes |= lc_avx2_bits(lanes[h]) << (LC_AVX2_WIDTH * h);
        all_full |= lc_avx2_bits(full[h]) << (LC_AVX2_WIDTH * h);
        all_excluded |= lc_avx2_bits(excluded[h]) << (LC_AVX2_WIDTH * h);
        all_states |= lc_avx2_bits(state_lanes[h]) << (LC_AVX2_WIDTH * h);
    }
    g->lanes = all_lanes;
    g->full_lanes = all_full;
    g->excluded_lanes = all_excluded;
    g->state_lanes = all_states;
    g->written_lanes = written;
}

/* One lane of lc_vector_write_avx2: its points, count, row of 4 entries and member state. */
LC_AVX2_TARGET static inline int64_t lc_avx2_write_lane(const lc_group *g, int lane,
                                                        int64_t index, const lc_vector_outputs *o,
                                                        __m256i row, int64_t entry) {
    int64_t transaction = index + lane;
    int64_t kept = g->kept_counts[lane];
    o->attribution_counts[transaction] = (uint8_t)kept;
    _mm256_storeu_si256((__m256i *)(o->attribution_points + entry), row);
    uint32_t rules = (uint32_t)g->entry_rules[lane];
    memcpy(o->attribution_rule_indexes + entry, &rules, sizeof rules);
    if ((g->state_lanes >> lane) & 1)
        o->member_states[o->member_indexes[transaction]] = g->member_states[lane];
    return entry + kept;
}

/* As lc_vector_write: a whole quarter's rows by a 4 x 4 transposition, else lane by lane. */
LC_AVX2_TARGET static int lc_vector_write_avx2(const lc_group *g, int lane, int64_t index,
                                               const lc_vector_outputs *o, int64_t *used) {
    uint32_t after = ~g->written_lanes & 0xFFFFu & (0xFFFFu << lane);
    int end = after ? __builtin_ctz(after) : LC_VECTOR_LANES;
    int64_t entry = *used;
    while (lane < end) {
        if (lane % LC_AVX2_WIDTH == 0 && lane + LC_AVX2_WIDTH <= end) {
            __m256i k0 = _mm256_loadu_si256((const __m256i *)(g->kept[0] + lane));
            __m256i k1 = _mm256_loadu_si256((const __m256i *)(g->kept[1] + lane));
            __m256i k2 = _mm256_loadu_si256((const __m256i *)(g->kept[2] + lane));
            __m256i k3 = _mm256_loadu_si256((const __m256i *)(g->kept[3] + lane));
            __m256i even_low = _mm256_unpacklo_epi64(k0, k1), odd_low = _mm256_unpackhi_epi64(k0, k1);
            __m256i even_high = _mm256_unpacklo_epi64(k2, k3), odd_high = _mm256_unpackhi_epi64(k2, k3);
            _mm256_storeu_si256((__m256i *)(o->points + index + lane),
                                _mm256_loadu_si256((const __m256i *)(g->points + lane)));
            entry = lc_avx2_write_lane(g, lane, index, o,
                                       _mm256_permute2x128_si256(even_low, even_high, 0x20), entry);
            entry = lc_avx2_write_lane(g, lane + 1, index, o,
                                       _mm256_permute2x128_si256(odd_low, odd_high, 0x20), entry);
            entry = lc_avx2_write_lane(g, lane + 2, index, o,
                                       _mm256_permute2x128_si256(even_low, even_high, 0x31), entry);
            entry = lc_avx2_write_lane(g, lane + 3, index, o,
                                       _mm256_permute2x128_si256(odd_low, odd_high, 0x31), entry);
            lane += LC_AVX2_WIDTH;
            continue;
        }
        o->points[index + lane] = g->points[lane];
        __m256i row = _mm256_set_epi64x(g->kept[3][lane], g->kept[2][lane], g->kept[1][lane],
                                        g->kept[0][lane]);
        entry = lc_avx2_write_lane(g, lane, index, o, row, entry);
        lane++;
    }
    *used = entry;
    return end;
}

#endif
