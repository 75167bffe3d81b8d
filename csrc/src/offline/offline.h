/*
 * offline/offline.h - the offline strategies' machinery.
 *
 * A strategy receives a validated spi_job (1 <= n <= SPI_MAX_N, every length
 * in [1, capacity], total fits int64) and fills job->items, job->bin_offsets,
 * job->bin_used and job->num_bins. Most strategies do this in two steps:
 * they decide a bin for each placement step (spi_bins), then spi_bins_emit()
 * lays the ids out bin by bin.
 *
 * Layers: offline/ includes common/ and offline/ only.
 */
#ifndef SPI_OFFLINE_H
#define SPI_OFFLINE_H

#include <stdint.h>
#include <stddef.h>

#include "common/internal.h"

/* Ids and bin numbers are kept as int32_t in the hot arrays. */
#define SPI_MAX_N ((int64_t)SP_MAX_LENGTHS)

typedef struct spi_job {
    const int64_t *lengths;
    int64_t n;
    int64_t capacity;
    /* Set by spi_check_lengths(), which api.c runs before every strategy
     * except those that check the lengths themselves (see api.c). */
    int64_t min_length;
    int64_t max_length;
    int64_t total;
    int64_t *error_index; /* where a bad length's index goes; may be NULL */
    sp_options options;   /* validated copy */
    int64_t *items;       /* n */
    int64_t *bin_offsets; /* n + 1 */
    int64_t *bin_used;    /* n, never NULL here (api.c supplies scratch) */
    int64_t num_bins;
} spi_job;

typedef int (*spi_strategy_fn)(spi_job *job);

/* One function per strategy id, in the files named beside them. */
int spi_strategy_nf(spi_job *job);    /* fit.c */
int spi_strategy_ff(spi_job *job);    /* fit.c */
int spi_strategy_bf(spi_job *job);    /* fit.c */
int spi_strategy_wf(spi_job *job);    /* fit.c */
int spi_strategy_ffd(spi_job *job);   /* decreasing.c */
int spi_strategy_bfd(spi_job *job);   /* decreasing.c */
int spi_strategy_obfd(spi_job *job);  /* decreasing.c */
int spi_strategy_ffs(spi_job *job);   /* shuffle.c */
int spi_strategy_mffd(spi_job *job);  /* mffd.c */
int spi_strategy_obfdp(spi_job *job); /* parallel.c */
int spi_strategy_hk(spi_job *job);    /* harmonic.c */

/* ---- the job's checks (job.c) -------------------------------------------- */

/* Every length in [1, capacity] and the total within int64_t; sets
 * min_length, max_length and total, or the first bad index (job.c).
 * With a copy (n entries), job->lengths becomes the copy, read from the
 * caller's buffer in one pass: a buffer that another thread writes to
 * meanwhile can then give a wrong packing, never a length used unchecked. */
int spi_check_lengths(spi_job *job, int64_t *copy);

/* The count and capacity of a batch for sp_pack(): 0 <= n <= SPI_MAX_N,
 * capacity >= 1 (job.c). */
int spi_check_count_and_capacity(int64_t n, int64_t capacity);

/* ---- bin bookkeeping (bins.c) -------------------------------------------
 * bin_of[step] is the bin of the step-th placement; the id placed at that
 * step is order[step] (or step itself when order is NULL). load[b] is the
 * used space of bin b, count[b] its number of items. */
typedef struct spi_bins {
    int64_t capacity;
    int64_t limit;     /* items a bin takes at most (spi_item_limit) */
    int64_t num_bins;
    int64_t steps;
    int64_t *load;     /* aliases job->bin_used */
    int32_t *count;
    int32_t *bin_of;
} spi_bins;

int spi_bins_init(spi_bins *bins, spi_job *job);
void spi_bins_free(spi_bins *bins);

/* Open a new bin holding nothing yet; returns its number. */
static inline int32_t spi_bins_open(spi_bins *bins)
{
    int32_t b = (int32_t)bins->num_bins++;
    bins->load[b] = 0;
    bins->count[b] = 0;
    return b;
}

/* How many more items bin b takes before its item limit. */
static inline int64_t spi_bins_room(const spi_bins *bins, int32_t b)
{
    return bins->limit - bins->count[b];
}

/* Record `times` placements of `length` into bin b. */
static inline void spi_bins_place(spi_bins *bins, int32_t b, int64_t length,
                                 int64_t times)
{
    bins->load[b] += length * times;
    bins->count[b] += (int32_t)times;
    for (int64_t t = 0; t < times; t++)
        bins->bin_of[bins->steps++] = b;
}

/* Lay ids out bin by bin into job->items / job->bin_offsets and set
 * job->num_bins. order maps a step to an id; NULL means step == id. */
void spi_bins_emit(spi_bins *bins, spi_job *job, const int32_t *order);

/* ---- decreasing order (order.c) -----------------------------------------
 * The ids sorted by length, descending, equal lengths in ascending id
 * order, and the same order as runs of equal lengths. */
typedef struct spi_sorted {
    int32_t *order;       /* n ids */
    int64_t *run_length;  /* runs entries, strictly decreasing */
    int32_t *run_count;   /* runs entries, each >= 1 */
    int64_t runs;
} spi_sorted;

int spi_sort_decreasing(const spi_job *job, spi_sorted *sorted);
/* The same order, computed on up to `parts` threads. */
int spi_sort_decreasing_parallel(const spi_job *job, spi_sorted *sorted,
                                int parts);

/* Best fit over sorted runs (decreasing.c), the core of BFD (bulk == 0) and
 * OBFD (bulk != 0); OBFDP runs it between its parallel phases. */
int spi_best_fit_runs(spi_job *job, const spi_sorted *sorted, spi_bins *bins,
                     int bulk);
void spi_sorted_free(spi_sorted *sorted);

/* ---- residual index (residual_index.c) ----------------------------------
 * The open bins keyed by remaining space (residual > 0). Among bins with
 * equal residual the one that reached it most recently comes first (LIFO).
 * Dense (a bucket per residual under a hierarchical bitset) when the
 * capacity is small next to n; otherwise a treap, so memory stays O(n). */
typedef struct spi_residual_index spi_residual_index;

spi_residual_index *spi_ri_create(int64_t capacity, int64_t max_bins);
void spi_ri_free(spi_residual_index *ri);
/* Insert bin b with residual r (1 <= r <= capacity). */
void spi_ri_push(spi_residual_index *ri, int32_t b, int64_t r);
/* Remove and return the bin with the smallest residual >= s, writing its
 * residual to *r; -1 when none fits. */
int32_t spi_ri_pop_best(spi_residual_index *ri, int64_t s, int64_t *r);
/* Remove and return the bin with the largest residual, writing it to *r;
 * -1 when the index is empty. */
int32_t spi_ri_pop_max(spi_residual_index *ri, int64_t *r);

/* ---- first-fit index (first_fit.c) --------------------------------------
 * A max tree over the residuals of bins in opening order: finds the
 * lowest-numbered bin with residual >= s in O(log bins). */
typedef struct spi_first_fit spi_first_fit;

spi_first_fit *spi_ff_create(int64_t capacity, int64_t max_bins);
void spi_ff_free(spi_first_fit *ff);
/* The lowest-numbered bin with residual >= s, or -1. */
int32_t spi_ff_find(const spi_first_fit *ff, int64_t s);
/* Set the residual of bin b (b may be the next bin to open). */
void spi_ff_set(spi_first_fit *ff, int32_t b, int64_t residual);
int64_t spi_ff_residual(const spi_first_fit *ff, int32_t b);

/* Place `count` items of one length by first fit, bulk where the same bin
 * keeps fitting; opens bins as needed. Shared by FFD, FFS and MFFD. */
void spi_ff_place_run(spi_first_fit *ff, spi_bins *bins, int64_t length,
                     int64_t count);

/* ---- a small cap on items per bin (small_cap.c) --------------------------
 * Packs a length histogram when a bin may hold at most 2 or 3 items, into
 * templates: `times` bins, each holding one item of each of len[0 .. items)
 * (lengths may repeat, descending; unused entries are 0). */
#define SPI_TEMPLATE_MAX 3
typedef struct spi_template {
    int64_t len[SPI_TEMPLATE_MAX];
    int64_t items;
    int64_t times;
} spi_template;

/* Above this many distinct lengths cap 3 declines (the LP's dense basis
 * inverse is distinct^2 doubles): SP_OK with *num_templates = -1, and the
 * caller packs greedily instead. Cap 2 has no limit (it is O(distinct)). */
#define SPI_SMALL_CAP_MAX_DISTINCT 2048

/* length[0 .. distinct) strictly descending in [1, capacity], count[d] >= 1
 * with a total that fits int64_t; max_items 2 or 3. On SP_OK, *out
 * (malloc'd, the caller frees; NULL when there are no templates) holds
 * *num_templates templates whose bins cover every item exactly once, each
 * within capacity and max_items. Cap 2 is optimal, O(distinct); cap 3
 * rounds an LP (column generation; on groups of neighbouring lengths above
 * 256 of them, see small_cap.c) and is never worse than the greedy
 * "largest plus best 1-or-2-item completion". Deterministic.
 * Statuses: SP_ERR_NULL_POINTER, SP_ERR_NEGATIVE_COUNT (distinct < 0),
 * SP_ERR_INVALID_CAPACITY, SP_ERR_LENGTH_NOT_POSITIVE and
 * SP_ERR_LENGTH_EXCEEDS_CAPACITY, SP_ERR_INVALID_OPTION (max_items, a count
 * < 1 or lengths not strictly descending), SP_ERR_OUT_OF_MEMORY (nothing
 * is left allocated). */
int spi_small_cap_templates(const int64_t *length, const int64_t *count,
                            int64_t distinct, int64_t capacity,
                            int64_t max_items, spi_template **out,
                            int64_t *num_templates);

/* What the cap-3 LP did, for tests and benchmarks (zeros for cap 2 except
 * bins). */
typedef struct spi_small_cap_stats {
    int64_t bins;        /* bins of the answer */
    int64_t greedy_bins; /* bins of the greedy alone (cap 3) */
    int64_t pivots;      /* simplex pivots, all LPs */
    int64_t pricings;    /* full pricing rounds, all LPs */
    int64_t grouped_bins; /* bins of the grouped LP's answer (0: not run) */
    int64_t lp_rows;     /* rows of the last LP */
    int optimal;         /* the last LP reached optimality (else the limit) */
    double lp_bins;      /* its objective (a lower bound when optimal and
                          * lp_rows == distinct) */
} spi_small_cap_stats;

/* spi_small_cap_templates() that also fills *stats (may be NULL). */
int spi_small_cap_templates_stats(const int64_t *length, const int64_t *count,
                                  int64_t distinct, int64_t capacity,
                                  int64_t max_items, spi_template **out,
                                  int64_t *num_templates,
                                  spi_small_cap_stats *stats);

#endif /* SPI_OFFLINE_H */
