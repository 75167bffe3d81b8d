/*
 * mffd.c - Modified First Fit Decreasing (Johnson and Garey, 1985), which
 * uses at most 71/60 * OPT + 1 bins (Yue and Zhang, 1995).
 *
 * Classes, in integer arithmetic (l > C/2 is l > floor(C/2) for integers,
 * and so on, which cannot overflow):
 *   large  l > C/2,  medium C/3 < l <= C/2,  small C/6 < l <= C/3,
 *   tiny   l <= C/6.
 * Phases (docs/mffd-and-harmonic.md gives the tie rules; an item limit
 * below 3 skips the phases that would exceed it, and phase 4 respects it):
 *   1. Each large item opens its own bin, in decreasing order.
 *   2. Forward through the large bins (least room first): put in the
 *      largest remaining medium item that fits, if any does.
 *   3. Backward through the large bins that got no medium item (most room
 *      first): if the two smallest remaining small items fit together, put
 *      in the smallest one and then the largest remaining small item that
 *      fits beside it.
 *   4. Everything left, in decreasing order, by first fit over all bins:
 *      the large bins first, then new ones. This is the paper's phases 4
 *      and 5 ("fill each large bin with the largest items that fit, then
 *      FFD into new bins"), which give the same bins.
 *
 * The sorted order is decreasing, so each class is a contiguous range of
 * it. Phase 2 walks the bins by increasing room, so the mediums that fit
 * only ever grow: they are pushed on a stack in increasing length and the
 * largest that fits is its top. Phase 3 walks by decreasing room while the
 * smallest small grows, so the room left for the second item only shrinks
 * and one pointer moving down finds it. Both are O(n) after the sort;
 * phase 4 is first fit over a max tree, O(n log n).
 */
#include <stdlib.h>

#include "offline/offline.h"

typedef struct mffd_state {
    const int64_t *len;
    const int32_t *order; /* sorted position -> id */
    uint8_t *taken;       /* sorted position -> already placed */
    int32_t *step_id;     /* placement step -> id, for spi_bins_emit */
    spi_bins bins;
} mffd_state;

static void place(mffd_state *st, int32_t b, int64_t pos)
{
    int32_t id = st->order[pos];
    st->step_id[st->bins.steps] = id;
    st->taken[pos] = 1;
    spi_bins_place(&st->bins, b, st->len[id], 1);
}

static int64_t len_at(const mffd_state *st, int64_t pos)
{
    return st->len[st->order[pos]];
}

/* Phase 2. The mediums are sorted positions [m_begin, m_end); position
 * m_end - 1 - a is the a-th in increasing order (ties: higher id first, so
 * the top of the stack among equal lengths is the lowest id). */
static int pair_mediums(mffd_state *st, int64_t large, int64_t m_begin,
                        int64_t m_end)
{
    const int64_t count = m_end - m_begin, cap = st->bins.capacity;
    int32_t *stack = spi_alloc_array(count > 0 ? count : 1, sizeof(int32_t));
    if (stack == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    int64_t top = 0, a = 0;
    for (int32_t b = 0; b < large; b++) {
        const int64_t room = cap - st->bins.load[b];
        while (a < count && len_at(st, m_end - 1 - a) <= room) {
            stack[top++] = (int32_t)(m_end - 1 - a);
            a++;
        }
        if (top > 0)
            place(st, b, stack[--top]);
    }
    free(stack);
    return SP_OK;
}

/* Phase 3. The smalls are sorted positions [s_begin, s_end); lo and hi
 * index them in increasing order. Everything in [lo, hi] is still there;
 * smalls above hi were passed over because they did not fit a larger room,
 * so they never fit again. */
static void add_small_pairs(mffd_state *st, int64_t large, int64_t s_begin,
                            int64_t s_end)
{
    const int64_t cap = st->bins.capacity;
#define SMALL_POS(a) (s_end - 1 - (a))
    int64_t lo = 0, hi = s_end - s_begin - 1;
    for (int32_t b = (int32_t)large - 1; b >= 0; b--) {
        if (st->bins.count[b] != 1)
            continue; /* it got a medium item */
        const int64_t room = cap - st->bins.load[b];
        if (lo + 1 > hi ||
            len_at(st, SMALL_POS(lo)) + len_at(st, SMALL_POS(lo + 1)) > room)
            continue;
        const int64_t rest = room - len_at(st, SMALL_POS(lo));
        place(st, b, SMALL_POS(lo));
        lo++;
        /* Stops at lo at the latest: that one fits by the check above. */
        while (len_at(st, SMALL_POS(hi)) > rest)
            hi--;
        place(st, b, SMALL_POS(hi));
        hi--;
    }
#undef SMALL_POS
}

/* Phase 4: first fit over the large bins, then new ones, run by run. */
static int finish_first_fit(mffd_state *st, const spi_sorted *sorted,
                            int64_t large, int64_t n)
{
    spi_first_fit *ff = spi_ff_create(st->bins.capacity, n);
    if (ff == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    for (int32_t b = 0; b < large; b++)
        spi_ff_set(ff, b, spi_bins_room(&st->bins, b) > 0
                              ? st->bins.capacity - st->bins.load[b] : 0);
    int64_t pos = 0;
    for (int64_t r = 0; r < sorted->runs; r++) {
        const int64_t end = pos + sorted->run_count[r];
        /* spi_ff_place_run takes the next `left` steps; name their ids. */
        int64_t left = 0;
        for (; pos < end; pos++) {
            if (!st->taken[pos])
                st->step_id[st->bins.steps + left++] = st->order[pos];
        }
        if (left > 0)
            spi_ff_place_run(ff, &st->bins, sorted->run_length[r], left);
    }
    spi_ff_free(ff);
    return SP_OK;
}

/* The end of the sorted positions whose length is > limit. */
static int64_t end_above(const mffd_state *st, int64_t from, int64_t n,
                         int64_t limit)
{
    while (from < n && len_at(st, from) > limit)
        from++;
    return from;
}

int spi_strategy_mffd(spi_job *job)
{
    const int64_t n = job->n, cap = job->capacity;
    spi_sorted sorted;
    if (spi_sort_decreasing(job, &sorted) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    mffd_state st = {job->lengths, sorted.order, NULL, NULL, {0}};
    st.taken = spi_alloc_zeroed(n, sizeof(uint8_t));
    st.step_id = spi_alloc_array(n, sizeof(int32_t));
    int status = SP_ERR_OUT_OF_MEMORY;
    if (st.taken == NULL || st.step_id == NULL ||
        spi_bins_init(&st.bins, job) != SP_OK)
        goto done;

    const int64_t large = end_above(&st, 0, n, cap / 2);
    const int64_t medium_end = end_above(&st, large, n, cap / 3);
    const int64_t small_end = end_above(&st, medium_end, n, cap / 6);
    for (int64_t pos = 0; pos < large; pos++)
        place(&st, spi_bins_open(&st.bins), pos);
    /* Phase 2 gives a bin its second item and phase 3 its second and
     * third: each runs only where the item limit allows that many. */
    if (st.bins.limit >= 2) {
        status = pair_mediums(&st, large, large, medium_end);
        if (status != SP_OK)
            goto done;
    }
    if (st.bins.limit >= 3)
        add_small_pairs(&st, large, medium_end, small_end);
    status = finish_first_fit(&st, &sorted, large, n);
    if (status == SP_OK)
        spi_bins_emit(&st.bins, job, st.step_id);

done:
    spi_bins_free(&st.bins);
    free(st.taken);
    free(st.step_id);
    spi_sorted_free(&sorted);
    return status;
}
