/*
 * test_lower_bound.c - sp_lower_bound(): worked values of L2, the cap on
 * items per bin, every error path, agreement with a direct evaluation of
 * the definition over every alpha (for the histogram and the sorting
 * paths alike), and no strategy ever packing into fewer bins.
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "seqpacker.h"

#define UNTOUCHED ((int64_t)0x5eed5eed)

/* sp_lower_bound's bound, or -status on an error. */
static int64_t lower(const int64_t *lengths, int64_t n, int64_t capacity,
                     int64_t max_items)
{
    int64_t bound = UNTOUCHED, error_index = UNTOUCHED;
    int status = sp_lower_bound(lengths, n, capacity, max_items, &bound, &error_index);
    if (status != SP_OK)
        return -status;
    CHECK_EQ(error_index, -1);
    return bound;
}

/* L2 by its definition: L(alpha) for every alpha in [0, C/2], in plain
 * loops (exact for odd C: l > C/2 is 2l > C). */
static int64_t l2_by_definition(const int64_t *len, int64_t n, int64_t c)
{
    int64_t best = 0;
    for (int64_t alpha = 0; 2 * alpha <= c; alpha++) {
        int64_t j1 = 0, j2 = 0, j2_sum = 0, j3_sum = 0;
        for (int64_t i = 0; i < n; i++) {
            if (len[i] > c - alpha) {
                j1++;
            } else if (2 * len[i] > c) {
                j2++;
                j2_sum += len[i];
            } else if (len[i] >= alpha) {
                j3_sum += len[i];
            }
        }
        int64_t excess = j3_sum - (j2 * c - j2_sum);
        int64_t l = j1 + j2 + (excess > 0 ? (excess + c - 1) / c : 0);
        best = l > best ? l : best;
    }
    return best;
}

static void test_worked_values(void)
{
    /* Three items above C/2: no two share a bin, though the total fits 2. */
    const int64_t three_large[] = {6, 6, 6};
    CHECK_EQ(lower(three_large, 3, 10, 0), 3);
    /* alpha = 45 beats alpha = 0: the 60s are then J1, and the three 45s
     * need two more bins (ceil(135 / 100)); total / C gives only 4. */
    const int64_t mixed[] = {60, 60, 60, 45, 45, 45};
    CHECK_EQ(lower(mixed, 6, 100, 0), 5);
    /* Exactly C/2 is small: two share a bin. */
    const int64_t halves[] = {5, 5, 5, 5};
    CHECK_EQ(lower(halves, 4, 10, 0), 2);
    /* Odd C = 9: 5 is above C/2, 4 is not. */
    const int64_t fives[] = {5, 5, 5};
    CHECK_EQ(lower(fives, 3, 9, 0), 3);
    const int64_t fours[] = {4, 4, 4, 4};
    CHECK_EQ(lower(fours, 4, 9, 0), 2);
    const int64_t pairs[] = {5, 4, 5, 4};
    CHECK_EQ(lower(pairs, 4, 9, 0), 2);
    /* Only the total counts: ceil(30 / 10). */
    const int64_t ones[] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    CHECK_EQ(lower(ones, 10, 10, 0), 3);
    /* One length, at the capacity. */
    const int64_t full[] = {7};
    CHECK_EQ(lower(full, 1, 7, 0), 1);
    /* Capacity 1: one bin a length. */
    const int64_t unit[] = {1, 1, 1};
    CHECK_EQ(lower(unit, 3, 1, 0), 3);
    /* The same values far above 4n: the sorting path, same answer. */
    const int64_t scale = INT64_C(1) << 30;
    int64_t scaled[6];
    for (int i = 0; i < 6; i++)
        scaled[i] = mixed[i] * scale;
    CHECK_EQ(lower(scaled, 6, 100 * scale, 0), 5);
    /* Totals at the edge of int64: C = 2m + 1, lengths m + 1 and m fill
     * one bin exactly. */
    const int64_t m = INT64_MAX / 2;
    const int64_t edge[] = {m + 1, m};
    CHECK_EQ(lower(edge, 2, INT64_MAX, 0), 1);
    const int64_t thirds[] = {INT64_MAX / 3, INT64_MAX / 3, INT64_MAX / 3};
    CHECK_EQ(lower(thirds, 3, INT64_MAX, 0), 1);
}

static void test_cap(void)
{
    const int64_t small[] = {1, 1, 1, 1, 1, 1, 1};
    CHECK_EQ(lower(small, 7, 100, 0), 1);
    CHECK_EQ(lower(small, 7, 100, 1), 7);
    CHECK_EQ(lower(small, 7, 100, 2), 4);
    CHECK_EQ(lower(small, 7, 100, 7), 1);
    CHECK_EQ(lower(small, 7, 100, INT64_MAX), 1);
    /* The cap does not lower L2. */
    const int64_t three_large[] = {6, 6, 6};
    CHECK_EQ(lower(three_large, 3, 10, 2), 3);
    CHECK_EQ(lower(NULL, 0, 10, 3), 0);
}

static void test_errors(void)
{
    const int64_t ok[] = {3, 4};
    int64_t bound = UNTOUCHED, error_index = UNTOUCHED;
    /* n = 0 takes NULL lengths and gives 0, still checking the capacity. */
    CHECK_EQ(sp_lower_bound(NULL, 0, 10, 0, &bound, &error_index), SP_OK);
    CHECK_EQ(bound, 0);
    CHECK_EQ(error_index, -1);
    CHECK_EQ(sp_lower_bound(NULL, 0, 0, 0, &bound, NULL), SP_ERR_INVALID_CAPACITY);
    CHECK_EQ(sp_lower_bound(ok, 2, 10, 0, NULL, &error_index), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_lower_bound(NULL, 2, 10, 0, &bound, &error_index), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_lower_bound(ok, -1, 10, 0, &bound, &error_index), SP_ERR_NEGATIVE_COUNT);
    CHECK_EQ(sp_lower_bound(ok, 2, 0, 0, &bound, &error_index), SP_ERR_INVALID_CAPACITY);
    CHECK_EQ(sp_lower_bound(ok, 2, -5, 0, &bound, &error_index), SP_ERR_INVALID_CAPACITY);
    CHECK_EQ(sp_lower_bound(ok, 2, 10, -1, &bound, &error_index), SP_ERR_INVALID_OPTION);
    CHECK_EQ(sp_lower_bound(ok, 2, 10, INT64_MIN, &bound, NULL), SP_ERR_INVALID_OPTION);

    /* Bad lengths: the same status and index as sp_lengths_check. */
    const int64_t zero[] = {3, 4, 0, 11};
    const int64_t over[] = {3, 11, 0};
    const int64_t negative[] = {-3};
    const int64_t overflow[] = {INT64_MAX / 2 + 1, INT64_MAX / 2 + 1};
    struct { const int64_t *lengths; int64_t n, capacity; int status; int64_t index; } cases[] = {
        {zero, 4, 10, SP_ERR_LENGTH_NOT_POSITIVE, 2},
        {over, 3, 10, SP_ERR_LENGTH_EXCEEDS_CAPACITY, 1},
        {negative, 1, 10, SP_ERR_LENGTH_NOT_POSITIVE, 0},
        {overflow, 2, INT64_MAX, SP_ERR_OVERFLOW, -1},
        {over, 3, INT64_C(1) << 40, SP_ERR_LENGTH_NOT_POSITIVE, 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t check_index = UNTOUCHED;
        int checked = sp_lengths_check(cases[k].lengths, cases[k].n, cases[k].capacity,
                                       NULL, &check_index);
        error_index = UNTOUCHED;
        int status = sp_lower_bound(cases[k].lengths, cases[k].n, cases[k].capacity, 0,
                                    &bound, &error_index);
        CHECK_EQ(status, cases[k].status);
        CHECK_EQ(status, checked);
        CHECK_EQ(error_index, cases[k].index);
        CHECK_EQ(error_index, check_index);
        CHECK_EQ(sp_lower_bound(cases[k].lengths, cases[k].n, cases[k].capacity, 0,
                                &bound, NULL), cases[k].status);
    }
}

#define MAX_N 200

/* Random inputs against the definition, on both paths: capacities up to
 * 4n take the histogram, larger ones the sort. */
static void test_against_definition(void)
{
    static int64_t len[MAX_N];
    for (int round = 0; round < 3000; round++) {
        const int64_t n = random_in(1, round % 2 ? 12 : MAX_N);
        const int64_t c = random_in(1, round % 3 ? 60 : 1500);
        const int64_t floor_len = random_in(1, c); /* crowd the top now and then */
        for (int64_t i = 0; i < n; i++)
            len[i] = random_in(round % 4 ? 1 : floor_len, c);
        int64_t total = 0;
        for (int64_t i = 0; i < n; i++)
            total += len[i];
        const int64_t got = lower(len, n, c, 0);
        CHECK_EQ(got, l2_by_definition(len, n, c));
        CHECK(got >= (total + c - 1) / c);
    }
}

/* No strategy packs a random input into fewer bins than the bound. */
static void test_never_above_a_packing(void)
{
    static int64_t len[MAX_N], items[MAX_N], offsets[MAX_N + 1];
    for (int round = 0; round < 300; round++) {
        const int64_t n = random_in(1, MAX_N);
        const int64_t c = random_in(1, round % 2 ? 100 : 100000);
        for (int64_t i = 0; i < n; i++)
            len[i] = random_in(round % 3 ? 1 : c / 3 + 1, c);
        const int64_t bound = lower(len, n, c, 0);
        for (int s = 0; s < SP_STRATEGY_COUNT; s++) {
            int64_t bins = -1;
            CHECK_EQ(sp_pack(len, n, c, s, NULL, items, offsets, NULL, &bins, NULL), SP_OK);
            CHECK(bound <= bins);
            CHECK(bound >= 1);
        }
    }
}

int main(void)
{
    test_worked_values();
    test_cap();
    test_errors();
    test_against_definition();
    test_never_above_a_packing();
    return check_summary();
}
