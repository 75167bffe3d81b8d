/*
 * fit.c - the online strategies, which place items in input order:
 * NextFit, FirstFit, BestFit and WorstFit.
 *
 * Tie rules: FirstFit takes the lowest-numbered bin that fits. BestFit
 * takes the bin with the least remaining space that fits, WorstFit the one
 * with the most; among bins with equal remaining space both take the bin
 * that reached that remaining space most recently (see residual_index.c).
 */
#include "internal.h"

int sp_strategy_nf(sp_job *job)
{
    const int64_t *len = job->lengths;
    const int64_t n = job->n, cap = job->capacity;
    int64_t b = 0, load = 0;
    job->bin_offsets[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t l = len[i];
        if (load + l > cap) {
            job->bin_used[b] = load;
            job->bin_offsets[++b] = i;
            load = 0;
        }
        load += l;
        job->items[i] = i;
    }
    job->bin_used[b] = load;
    job->bin_offsets[b + 1] = n;
    job->num_bins = b + 1;
    return SP_OK;
}

int sp_strategy_ff(sp_job *job)
{
    sp_bins bins;
    if (sp_bins_init(&bins, job) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    sp_first_fit *ff = sp_ff_create(job->capacity, job->n);
    if (ff == NULL) {
        sp_bins_free(&bins);
        return SP_ERR_OUT_OF_MEMORY;
    }
    for (int64_t i = 0; i < job->n; i++)
        sp_ff_place_run(ff, &bins, job->lengths[i], 1);
    sp_bins_emit(&bins, job, NULL);
    sp_ff_free(ff);
    sp_bins_free(&bins);
    return SP_OK;
}

/* BestFit (best != 0) or WorstFit (best == 0) in input order. */
static int residual_fit(sp_job *job, int best)
{
    sp_bins bins;
    if (sp_bins_init(&bins, job) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    sp_residual_index *ri = sp_ri_create(job->capacity, job->n);
    if (ri == NULL) {
        sp_bins_free(&bins);
        return SP_ERR_OUT_OF_MEMORY;
    }
    const int64_t *len = job->lengths;
    /* A bin with less room than the shortest length never takes another
     * item, so it is not indexed. */
    const int64_t useful = job->min_length;
    for (int64_t i = 0; i < job->n; i++) {
        int64_t s = len[i], r = 0;
        int32_t b;
        if (best) {
            b = sp_ri_pop_best(ri, s, &r);
        } else {
            b = sp_ri_pop_max(ri, &r);
            if (b >= 0 && r < s) {
                sp_ri_push(ri, b, r);
                b = -1;
            }
        }
        if (b < 0) {
            b = sp_bins_open(&bins);
            r = job->capacity;
        }
        sp_bins_place(&bins, b, s, 1);
        if (r - s >= useful)
            sp_ri_push(ri, b, r - s);
    }
    sp_bins_emit(&bins, job, NULL);
    sp_ri_free(ri);
    sp_bins_free(&bins);
    return SP_OK;
}

int sp_strategy_bf(sp_job *job) { return residual_fit(job, 1); }

int sp_strategy_wf(sp_job *job) { return residual_fit(job, 0); }
