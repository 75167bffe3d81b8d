/*
 * decreasing.c - the offline strategies that sort first: FirstFitDecreasing,
 * BestFitDecreasing and OptimizedBestFitDecreasing.
 *
 * The order is by length descending, equal lengths in ascending id order
 * (order.c). BFD and OBFD give identical bins: OBFD walks the runs of equal
 * lengths and gives each chosen bin all the items of the run that it can
 * take at once. That is what best fit does item by item too: after bin b
 * (the smallest residual r >= s) takes an item of length s, its residual
 * r - s is the new smallest one >= s whenever it still fits s.
 */
#include "internal.h"

typedef int (*run_packer)(sp_job *job, const sp_sorted *sorted, sp_bins *bins);

/* Sort, let pack decide the bins in sorted order, then lay the ids out. */
static int pack_sorted(sp_job *job, run_packer pack)
{
    sp_sorted sorted;
    sp_bins bins;
    if (sp_sort_decreasing(job, &sorted) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    if (sp_bins_init(&bins, job) != SP_OK) {
        sp_sorted_free(&sorted);
        return SP_ERR_OUT_OF_MEMORY;
    }
    int status = pack(job, &sorted, &bins);
    if (status == SP_OK)
        sp_bins_emit(&bins, job, sorted.order);
    sp_bins_free(&bins);
    sp_sorted_free(&sorted);
    return status;
}

static int ffd_runs(sp_job *job, const sp_sorted *sorted, sp_bins *bins)
{
    sp_first_fit *ff = sp_ff_create(job->capacity, job->n);
    if (ff == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    for (int64_t k = 0; k < sorted->runs; k++)
        sp_ff_place_run(ff, bins, sorted->run_length[k], sorted->run_count[k]);
    sp_ff_free(ff);
    return SP_OK;
}

/* Best fit over the sorted runs; item by item, or a run at a time. */
int sp_best_fit_runs(sp_job *job, const sp_sorted *sorted, sp_bins *bins,
                     int bulk)
{
    sp_residual_index *ri = sp_ri_create(job->capacity, job->n);
    if (ri == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    const int64_t cap = job->capacity, useful = job->min_length;
    for (int64_t k = 0; k < sorted->runs; k++) {
        const int64_t s = sorted->run_length[k];
        int64_t left = sorted->run_count[k];
        while (left > 0) {
            int64_t r = 0;
            int32_t b = sp_ri_pop_best(ri, s, &r);
            if (b < 0) {
                b = sp_bins_open(bins);
                r = cap;
            }
            /* A division costs more than the rest of the step: skip it
             * when the bin fits just one more item. */
            int64_t q = (bulk && r - s >= s) ? r / s : 1;
            q = q < left ? q : left;
            sp_bins_place(bins, b, s, q);
            r -= q * s;
            left -= q;
            if (r >= useful)
                sp_ri_push(ri, b, r);
        }
    }
    sp_ri_free(ri);
    return SP_OK;
}

static int bfd_runs(sp_job *job, const sp_sorted *sorted, sp_bins *bins)
{
    return sp_best_fit_runs(job, sorted, bins, 0);
}

static int obfd_runs(sp_job *job, const sp_sorted *sorted, sp_bins *bins)
{
    return sp_best_fit_runs(job, sorted, bins, 1);
}

int sp_strategy_ffd(sp_job *job) { return pack_sorted(job, ffd_runs); }

int sp_strategy_bfd(sp_job *job) { return pack_sorted(job, bfd_runs); }

int sp_strategy_obfd(sp_job *job) { return pack_sorted(job, obfd_runs); }
