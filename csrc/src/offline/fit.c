/*
 * fit.c - the online strategies, which place items in input order:
 * NextFit, FirstFit, BestFit and WorstFit.
 *
 * Tie rules: FirstFit takes the lowest-numbered bin that fits. BestFit
 * takes the bin with the least remaining space that fits, WorstFit the one
 * with the most; among bins with equal remaining space both take the bin
 * that reached that remaining space most recently (see residual_index.c).
 */
#include "offline/offline.h"

int spi_strategy_nf(spi_job *job)
{
    const int64_t *len = job->lengths;
    const int64_t n = job->n, cap = job->capacity;
    const int64_t limit = spi_item_limit(&job->options);
    int64_t b = 0, load = 0, count = 0;
    job->bin_offsets[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t l = len[i];
        if (spi_next_fit_closes_before(load, count, l, cap, limit)) {
            job->bin_used[b] = load;
            job->bin_offsets[++b] = i;
            load = 0;
            count = 0;
        }
        load += l;
        count++;
        job->items[i] = i;
    }
    job->bin_used[b] = load;
    job->bin_offsets[b + 1] = n;
    job->num_bins = b + 1;
    return SP_OK;
}

int spi_strategy_ff(spi_job *job)
{
    spi_bins bins;
    if (spi_bins_init(&bins, job) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    spi_first_fit *ff = spi_ff_create(job->capacity, job->n);
    if (ff == NULL) {
        spi_bins_free(&bins);
        return SP_ERR_OUT_OF_MEMORY;
    }
    for (int64_t i = 0; i < job->n; i++)
        spi_ff_place_run(ff, &bins, job->lengths[i], 1);
    spi_bins_emit(&bins, job, NULL);
    spi_ff_free(ff);
    spi_bins_free(&bins);
    return SP_OK;
}

/* BestFit (best != 0) or WorstFit (best == 0) in input order. */
static int residual_fit(spi_job *job, int best)
{
    spi_bins bins;
    if (spi_bins_init(&bins, job) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    spi_residual_index *ri = spi_ri_create(job->capacity, job->n);
    if (ri == NULL) {
        spi_bins_free(&bins);
        return SP_ERR_OUT_OF_MEMORY;
    }
    const int64_t *len = job->lengths;
    /* A bin with less room than the shortest length, or at its item
     * limit, never takes another item, so it is not indexed. */
    const int64_t useful = job->min_length;
    for (int64_t i = 0; i < job->n; i++) {
        int64_t s = len[i], r = 0;
        int32_t b;
        if (best) {
            b = spi_ri_pop_best(ri, s, &r);
        } else {
            b = spi_ri_pop_max(ri, &r);
            if (b >= 0 && r < s) {
                spi_ri_push(ri, b, r);
                b = -1;
            }
        }
        if (b < 0) {
            b = spi_bins_open(&bins);
            r = job->capacity;
        }
        spi_bins_place(&bins, b, s, 1);
        if (r - s >= useful && spi_bins_room(&bins, b) > 0)
            spi_ri_push(ri, b, r - s);
    }
    spi_bins_emit(&bins, job, NULL);
    spi_ri_free(ri);
    spi_bins_free(&bins);
    return SP_OK;
}

int spi_strategy_bf(spi_job *job) { return residual_fit(job, 1); }

int spi_strategy_wf(spi_job *job) { return residual_fit(job, 0); }
