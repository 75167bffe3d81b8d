/*
 * common/internal.h - what the offline strategies (offline/), the stream
 * (stream/) and the entry points share: the packing rules both kinds of
 * packer follow (item limit, valid lengths, Harmonic-K's classes), and the
 * machinery under them (allocation, threads, prefaulting, the platform).
 * The offline strategy machinery is in offline/offline.h, the stream's in
 * stream/stream_internal.h.
 *
 * Layers: common/ includes only common/ and the public header.
 */
#ifndef SPI_INTERNAL_H
#define SPI_INTERNAL_H

#include <stdint.h>
#include <stddef.h>

#include "common/platform.h"
#include "seqpacker.h"

/* ---- the Harmonic-K rule --------------------------------------------------
 * One definition for the offline strategy (offline/harmonic.c) and the stream
 * (stream/stream.c), which keep their bins differently but place alike. */

/* The class of a length (1 <= length <= capacity): i = floor(capacity /
 * length) when i < k, whose bins take exactly i items; 0 for the last
 * class (length <= capacity / k), packed next fit. With k = 1 every length
 * is in class 0, which is NextFit. */
static inline int64_t spi_hk_class(int64_t capacity, int64_t length, int64_t k)
{
    int64_t i = capacity / length;
    return i < k ? i : 0;
}

/* The most items a bin takes: sp_options.max_items, where 0 means no
 * limit. Every strategy treats a bin that holds this many as full. */
static inline int64_t spi_item_limit(const sp_options *options)
{
    return options->max_items > 0 ? options->max_items : INT64_MAX;
}

/* A bin of class c >= 1 holding `count` items closes with the next one:
 * its c-th, or its limit-th when the item limit is lower. */
static inline int spi_hk_class_closes(int64_t c, int64_t count, int64_t limit)
{
    return count + 1 == (c < limit ? c : limit);
}

/* A next-fit bin of this load and count closes before an item that does
 * not fit or when it holds `limit` items already (and, in the stream, as
 * soon as it is exactly full or at its limit). */
static inline int spi_next_fit_closes_before(int64_t load, int64_t count,
                                             int64_t length, int64_t capacity,
                                             int64_t limit)
{
    return length > capacity - load || count >= limit;
}

/* The classes of the lengths 1..capacity (class_of[l - 1]), when a batch
 * of n is long enough to pay for the table (capacity <= n / 4); NULL
 * otherwise or without memory, and callers then divide (rules.c). */
int32_t *spi_hk_class_table(int64_t capacity, int64_t k, int64_t n);

/* The status of one length: SP_OK when 1 <= length <= capacity. */
static inline int spi_length_status(int64_t length, int64_t capacity)
{
    if (length <= 0)
        return SP_ERR_LENGTH_NOT_POSITIVE;
    return length > capacity ? SP_ERR_LENGTH_EXCEEDS_CAPACITY : SP_OK;
}

/* Every length in [1, capacity], without a total (a stream's batch); the
 * first bad index goes to *error_index (may be NULL) (rules.c). */
int spi_check_each_length(const int64_t *lengths, int64_t n, int64_t capacity,
                          int64_t *error_index);

/* ---- allocation (memory.c) ---------------------------------------------
 * Arrays of count elements; NULL on overflow of count * size or on failure.
 * Release with free(). Large ones are backed by huge pages where the
 * system offers them (spi_alloc_advised, platform.h). */
void *spi_alloc_array(int64_t count, size_t size);
void *spi_alloc_zeroed(int64_t count, size_t size);

/* ---- threads (threads.c) ------------------------------------------------
 * spi_run_parallel() calls fn(ctx, part, parts) for every part in
 * [0, parts): part 0 in the calling thread, the others on new threads
 * (platform.h), all joined before it returns. A part whose thread cannot
 * be created runs in the calling thread, so the result never depends on
 * thread creation. */
typedef void (*spi_task_fn)(void *ctx, int part, int parts);
void spi_run_parallel(int parts, spi_task_fn fn, void *ctx);
/* spi_cpu_count(), at most the parts spi_run_parallel() runs at once. */
int spi_online_cpus(void);

/* Inline even where the compiler finds a function large: a hot loop that
 * constant arguments specialise (stream.c's HK blocks). */
#if defined(__GNUC__) || defined(__clang__)
#  define SPI_ALWAYS_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#  define SPI_ALWAYS_INLINE __forceinline
#else
#  define SPI_ALWAYS_INLINE inline
#endif

/* ---- prefaulting (prefault.c) -------------------------------------------
 * Fill start, bytes and ranges, call spi_prefault_start(), and always
 * spi_prefault_join() before returning: where the system can populate
 * pages (spi_can_populate), a helper thread maps the pages of the ranges
 * (contents untouched) while the caller works, when `threads` (0 = online
 * CPUs) allows a second thread and the ranges are large. */
#define SPI_PREFAULT_RANGES 2
typedef struct spi_prefault {
    void *start[SPI_PREFAULT_RANGES];
    size_t bytes[SPI_PREFAULT_RANGES];
    int ranges;
    int started;
    spi_thread thread;
} spi_prefault;
void spi_prefault_start(spi_prefault *pf, int threads);
void spi_prefault_join(spi_prefault *pf);

/* The half-open range [*begin, *end) of part p of n items split in parts. */
static inline void spi_part_range(int64_t n, int part, int parts,
                                 int64_t *begin, int64_t *end)
{
    *begin = n / parts * part + (part < n % parts ? part : n % parts);
    *end = *begin + n / parts + (part < n % parts ? 1 : 0);
}

#endif /* SPI_INTERNAL_H */
