/*
 * bins.c - per-bin bookkeeping and the final layout of ids bin by bin.
 */
#include <stdlib.h>

#include "offline/offline.h"

int spi_bins_init(spi_bins *bins, spi_job *job)
{
    bins->capacity = job->capacity;
    bins->limit = spi_item_limit(&job->options);
    bins->num_bins = 0;
    bins->steps = 0;
    bins->load = job->bin_used;
    /* One allocation for both arrays: count (n) then bin_of (n). */
    bins->count = spi_alloc_array(2 * job->n, sizeof(int32_t));
    if (bins->count == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    bins->bin_of = bins->count + job->n;
    return SP_OK;
}

void spi_bins_free(spi_bins *bins)
{
    free(bins->count);
    bins->count = NULL;
    bins->bin_of = NULL;
}

void spi_bins_emit(spi_bins *bins, spi_job *job, const int32_t *order)
{
    const int64_t nb = bins->num_bins;
    int64_t *offsets = job->bin_offsets;
    int32_t *cursor = bins->count; /* count[b] becomes bin b's write cursor */
    int64_t at = 0;
    for (int64_t b = 0; b < nb; b++) {
        offsets[b] = at;
        int32_t c = cursor[b];
        cursor[b] = (int32_t)at;
        at += c;
    }
    offsets[nb] = at;

    int64_t *items = job->items;
    const int32_t *bin_of = bins->bin_of;
    const int64_t steps = bins->steps;
    if (order == NULL) {
        for (int64_t j = 0; j < steps; j++)
            items[cursor[bin_of[j]]++] = j;
    } else {
        for (int64_t j = 0; j < steps; j++)
            items[cursor[bin_of[j]]++] = order[j];
    }
    job->num_bins = nb;
}
