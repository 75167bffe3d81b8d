/*
 * stream_queue.h - the packs a stream has closed but not handed out yet,
 * in growable arrays, and the copy of them into a caller's sp_pack_buffers.
 * The lowest layer of the stream code: it knows nothing of strategies.
 */
#ifndef SPI_STREAM_QUEUE_H
#define SPI_STREAM_QUEUE_H

#include "common/internal.h"

/* Pack p holds the ids items[offsets[p] .. offsets[p + 1]) with their
 * lengths alongside, and used[p]. The same layout describes a caller's
 * buffers (spi_queue_view), where lengths and used may be NULL. */
typedef struct pack_queue {
    int64_t *items;
    int64_t *lengths;
    int64_t items_room; /* entries of items and of lengths */
    int64_t *offsets;   /* packs_room + 1 entries, offsets[0] == 0 */
    int64_t *used;
    int64_t packs_room;
    int64_t num_packs;
} pack_queue;

/* An empty queue with its first offset, or SP_ERR_OUT_OF_MEMORY. */
int spi_queue_init(pack_queue *q);
void spi_queue_free(pack_queue *q);

/* The ids held by the queue's packs. */
static inline int64_t spi_queue_items(const pack_queue *q)
{
    return q->offsets[q->num_packs];
}

/* qsort order of int64 values (the first of each record), ascending: the
 * stream sorts open bins by first id, its state check all ids. */
int spi_compare_int64(const void *a, const void *b);

/* Make both arrays of a pair hold at least `need` entries, growing by
 * doubling from *room. */
int spi_reserve_pair(int64_t **a, int64_t **b, int64_t *room, int64_t need);

/* After a burst: a pair of large, mostly empty buffers holding `used`
 * entries shrinks, so that memory follows what they hold. */
void spi_shrink_pair(int64_t **a, int64_t **b, int64_t *room, int64_t used);

/* Room for `packs` more packs of `items` more ids in all. */
int spi_queue_reserve(pack_queue *q, int64_t packs, int64_t items);

/* End the pack whose ids were written up to `end`. */
static inline void spi_queue_end_pack(pack_queue *q, int64_t end, int64_t used)
{
    if (q->used != NULL)
        q->used[q->num_packs] = used;
    q->offsets[++q->num_packs] = end;
}

/* The caller's buffers seen as an empty queue whose rooms are their sizes
 * (the packing loops write to either alike). */
pack_queue spi_queue_view(const sp_pack_buffers *out);

/* Copy every pack to out (SP_ERR_BUFFER_TOO_SMALL, copying nothing, when
 * it lacks room) and set out->num_packs. The queue is left as it was. */
int spi_queue_copy_out(const pack_queue *q, sp_pack_buffers *out);

/* Empty the queue; buffers grown large by a burst are given back, so that
 * memory follows the unread packs. */
void spi_queue_clear(pack_queue *q);

#endif /* SPI_STREAM_QUEUE_H */
