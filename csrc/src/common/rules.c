/*
 * rules.c - the rules that the offline strategies and the stream share and
 * that take more than an inline function (internal.h has the others):
 * which lengths a batch may hold (spi_check_each_length) and Harmonic-K's
 * class table (spi_hk_class_table).
 */
#include "common/internal.h"

/* Lengths are checked in blocks: a block with no bad length passes in one
 * branch-free (vectorisable) sweep, and only a block with one is searched. */
#define CHECK_BLOCK 4096

int spi_check_each_length(const int64_t *lengths, int64_t n, int64_t capacity,
                          int64_t *error_index)
{
    const uint64_t cap = (uint64_t)capacity;
    for (int64_t start = 0; start < n; start += CHECK_BLOCK) {
        const int64_t end = n - start < CHECK_BLOCK ? n : start + CHECK_BLOCK;
        /* l - 1 and cap - l are both in [0, cap) for a good length; for a
         * bad one (l < 1, or l > cap) either has its top bit set. Only
         * subtractions and ors, which SSE2 does two at a time (a 64-bit
         * compare needs SSE4.2). */
        uint64_t bad = 0;
        for (int64_t j = start; j < end; j++)
            bad |= ((uint64_t)lengths[j] - 1u) | (cap - (uint64_t)lengths[j]);
        if (bad >> 63 == 0)
            continue;
        for (int64_t j = start; j < end; j++) {
            int status = spi_length_status(lengths[j], capacity);
            if (status != SP_OK) {
                if (error_index != NULL)
                    *error_index = j;
                return status;
            }
        }
    }
    return SP_OK;
}

/* A table of the classes of all lengths pays when capacity <= n / this. */
#define TABLE_MAX_FRACTION 4

int32_t *spi_hk_class_table(int64_t capacity, int64_t k, int64_t n)
{
    if (capacity > n / TABLE_MAX_FRACTION)
        return NULL;
    int32_t *class_of = spi_alloc_array(capacity, sizeof(int32_t));
    for (int64_t l = 1; class_of != NULL && l <= capacity; l++)
        class_of[l - 1] = (int32_t)spi_hk_class(capacity, l, k);
    return class_of;
}
