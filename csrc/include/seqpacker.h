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
 * belongs to one thread at a time: an overlapping call on it returns
 * SP_ERR_BUSY; distinct handles are independent.
 * Threads (SP_OBFDP's, and the page-mapping helper of sp_options.threads)
 * are created and joined inside each call, so the library holds no thread
 * or pool between calls (safe across fork()).
 */
#ifndef SEQPACKER_H
#define SEQPACKER_H

#include <stddef.h>
#include <stdint.h>

#define SP_VERSION_MAJOR 0
#define SP_VERSION_MINOR 3
#define SP_VERSION_PATCH 0
#define SP_VERSION_NUMBER \
    (SP_VERSION_MAJOR * 10000 + SP_VERSION_MINOR * 100 + SP_VERSION_PATCH)
#define SP_VERSION_STRING "0.3.0"

/* Symbols are hidden by default; SP_API marks the exported ones. On
 * Windows a program that links the static library defines SP_STATIC;
 * otherwise SP_API declares DLL imports. */
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
    SP_ERR_BUSY = 10,                  /* another call is using the stream
                                          handle (see sp_stream) */
    SP_ERR_BUFFER_TOO_SMALL = 11,      /* a caller buffer is too small */
    SP_ERR_FINISHED = 12,              /* the stream was already finished */
    SP_ERR_NOT_STREAMABLE = 13,        /* the strategy is offline-only */
    SP_ERR_INVALID_STATE = 14,         /* a stream state to import is damaged */
    SP_ERR_OUT_OF_BOUNDS = 15,         /* a run lies outside its buffer
                                          (see error_index) */
    SP_ERR_INVALID_ELEMENT_SIZE = 16,  /* an element size is not supported */
    SP_ERR_TOO_MANY_LENGTHS = 17       /* n > SP_MAX_LENGTHS in one sp_pack() */
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
#define SP_MAX_THREADS 1024
/* The most lengths one sp_pack() call takes (more give
 * SP_ERR_TOO_MANY_LENGTHS). Streams have no such limit. */
#define SP_MAX_LENGTHS 2147483646

/* Options of the strategies that take any. Initialise with
 * sp_options_init() so that fields added later get their defaults. */
typedef struct sp_options {
    uint64_t seed;    /* SP_FFS: shuffle seed (default SP_DEFAULT_SEED) */
    int64_t k;        /* SP_HK: number of classes, 2..SP_MAX_K (default 10) */
    /* Threads a call may use, 1..SP_MAX_THREADS, or 0 = online CPUs (the
     * default).
     * SP_OBFDP packs on that many; with 2 or more, an sp_pack() call with
     * large outputs also runs a helper thread that maps the pages of the
     * output arrays while the strategy works (Linux). 1 keeps every call on
     * the calling thread. */
    int64_t threads;
    /* The most sequences a bin holds, 1..SP_MAX_LENGTHS, or 0 = no limit
     * (the default). Every strategy and both streams treat a bin that holds
     * max_items sequences as full. SP_OBFD (and SP_OBFDP) with 2 or 3 plan
     * the bins over the histogram of lengths instead of by best fit (see
     * docs/constraints.md): optimal for 2, near-optimal for 3. */
    int64_t max_items;
} sp_options;

/* Runtime version; equal to the macros of the header that built the library. */
SP_API int sp_version_number(void);
SP_API const char *sp_version_string(void);

/* A static, never-NULL English description of a status code. */
SP_API const char *sp_status_string(int status);

/* The short name of a strategy id ("obfd"), or NULL for an unknown id. */
SP_API const char *sp_strategy_name(int strategy);

/* What the library says of one strategy: its names and what it supports.
 * Every string is static, lives as long as the library and is never NULL. */
typedef struct sp_strategy_info {
    const char *name;       /* the short name, lower case: "hk" (as
                               sp_strategy_name()) */
    const char *long_name;  /* the long name, CamelCase: "HarmonicK" */
    /* Further names a front end may accept, CamelCase, separated by one
     * space: "Harmonic"; "" when there are none. */
    const char *aliases;
    int streamable;         /* 1 if sp_stream_create() accepts the id, else 0 */
} sp_strategy_info;

/* Fill *info for a strategy id. Returns SP_OK, SP_ERR_NULL_POINTER (info
 * is NULL) or SP_ERR_UNKNOWN_STRATEGY (strategy is not in
 * 0..SP_STRATEGY_COUNT - 1; *info is then left unchanged). */
SP_API int sp_strategy_describe(int strategy, sp_strategy_info *info);

/* Fill options with the defaults. A NULL options is a no-op. */
SP_API void sp_options_init(sp_options *options);

/* SP_OK when every field of *options is in range (k in 2..SP_MAX_K,
 * threads in 0..SP_MAX_THREADS, max_items in 0..SP_MAX_LENGTHS), else
 * SP_ERR_INVALID_OPTION;
 * SP_ERR_NULL_POINTER for NULL. sp_pack() and sp_stream_create() accept
 * exactly the options that pass this check. */
SP_API int sp_options_check(const sp_options *options);

/* SP_OK when sp_pack() accepts these lengths: n >= 0, capacity >= 1,
 * every length in [1, capacity] and their total within int64_t. Else
 * SP_ERR_LENGTH_NOT_POSITIVE or SP_ERR_LENGTH_EXCEEDS_CAPACITY with the
 * first bad index in *error_index (may be NULL; -1 otherwise),
 * SP_ERR_OVERFLOW for the total, or the status of a bad argument. The
 * total goes to *total (may be NULL). Costs one pass. */
SP_API int sp_lengths_check(const int64_t *lengths, int64_t n,
                            int64_t capacity, int64_t *total,
                            int64_t *error_index);

/* Sizes of sp_pack()'s buffers for n lengths, in *size: items needs *size
 * entries, bin_offsets *size + 1 and bin_used *size (at most one bin per
 * length, so *size is n). SP_ERR_NEGATIVE_COUNT when n < 0. */
SP_API int sp_pack_bound(int64_t n, int64_t *size);

/* A lower bound on the bins of any packing of these lengths, in *bound:
 * Martello and Toth's L2 (at least ceil(total / capacity) and the number
 * of lengths above capacity / 2), and with max_items > 0 also
 * ceil(n / max_items), for bins that hold at most max_items lengths
 * (0 = no cap). The lengths are checked as by sp_lengths_check() (same
 * statuses and *error_index, which may be NULL) and read once; a negative
 * max_items gives SP_ERR_INVALID_OPTION. lengths may be NULL when n == 0
 * (*bound is then 0). Costs O(n + capacity) time when capacity <= 4n,
 * else O(n log n), and O(n) memory either way. */
SP_API int sp_lower_bound(const int64_t *lengths, int64_t n, int64_t capacity,
                          int64_t max_items, int64_t *bound,
                          int64_t *error_index);

/*
 * Pack n lengths into bins of the given capacity with one strategy.
 *
 *   lengths      n lengths, each in [1, capacity]. May be NULL when n == 0.
 *                Read once: a buffer that another thread writes during
 *                the call gives a wrong packing or an error, never a bad
 *                memory access.
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

/* ---- streams ------------------------------------------------------------
 * Online packing with bounded memory: lengths arrive one at a time or in
 * batches, and each bin is handed out as a "pack" as soon as it can take
 * nothing more. Only SP_NF and SP_HK stream. Ids are 0, 1, 2, ... in the
 * order lengths are accepted; a rejected length takes no id.
 *
 *   - SP_NF closes its one open bin when the next length does not fit or
 *     when it is exactly full.
 *   - SP_HK puts a length l in class i = capacity / l when i < k: that
 *     class's open bin closes when it holds i items. Shorter lengths
 *     (capacity / l >= k) share one next-fit bin that closes like SP_NF's.
 *     At most k bins are open, holding at most (k - 1)(k - 2) / 2 +
 *     capacity items: memory grows with k squared.
 *   - With sp_options.max_items = m > 0, a bin also closes as soon as it
 *     holds m items (an HK class-i bin at min(i, m)).
 *
 * Closed packs wait in the stream until sp_stream_read() moves them to the
 * caller; sp_stream_get_info() sizes its buffers. Memory is bounded by the
 * open bins plus the unread packs, never by the number of lengths seen.
 * sp_stream_finish() closes the open bins in the order they were opened
 * (by first id). Sorting all the packs of a stream by their first id gives
 * exactly the bins sp_pack() returns for the same lengths, in its order.
 *
 * Threads: a handle belongs to one thread at a time. A call that overlaps
 * another call on the same handle returns SP_ERR_BUSY at once and changes
 * nothing (one atomic exchange detects it; nothing waits or spins), so a
 * binding that shares a handle between threads serialises the calls
 * itself. sp_stream_free() must not overlap any call. Distinct handles are
 * independent. */
typedef struct sp_stream sp_stream;

/* Where packs go: caller-owned arrays and their sizes. Pack p holds the
 * ids items[bin_offsets[p] .. bin_offsets[p + 1]) in placement order,
 * their lengths at the same places of `lengths`, and bin_used[p] is the sum
 * of its lengths. items and lengths hold items_size entries, bin_offsets
 * packs_size + 1 and bin_used packs_size; lengths and bin_used may be NULL.
 * A call sets num_packs to the packs it wrote (bin_offsets[0] is 0). */
typedef struct sp_pack_buffers {
    int64_t *items;
    int64_t *lengths;
    int64_t items_size;
    int64_t *bin_offsets;
    int64_t *bin_used;
    int64_t packs_size;
    int64_t num_packs;
} sp_pack_buffers;

/* What a stream holds (sp_stream_get_info). */
typedef struct sp_stream_info {
    int64_t capacity;
    int64_t strategy;        /* SP_NF or SP_HK */
    int64_t k;               /* as created (SP_NF keeps it, unused) */
    int64_t max_items;       /* as created: sp_options.max_items */
    int64_t sequences_added; /* lengths accepted: the next id */
    int64_t open_bins;       /* bins holding at least one item */
    int64_t open_items;      /* items in the open bins */
    int64_t unread_packs;    /* closed packs waiting for sp_stream_read() */
    int64_t unread_items;    /* ids in those packs */
    int64_t finished;        /* 1 after sp_stream_finish() */
} sp_stream_info;

/* Create a stream. options may be NULL (defaults) and are checked as by
 * sp_options_check(). A strategy that is not streamable (see
 * sp_strategy_describe()) gives SP_ERR_NOT_STREAMABLE. *out is NULL on
 * error. */
SP_API int sp_stream_create(int64_t capacity, int strategy,
                            const sp_options *options, sp_stream **out);

/* Release a stream and its unread packs. NULL is a no-op. */
SP_API void sp_stream_free(sp_stream *stream);

/* Add one length. A bad length gives SP_ERR_LENGTH_* and changes nothing.
 * *unread_packs (may be NULL) gets the number of packs waiting to be read
 * after the call, so that a binding knows without a second call whether to
 * read. */
SP_API int sp_stream_add(sp_stream *stream, int64_t length,
                         int64_t *unread_packs);

/* Add n lengths in order. The whole batch is checked first: on
 * SP_ERR_LENGTH_* *error_index (may be NULL) is the first bad length and
 * nothing of the batch is accepted. Only on SP_ERR_OUT_OF_MEMORY, or on
 * SP_ERR_LENGTH_* for a length that another thread changed during the
 * call, may a prefix be accepted: lengths[0 .. *error_index) were. */
SP_API int sp_stream_add_many(sp_stream *stream, const int64_t *lengths,
                              int64_t n, int64_t *error_index);

/* sp_stream_add_many() and sp_stream_read() in one pass, for large
 * batches: the unread packs and then every pack that the batch closes go
 * straight to the caller's buffers, so nothing is queued or copied twice.
 * sp_stream_pack_many_bound() gives the sizes needed for n lengths (unread
 * ids + ids in open bins + n items, unread packs + open bins + n packs);
 * smaller buffers give SP_ERR_BUFFER_TOO_SMALL and change nothing. Bad
 * lengths are handled as by sp_stream_add_many(), with out->num_packs 0.
 * Only on SP_ERR_OUT_OF_MEMORY (or a length changed during the call, as
 * for sp_stream_add_many()) may a prefix lengths[0 .. *error_index) be
 * accepted; the packs it closed are in the buffers (out->num_packs). With
 * sp_options.threads other than 1 at creation, a helper thread maps the
 * pages of a large items buffer meanwhile (see sp_options; the thread
 * count is not part of an exported state: an imported stream has 0). */
SP_API int sp_stream_pack_many_bound(const sp_stream *stream, int64_t n,
                                     int64_t *items_size, int64_t *packs_size);
SP_API int sp_stream_pack_many(sp_stream *stream, const int64_t *lengths,
                               int64_t n, sp_pack_buffers *out,
                               int64_t *error_index);

/* Close every open bin, in opening order. Later adds and finishes give
 * SP_ERR_FINISHED; the packs closed here are read as usual. */
SP_API int sp_stream_finish(sp_stream *stream);

/* Move every unread pack to the caller, in closing order. Buffers smaller
 * than the unread packs (sp_stream_get_info()) give SP_ERR_BUFFER_TOO_SMALL
 * and read nothing. */
SP_API int sp_stream_read(sp_stream *stream, sp_pack_buffers *out);

/* What the stream holds now. */
SP_API int sp_stream_get_info(const sp_stream *stream, sp_stream_info *info);

/* Checkpointing: sp_stream_export() writes the whole state (capacity,
 * strategy, k, next id, finished flag, unread packs and open bins with
 * their ids and lengths) as int64 values; sp_stream_state_size() gives how
 * many; the last is a checksum of the others. sp_stream_import() creates a
 * stream that continues exactly where the exported one was. It checks the
 * checksum (which fails for any change of one value), then the buffer in
 * full (ranges, classes, sums, distinct ids), and gives
 * SP_ERR_INVALID_STATE for anything that is not such a state. */
SP_API int sp_stream_state_size(const sp_stream *stream, int64_t *size);
SP_API int sp_stream_export(const sp_stream *stream, int64_t *state,
                            int64_t state_size, int64_t *written);
SP_API int sp_stream_import(const int64_t *state, int64_t state_size,
                            sp_stream **out);

/* ---- Laying packed sequences out as rows ---------------------------------
 * After packing, a trainer copies the tokens of each bin's sequences into
 * one row and numbers their positions. These two calls do that in one pass
 * over the output, for elements of 1, 2, 4 or 8 bytes (token ids of any
 * integer type). Each run is read once and checked against its buffer
 * before it is copied; on an error, earlier runs have been written. */

/* Copies run r (0 <= r < n): length[r] elements from element src_start[r]
 * of src to element dst_start[r] of dst. src holds src_size elements and
 * dst dst_size, each of elem_size bytes (1, 2, 4 or 8); the runs must fit
 * their buffers (else SP_ERR_OUT_OF_BOUNDS, with the first bad run in
 * *error_index) and dst must not overlap src. Runs may overlap each other
 * in dst; later runs win. */
SP_API int sp_copy_runs(void *dst, int64_t dst_size, const void *src,
                        int64_t src_size, int64_t elem_size,
                        const int64_t *src_start, const int64_t *dst_start,
                        const int64_t *length, int64_t n, int64_t *error_index);

/* Writes positions 0, 1, ..., lengths[r] - 1 for segment r = 0, 1, ...,
 * n - 1, one segment after another from positions[0]. positions holds size
 * elements of elem_size bytes (2, 4 or 8, signed); the lengths must be
 * >= 0, fit the element (at most 2^15 with 2 bytes, 2^31 with 4) and add
 * up to at most size (else SP_ERR_OUT_OF_BOUNDS, with the first bad
 * segment in *error_index). Elements past the sum are left as they are. */
SP_API int sp_fill_positions(void *positions, int64_t size, int64_t elem_size,
                             const int64_t *lengths, int64_t n,
                             int64_t *error_index);

/* SP_CDEF_END */
#ifdef __cplusplus
}
#endif

#endif /* SEQPACKER_H */
