/*
 * seqpacker.h - the public C interface of libseqpacker.
 *
 * libseqpacker packs sequence lengths into bins of a fixed capacity, so that
 * a trainer can concatenate the sequences of each bin into one row.
 *
 * Conventions (in the style of zstd.h and sqlite3.h):
 *   - Every name starts with sp_ or SP_.
 *   - Every fallible call returns an int status: SP_OK (0) or a positive
 *     SP_ERR_* code. sp_status_string() explains any code. There is no
 *     global error state.
 *   - Buffers are owned by the caller. Their sizes are documented per call;
 *     sp_pack_bound() gives the sizes for sp_pack().
 *   - Nothing aborts, asserts or prints. Bad arguments return an error and
 *     leave the output buffers in an unspecified state.
 *   - Lengths and ids are int64_t. A length is valid when 1 <= length <=
 *     capacity. Ids are positions in the input, 0-based.
 *
 * Thread safety: every function is reentrant. sp_pack() may run in many
 * threads at once on distinct output buffers. A stream handle (sp_stream)
 * must be used by one thread at a time; distinct handles are independent.
 * SP_OBFDP creates and joins its own threads inside each call, so the
 * library holds no thread or pool between calls (safe across fork()).
 */
#ifndef SEQPACKER_H
#define SEQPACKER_H

#include <stddef.h>
#include <stdint.h>

#define SP_VERSION_MAJOR 0
#define SP_VERSION_MINOR 2
#define SP_VERSION_PATCH 0
#define SP_VERSION_NUMBER \
    (SP_VERSION_MAJOR * 10000 + SP_VERSION_MINOR * 100 + SP_VERSION_PATCH)
#define SP_VERSION_STRING "0.2.0"

/* Symbols are hidden by default; SP_API marks the exported ones. */
#ifndef SP_API
#  if defined(_WIN32) && defined(SP_BUILDING_LIBRARY)
#    define SP_API __declspec(dllexport)
#  elif defined(_WIN32) && !defined(SP_STATIC)
#    define SP_API __declspec(dllimport)
#  elif defined(__GNUC__) && __GNUC__ >= 4
#    define SP_API __attribute__((visibility("default")))
#  else
#    define SP_API
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The Python binding parses the plain C between the two CDEF markers. */
/* SP_CDEF_BEGIN */

/* Status codes. SP_OK is 0; every error is positive. */
enum sp_status {
    SP_OK = 0,
    SP_ERR_NULL_POINTER = 1,           /* a required pointer is NULL */
    SP_ERR_NEGATIVE_COUNT = 2,         /* n < 0 */
    SP_ERR_INVALID_CAPACITY = 3,       /* capacity <= 0 */
    SP_ERR_LENGTH_NOT_POSITIVE = 4,    /* a length <= 0 (see error_index) */
    SP_ERR_LENGTH_EXCEEDS_CAPACITY = 5,/* a length > capacity (error_index) */
    SP_ERR_UNKNOWN_STRATEGY = 6,       /* strategy is not an SP_* id */
    SP_ERR_INVALID_OPTION = 7,         /* an sp_options field is out of range */
    SP_ERR_OVERFLOW = 8,               /* a total does not fit int64_t */
    SP_ERR_OUT_OF_MEMORY = 9,          /* an allocation failed */
    SP_ERR_THREAD = 10,                /* a thread could not be created */
    SP_ERR_BUFFER_TOO_SMALL = 11,      /* a caller buffer is too small */
    SP_ERR_FINISHED = 12,              /* the stream was already finished */
    SP_ERR_NOT_STREAMABLE = 13         /* the strategy is offline-only */
};

/* Strategy ids. The numbering is part of the ABI and never changes. */
enum sp_strategy {
    SP_NF = 0,     /* NextFit */
    SP_FF = 1,     /* FirstFit */
    SP_BF = 2,     /* BestFit */
    SP_WF = 3,     /* WorstFit */
    SP_FFD = 4,    /* FirstFitDecreasing */
    SP_BFD = 5,    /* BestFitDecreasing */
    SP_FFS = 6,    /* FirstFitShuffle */
    SP_MFFD = 7,   /* ModifiedFirstFitDecreasing (Johnson and Garey) */
    SP_OBFD = 8,   /* OptimizedBestFitDecreasing */
    SP_OBFDP = 9,  /* ParallelOptimizedBestFitDecreasing */
    SP_HK = 10,    /* HarmonicK (Lee and Lee) */
    SP_STRATEGY_COUNT = 11
};

#define SP_DEFAULT_SEED 0
#define SP_DEFAULT_K 10
#define SP_MAX_K 65536

/* Options of the strategies that take any. Initialise with
 * sp_options_init() so that fields added later get their defaults. */
typedef struct sp_options {
    uint64_t seed;    /* SP_FFS: shuffle seed (default SP_DEFAULT_SEED) */
    int64_t k;        /* SP_HK: number of classes, 2..SP_MAX_K (default 10) */
    int64_t threads;  /* SP_OBFDP: threads >= 1, or 0 = online CPUs */
} sp_options;

/* Runtime version; equal to the macros of the header that built the library. */
SP_API int sp_version_number(void);
SP_API const char *sp_version_string(void);

/* A static, never-NULL English description of a status code. */
SP_API const char *sp_status_string(int status);

/* The short name of a strategy id ("obfd"), or NULL for an unknown id. */
SP_API const char *sp_strategy_name(int strategy);

/* Fill options with the defaults. A NULL options is a no-op. */
SP_API void sp_options_init(sp_options *options);

/* Sizes of sp_pack()'s buffers for n lengths: items needs n entries,
 * bin_offsets n + 1 and bin_used n (at most one bin per length).
 * Returns -1 when n < 0. */
SP_API int64_t sp_pack_bound(int64_t n);

/*
 * Pack n lengths into bins of the given capacity with one strategy.
 *
 *   lengths      n lengths, each in [1, capacity]. May be NULL when n == 0.
 *   options      NULL for the defaults.
 *   items        out, n entries: the ids bin by bin, each id exactly once,
 *                within a bin in placement order.
 *   bin_offsets  out, n + 1 entries: bin b holds
 *                items[bin_offsets[b] .. bin_offsets[b + 1]); bin_offsets[0]
 *                is 0 and bin_offsets[*num_bins] is n.
 *   bin_used     out, n entries or NULL: the sum of the lengths of each bin.
 *   num_bins     out: the number of bins, numbered in the order opened.
 *   error_index  out or NULL: the index of the offending length for
 *                SP_ERR_LENGTH_*, else -1.
 *
 * Costs O(n) memory whatever the capacity.
 */
SP_API int sp_pack(const int64_t *lengths, int64_t n, int64_t capacity,
                   int strategy, const sp_options *options, int64_t *items,
                   int64_t *bin_offsets, int64_t *bin_used, int64_t *num_bins,
                   int64_t *error_index);

/* SP_CDEF_END */

#ifdef __cplusplus
}
#endif

#endif /* SEQPACKER_H */
