/*
 * harmonic.c - Harmonic-K (Lee and Lee, 1985), the bounded-space online
 * strategy.
 *
 * An item of length l belongs to class i = floor(C / l), that is
 * C/(i+1) < l <= C/i (spi_hk_class, shared with the stream). For i < k,
 * class i keeps one open bin that takes exactly i items (i of them always
 * fit) and closes when full. Items with floor(C / l) >= k (l <= C/k) form
 * the last class, packed next fit into one open bin that closes when the
 * next such item does not fit. With an item limit m (sp_options.max_items)
 * a class-i bin closes at min(i, m) items and the next-fit bin at m. So at most
 * k bins are open at any moment (one per class, the class-1 bin only for
 * the instant of its single item), and each item costs O(1).
 *
 * Bins are numbered in the order they are opened, which is when they get
 * their first item; ids within a bin are in input order.
 */
#include <stdlib.h>

#include "offline/offline.h"

/* The open bin of class i (1 <= i < k, see spi_hk_class); count == 0 when
 * the class has none. */
typedef struct hk_slot {
    int32_t bin;
    int32_t count;
} hk_slot;

/*
 * Check each length and decide its bin, in input order (api.c leaves the
 * check of HK's lengths to this pass, which reads each length anyway; the
 * caller has checked the total already when it could overflow). The
 * caller's buffers serve as scratch, so nothing n-sized is allocated:
 * bin_used[i] receives the bin b of item i and its position in that bin,
 * as b << 32 | position (both < 2^31), and bin_offsets[b + 1] the number
 * of items of bin b. Returns the status and the number of bins in
 * *bins_out. The rule is the one of internal.h (spi_hk_class and the
 * closing tests), as in the stream.
 *
 * Classes of random lengths make branches unpredictable, so the class path
 * opens a bin (when the class has none) and closes it (when it holds c
 * items) with all-ones/all-zeros masks: compilers turn the plainer ?: form
 * into branches here, which mispredict often.
 * Counts are stored, never incremented in memory: a bin's count is the
 * running count of its slot (or of the next-fit bin) after its last item.
 */
static int hk_assign(spi_job *job, hk_slot *slot, int64_t slots,
                     const int32_t *class_of, int64_t *bins_out)
{
    const int64_t cap = job->capacity, k = job->options.k, n = job->n;
    const int64_t limit = spi_item_limit(&job->options);
    const int64_t *len = job->lengths;
    int64_t *bin_of = job->bin_used, *count = job->bin_offsets + 1;
    for (int64_t s = 0; s < slots; s++)
        slot[s].bin = slot[s].count = 0;

    int64_t bins = 0;
    int64_t last_bin = -1, last_load = cap, last_count = 0; /* no next-fit bin yet */
    for (int64_t i = 0; i < n; i++) {
        const int64_t l = len[i];
        if ((uint64_t)l - 1u >= (uint64_t)cap) { /* l < 1 or l > cap */
            if (job->error_index != NULL)
                *job->error_index = i;
            return spi_length_status(l, cap);
        }
        const int64_t c = class_of ? class_of[l - 1] : spi_hk_class(cap, l, k);
        int64_t b;
        if (c == 0) {
            /* The last class, next fit: a new bin replaces the old one,
             * which closes. (Its closing when exactly full needs no step
             * here: no later item fits it.) */
            if (spi_next_fit_closes_before(last_load, last_count, l, cap, limit)) {
                last_bin = bins++;
                last_load = 0;
                last_count = 0;
            }
            last_load += l;
            b = last_bin;
            bin_of[i] = b << 32 | last_count;
            count[b] = ++last_count;
        } else {
            hk_slot *sl = &slot[c - 1];
            /* Masks rather than branches: -1 when true, 0 when false. */
            const int64_t opening = -(int64_t)(sl->count == 0);
            const int32_t filled = sl->count + 1;
            const int32_t full = -(int32_t)spi_hk_class_closes(c, sl->count, limit);
            b = (bins & opening) | (sl->bin & ~opening);
            bins -= opening;
            sl->bin = (int32_t)b;
            sl->count = filled & ~full;
            bin_of[i] = b << 32 | (filled - 1);
            count[b] = filled;
        }
    }
    *bins_out = bins;
    return SP_OK;
}

/*
 * Lay the ids out bin by bin, from the bin and position of each item (in
 * bin_used) and the counts (in bin_offsets[1..]), and turn bin_used into
 * the loads. Writing the load of bin b over bin_used[b] is safe while
 * reading item i >= b: a bin gets its number when its first item comes, so
 * bin b's items all have ids >= b and entry b has been read already. Bins
 * first appear in number order, so "b == next" spots a bin's first item,
 * whose load starts from zero.
 */
static void hk_layout(spi_job *job, int64_t bins)
{
    const int64_t n = job->n;
    const int64_t *len = job->lengths;
    int64_t *offsets = job->bin_offsets, *used = job->bin_used;
    int64_t *items = job->items;
    /* Counts to starts: offsets[b] is where bin b begins. */
    offsets[0] = 0;
    for (int64_t b = 1; b <= bins; b++)
        offsets[b] += offsets[b - 1];
    int64_t next = 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t b = used[i] >> 32, position = used[i] & INT32_MAX;
        const int64_t first = -(int64_t)(b == next); /* mask, no branch */
        used[b] = (used[b] & ~first) + len[i];
        next -= first;
        items[offsets[b] + position] = i;
    }
    job->num_bins = bins;
}

int spi_strategy_hk(spi_job *job)
{
    const int64_t cap = job->capacity, k = job->options.k, n = job->n;
    /* A total beyond int64 needs capacity > INT64_MAX / n: only then does
     * the total need its own check. */
    if (cap > INT64_MAX / n) {
        int status = spi_check_lengths(job, NULL);
        if (status != SP_OK)
            return status;
    }
    /* Slot c - 1 holds the open bin of class c, 1 <= c < min(k, cap + 1). */
    const int64_t slots = k - 1 < cap ? k - 1 : cap;
    hk_slot *slot = spi_alloc_array(slots, sizeof(hk_slot));
    if (slot == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    int32_t *class_of = spi_hk_class_table(cap, k, n);
    int64_t bins = 0;
    int status = hk_assign(job, slot, slots, class_of, &bins);
    if (status == SP_OK)
        hk_layout(job, bins);
    free(class_of);
    free(slot);
    return status;
}
