/*
 * parallel.c - ParallelOptimizedBestFitDecreasing (obfdp).
 *
 * Method: OBFD in three phases, two of them spread over threads.
 *   1. Sort (parallel): each thread counts the lengths of its slice of the
 *      input, the counts are combined into run starts, and each thread
 *      scatters its slice into the stable decreasing order.
 *   2. Decide (serial): best fit over the runs of equal lengths, as OBFD,
 *      recording for every placement its bin and its slot in that bin.
 *   3. Lay out (parallel): with the bin offsets known, each placement's
 *      position is offsets[bin] + slot, so threads write disjoint slices.
 * The bins are therefore exactly OBFD's (same ids, same order) for any
 * thread count; only the time differs. The decision phase stays serial
 * because best fit over shared bins is inherently sequential, and splitting
 * the items into independently packed shares costs bins.
 *
 * Threads are created and joined inside the call. Inputs below
 * MIN_ITEMS_PER_THREAD per thread use fewer threads (one for small inputs).
 */
#include <stdlib.h>

#include "internal.h"

#define MIN_ITEMS_PER_THREAD ((int64_t)1 << 17)

int sp_strategy_obfdp(sp_job *job)
{
    int64_t threads = job->options.threads;
    if (threads == 0)
        threads = sp_online_cpus();
    int64_t most = job->n / MIN_ITEMS_PER_THREAD;
    if (threads > most)
        threads = most;
    if (threads <= 1)
        return sp_strategy_obfd(job);
    int parts = (int)threads;

    sp_sorted sorted;
    if (sp_sort_decreasing_parallel(job, &sorted, parts) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    sp_bins bins;
    int32_t *slot = sp_alloc_array(job->n, sizeof(int32_t));
    if (slot == NULL || sp_bins_init(&bins, job) != SP_OK) {
        free(slot);
        sp_sorted_free(&sorted);
        return SP_ERR_OUT_OF_MEMORY;
    }
    bins.slot = slot;
    int status = sp_best_fit_runs(job, &sorted, &bins, 1);
    if (status == SP_OK)
        sp_bins_emit_parallel(&bins, job, sorted.order, parts);
    sp_bins_free(&bins);
    free(slot);
    sp_sorted_free(&sorted);
    return status;
}
