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
 *
 * Under an item limit of 2 or 3 best fit can leave much of the space
 * unused (the limit, not the capacity, binds), so OBFD plans those bins
 * over the histogram of lengths instead (small_cap.c: optimal for 2, an LP
 * for 3) and BFD stays plain best fit.
 */
#include <stdlib.h>

#include "offline/offline.h"

typedef int (*run_packer)(spi_job *job, const spi_sorted *sorted, spi_bins *bins);

/* Let pack decide the bins in sorted order, then lay the ids out. */
static int pack_runs(spi_job *job, const spi_sorted *sorted, run_packer pack)
{
    spi_bins bins;
    if (spi_bins_init(&bins, job) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    int status = pack(job, sorted, &bins);
    if (status == SP_OK)
        spi_bins_emit(&bins, job, sorted->order);
    spi_bins_free(&bins);
    return status;
}

/* Sort, then pack_runs(). */
static int pack_sorted(spi_job *job, run_packer pack)
{
    spi_sorted sorted;
    if (spi_sort_decreasing(job, &sorted) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    int status = pack_runs(job, &sorted, pack);
    spi_sorted_free(&sorted);
    return status;
}

static int ffd_runs(spi_job *job, const spi_sorted *sorted, spi_bins *bins)
{
    spi_first_fit *ff = spi_ff_create(job->capacity, job->n);
    if (ff == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    for (int64_t k = 0; k < sorted->runs; k++)
        spi_ff_place_run(ff, bins, sorted->run_length[k], sorted->run_count[k]);
    spi_ff_free(ff);
    return SP_OK;
}

/* Best fit over the sorted runs; item by item, or a run at a time. */
int spi_best_fit_runs(spi_job *job, const spi_sorted *sorted, spi_bins *bins,
                     int bulk)
{
    spi_residual_index *ri = spi_ri_create(job->capacity, job->n);
    if (ri == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    const int64_t cap = job->capacity, useful = job->min_length;
    for (int64_t k = 0; k < sorted->runs; k++) {
        const int64_t s = sorted->run_length[k];
        int64_t left = sorted->run_count[k];
        while (left > 0) {
            int64_t r = 0;
            int32_t b = spi_ri_pop_best(ri, s, &r);
            if (b < 0) {
                b = spi_bins_open(bins);
                r = cap;
            }
            /* A division costs more than the rest of the step: skip it
             * when the bin fits just one more item. */
            int64_t q = (bulk && r - s >= s) ? r / s : 1;
            q = q < left ? q : left;
            const int64_t room = spi_bins_room(bins, b);
            q = q < room ? q : room;
            spi_bins_place(bins, b, s, q);
            r -= q * s;
            left -= q;
            if (r >= useful && q < room) /* not at its item limit */
                spi_ri_push(ri, b, r);
        }
    }
    spi_ri_free(ri);
    return SP_OK;
}

static int bfd_runs(spi_job *job, const spi_sorted *sorted, spi_bins *bins)
{
    return spi_best_fit_runs(job, sorted, bins, 0);
}

static int obfd_runs(spi_job *job, const spi_sorted *sorted, spi_bins *bins)
{
    return spi_best_fit_runs(job, sorted, bins, 1);
}

int spi_strategy_ffd(spi_job *job) { return pack_sorted(job, ffd_runs); }

int spi_strategy_bfd(spi_job *job) { return pack_sorted(job, bfd_runs); }

/* The run of a length that is one of the sorted runs' (strictly
 * decreasing). */
static int64_t run_of(const spi_sorted *sorted, int64_t length)
{
    int64_t lo = 0, hi = sorted->runs - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (sorted->run_length[mid] > length)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The bins of the planner's templates, in template order: each bin takes
 * the lowest unused ids of its lengths. *planned is 0 when the planner
 * declines (too many distinct lengths), and nothing is written then. */
static int planned_bins(spi_job *job, const spi_sorted *sorted, int64_t limit,
                        int *planned)
{
    *planned = 0;
    const int64_t runs = sorted->runs;
    int64_t *count = spi_alloc_array(runs, sizeof(int64_t));
    int64_t *next = spi_alloc_array(runs, sizeof(int64_t)); /* sorted position */
    spi_template *t = NULL;
    int64_t templates = 0;
    int status = SP_ERR_OUT_OF_MEMORY;
    if (count == NULL || next == NULL)
        goto done;
    for (int64_t r = 0, at = 0; r < runs; r++) {
        count[r] = sorted->run_count[r];
        next[r] = at;
        at += count[r];
    }
    status = spi_small_cap_templates(sorted->run_length, count, runs,
                                     job->capacity, limit, &t, &templates);
    if (status != SP_OK || templates < 0)
        goto done;
    int64_t bin = 0, at = 0;
    job->bin_offsets[0] = 0;
    for (int64_t k = 0; k < templates; k++) {
        int64_t run[SPI_TEMPLATE_MAX], used = 0;
        for (int64_t j = 0; j < t[k].items; j++) {
            run[j] = run_of(sorted, t[k].len[j]);
            used += t[k].len[j];
        }
        for (int64_t rep = 0; rep < t[k].times; rep++) {
            for (int64_t j = 0; j < t[k].items; j++)
                job->items[at++] = sorted->order[next[run[j]]++];
            job->bin_used[bin] = used;
            job->bin_offsets[++bin] = at;
        }
    }
    job->num_bins = bin;
    *planned = 1;
done:
    free(t);
    free(count);
    free(next);
    return status;
}

int spi_strategy_obfd(spi_job *job)
{
    const int64_t limit = spi_item_limit(&job->options);
    if (limit != 2 && limit != 3)
        return pack_sorted(job, obfd_runs);
    spi_sorted sorted;
    if (spi_sort_decreasing(job, &sorted) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    int planned = 0;
    int status = planned_bins(job, &sorted, limit, &planned);
    if (status == SP_OK && !planned) /* the planner declined: best fit */
        status = pack_runs(job, &sorted, obfd_runs);
    spi_sorted_free(&sorted);
    return status;
}
