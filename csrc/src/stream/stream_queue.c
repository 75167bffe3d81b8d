/*
 * stream_queue.c - the growable arrays of a stream's closed packs (see
 * stream_queue.h).
 */
#include <stdlib.h>
#include <string.h>

#include "stream/stream_queue.h"

/* Resize *array to `room` int64 entries (keeping the first ones). */
static int resize(int64_t **array, int64_t room)
{
    if (room < 1 || (uint64_t)room > SIZE_MAX / sizeof(int64_t))
        return SP_ERR_OUT_OF_MEMORY;
    int64_t *moved = realloc(*array, (size_t)room * sizeof(int64_t));
    if (moved == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    *array = moved;
    return SP_OK;
}

/* A room of at least `need` entries, doubling from the current one. */
static int64_t grown_room(int64_t room, int64_t need)
{
    int64_t grown = room < 8 ? 8 : room;
    while (grown < need)
        grown = grown > INT64_MAX / 2 ? need : grown * 2;
    return grown;
}

int spi_reserve_pair(int64_t **a, int64_t **b, int64_t *room, int64_t need)
{
    if (need <= *room)
        return SP_OK;
    int64_t grown = grown_room(*room, need);
    if (resize(a, grown) != SP_OK || resize(b, grown) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    *room = grown;
    return SP_OK;
}

int spi_compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int spi_queue_init(pack_queue *q)
{
    memset(q, 0, sizeof *q);
    q->offsets = malloc(sizeof(int64_t));
    if (q->offsets == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    q->offsets[0] = 0;
    return SP_OK;
}

void spi_queue_free(pack_queue *q)
{
    free(q->items);
    free(q->lengths);
    free(q->offsets);
    free(q->used);
    memset(q, 0, sizeof *q);
}

int spi_queue_reserve(pack_queue *q, int64_t packs, int64_t items)
{
    int64_t have = spi_queue_items(q);
    if (items > INT64_MAX - have || packs > INT64_MAX - 1 - q->num_packs)
        return SP_ERR_OVERFLOW;
    if (spi_reserve_pair(&q->items, &q->lengths, &q->items_room, have + items)
        != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    int64_t need = q->num_packs + packs;
    if (need > q->packs_room) {
        int64_t grown = grown_room(q->packs_room, need);
        if (grown == INT64_MAX || resize(&q->offsets, grown + 1) != SP_OK ||
            resize(&q->used, grown) != SP_OK)
            return SP_ERR_OUT_OF_MEMORY;
        q->packs_room = grown;
    }
    return SP_OK;
}

pack_queue spi_queue_view(const sp_pack_buffers *out)
{
    pack_queue view = {
        .items = out->items,
        .lengths = out->lengths,
        .items_room = out->items_size,
        .offsets = out->bin_offsets,
        .used = out->bin_used,
        .packs_room = out->packs_size,
    };
    return view;
}

int spi_queue_copy_out(const pack_queue *q, sp_pack_buffers *out)
{
    const int64_t packs = q->num_packs, total = spi_queue_items(q);
    if (out->bin_offsets == NULL || (total > 0 && out->items == NULL))
        return SP_ERR_NULL_POINTER;
    if (out->items_size < total || out->packs_size < packs)
        return SP_ERR_BUFFER_TOO_SMALL;
    if (total > 0) {
        memcpy(out->items, q->items, (size_t)total * sizeof(int64_t));
        if (out->lengths != NULL)
            memcpy(out->lengths, q->lengths, (size_t)total * sizeof(int64_t));
    }
    memcpy(out->bin_offsets, q->offsets, (size_t)(packs + 1) * sizeof(int64_t));
    if (out->bin_used != NULL && packs > 0)
        memcpy(out->bin_used, q->used, (size_t)packs * sizeof(int64_t));
    out->num_packs = packs;
    return SP_OK;
}

/* Buffers up to this many entries stay for the next batch (no page faults
 * when batches repeat); larger ones are given back once read. */
#define QUEUE_KEEP ((int64_t)1 << 18)

void spi_shrink_pair(int64_t **a, int64_t **b, int64_t *room, int64_t used)
{
    if (*room <= QUEUE_KEEP || used > *room / 4)
        return;
    const int64_t keep = used > 8 ? used : 8;
    int64_t *smaller_a = realloc(*a, (size_t)keep * sizeof(int64_t));
    if (smaller_a != NULL)
        *a = smaller_a;
    int64_t *smaller_b = realloc(*b, (size_t)keep * sizeof(int64_t));
    if (smaller_b != NULL)
        *b = smaller_b;
    if (smaller_a != NULL || smaller_b != NULL)
        *room = keep; /* the smaller of the two sizes */
}

void spi_queue_clear(pack_queue *q)
{
    q->num_packs = 0;
    if (q->items_room > QUEUE_KEEP) {
        free(q->items);
        free(q->lengths);
        q->items = q->lengths = NULL;
        q->items_room = 0;
    }
    if (q->packs_room > QUEUE_KEEP) {
        /* A failed allocation here only means the big buffers stay. */
        int64_t *offsets = malloc(sizeof(int64_t));
        if (offsets != NULL) {
            offsets[0] = 0;
            free(q->offsets);
            free(q->used);
            q->offsets = offsets;
            q->used = NULL;
            q->packs_room = 0;
        }
    }
}
