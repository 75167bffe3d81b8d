/*
 * api.c - the public entry points: version, status strings, options,
 * argument validation and dispatch to the strategy functions.
 */
#include <stdlib.h>

#include "internal.h"

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
    case SP_ERR_THREAD: return "a thread could not be created";
    case SP_ERR_BUFFER_TOO_SMALL: return "an output buffer is too small";
    case SP_ERR_FINISHED: return "the stream is already finished";
    case SP_ERR_NOT_STREAMABLE: return "the strategy cannot pack a stream";
    case SP_ERR_INVALID_STATE: return "the stream state is damaged or not a stream state";
    case SP_ERR_OUT_OF_BOUNDS: return "a run lies outside its buffer";
    case SP_ERR_INVALID_ELEMENT_SIZE: return "the element size is not supported";
    default: return "unknown status code";
    }
}

static const char *const strategy_names[SP_STRATEGY_COUNT] = {
    "nf", "ff", "bf", "wf", "ffd", "bfd", "ffs", "mffd", "obfd", "obfdp", "hk",
};

static const sp_strategy_fn strategy_fns[SP_STRATEGY_COUNT] = {
    sp_strategy_nf,  sp_strategy_ff,   sp_strategy_bf,    sp_strategy_wf,
    sp_strategy_ffd, sp_strategy_bfd,  sp_strategy_ffs,   sp_strategy_mffd,
    sp_strategy_obfd, sp_strategy_obfdp, sp_strategy_hk,
};

/* What sp_pack() must know of a strategy besides its function. */
typedef struct strategy_traits {
    /* It reads every length once, in input order, anyway and checks the
     * lengths in that pass (as sp_check_lengths would), which saves a pass
     * over the input: about a tenth of HK's time. */
    unsigned char checks_own_lengths;
    /* It writes all n entries of bin_used (as scratch), not only the
     * num_bins entries of the result. */
    unsigned char fills_bin_used;
} strategy_traits;

static const strategy_traits traits[SP_STRATEGY_COUNT] = {
    [SP_HK] = {.checks_own_lengths = 1, .fills_bin_used = 1},
};

const char *sp_strategy_name(int strategy)
{
    if (strategy < 0 || strategy >= SP_STRATEGY_COUNT)
        return NULL;
    return strategy_names[strategy];
}

void sp_options_init(sp_options *options)
{
    if (options == NULL)
        return;
    options->seed = SP_DEFAULT_SEED;
    options->k = SP_DEFAULT_K;
    options->threads = 0;
}

int64_t sp_pack_bound(int64_t n) { return n < 0 ? -1 : n; }

SP_API int sp_options_check(const sp_options *o)
{
    if (o == NULL)
        return SP_ERR_NULL_POINTER;
    if (o->k < 2 || o->k > SP_MAX_K)
        return SP_ERR_INVALID_OPTION;
    if (o->threads < 0 || o->threads > SP_MAX_THREADS)
        return SP_ERR_INVALID_OPTION;
    return SP_OK;
}

/* Every length in [1, capacity] and the total within int64. The common
 * case is one branch-free pass (min, max and sum vectorise); only a failure
 * or a possible overflow takes the slower pass that finds the culprit. */
int sp_check_lengths(sp_job *job)
{
    int64_t *error_index = job->error_index;
    const int64_t *len = job->lengths;
    const int64_t n = job->n, cap = job->capacity;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    uint64_t sum = 0; /* wraps only when an overflow is possible (checked) */
    for (int64_t i = 0; i < n; i++) {
        int64_t l = len[i];
        lo = l < lo ? l : lo;
        hi = l > hi ? l : hi;
        sum += (uint64_t)l;
    }
    if (lo >= 1 && hi <= cap && hi <= INT64_MAX / (n > 0 ? n : 1)) {
        job->min_length = lo;
        job->max_length = hi;
        job->total = (int64_t)sum;
        return SP_OK;
    }
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t l = len[i];
        if (l <= 0 || l > cap) {
            if (error_index)
                *error_index = i;
            return l <= 0 ? SP_ERR_LENGTH_NOT_POSITIVE
                          : SP_ERR_LENGTH_EXCEEDS_CAPACITY;
        }
        if (l > INT64_MAX - total)
            return SP_ERR_OVERFLOW;
        total += l;
    }
    job->min_length = lo;
    job->max_length = hi;
    job->total = total;
    return SP_OK;
}

/* Check the lengths (unless the strategy does) and run the strategy, with
 * scratch for bin_used when the caller passed none. */
static int check_and_run(sp_job *job, int strategy)
{
    if (!traits[strategy].checks_own_lengths) {
        int status = sp_check_lengths(job);
        if (status != SP_OK)
            return status;
    }
    int64_t *scratch_used = NULL;
    if (job->bin_used == NULL) {
        scratch_used = sp_alloc_array(job->n, sizeof(int64_t));
        if (scratch_used == NULL)
            return SP_ERR_OUT_OF_MEMORY;
        job->bin_used = scratch_used;
    }
    int status = strategy_fns[strategy](job);
    free(scratch_used);
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
    if (n < 0)
        return SP_ERR_NEGATIVE_COUNT;
    if (n > SP_MAX_N)
        return SP_ERR_OVERFLOW;
    if (capacity <= 0)
        return SP_ERR_INVALID_CAPACITY;
    if (strategy < 0 || strategy >= SP_STRATEGY_COUNT)
        return SP_ERR_UNKNOWN_STRATEGY;

    sp_job job = {0};
    sp_options_init(&job.options);
    if (options != NULL)
        job.options = *options;
    int status = sp_options_check(&job.options);
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
    sp_prefault prefault = {
        .start = {items, bin_used},
        .bytes = {bytes, bin_used && traits[strategy].fills_bin_used ? bytes : 0},
        .ranges = 2,
    };
    sp_prefault_start(&prefault, (int)job.options.threads);
    job.items = items;
    job.bin_offsets = bin_offsets;
    job.bin_used = bin_used;
    status = check_and_run(&job, strategy);
    sp_prefault_join(&prefault);
    if (status != SP_OK)
        return status;
    *num_bins = job.num_bins;
    return SP_OK;
}
