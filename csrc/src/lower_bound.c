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
 * same pass (the caller's buffer is read once), then sorted into runs of
 * equal lengths by order.c (the sort the decreasing strategies use: O(n)
 * whatever the capacity, O(n) memory). One pass over the runs, shortest
 * first, then gives L2.
 */
#include <stdlib.h>

#include "offline/offline.h"

/* ceil(x / c) for x > 0, c > 0, without forming x + c - 1. */
static int64_t ceil_div(int64_t x, int64_t c)
{
    return (x - 1) / c + 1;
}

/* L2 of the sorted runs (order.c keeps them longest first; r counts from
 * the shortest here). Every product of a length and its count, and every
 * sum below, is at most the total of the lengths, which fits int64. */
static int64_t spi_l2_of_runs(const spi_sorted *sorted, int64_t capacity)
{
    const int64_t runs = sorted->runs;
#define value(r) (sorted->run_length[runs - 1 - (r)])
#define count(r) ((int64_t)sorted->run_count[runs - 1 - (r)])
    /* Runs [0, small) hold the lengths l with 2l <= C (written l <= C - l,
     * which is exact for odd C and cannot overflow); the rest are the
     * large ones, of which no two share a bin. */
    int64_t small = 0;
    while (small < runs && value(small) <= capacity - value(small))
        small++;
    int64_t large_count = 0;
    for (int64_t r = small; r < runs; r++)
        large_count += count(r);

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
        const int64_t alpha = value(a);
        j3_sum += value(a) * count(a);
        while (next_large < runs && value(next_large) <= capacity - alpha) {
            j2_room += (capacity - value(next_large)) * count(next_large);
            next_large++;
        }
        const int64_t excess = j3_sum - j2_room;
        const int64_t bound = large_count + (excess > 0 ? ceil_div(excess, capacity) : 0);
        if (bound > best)
            best = bound;
    }
#undef value
#undef count
    return best;
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
    spi_sorted sorted = {0};
    if (status == SP_OK && spi_sort_decreasing(&job, &sorted) != SP_OK)
        status = SP_ERR_OUT_OF_MEMORY;
    if (status == SP_OK) {
        int64_t result = spi_l2_of_runs(&sorted, capacity);
        if (max_items > 0) {
            const int64_t by_count = ceil_div(n, max_items);
            result = by_count > result ? by_count : result;
        }
        *bound = result;
    }
    spi_sorted_free(&sorted);
    free(copy);
    return status;
}
