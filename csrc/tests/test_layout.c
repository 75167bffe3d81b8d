/*
 * test_layout.c - sp_copy_runs and sp_fill_positions: what they write for
 * every element size, that bytes outside the runs stay untouched, and every
 * error path (bad sizes, NULL pointers, runs outside either buffer, int64
 * overflow of start + length, positions that do not fit the element).
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "seqpacker.h"

#define MARK 0x5e

static void test_copy_runs_every_size(void)
{
    for (int64_t width = 1; width <= 8; width *= 2) {
        unsigned char src[64], dst[64];
        for (int i = 0; i < 64; i++)
            src[i] = (unsigned char)i;
        memset(dst, MARK, sizeof dst);
        int64_t n_src = 64 / width, n_dst = 64 / width;
        /* Runs: 3 elements from 2 to 0; 0 elements anywhere; 2 from 5 to 4. */
        int64_t from[] = {2, n_src, 5}, to[] = {0, n_dst, 4}, len[] = {3, 0, 2};
        int64_t bad = 7;
        CHECK_EQ(sp_copy_runs(dst, n_dst, src, n_src, width, from, to, len, 3, &bad), SP_OK);
        CHECK_EQ(bad, -1);
        CHECK(memcmp(dst, src + 2 * width, (size_t)(3 * width)) == 0);
        CHECK(memcmp(dst + 4 * width, src + 5 * width, (size_t)(2 * width)) == 0);
        for (int64_t i = 3 * width; i < 4 * width; i++)
            CHECK_EQ(dst[i], MARK);
        for (int64_t i = 6 * width; i < 64; i++)
            CHECK_EQ(dst[i], MARK);
    }
}

/* Random runs (overlapping in dst, later runs win) against an element loop. */
static void test_copy_runs_random(void)
{
    int32_t src[200], dst[150], want[150];
    int64_t from[40], to[40], len[40], bad;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 200; i++)
            src[i] = (int32_t)next_random();
        for (int i = 0; i < 150; i++)
            dst[i] = want[i] = -1;
        int64_t n = random_in(0, 40);
        for (int64_t r = 0; r < n; r++) {
            len[r] = random_in(0, 30);
            from[r] = random_in(0, 200 - len[r]);
            to[r] = random_in(0, 150 - len[r]);
            for (int64_t k = 0; k < len[r]; k++)
                want[to[r] + k] = src[from[r] + k];
        }
        CHECK_EQ(sp_copy_runs(dst, 150, src, 200, 4, from, to, len, n, &bad), SP_OK);
        CHECK(memcmp(dst, want, sizeof dst) == 0);
    }
}

static void test_copy_runs_errors(void)
{
    int64_t src[8] = {0}, dst[8] = {0}, bad = 0;
    int64_t zero[] = {0}, one[] = {1}, eight[] = {8}, nine[] = {9}, minus[] = {-1};
    int64_t big[] = {INT64_MAX};
    CHECK_EQ(sp_copy_runs(dst, 8, src, 8, 8, zero, zero, one, 1, NULL), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_copy_runs(dst, 8, src, 8, 3, zero, zero, one, 1, &bad),
             SP_ERR_INVALID_ELEMENT_SIZE);
    CHECK_EQ(sp_copy_runs(dst, 8, src, 8, 16, zero, zero, one, 1, &bad),
             SP_ERR_INVALID_ELEMENT_SIZE);
    CHECK_EQ(sp_copy_runs(dst, 8, src, 8, 8, zero, zero, one, -1, &bad), SP_ERR_NEGATIVE_COUNT);
    CHECK_EQ(sp_copy_runs(dst, -1, src, 8, 8, zero, zero, one, 1, &bad), SP_ERR_NEGATIVE_COUNT);
    CHECK_EQ(sp_copy_runs(dst, 8, src, -1, 8, zero, zero, one, 1, &bad), SP_ERR_NEGATIVE_COUNT);
    CHECK_EQ(sp_copy_runs(dst, 8, src, 8, 8, NULL, zero, one, 1, &bad), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_copy_runs(dst, 8, src, 8, 8, zero, NULL, one, 1, &bad), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_copy_runs(dst, 8, src, 8, 8, zero, zero, NULL, 1, &bad), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_copy_runs(NULL, 8, src, 8, 8, zero, zero, one, 1, &bad), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_copy_runs(dst, 8, NULL, 8, 8, zero, zero, one, 1, &bad), SP_ERR_NULL_POINTER);
    /* No runs and empty buffers: nothing to do, NULL allowed. */
    CHECK_EQ(sp_copy_runs(NULL, 0, NULL, 0, 8, NULL, NULL, NULL, 0, &bad), SP_OK);
    /* Each run outside a buffer, named by its index. */
    int64_t from[] = {0, 0}, to[] = {0, 0}, len[] = {1, 1};
    struct { int64_t *from, *to, *len; } cases[] = {
        {minus, zero, one}, {zero, minus, one}, {zero, zero, minus}, {eight, zero, one},
        {zero, eight, one}, {zero, zero, nine}, {big, zero, one}, {zero, big, one},
        {one, zero, big},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        from[1] = cases[c].from[0];
        to[1] = cases[c].to[0];
        len[1] = cases[c].len[0];
        bad = 0;
        CHECK_EQ(sp_copy_runs(dst, 8, src, 8, 8, from, to, len, 2, &bad), SP_ERR_OUT_OF_BOUNDS);
        CHECK_EQ(bad, 1);
    }
    /* A run that ends exactly at the end of both buffers fits. */
    CHECK_EQ(sp_copy_runs(dst, 8, src, 8, 8, one, one, (int64_t[]){7}, 1, &bad), SP_OK);
}

static void test_fill_positions(void)
{
    int64_t lengths[] = {3, 0, 1, 2};
    int16_t p16[8];
    int32_t p32[8];
    int64_t p64[8];
    int64_t expect[] = {0, 1, 2, 0, 0, 1};
    int64_t bad = 5;
    for (int i = 0; i < 8; i++)
        p16[i] = p32[i] = -7, p64[i] = -7;
    CHECK_EQ(sp_fill_positions(p16, 8, 2, lengths, 4, &bad), SP_OK);
    CHECK_EQ(sp_fill_positions(p32, 8, 4, lengths, 4, &bad), SP_OK);
    CHECK_EQ(sp_fill_positions(p64, 8, 8, lengths, 4, &bad), SP_OK);
    CHECK_EQ(bad, -1);
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(p16[i], expect[i]);
        CHECK_EQ(p32[i], expect[i]);
        CHECK_EQ(p64[i], expect[i]);
    }
    for (int i = 6; i < 8; i++) { /* past the sum: untouched */
        CHECK_EQ(p16[i], -7);
        CHECK_EQ(p32[i], -7);
        CHECK_EQ(p64[i], -7);
    }
}

static void test_fill_positions_errors(void)
{
    int64_t out[4], bad = 0;
    int64_t ok[] = {2}, over[] = {2, 3}, minus[] = {1, -1};
    CHECK_EQ(sp_fill_positions(out, 4, 8, ok, 1, NULL), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_fill_positions(out, 4, 1, ok, 1, &bad), SP_ERR_INVALID_ELEMENT_SIZE);
    CHECK_EQ(sp_fill_positions(out, 4, 16, ok, 1, &bad), SP_ERR_INVALID_ELEMENT_SIZE);
    CHECK_EQ(sp_fill_positions(out, 4, 8, ok, -1, &bad), SP_ERR_NEGATIVE_COUNT);
    CHECK_EQ(sp_fill_positions(out, -4, 8, ok, 1, &bad), SP_ERR_NEGATIVE_COUNT);
    CHECK_EQ(sp_fill_positions(out, 4, 8, NULL, 1, &bad), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_fill_positions(NULL, 4, 8, ok, 1, &bad), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_fill_positions(NULL, 0, 8, NULL, 0, &bad), SP_OK);
    CHECK_EQ(sp_fill_positions(out, 4, 8, over, 2, &bad), SP_ERR_OUT_OF_BOUNDS);
    CHECK_EQ(bad, 1);
    CHECK_EQ(sp_fill_positions(out, 4, 8, minus, 2, &bad), SP_ERR_OUT_OF_BOUNDS);
    CHECK_EQ(bad, 1);
    /* A segment whose last position does not fit the element. */
    static int16_t wide16[(1 << 15) + 1];
    int64_t fits16[] = {INT64_C(1) << 15}, too_long16[] = {(INT64_C(1) << 15) + 1};
    CHECK_EQ(sp_fill_positions(wide16, (1 << 15) + 1, 2, fits16, 1, &bad), SP_OK);
    CHECK_EQ(wide16[(1 << 15) - 1], INT16_MAX);
    CHECK_EQ(sp_fill_positions(wide16, (1 << 15) + 1, 2, too_long16, 1, &bad),
             SP_ERR_OUT_OF_BOUNDS);
    CHECK_EQ(bad, 0);
    int64_t too_long32[] = {(INT64_C(1) << 31) + 1};
    CHECK_EQ(sp_fill_positions(out, INT64_MAX, 4, too_long32, 1, &bad), SP_ERR_OUT_OF_BOUNDS);
}

int main(void)
{
    test_copy_runs_every_size();
    test_copy_runs_random();
    test_copy_runs_errors();
    test_fill_positions();
    test_fill_positions_errors();
    return check_summary();
}
