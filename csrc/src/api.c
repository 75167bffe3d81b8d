/*
 * api.c - the public entry points: version, status strings, options,
 * argument validation and dispatch to the strategy functions (lengths are
 * checked in lengths.c).
 */
#include <stdlib.h>

#include "offline/offline.h"

int sp_version_number(void) { return SP_VERSION_NUMBER; }

const char *sp_version_string(void) { return SP_VERSION_STRING; }

const char *sp_status_string(int status)
{
    switch (status) {
    case SP_OK: return "ok";
    case SP_ERR_NULL_POINTER: return "a required pointer argument is NULL";
    case SP_ERR_NEGATIVE_COUNT: return "the number of lengths is negative";
    case SP_ERR_INVALID_CAPACITY: return "capacity must be positive";
    case SP_ERR_LENGTH_NOT_POSITIVE: return "a length is zero or negative";
    case SP_ERR_LENGTH_EXCEEDS_CAPACITY: return "a length exceeds the capacity";
    case SP_ERR_UNKNOWN_STRATEGY: return "unknown strategy id";
    case SP_ERR_INVALID_OPTION: return "an option is out of range";
    case SP_ERR_OVERFLOW: return "a count or total does not fit the integer range";
    case SP_ERR_OUT_OF_MEMORY: return "out of memory";
    case SP_ERR_BUSY: return "the stream handle is in use by another call";
    case SP_ERR_BUFFER_TOO_SMALL: return "an output buffer is too small";
    case SP_ERR_FINISHED: return "the stream is already finished";
    case SP_ERR_NOT_STREAMABLE: return "the strategy cannot pack a stream";
    case SP_ERR_INVALID_STATE: return "the stream state is damaged or not a stream state";
    case SP_ERR_OUT_OF_BOUNDS: return "a run lies outside its buffer";
    case SP_ERR_INVALID_ELEMENT_SIZE: return "the element size is not supported";
    case SP_ERR_TOO_MANY_LENGTHS: return "more lengths than one call packs";
    default: return "unknown status code";
    }
}

/* The one table of the strategies' names and abilities: front ends (the
 * Python package among them) read it through sp_strategy_describe(). */
static const sp_strategy_info strategy_infos[SP_STRATEGY_COUNT] = {
    [SP_NF] = {"nf", "NextFit", "", 1},
    [SP_FF] = {"ff", "FirstFit", "", 0},
    [SP_BF] = {"bf", "BestFit", "", 0},
    [SP_WF] = {"wf", "WorstFit", "", 0},
    [SP_FFD] = {"ffd", "FirstFitDecreasing", "", 0},
    [SP_BFD] = {"bfd", "BestFitDecreasing", "", 0},
    [SP_FFS] = {"ffs", "FirstFitShuffle", "", 0},
    [SP_MFFD] = {"mffd", "ModifiedFirstFitDecreasing", "", 0},
    [SP_OBFD] = {"obfd", "OptimizedBestFitDecreasing", "", 0},
    [SP_OBFDP] = {"obfdp", "ParallelOptimizedBestFitDecreasing", "", 0},
    [SP_HK] = {"hk", "HarmonicK", "Harmonic", 1},
};

static const spi_strategy_fn strategy_fns[SP_STRATEGY_COUNT] = {
    spi_strategy_nf,  spi_strategy_ff,   spi_strategy_bf,    spi_strategy_wf,
    spi_strategy_ffd, spi_strategy_bfd,  spi_strategy_ffs,   spi_strategy_mffd,
    spi_strategy_obfd, spi_strategy_obfdp, spi_strategy_hk,
};

/* What sp_pack() must know of a strategy besides its function. */
typedef struct strategy_traits {
    /* It reads every length once, in input order, anyway and checks the
     * lengths in that pass (as spi_check_lengths would), which saves a
     * whole pass over the input. */
    unsigned char checks_own_lengths;
    /* It writes all n entries of bin_used (as scratch), not only the
     * num_bins entries of the result. */
    unsigned char fills_bin_used;
    /* It reads each length once (after the check, or in its own checking
     * pass) and never uses one as an index or a size, so a caller's buffer
     * that changes meanwhile cannot lead it astray. The others work on a
     * copy taken by the check (see spi_check_lengths). */
    unsigned char reads_lengths_once;
} strategy_traits;

static const strategy_traits traits[SP_STRATEGY_COUNT] = {
    [SP_NF] = {.reads_lengths_once = 1},
    [SP_HK] = {.checks_own_lengths = 1, .fills_bin_used = 1, .reads_lengths_once = 1},
};

const char *sp_strategy_name(int strategy)
{
    if (strategy < 0 || strategy >= SP_STRATEGY_COUNT)
        return NULL;
    return strategy_infos[strategy].name;
}

int sp_strategy_describe(int strategy, sp_strategy_info *info)
{
    if (info == NULL)
        return SP_ERR_NULL_POINTER;
    if (strategy < 0 || strategy >= SP_STRATEGY_COUNT)
        return SP_ERR_UNKNOWN_STRATEGY;
    *info = strategy_infos[strategy];
    return SP_OK;
}

void sp_options_init(sp_options *options)
{
    if (options == NULL)
        return;
    options->seed = SP_DEFAULT_SEED;
    options->k = SP_DEFAULT_K;
    options->threads = 0;
    options->max_items = 0;
}

int sp_pack_bound(int64_t n, int64_t *size)
{
    if (size == NULL)
        return SP_ERR_NULL_POINTER;
    *size = 0;
    if (n < 0)
        return SP_ERR_NEGATIVE_COUNT;
    *size = n;
    return SP_OK;
}

int sp_options_check(const sp_options *o)
{
    if (o == NULL)
        return SP_ERR_NULL_POINTER;
    if (o->k < 2 || o->k > SP_MAX_K)
        return SP_ERR_INVALID_OPTION;
    if (o->threads < 0 || o->threads > SP_MAX_THREADS)
        return SP_ERR_INVALID_OPTION;
    if (o->max_items < 0 || o->max_items > SP_MAX_LENGTHS)
        return SP_ERR_INVALID_OPTION;
    return SP_OK;
}

/* Check the lengths (unless the strategy does) and run the strategy, with
 * scratch for bin_used when the caller passed none. */
static int check_and_run(spi_job *job, int strategy)
{
    int64_t *copy = NULL, *scratch_used = NULL;
    int status = SP_OK;
    if (!traits[strategy].reads_lengths_once) {
        copy = spi_alloc_array(job->n, sizeof(int64_t));
        if (copy == NULL)
            return SP_ERR_OUT_OF_MEMORY;
    }
    if (!traits[strategy].checks_own_lengths)
        status = spi_check_lengths(job, copy);
    if (status == SP_OK && job->bin_used == NULL) {
        scratch_used = spi_alloc_array(job->n, sizeof(int64_t));
        if (scratch_used == NULL)
            status = SP_ERR_OUT_OF_MEMORY;
        job->bin_used = scratch_used;
    }
    if (status == SP_OK)
        status = strategy_fns[strategy](job);
    free(scratch_used);
    free(copy);
    return status;
}

int sp_pack(const int64_t *lengths, int64_t n, int64_t capacity, int strategy,
            const sp_options *options, int64_t *items, int64_t *bin_offsets,
            int64_t *bin_used, int64_t *num_bins, int64_t *error_index)
{
    if (error_index)
        *error_index = -1;
    if (num_bins == NULL || bin_offsets == NULL || (n > 0 && (lengths == NULL || items == NULL)))
        return SP_ERR_NULL_POINTER;
    int status = spi_check_count_and_capacity(n, capacity);
    if (status != SP_OK)
        return status;
    if (strategy < 0 || strategy >= SP_STRATEGY_COUNT)
        return SP_ERR_UNKNOWN_STRATEGY;

    spi_job job = {0};
    sp_options_init(&job.options);
    if (options != NULL)
        job.options = *options;
    status = sp_options_check(&job.options);
    if (status != SP_OK)
        return status;

    job.lengths = lengths;
    job.n = n;
    job.capacity = capacity;
    job.error_index = error_index;
    *num_bins = 0;
    bin_offsets[0] = 0;
    if (n == 0)
        return SP_OK;
    /* Every strategy writes all of items; meanwhile a helper maps its
     * pages (and those of bin_used, if the strategy writes all of it). */
    const size_t bytes = (size_t)n * sizeof(int64_t);
    spi_prefault prefault = {
        .start = {items, bin_used},
        .bytes = {bytes, bin_used && traits[strategy].fills_bin_used ? bytes : 0},
        .ranges = 2,
    };
    spi_prefault_start(&prefault, (int)job.options.threads);
    job.items = items;
    job.bin_offsets = bin_offsets;
    job.bin_used = bin_used;
    status = check_and_run(&job, strategy);
    spi_prefault_join(&prefault);
    if (status != SP_OK)
        return status;
    *num_bins = job.num_bins;
    return SP_OK;
}
