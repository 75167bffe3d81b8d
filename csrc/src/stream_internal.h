/*
 * stream_internal.h - the stream handle shared by stream.c (packing) and
 * stream_state.c (export and import).
 */
#ifndef SP_STREAM_INTERNAL_H
#define SP_STREAM_INTERNAL_H

#include <stdatomic.h>

#include "internal.h"

/* One open bin: its load and item count. For NF the items themselves sit
 * at the tail of the queue (see pack_queue), so closing the bin copies
 * nothing. HK bins keep their ids and lengths in buffers of `room`
 * entries, reused by the next bin of the same class. */
typedef struct open_bin {
    int64_t load;
    int64_t count;
    int64_t room;
    int64_t *ids;
    int64_t *lengths;
} open_bin;

/* Closed packs waiting to be read: pack p holds the ids
 * items[offsets[p] .. offsets[p + 1]) with their lengths, and used[p].
 * For NF, the open bin's items follow the last pack. */
typedef struct pack_queue {
    int64_t *items;
    int64_t *lengths;
    int64_t items_room; /* entries of items and of lengths */
    int64_t *offsets;   /* packs_room + 1 entries, offsets[0] == 0 */
    int64_t *used;
    int64_t packs_room;
    int64_t num_packs;
} pack_queue;

struct sp_stream {
    int64_t capacity;
    int strategy;
    int finished;
    int64_t k;
    int64_t threads;    /* sp_options.threads; not part of the state */
    int64_t next_id;
    int64_t num_open;   /* open bins holding at least one item */
    int64_t open_items; /* items in the open bins */
    int64_t num_slots;  /* NF: 1; HK: slot 0 last class, slot i class i */
    open_bin *bins;
    pack_queue queue;
    atomic_flag busy; /* see "guarded entry points" */
};

/* Grow two arrays of *room entries together to hold need (stream.c). */
int sp_reserve_pair(int64_t **a, int64_t **b, int64_t *room, int64_t need);

/* Make room in the queue for `packs` more packs of `items` items. */
int sp_queue_reserve(pack_queue *q, int64_t packs, int64_t items);

/* End the pack that is being written to the queue at `end`. Only
 * sp_stream_pack_many()'s view of the caller's buffers has no used. */
static inline void push_pack_end(pack_queue *q, int64_t end, int64_t used)
{
    if (q->used != NULL)
        q->used[q->num_packs] = used;
    q->offsets[++q->num_packs] = end;
}

/* qsort order of int64_t values (the first of each record), ascending. */
int sp_compare_int64(const void *a, const void *b);

/* The state's size and contents, without taking the handle's guard
 * (stream_state.c; the guarded entry points are in stream.c). */
int sp_stream_measure_state(const sp_stream *s, int64_t *size);
int sp_stream_write_state(const sp_stream *s, int64_t *state, int64_t size,
                          int64_t *written);

#endif /* SP_STREAM_INTERNAL_H */
