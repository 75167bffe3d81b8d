/*
 * parallel.c - ParallelOptimizedBestFitDecreasing (obfdp).
 *
 * Best fit over shared bins is inherently sequential, so obfdp packs
 * independent shares of the items at once and then mends the seams:
 *
 *   1. Sort (threads): the stable decreasing order, each thread counting and
 *      scattering its own slice of the input (order.c).
 *   2. Share (threads): share t of T takes every T-th item of each run of
 *      equal lengths, starting at the t-th, so each share is a scaled copy
 *      of the whole distribution. Each share is packed by OBFD on its own.
 *   3. Mend (serial): the bins of every share with at least
 *      max(capacity / MEND_FRACTION, shortest length) space left -- the
 *      least-full ones, where the shares' separate tails waste space -- are
 *      dissolved, and their items are packed together by OBFD.
 *   4. Lay out (threads): kept bins first, share by share in their order,
 *      then the mended bins; each thread writes its share's items.
 *
 * The result is deterministic for a given thread count. With one thread
 * (the default below MIN_ITEMS_PER_THREAD items per thread) it is exactly
 * OBFD. Threads are created and joined inside the call.
 */
#include <stdlib.h>
#include <string.h>

#include "offline/offline.h"

#define MIN_ITEMS_PER_THREAD ((int64_t)1 << 17)
#define MEND_FRACTION 8

typedef struct share {
    spi_job job;           /* this share's items: n; bin_used = its loads */
    spi_sorted runs;       /* run_length borrowed, run_count own, no order */
    spi_bins bins;         /* bins.count: items per bin, then write cursors */
    int32_t *final_bin;   /* per share bin: final number, or -1 if mended */
    int64_t *pool;        /* global sorted positions of the mended items */
    int64_t pool_size;
    int status;
} share;

typedef struct obfdp_ctx {
    spi_job *job;
    const spi_sorted *sorted;
    share *shares;
    int64_t mend_from;    /* a bin with this much room or more is mended */
} obfdp_ctx;

/* The global sorted position of share t's m-th item of run k (which starts
 * at position start). */
static inline int64_t position(int64_t start, int t, int parts, int64_t m)
{
    return start + t + (int64_t)parts * m;
}

static int share_init(share *sh, const spi_job *job, const spi_sorted *sorted,
                      int t, int parts)
{
    memset(sh, 0, sizeof *sh);
    sh->runs.runs = sorted->runs;
    sh->runs.run_length = sorted->run_length;
    sh->runs.run_count = spi_alloc_array(sorted->runs, sizeof(int32_t));
    if (sh->runs.run_count == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    int64_t n = 0, before = 0; /* this share's items, the earlier shares' */
    for (int64_t k = 0; k < sorted->runs; k++) {
        int32_t c = sorted->run_count[k];
        int32_t mine = c > t ? (c - t + parts - 1) / parts : 0;
        sh->runs.run_count[k] = mine;
        n += mine;
        before += (int64_t)(c / parts) * t + (c % parts < t ? c % parts : t);
    }
    sh->job = *job;
    sh->job.n = n;
    sh->job.items = NULL;
    sh->job.bin_offsets = NULL;
    /* Each share keeps its loads in its own slice of the caller's bin_used
     * (a share has at most as many bins as items); number_kept_bins then
     * moves them down in place, never past an unread one. */
    sh->job.bin_used = job->bin_used + before;
    sh->final_bin = spi_alloc_array(n, sizeof(int32_t));
    sh->pool = spi_alloc_array(n, sizeof(int64_t));
    if (!sh->final_bin || !sh->pool)
        return SP_ERR_OUT_OF_MEMORY;
    return spi_bins_init(&sh->bins, &sh->job);
}

static void share_free(share *sh)
{
    free(sh->runs.run_count);
    free(sh->final_bin);
    free(sh->pool);
    spi_bins_free(&sh->bins);
}

/* Phase 2 for share `part`: set it up and pack it by OBFD. */
static void pack_share(void *arg, int part, int parts)
{
    obfdp_ctx *c = arg;
    share *sh = &c->shares[part];
    sh->status = share_init(sh, c->job, c->sorted, part, parts);
    if (sh->status == SP_OK)
        sh->status = spi_best_fit_runs(&sh->job, &sh->runs, &sh->bins, 1);
}

/* Phase 4 for share `part`: write the ids of its kept bins, and list the
 * global positions of the items of its mended bins (in sorted order). */
static void lay_out_share(void *arg, int part, int parts)
{
    obfdp_ctx *c = arg;
    share *sh = &c->shares[part];
    const int32_t *order = c->sorted->order;
    const int64_t *offsets = c->job->bin_offsets;
    int32_t *cursor = sh->bins.count; /* zeroed by number_kept_bins */
    int64_t *items = c->job->items;
    int64_t j = 0, start = 0;
    sh->pool_size = 0;
    for (int64_t k = 0; k < c->sorted->runs; k++) {
        for (int64_t m = 0; m < sh->runs.run_count[k]; m++, j++) {
            int64_t pos = position(start, part, parts, m);
            int32_t local = sh->bins.bin_of[j], b = sh->final_bin[local];
            if (b >= 0)
                items[offsets[b] + cursor[local]++] = order[pos];
            else
                sh->pool[sh->pool_size++] = pos;
        }
        start += c->sorted->run_count[k];
    }
}

/* Phase 3: number the kept bins, write their offsets and loads; returns the
 * number of kept bins and their items in *kept_items. */
static int64_t number_kept_bins(obfdp_ctx *c, int parts, int64_t *kept_items)
{
    int64_t next = 0, at = 0;
    for (int t = 0; t < parts; t++) {
        share *sh = &c->shares[t];
        for (int64_t b = 0; b < sh->bins.num_bins; b++) {
            int64_t load = sh->bins.load[b];
            if (c->job->capacity - load >= c->mend_from) {
                sh->final_bin[b] = -1;
                continue;
            }
            sh->final_bin[b] = (int32_t)next;
            c->job->bin_offsets[next] = at;
            c->job->bin_used[next] = load;
            at += sh->bins.count[b];
            sh->bins.count[b] = 0; /* now the bin's write cursor */
            next++;
        }
    }
    *kept_items = at;
    return next;
}

/* Pack the pooled items (global sorted positions, merged from the shares)
 * by OBFD into the bins after the kept ones. */
static int mend(obfdp_ctx *c, int parts, int64_t kept_bins, int64_t kept_items)
{
    spi_job *job = c->job;
    int64_t pooled = job->n - kept_items;
    if (pooled == 0) {
        job->bin_offsets[kept_bins] = kept_items;
        job->num_bins = kept_bins;
        return SP_OK;
    }
    /* Merge the shares' pools (each ascending) into one sorted order. */
    spi_sorted pool = {0};
    pool.order = spi_alloc_array(pooled, sizeof(int32_t));
    pool.run_length = spi_alloc_array(pooled, sizeof(int64_t));
    pool.run_count = spi_alloc_array(pooled, sizeof(int32_t));
    int64_t *cursor = calloc((size_t)parts, sizeof(int64_t));
    if (!pool.order || !pool.run_length || !pool.run_count || !cursor) {
        free(cursor);
        spi_sorted_free(&pool);
        return SP_ERR_OUT_OF_MEMORY;
    }
    for (int64_t j = 0; j < pooled; j++) {
        int best = -1;
        for (int t = 0; t < parts; t++) {
            const share *sh = &c->shares[t];
            if (cursor[t] < sh->pool_size &&
                (best < 0 || sh->pool[cursor[t]] < c->shares[best].pool[cursor[best]]))
                best = t;
        }
        int32_t id = c->sorted->order[c->shares[best].pool[cursor[best]++]];
        int64_t l = job->lengths[id];
        pool.order[j] = id;
        if (pool.runs > 0 && pool.run_length[pool.runs - 1] == l) {
            pool.run_count[pool.runs - 1]++;
        } else {
            pool.run_length[pool.runs] = l;
            pool.run_count[pool.runs] = 1;
            pool.runs++;
        }
    }
    free(cursor);

    /* The mended bins are laid out by spi_bins_emit into the tail of the
     * caller's buffers, then shifted past the kept items. */
    spi_job sub = *job;
    sub.n = pooled;
    sub.items = job->items + kept_items;
    sub.bin_offsets = job->bin_offsets + kept_bins;
    sub.bin_used = job->bin_used + kept_bins;
    spi_bins bins;
    int status = spi_bins_init(&bins, &sub);
    if (status == SP_OK) {
        status = spi_best_fit_runs(&sub, &pool, &bins, 1);
        if (status == SP_OK)
            spi_bins_emit(&bins, &sub, pool.order);
        spi_bins_free(&bins);
    }
    spi_sorted_free(&pool);
    if (status != SP_OK)
        return status;
    for (int64_t b = 0; b <= sub.num_bins; b++)
        sub.bin_offsets[b] += kept_items;
    job->num_bins = kept_bins + sub.num_bins;
    return SP_OK;
}

int spi_strategy_obfdp(spi_job *job)
{
    int64_t threads = job->options.threads;
    if (threads == 0)
        threads = spi_online_cpus();
    int64_t most = job->n / MIN_ITEMS_PER_THREAD;
    if (threads > most)
        threads = most;
    /* Under an item limit of 2 or 3 OBFD plans the bins (decreasing.c). */
    const int64_t limit = spi_item_limit(&job->options);
    if (threads <= 1 || limit == 2 || limit == 3)
        return spi_strategy_obfd(job);
    const int parts = (int)threads;

    spi_sorted sorted;
    if (spi_sort_decreasing_parallel(job, &sorted, parts) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    share *shares = calloc((size_t)parts, sizeof(share));
    if (shares == NULL) {
        spi_sorted_free(&sorted);
        return SP_ERR_OUT_OF_MEMORY;
    }
    int64_t room = job->capacity / MEND_FRACTION;
    obfdp_ctx c = {job, &sorted, shares,
                   room > job->min_length ? room : job->min_length};

    spi_run_parallel(parts, pack_share, &c);
    int status = SP_OK;
    for (int t = 0; t < parts; t++)
        status = shares[t].status != SP_OK ? shares[t].status : status;
    if (status == SP_OK) {
        int64_t kept_items;
        int64_t kept_bins = number_kept_bins(&c, parts, &kept_items);
        spi_run_parallel(parts, lay_out_share, &c);
        status = mend(&c, parts, kept_bins, kept_items);
    }
    for (int t = 0; t < parts; t++)
        share_free(&shares[t]);
    free(shares);
    spi_sorted_free(&sorted);
    return status;
}
