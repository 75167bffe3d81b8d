/*
 * lower_bound.c - sp_lower_bound(): no packing of the lengths uses fewer
 * bins than Martello and Toth's L2 (1990), nor, with at most max_items
 * items a bin, fewer than ceil(n / max_items).
 *
 * L2 is the largest L(alpha) over the integers 0 <= alpha <= C/2, where
 *   J1 = {l > C - alpha}, J2 = {C/2 < l <= C - alpha},
 *   J3 = {alpha <= l <= C/2},
 *   L(alpha) = |J1| + |J2|
 *              + max(0, ceil((sum(J3) - (|J2| C - sum(J2))) / C)).
 * No two items of J1 and J2 share a bin, an item of J3 fits no bin of J1,
 * and what of J3 exceeds the room that J2's bins leave needs bins of its
 * own. Between two consecutive lengths <= C/2, a larger alpha keeps J3
 * and only moves items from J2 to J1, which never lowers L; so only the
 * lengths <= C/2 themselves need computing as alpha (alpha = 0 has the J3
 * of the smallest of them). alpha = 0 alone gives max(|{l > C/2}|,
 * ceil(total / C)), so L2 is at least both.
 *
 * The lengths are checked as sp_lengths_check() does and copied in that
 * same pass (the caller's buffer is read once), then reduced to their
 * distinct values in ascending order with counts: by a histogram when the
 * capacity is at most 4n (O(n + C) time), else by sorting the copy
 * (O(n log n)). Memory is O(n) either way. One pass over the distinct
 * values then gives L2.
 */
#include <stdlib.h>

#include "internal.h"
#include "stream_queue.h" /* spi_compare_int64 */

/* Capacities up to this many times n take the histogram (8 bytes an
 * entry, so at most 32 bytes a length). */
#define HISTOGRAM_PER_LENGTH 4

/* ceil(x / c) for x > 0, c > 0, without forming x + c - 1. */
static int64_t ceil_div(int64_t x, int64_t c)
{
    return (x - 1) / c + 1;
}

/* L2 of the lengths given as `runs` distinct values in ascending order,
 * value[r] occurring count[r] times. Every product value * count and every
 * sum below is at most the total of the lengths, which fits int64. */
static int64_t spi_l2_of_runs(const int64_t *value, const int64_t *count,
                              int64_t runs, int64_t capacity)
{
    /* Runs [0, small) hold the lengths l with 2l <= C (written l <= C - l,
     * which is exact for odd C and cannot overflow); the rest are the
     * large ones, of which no two share a bin. */
    int64_t small = 0;
    while (small < runs && value[small] <= capacity - value[small])
        small++;
    int64_t large_count = 0;
    for (int64_t r = small; r < runs; r++)
        large_count += count[r];

    /* alpha runs down through the small values: J3 grows by one run each
     * step, and J2 (the large lengths <= C - alpha) grows from its
     * shortest lengths up. J1 + J2 is always every large length, and
     * L(alpha) is exactly that while J3 is empty (alpha above every small
     * length). alpha = 0 needs no step of its own: it has the same J3 as
     * the smallest small value, so L(0) is at most that value's L. */
    int64_t best = large_count;
    int64_t j3_sum = 0;   /* sum(J3) */
    int64_t j2_room = 0;  /* |J2| C - sum(J2): the room J2's bins leave */
    int64_t next_large = small;
    for (int64_t a = small - 1; a >= 0; a--) {
        const int64_t alpha = value[a];
        j3_sum += value[a] * count[a];
        while (next_large < runs && value[next_large] <= capacity - alpha) {
            j2_room += (capacity - value[next_large]) * count[next_large];
            next_large++;
        }
        const int64_t excess = j3_sum - j2_room;
        const int64_t bound = large_count + (excess > 0 ? ceil_div(excess, capacity) : 0);
        if (bound > best)
            best = bound;
    }
    return best;
}

/* The distinct values of the n checked lengths in `len` (which this
 * overwrites) with their counts, in ascending order, through a histogram
 * of capacity + 1 entries. value becomes len; *count is allocated. */
static int spi_runs_by_histogram(int64_t *len, int64_t n, int64_t capacity,
                                 int64_t **count, int64_t *runs)
{
    int64_t *hist = spi_alloc_zeroed(capacity + 1, sizeof(int64_t));
    if (hist == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    for (int64_t i = 0; i < n; i++)
        hist[len[i]]++;
    /* Compact in place: run r is written at r <= l - 1 < l, behind the
     * histogram entry being read. */
    int64_t r = 0;
    for (int64_t l = 1; l <= capacity; l++) {
        if (hist[l] != 0) {
            len[r] = l;
            hist[r] = hist[l];
            r++;
        }
    }
    *count = hist;
    *runs = r;
    return SP_OK;
}

/* The same by sorting `len` in place; *count is allocated (n entries). */
static int spi_runs_by_sorting(int64_t *len, int64_t n, int64_t **count,
                               int64_t *runs)
{
    int64_t *cnt = spi_alloc_array(n, sizeof(int64_t));
    if (cnt == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    qsort(len, (size_t)n, sizeof(int64_t), spi_compare_int64);
    int64_t r = 0;
    for (int64_t i = 0; i < n; i++) {
        if (r > 0 && len[r - 1] == len[i]) {
            cnt[r - 1]++;
        } else {
            len[r] = len[i];
            cnt[r] = 1;
            r++;
        }
    }
    *count = cnt;
    *runs = r;
    return SP_OK;
}

int sp_lower_bound(const int64_t *lengths, int64_t n, int64_t capacity,
                   int64_t max_items, int64_t *bound, int64_t *error_index)
{
    if (error_index)
        *error_index = -1;
    if (bound == NULL || (n > 0 && lengths == NULL))
        return SP_ERR_NULL_POINTER;
    *bound = 0;
    int status = spi_check_count_and_capacity(n, capacity);
    if (status != SP_OK)
        return status;
    if (max_items < 0)
        return SP_ERR_INVALID_OPTION;
    if (n == 0)
        return SP_OK;

    int64_t *copy = spi_alloc_array(n, sizeof(int64_t));
    if (copy == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    spi_job job = {.lengths = lengths, .n = n, .capacity = capacity,
                   .error_index = error_index};
    status = spi_check_lengths(&job, copy);
    int64_t *count = NULL, runs = 0;
    if (status == SP_OK) {
        if (capacity <= HISTOGRAM_PER_LENGTH * n) /* n <= SPI_MAX_N: no overflow */
            status = spi_runs_by_histogram(copy, n, capacity, &count, &runs);
        else
            status = spi_runs_by_sorting(copy, n, &count, &runs);
    }
    if (status == SP_OK) {
        int64_t result = spi_l2_of_runs(copy, count, runs, capacity);
        if (max_items > 0) {
            const int64_t by_count = ceil_div(n, max_items);
            result = by_count > result ? by_count : result;
        }
        *bound = result;
    }
    free(count);
    free(copy);
    return status;
}
