/*
 * stream_internal.h - the stream handle, shared by stream.c (packing) and
 * stream_state.c (export and import). The layers go one way: the state
 * uses the stream, the stream uses its queue (stream_queue.h).
 */
#ifndef SPI_STREAM_INTERNAL_H
#define SPI_STREAM_INTERNAL_H

#include <stdatomic.h>

#include "stream/stream_queue.h"

/* One open bin: its ids and lengths in buffers of `room` entries, reused
 * by the next bin of the same slot. NF has one slot; HK has slot 0 for
 * its last class (next fit) and slot i for class i. */
typedef struct open_bin {
    int64_t load;
    int64_t count;
    int64_t room;
    int64_t *ids;
    int64_t *lengths;
} open_bin;

struct sp_stream {
    int64_t capacity;
    int strategy;
    int finished;
    int64_t k;          /* as created */
    int64_t classes;    /* the k of the class rule: 1 for NF (all slot 0) */
    int64_t max_items;  /* as created (0: no limit) */
    int64_t limit;      /* items a bin takes at most (spi_item_limit) */
    int64_t threads;    /* sp_options.threads; not part of the state */
    int64_t next_id;
    int64_t num_open;   /* open bins holding at least one item */
    int64_t open_items; /* items in the open bins */
    int64_t num_slots;
    open_bin *bins;
    pack_queue queue;
    atomic_flag busy;   /* held by the call that is using the handle */
};

/* A stream with empty open bins and an empty queue, or NULL (stream.c).
 * The arguments are valid. */
sp_stream *spi_stream_new(int64_t capacity, int strategy, int64_t k,
                          int64_t max_items);

/* The checksum that ends an exported state, over its other `size` values
 * (stream_state.c; the tests use it to forge damaged states that get past
 * it, so that the checks behind it are tested too). */
int64_t spi_state_checksum(const int64_t *state, int64_t size);

/* The slot of a length (1 <= length <= capacity). */
static inline int64_t spi_stream_slot(const sp_stream *s, int64_t length)
{
    return spi_hk_class(s->capacity, length, s->classes);
}

/* Every public call on a handle runs between these: a call that finds the
 * handle in use returns SP_ERR_BUSY at once (see seqpacker.h). The flag is
 * not part of the stream's value, so const callers hold it too (the handle
 * is never a const object). */
static inline int spi_stream_enter(const sp_stream *s)
{
    if (s == NULL)
        return SP_ERR_NULL_POINTER;
    atomic_flag *busy = (atomic_flag *)&s->busy;
    if (atomic_flag_test_and_set_explicit(busy, memory_order_acquire))
        return SP_ERR_BUSY;
    return SP_OK;
}

static inline void spi_stream_leave(const sp_stream *s)
{
    atomic_flag_clear_explicit((atomic_flag *)&s->busy, memory_order_release);
}

#endif /* SPI_STREAM_INTERNAL_H */
