/*
 * internal.h - private helpers shared by the strategy files.
 *
 * A strategy receives a validated sp_job (1 <= n <= SP_MAX_N, every length
 * in [1, capacity], total fits int64) and fills job->items, job->bin_offsets,
 * job->bin_used and job->num_bins. Most strategies do this in two steps:
 * they decide a bin for each placement step (sp_bins), then sp_bins_emit()
 * lays the ids out bin by bin.
 */
#ifndef SP_INTERNAL_H
#define SP_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>

#include "seqpacker.h"

/* Ids and bin numbers are kept as int32_t in the hot arrays. */
#define SP_MAX_N ((int64_t)INT32_MAX - 1)

typedef struct sp_job {
    const int64_t *lengths;
    int64_t n;
    int64_t capacity;
    /* Set by sp_check_lengths(), which api.c runs before every strategy
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
} sp_job;

typedef int (*sp_strategy_fn)(sp_job *job);

/* One function per strategy id, in the files named beside them. */
int sp_strategy_nf(sp_job *job);    /* fit.c */
int sp_strategy_ff(sp_job *job);    /* fit.c */
int sp_strategy_bf(sp_job *job);    /* fit.c */
int sp_strategy_wf(sp_job *job);    /* fit.c */
int sp_strategy_ffd(sp_job *job);   /* decreasing.c */
int sp_strategy_bfd(sp_job *job);   /* decreasing.c */
int sp_strategy_obfd(sp_job *job);  /* decreasing.c */
int sp_strategy_ffs(sp_job *job);   /* shuffle.c */
int sp_strategy_mffd(sp_job *job);  /* mffd.c */
int sp_strategy_obfdp(sp_job *job); /* parallel.c */
int sp_strategy_hk(sp_job *job);    /* harmonic.c */

/* Test hook (harmonic.c): pack by Harmonic-K with k classes and report the
 * most bins open at once in *max_open (at most k). Returns an SP_ status. */
int sp_hk_max_open(const int64_t *lengths, int64_t n, int64_t capacity,
                   int64_t k, int64_t *max_open);

/* The Harmonic-K class of a length (1 <= length <= capacity): i =
 * floor(capacity / length) when i < k, whose bins take exactly i items;
 * 0 for the last class (length <= capacity / k), packed next fit. Used by
 * the stream (stream.c); the offline rule in harmonic.c is the same. */
static inline int64_t sp_hk_class(int64_t capacity, int64_t length, int64_t k)
{
    int64_t i = capacity / length;
    return i < k ? i : 0;
}


/* Every length in [1, capacity] and the total within int64_t; sets
 * min_length, max_length and total, or the first bad index (api.c). */
int sp_check_lengths(sp_job *job);

/* ---- allocation (memory.c) ---------------------------------------------
 * Arrays of count elements; NULL on overflow of count * size or on failure.
 * Release with free(). Large ones are backed by huge pages where possible. */
void *sp_alloc_array(int64_t count, size_t size);
void *sp_alloc_zeroed(int64_t count, size_t size);

/* ---- threads (threads.c) ------------------------------------------------
 * sp_run_parallel() calls fn(ctx, part, parts) for every part in
 * [0, parts): part 0 in the calling thread, the others on new threads, all
 * joined before it returns. A part whose thread cannot be created runs in
 * the calling thread, so the result never depends on thread creation. */
typedef void (*sp_task_fn)(void *ctx, int part, int parts);
void sp_run_parallel(int parts, sp_task_fn fn, void *ctx);
int sp_online_cpus(void);

/* Inline even where the compiler finds a function large: a hot loop that
 * constant arguments specialise (stream.c's HK blocks). */
#if defined(__GNUC__) || defined(__clang__)
#  define SP_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#  define SP_ALWAYS_INLINE inline
#endif

/* ---- prefaulting (prefault.c) -------------------------------------------
 * Fill start, bytes and ranges, call sp_prefault_start(), and always
 * sp_prefault_join() before returning: on Linux a helper thread maps the
 * pages of the ranges (contents untouched) while the caller works, when
 * `threads` (0 = online CPUs) allows a second thread and the ranges are
 * large. */
#define SP_PREFAULT_RANGES 2
typedef struct sp_prefault {
    void *start[SP_PREFAULT_RANGES];
    size_t bytes[SP_PREFAULT_RANGES];
    int ranges;
    int started;
    pthread_t thread;
} sp_prefault;
void sp_prefault_start(sp_prefault *pf, int threads);
void sp_prefault_join(sp_prefault *pf);

/* The half-open range [*begin, *end) of part p of n items split in parts. */
static inline void sp_part_range(int64_t n, int part, int parts,
                                 int64_t *begin, int64_t *end)
{
    *begin = n / parts * part + (part < n % parts ? part : n % parts);
    *end = *begin + n / parts + (part < n % parts ? 1 : 0);
}

/* ---- bin bookkeeping (bins.c) -------------------------------------------
 * bin_of[step] is the bin of the step-th placement; the id placed at that
 * step is order[step] (or step itself when order is NULL). load[b] is the
 * used space of bin b, count[b] its number of items. */
typedef struct sp_bins {
    int64_t capacity;
    int64_t num_bins;
    int64_t steps;
    int64_t *load;     /* aliases job->bin_used */
    int32_t *count;
    int32_t *bin_of;
} sp_bins;

int sp_bins_init(sp_bins *bins, sp_job *job);
void sp_bins_free(sp_bins *bins);

/* Open a new bin holding nothing yet; returns its number. */
static inline int32_t sp_bins_open(sp_bins *bins)
{
    int32_t b = (int32_t)bins->num_bins++;
    bins->load[b] = 0;
    bins->count[b] = 0;
    return b;
}

/* Record `times` placements of `length` into bin b. */
static inline void sp_bins_place(sp_bins *bins, int32_t b, int64_t length,
                                 int64_t times)
{
    bins->load[b] += length * times;
    bins->count[b] += (int32_t)times;
    for (int64_t t = 0; t < times; t++)
        bins->bin_of[bins->steps++] = b;
}

/* Lay ids out bin by bin into job->items / job->bin_offsets and set
 * job->num_bins. order maps a step to an id; NULL means step == id. */
void sp_bins_emit(sp_bins *bins, sp_job *job, const int32_t *order);

/* ---- decreasing order (order.c) -----------------------------------------
 * The ids sorted by length, descending, equal lengths in ascending id
 * order, and the same order as runs of equal lengths. */
typedef struct sp_sorted {
    int32_t *order;       /* n ids */
    int64_t *run_length;  /* runs entries, strictly decreasing */
    int32_t *run_count;   /* runs entries, each >= 1 */
    int64_t runs;
} sp_sorted;

int sp_sort_decreasing(const sp_job *job, sp_sorted *sorted);
/* The same order, computed on up to `parts` threads. */
int sp_sort_decreasing_parallel(const sp_job *job, sp_sorted *sorted,
                                int parts);

/* Best fit over sorted runs (decreasing.c), the core of BFD (bulk == 0) and
 * OBFD (bulk != 0); OBFDP runs it between its parallel phases. */
int sp_best_fit_runs(sp_job *job, const sp_sorted *sorted, sp_bins *bins,
                     int bulk);
void sp_sorted_free(sp_sorted *sorted);

/* ---- residual index (residual_index.c) ----------------------------------
 * The open bins keyed by remaining space (residual > 0). Among bins with
 * equal residual the one that reached it most recently comes first (LIFO).
 * Dense (a bucket per residual under a hierarchical bitset) when the
 * capacity is small next to n; otherwise a treap, so memory stays O(n). */
typedef struct sp_residual_index sp_residual_index;

sp_residual_index *sp_ri_create(int64_t capacity, int64_t max_bins);
void sp_ri_free(sp_residual_index *ri);
/* Insert bin b with residual r (1 <= r <= capacity). */
void sp_ri_push(sp_residual_index *ri, int32_t b, int64_t r);
/* Remove and return the bin with the smallest residual >= s, writing its
 * residual to *r; -1 when none fits. */
int32_t sp_ri_pop_best(sp_residual_index *ri, int64_t s, int64_t *r);
/* Remove and return the bin with the largest residual, writing it to *r;
 * -1 when the index is empty. */
int32_t sp_ri_pop_max(sp_residual_index *ri, int64_t *r);

/* ---- first-fit index (first_fit.c) --------------------------------------
 * A max tree over the residuals of bins in opening order: finds the
 * lowest-numbered bin with residual >= s in O(log bins). */
typedef struct sp_first_fit sp_first_fit;

sp_first_fit *sp_ff_create(int64_t capacity, int64_t max_bins);
void sp_ff_free(sp_first_fit *ff);
/* The lowest-numbered bin with residual >= s, or -1. */
int32_t sp_ff_find(const sp_first_fit *ff, int64_t s);
/* Set the residual of bin b (b may be the next bin to open). */
void sp_ff_set(sp_first_fit *ff, int32_t b, int64_t residual);
int64_t sp_ff_residual(const sp_first_fit *ff, int32_t b);

/* Place `count` items of one length by first fit, bulk where the same bin
 * keeps fitting; opens bins as needed. Shared by FFD, FFS and MFFD. */
void sp_ff_place_run(sp_first_fit *ff, sp_bins *bins, int64_t length,
                     int64_t count);

#endif /* SP_INTERNAL_H */
