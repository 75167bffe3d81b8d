/*
 * stream.c - online packing of a stream of lengths with bounded memory:
 * NextFit and HarmonicK behind the opaque sp_stream handle.
 *
 * A stream keeps its open bins and a queue of the packs that have closed
 * but have not been read yet. Nothing else grows with the number of items
 * seen, so memory is bounded by the open bins plus the unread packs.
 *
 * Ids are 0, 1, 2, ... in the order lengths are accepted. A bin closes (is
 * appended to the queue) as soon as it can take nothing more:
 *   - NF: the next item does not fit, or the bin is exactly full.
 *   - HK class i (1 <= i < k, see sp_hk_class): when it holds i items.
 *   - HK last class (slot 0, next fit): like NF.
 * sp_stream_finish() closes the remaining open bins in opening order (by
 * first id), so that sorting all the packs of a stream by first id gives
 * exactly the bins of sp_pack() with the same strategy, in its order.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
    int64_t next_id;
    int64_t num_open;   /* open bins holding at least one item */
    int64_t open_items; /* items in the open bins */
    int64_t num_slots;  /* NF: 1; HK: slot 0 last class, slot i class i */
    open_bin *bins;
    pack_queue queue;
    atomic_flag busy; /* see "guarded entry points" */
};

/* ---- growable arrays ---------------------------------------------------- */

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

/* Make both arrays of a pair hold at least `need` entries. */
static int reserve_pair(int64_t **a, int64_t **b, int64_t *room, int64_t need)
{
    if (need <= *room)
        return SP_OK;
    int64_t grown = grown_room(*room, need);
    if (resize(a, grown) != SP_OK || resize(b, grown) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    *room = grown;
    return SP_OK;
}

/* Room in the queue for `packs` more packs and `items` more items after
 * the last pack. */
static int queue_reserve(pack_queue *q, int64_t packs, int64_t items)
{
    int64_t have = q->offsets[q->num_packs];
    if (items > INT64_MAX - have || packs > INT64_MAX - 1 - q->num_packs)
        return SP_ERR_OVERFLOW;
    if (reserve_pair(&q->items, &q->lengths, &q->items_room, have + items)
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

/* Buffers up to this many entries stay for the next batch (no page faults
 * when batches repeat); larger ones are given back once read, so memory
 * follows the unread packs. */
#define QUEUE_KEEP ((int64_t)1 << 18)

/* After a read: `tail` items (NF's open bin) remain at the front. A failed
 * allocation here only means the big buffers stay. */
static void queue_trim(pack_queue *q, int64_t tail)
{
    if (q->items_room > QUEUE_KEEP && tail < q->items_room / 4) {
        int64_t room = tail > 8 ? tail : 8;
        int64_t *items = sp_alloc_array(room, sizeof(int64_t));
        int64_t *lengths = sp_alloc_array(room, sizeof(int64_t));
        if (items != NULL && lengths != NULL) {
            memcpy(items, q->items, (size_t)tail * sizeof(int64_t));
            memcpy(lengths, q->lengths, (size_t)tail * sizeof(int64_t));
            free(q->items);
            free(q->lengths);
            q->items = items;
            q->lengths = lengths;
            q->items_room = room;
        } else {
            free(items);
            free(lengths);
        }
    }
    if (q->packs_room > QUEUE_KEEP) {
        int64_t *offsets = sp_alloc_array(9, sizeof(int64_t));
        int64_t *used = sp_alloc_array(8, sizeof(int64_t));
        if (offsets != NULL && used != NULL) {
            offsets[0] = 0;
            free(q->offsets);
            free(q->used);
            q->offsets = offsets;
            q->used = used;
            q->packs_room = 8;
        } else {
            free(offsets);
            free(used);
        }
    }
}

/* ---- closing bins (the queue has room: see reserve_for) ----------------- */

static inline void push_pack_end(pack_queue *q, int64_t end, int64_t used)
{
    q->used[q->num_packs] = used;
    q->offsets[++q->num_packs] = end;
}

/* Every open bin may close while n more items arrive, and each of them may
 * close a bin of its own: make room for all of it before a batch, so the
 * packing loops never allocate for the queue. */
static int reserve_for(sp_stream *s, int64_t n)
{
    if (n > INT64_MAX - s->open_items || n > INT64_MAX - s->num_open)
        return SP_ERR_OVERFLOW;
    return queue_reserve(&s->queue, s->num_open + n, s->open_items + n);
}

/* ---- the strategies ------------------------------------------------------ */

static int check_length(const sp_stream *s, int64_t length)
{
    if (length <= 0)
        return SP_ERR_LENGTH_NOT_POSITIVE;
    if (length > s->capacity)
        return SP_ERR_LENGTH_EXCEEDS_CAPACITY;
    return SP_OK;
}

/* NextFit over lengths that are already valid. The open bin's items are
 * written straight to the queue's tail; closing it only ends a pack. */
static void nf_run(sp_stream *s, const int64_t *lengths, int64_t n)
{
    pack_queue *q = &s->queue;
    int64_t *items = q->items, *item_lengths = q->lengths;
    const int64_t cap = s->capacity;
    int64_t load = s->bins[0].load, id = s->next_id;
    int64_t at = q->offsets[q->num_packs] + s->bins[0].count;
    for (int64_t j = 0; j < n; j++, id++) {
        const int64_t l = lengths[j];
        if (l > cap - load) {
            push_pack_end(q, at, load);
            load = 0;
        }
        items[at] = id;
        item_lengths[at] = l;
        at++;
        load += l;
        if (load == cap) {
            push_pack_end(q, at, load);
            load = 0;
        }
    }
    s->bins[0].load = load;
    s->bins[0].count = at - q->offsets[q->num_packs];
    s->num_open = s->bins[0].count > 0;
    s->open_items = s->bins[0].count;
    s->next_id = id;
}

/* Close an HK bin: queue its items (then `extra_id` of `extra_length`
 * unless extra_id < 0) and empty it, keeping its buffers. */
static void hk_close(sp_stream *s, open_bin *bin, int64_t extra_id,
                     int64_t extra_length)
{
    pack_queue *q = &s->queue;
    int64_t at = q->offsets[q->num_packs], count = bin->count;
    if (count > 0) {
        memcpy(q->items + at, bin->ids, (size_t)count * sizeof(int64_t));
        memcpy(q->lengths + at, bin->lengths, (size_t)count * sizeof(int64_t));
    }
    at += count;
    int64_t used = bin->load;
    if (extra_id >= 0) {
        q->items[at] = extra_id;
        q->lengths[at++] = extra_length;
        used += extra_length;
    }
    push_pack_end(q, at, used);
    s->num_open -= count > 0;
    s->open_items -= count;
    bin->count = 0;
    bin->load = 0;
}

static inline void hk_append(sp_stream *s, open_bin *bin, int64_t id,
                             int64_t length)
{
    s->num_open += bin->count == 0;
    s->open_items++;
    bin->ids[bin->count] = id;
    bin->lengths[bin->count++] = length;
    bin->load += length;
}

/* HarmonicK over lengths that are already valid. class_of, when not NULL,
 * holds the class of every length 1..capacity (saves a division per item).
 * Stops early only when a bin buffer cannot grow, before touching anything
 * for that length; *done is the number of lengths placed. */
static int hk_run(sp_stream *s, const int64_t *lengths, int64_t n,
                  const int32_t *class_of, int64_t *done)
{
    const int64_t cap = s->capacity, k = s->k;
    int status = SP_OK;
    int64_t j = 0;
    for (; j < n; j++) {
        const int64_t l = lengths[j], id = s->next_id;
        const int64_t slot = class_of ? class_of[l - 1] : sp_hk_class(cap, l, k);
        open_bin *bin = &s->bins[slot];
        if (slot > 0 && bin->count + 1 == slot) {
            /* A class-i bin closes with its i-th item, which goes
             * straight to the queue. */
            hk_close(s, bin, id, l);
        } else {
            /* The last class is next fit: a bin the item does not fit
             * closes first, and the item starts the next one. */
            const int closes = slot == 0 && l > cap - bin->load;
            if (reserve_pair(&bin->ids, &bin->lengths, &bin->room,
                             closes ? 1 : bin->count + 1) != SP_OK) {
                status = SP_ERR_OUT_OF_MEMORY;
                break;
            }
            if (closes)
                hk_close(s, bin, -1, 0);
            hk_append(s, bin, id, l);
            if (slot == 0 && bin->load == cap)
                hk_close(s, bin, -1, 0);
        }
        s->next_id = id + 1;
    }
    *done = j;
    return status;
}

/* ---- public entry points ------------------------------------------------- */

/* A stream with empty open bins and an empty queue, or NULL. */
static sp_stream *stream_new(int64_t capacity, int strategy, int64_t k)
{
    sp_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    atomic_flag_clear(&s->busy);
    s->capacity = capacity;
    s->strategy = strategy;
    s->k = k;
    /* HK classes are 1 .. min(k - 1, capacity), plus the last class. */
    s->num_slots = strategy == SP_NF ? 1
                   : (capacity < k - 1 ? capacity : k - 1) + 1;
    s->bins = calloc((size_t)s->num_slots, sizeof *s->bins);
    s->queue.offsets = malloc(sizeof(int64_t));
    if (s->bins == NULL || s->queue.offsets == NULL) {
        sp_stream_free(s);
        return NULL;
    }
    s->queue.offsets[0] = 0;
    return s;
}

int sp_stream_create(int64_t capacity, int strategy, const sp_options *options,
                     sp_stream **out)
{
    if (out == NULL)
        return SP_ERR_NULL_POINTER;
    *out = NULL;
    if (capacity <= 0)
        return SP_ERR_INVALID_CAPACITY;
    if (strategy < 0 || strategy >= SP_STRATEGY_COUNT)
        return SP_ERR_UNKNOWN_STRATEGY;
    if (strategy != SP_NF && strategy != SP_HK)
        return SP_ERR_NOT_STREAMABLE;
    sp_options opts;
    sp_options_init(&opts);
    if (options != NULL)
        opts = *options;
    int status = sp_check_options(&opts);
    if (status != SP_OK)
        return status;
    *out = stream_new(capacity, strategy, opts.k);
    return *out == NULL ? SP_ERR_OUT_OF_MEMORY : SP_OK;
}

static void free_bin_buffers(open_bin *bin)
{
    free(bin->ids);
    free(bin->lengths);
    memset(bin, 0, sizeof *bin);
}

void sp_stream_free(sp_stream *s)
{
    if (s == NULL)
        return;
    if (s->bins != NULL) {
        for (int64_t i = 0; i < s->num_slots; i++)
            free_bin_buffers(&s->bins[i]);
        free(s->bins);
    }
    free(s->queue.items);
    free(s->queue.lengths);
    free(s->queue.offsets);
    free(s->queue.used);
    free(s);
}

static int add_one(sp_stream *s, int64_t length)
{
    if (s->finished)
        return SP_ERR_FINISHED;
    int status = check_length(s, length);
    if (status == SP_OK && s->next_id == INT64_MAX)
        status = SP_ERR_OVERFLOW;
    if (status == SP_OK)
        status = reserve_for(s, 1);
    if (status == SP_OK) {
        if (s->strategy == SP_NF) {
            nf_run(s, &length, 1);
        } else {
            int64_t done;
            status = hk_run(s, &length, 1, NULL, &done);
        }
    }
    return status;
}

static int add_many(sp_stream *s, const int64_t *lengths, int64_t n,
                    int64_t *error_index)
{
    if (error_index != NULL)
        *error_index = -1;
    if (s == NULL || (n > 0 && lengths == NULL))
        return SP_ERR_NULL_POINTER;
    if (n < 0)
        return SP_ERR_NEGATIVE_COUNT;
    if (s->finished)
        return SP_ERR_FINISHED;
    /* Validate the whole batch first, so a bad length leaves the stream
     * exactly as it was (no item of the batch accepted). */
    for (int64_t j = 0; j < n; j++) {
        int status = check_length(s, lengths[j]);
        if (status != SP_OK) {
            if (error_index != NULL)
                *error_index = j;
            return status;
        }
    }
    if (n > INT64_MAX - s->next_id)
        return SP_ERR_OVERFLOW;
    int status = reserve_for(s, n);
    if (status == SP_OK) {
        if (s->strategy == SP_NF) {
            nf_run(s, lengths, n);
        } else {
            /* Only a failed bin allocation stops HK early; the lengths
             * before it stay accepted and error_index names the first
             * length not accepted. */
            /* A long batch amortises a table of the classes of all
             * lengths; without one (or without memory) each is divided. */
            int32_t *class_of = NULL;
            if (s->capacity <= n / 4)
                class_of = sp_alloc_array(s->capacity, sizeof(int32_t));
            for (int64_t l = 1; class_of != NULL && l <= s->capacity; l++)
                class_of[l - 1] = (int32_t)sp_hk_class(s->capacity, l, s->k);
            int64_t done;
            status = hk_run(s, lengths, n, class_of, &done);
            free(class_of);
            if (status != SP_OK && error_index != NULL)
                *error_index = done;
        }
    }
    return status;
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int finish(sp_stream *s)
{
    if (s == NULL)
        return SP_ERR_NULL_POINTER;
    if (s->finished)
        return SP_ERR_FINISHED;
    int status = reserve_for(s, 0);
    if (status != SP_OK)
        return status;
    if (s->strategy == SP_NF) {
        pack_queue *q = &s->queue;
        if (s->bins[0].count > 0)
            push_pack_end(q, q->offsets[q->num_packs] + s->bins[0].count,
                          s->bins[0].load);
    } else if (s->num_open > 0) {
        /* (first id, slot) pairs, sorted by first id: opening order. */
        int64_t *order = sp_alloc_array(2 * s->num_open, sizeof(int64_t));
        if (order == NULL)
            return SP_ERR_OUT_OF_MEMORY;
        int64_t m = 0;
        for (int64_t i = 0; i < s->num_slots; i++) {
            if (s->bins[i].count > 0) {
                order[2 * m] = s->bins[i].ids[0];
                order[2 * m + 1] = i;
                m++;
            }
        }
        qsort(order, (size_t)m, 2 * sizeof(int64_t), compare_int64);
        for (int64_t j = 0; j < m; j++)
            hk_close(s, &s->bins[order[2 * j + 1]], -1, 0);
        free(order);
    }
    for (int64_t i = 0; i < s->num_slots; i++)
        free_bin_buffers(&s->bins[i]);
    s->num_open = 0;
    s->open_items = 0;
    s->finished = 1;
    return SP_OK;
}

static int pending(const sp_stream *s, int64_t *num_packs, int64_t *num_items)
{
    if (s == NULL || num_packs == NULL || num_items == NULL)
        return SP_ERR_NULL_POINTER;
    *num_packs = s->queue.num_packs;
    *num_items = s->queue.offsets[s->queue.num_packs];
    return SP_OK;
}

static int read_packs(sp_stream *s, int64_t *items, int64_t *lengths,
                      int64_t items_size, int64_t *bin_offsets,
                      int64_t *bin_used, int64_t packs_size, int64_t *num_packs)
{
    if (s == NULL || num_packs == NULL || bin_offsets == NULL)
        return SP_ERR_NULL_POINTER;
    pack_queue *q = &s->queue;
    const int64_t packs = q->num_packs, total = q->offsets[packs];
    if (total > 0 && items == NULL)
        return SP_ERR_NULL_POINTER;
    if (items_size < total || packs_size < packs)
        return SP_ERR_BUFFER_TOO_SMALL;
    if (total > 0) {
        memcpy(items, q->items, (size_t)total * sizeof(int64_t));
        if (lengths != NULL)
            memcpy(lengths, q->lengths, (size_t)total * sizeof(int64_t));
    }
    memcpy(bin_offsets, q->offsets, (size_t)(packs + 1) * sizeof(int64_t));
    if (bin_used != NULL && packs > 0)
        memcpy(bin_used, q->used, (size_t)packs * sizeof(int64_t));
    *num_packs = packs;
    /* NF's open bin follows the packs: move it to the front. */
    const int64_t tail = s->strategy == SP_NF ? s->bins[0].count : 0;
    if (tail > 0 && total > 0) {
        memmove(q->items, q->items + total, (size_t)tail * sizeof(int64_t));
        memmove(q->lengths, q->lengths + total, (size_t)tail * sizeof(int64_t));
    }
    q->num_packs = 0;
    queue_trim(q, tail);
    return SP_OK;
}

/* ---- state export / import ------------------------------------------------
 * The state is a header, then each unread pack as (count, ids...,
 * lengths...), then each open bin as (slot, count, ids..., lengths...).
 * Loads and used space are sums of the lengths, so they are not stored. */

#define STATE_MAGIC ((int64_t)0x53505354524d3031) /* "SPSTRM01" */
#define STATE_VERSION 1
enum {
    H_MAGIC, H_VERSION, H_CAPACITY, H_STRATEGY, H_K, H_NEXT_ID, H_FINISHED,
    H_PACKS, H_OPEN_BINS, H_HEADER_SIZE
};

static int state_size(const sp_stream *s, int64_t *size)
{
    if (s == NULL || size == NULL)
        return SP_ERR_NULL_POINTER;
    /* Every term is bounded by memory the stream already holds. */
    const pack_queue *q = &s->queue;
    *size = H_HEADER_SIZE + q->num_packs + 2 * q->offsets[q->num_packs] +
            2 * s->num_open + 2 * s->open_items;
    return SP_OK;
}

/* Write count, the ids, then the lengths; returns the next position. */
static int64_t *write_group(int64_t *w, const int64_t *ids,
                            const int64_t *lengths, int64_t count)
{
    *w++ = count;
    memcpy(w, ids, (size_t)count * sizeof(int64_t));
    w += count;
    memcpy(w, lengths, (size_t)count * sizeof(int64_t));
    return w + count;
}

static int export_state(const sp_stream *s, int64_t *state, int64_t size,
                        int64_t *written)
{
    int64_t need;
    int status = state_size(s, &need);
    if (status != SP_OK)
        return status;
    if (state == NULL || written == NULL)
        return SP_ERR_NULL_POINTER;
    if (size < need)
        return SP_ERR_BUFFER_TOO_SMALL;
    const pack_queue *q = &s->queue;
    int64_t *w = state;
    w[H_MAGIC] = STATE_MAGIC;
    w[H_VERSION] = STATE_VERSION;
    w[H_CAPACITY] = s->capacity;
    w[H_STRATEGY] = s->strategy;
    w[H_K] = s->k;
    w[H_NEXT_ID] = s->next_id;
    w[H_FINISHED] = s->finished;
    w[H_PACKS] = q->num_packs;
    w[H_OPEN_BINS] = s->num_open;
    w += H_HEADER_SIZE;
    for (int64_t p = 0; p < q->num_packs; p++) {
        int64_t at = q->offsets[p];
        w = write_group(w, q->items + at, q->lengths + at, q->offsets[p + 1] - at);
    }
    for (int64_t i = 0; i < s->num_slots; i++) {
        const open_bin *bin = &s->bins[i];
        if (bin->count == 0)
            continue;
        *w++ = i;
        if (s->strategy == SP_NF) {
            int64_t at = q->offsets[q->num_packs];
            w = write_group(w, q->items + at, q->lengths + at, bin->count);
        } else {
            w = write_group(w, bin->ids, bin->lengths, bin->count);
        }
    }
    *written = w - state;
    return SP_OK;
}

/* Reads a state buffer front to back; every read is bounds-checked. */
typedef struct reader {
    const int64_t *at;
    int64_t left;
} reader;

/* One group: count (1 .. limit), then count ids that are strictly
 * increasing in [0, next_id), then count lengths in [1, capacity] whose
 * sum is at most `capacity` (written to *sum). */
typedef struct group {
    int64_t count;
    const int64_t *ids;
    const int64_t *lengths;
    int64_t sum;
} group;

static int take_group(reader *r, const sp_stream *s, int64_t limit, group *g)
{
    if (r->left < 1)
        return 0;
    g->count = r->at[0];
    if (g->count < 1 || g->count > limit || g->count > (r->left - 1) / 2)
        return 0;
    g->ids = r->at + 1;
    g->lengths = g->ids + g->count;
    g->sum = 0;
    for (int64_t j = 0; j < g->count; j++) {
        int64_t id = g->ids[j], l = g->lengths[j];
        if (id < 0 || id >= s->next_id || (j > 0 && id <= g->ids[j - 1]))
            return 0;
        if (l < 1 || l > s->capacity - g->sum)
            return 0;
        g->sum += l;
    }
    r->at += 1 + 2 * g->count;
    r->left -= 1 + 2 * g->count;
    return 1;
}

/* Could this group be the open bin of `slot` (not yet closed)? */
static int is_open_bin(const sp_stream *s, int64_t slot, const group *g)
{
    if (g->sum == s->capacity)
        return 0; /* an exactly full bin closes at once */
    if (s->strategy == SP_NF)
        /* NF's open bin holds the latest ids. */
        return g->ids[0] == s->next_id - g->count;
    if (slot > 0 && g->count >= slot)
        return 0; /* a class-i bin closes with its i-th item */
    for (int64_t j = 0; j < g->count; j++)
        if (sp_hk_class(s->capacity, g->lengths[j], s->k) != slot)
            return 0;
    return 1;
}

/* No id may be in two places: sort them all and look for repeats. */
static int check_ids_distinct(const sp_stream *s)
{
    const pack_queue *q = &s->queue;
    const int64_t queued = q->offsets[q->num_packs];
    const int64_t n = queued + (s->strategy == SP_NF ? 0 : s->open_items);
    if (n == 0)
        return SP_OK;
    int64_t *all = sp_alloc_array(n, sizeof(int64_t));
    if (all == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    memcpy(all, q->items, (size_t)queued * sizeof(int64_t));
    int64_t m = queued;
    for (int64_t i = 0; s->strategy == SP_HK && i < s->num_slots; i++) {
        const open_bin *bin = &s->bins[i];
        if (bin->count > 0)
            memcpy(all + m, bin->ids, (size_t)bin->count * sizeof(int64_t));
        m += bin->count;
    }
    qsort(all, (size_t)n, sizeof(int64_t), compare_int64);
    int status = SP_OK;
    for (int64_t j = 1; j < n && status == SP_OK; j++)
        if (all[j] == all[j - 1])
            status = SP_ERR_INVALID_STATE;
    /* NF's open ids are the latest ones: above every queued id. */
    if (s->strategy == SP_NF && s->bins[0].count > 0 &&
        all[n - 1] >= s->next_id - s->bins[0].count)
        status = SP_ERR_INVALID_STATE;
    free(all);
    return status;
}

static int import_body(sp_stream *s, reader *r, int64_t packs,
                       int64_t open_bins)
{
    pack_queue *q = &s->queue;
    group g;
    for (int64_t p = 0; p < packs; p++) {
        if (!take_group(r, s, INT64_MAX, &g))
            return SP_ERR_INVALID_STATE;
        int status = queue_reserve(q, 1, g.count);
        if (status != SP_OK)
            return status;
        int64_t at = q->offsets[q->num_packs];
        memcpy(q->items + at, g.ids, (size_t)g.count * sizeof(int64_t));
        memcpy(q->lengths + at, g.lengths, (size_t)g.count * sizeof(int64_t));
        push_pack_end(q, at + g.count, g.sum);
    }
    for (int64_t b = 0; b < open_bins; b++) {
        int64_t slot;
        if (r->left < 1)
            return SP_ERR_INVALID_STATE;
        slot = *r->at++;
        r->left--;
        if (slot < 0 || slot >= s->num_slots || s->bins[slot].count > 0 ||
            !take_group(r, s, INT64_MAX, &g) || !is_open_bin(s, slot, &g))
            return SP_ERR_INVALID_STATE;
        open_bin *bin = &s->bins[slot];
        int64_t *ids, *lengths;
        if (s->strategy == SP_NF) {
            /* The open NF bin lives at the queue's tail. */
            int status = queue_reserve(q, 0, g.count);
            if (status != SP_OK)
                return status;
            ids = q->items + q->offsets[q->num_packs];
            lengths = q->lengths + q->offsets[q->num_packs];
        } else {
            if (reserve_pair(&bin->ids, &bin->lengths, &bin->room, g.count)
                != SP_OK)
                return SP_ERR_OUT_OF_MEMORY;
            ids = bin->ids;
            lengths = bin->lengths;
        }
        memcpy(ids, g.ids, (size_t)g.count * sizeof(int64_t));
        memcpy(lengths, g.lengths, (size_t)g.count * sizeof(int64_t));
        bin->count = g.count;
        bin->load = g.sum;
        s->num_open++;
        s->open_items += g.count;
    }
    if (r->left != 0)
        return SP_ERR_INVALID_STATE;
    return check_ids_distinct(s);
}

int sp_stream_import(const int64_t *state, int64_t state_size,
                     sp_stream **out)
{
    if (out == NULL)
        return SP_ERR_NULL_POINTER;
    *out = NULL;
    if (state == NULL)
        return SP_ERR_NULL_POINTER;
    if (state_size < H_HEADER_SIZE || state[H_MAGIC] != STATE_MAGIC ||
        state[H_VERSION] != STATE_VERSION)
        return SP_ERR_INVALID_STATE;
    const int64_t strategy = state[H_STRATEGY], next_id = state[H_NEXT_ID];
    const int64_t finished = state[H_FINISHED], packs = state[H_PACKS];
    const int64_t open_bins = state[H_OPEN_BINS];
    if (strategy != SP_NF && strategy != SP_HK)
        return SP_ERR_INVALID_STATE;
    sp_options opts;
    sp_options_init(&opts);
    opts.k = state[H_K];
    sp_stream *s = NULL;
    int status = sp_stream_create(state[H_CAPACITY], (int)strategy, &opts, &s);
    if (status != SP_OK)
        return status == SP_ERR_OUT_OF_MEMORY ? status : SP_ERR_INVALID_STATE;
    /* Each pack and open bin takes at least 3 entries of the buffer, which
     * bounds the counts before anything is allocated for them. */
    const int64_t body = state_size - H_HEADER_SIZE;
    if (next_id < 0 || (finished != 0 && finished != 1) || packs < 0 ||
        open_bins < 0 || packs > body / 3 || open_bins > body / 3 ||
        open_bins > s->num_slots || (finished && open_bins != 0)) {
        sp_stream_free(s);
        return SP_ERR_INVALID_STATE;
    }
    s->next_id = next_id;
    s->finished = (int)finished;
    reader r = {state + H_HEADER_SIZE, body};
    status = import_body(s, &r, packs, open_bins);
    if (status != SP_OK) {
        sp_stream_free(s);
        return status;
    }
    *out = s;
    return SP_OK;
}

/* ---- guarded entry points --------------------------------------------------
 * A handle is meant for one thread at a time, but a binding that releases
 * its interpreter lock around calls (cffi does) cannot always promise that.
 * So each call holds the handle's flag: concurrent calls on one handle run
 * one after another and can never corrupt it. Uncontended, this costs one
 * atomic exchange per call. */

static void enter(const sp_stream *s)
{
    /* The flag is not part of the stream's value: const callers hold it
     * too (the handle itself is never a const object). */
    atomic_flag *busy = (atomic_flag *)&s->busy;
    while (atomic_flag_test_and_set_explicit(busy, memory_order_acquire))
        ; /* another thread is inside a call on this handle: wait */
}

static void leave(const sp_stream *s)
{
    atomic_flag_clear_explicit((atomic_flag *)&s->busy, memory_order_release);
}

int sp_stream_add(sp_stream *s, int64_t length)
{
    if (s == NULL)
        return SP_ERR_NULL_POINTER;
    enter(s);
    int status = add_one(s, length);
    leave(s);
    return status;
}

int64_t sp_stream_push(sp_stream *s, int64_t length)
{
    if (s == NULL)
        return -SP_ERR_NULL_POINTER;
    enter(s);
    int status = add_one(s, length);
    int64_t unread = s->queue.num_packs;
    leave(s);
    return status == SP_OK ? unread : -(int64_t)status;
}

int sp_stream_add_many(sp_stream *s, const int64_t *lengths, int64_t n,
                       int64_t *error_index)
{
    if (s == NULL) {
        if (error_index != NULL)
            *error_index = -1;
        return SP_ERR_NULL_POINTER;
    }
    enter(s);
    int status = add_many(s, lengths, n, error_index);
    leave(s);
    return status;
}

int sp_stream_finish(sp_stream *s)
{
    if (s == NULL)
        return SP_ERR_NULL_POINTER;
    enter(s);
    int status = finish(s);
    leave(s);
    return status;
}

int sp_stream_pending(const sp_stream *s, int64_t *num_packs,
                      int64_t *num_items)
{
    if (s == NULL)
        return SP_ERR_NULL_POINTER;
    enter(s);
    int status = pending(s, num_packs, num_items);
    leave(s);
    return status;
}

int sp_stream_read(sp_stream *s, int64_t *items, int64_t *lengths,
                   int64_t items_size, int64_t *bin_offsets, int64_t *bin_used,
                   int64_t packs_size, int64_t *num_packs)
{
    if (s == NULL)
        return SP_ERR_NULL_POINTER;
    enter(s);
    int status = read_packs(s, items, lengths, items_size, bin_offsets,
                            bin_used, packs_size, num_packs);
    leave(s);
    return status;
}


int64_t sp_stream_sequences_added(const sp_stream *s)
{
    if (s == NULL)
        return -1;
    enter(s);
    int64_t n = s->next_id;
    leave(s);
    return n;
}

int64_t sp_stream_open_bins(const sp_stream *s)
{
    if (s == NULL)
        return -1;
    enter(s);
    int64_t n = s->num_open;
    leave(s);
    return n;
}

int64_t sp_stream_room(const sp_stream *s)
{
    if (s == NULL)
        return -1;
    enter(s);
    /* Slot 0 is the next-fit bin of both strategies (see struct sp_stream).
     * Each held length takes an id: never promise more than are left. */
    int64_t room = s->finished ? 0 : s->capacity - s->bins[0].load;
    int64_t ids_left = INT64_MAX - s->next_id;
    room = room < ids_left ? room : ids_left;
    leave(s);
    return room;
}

int sp_stream_state_size(const sp_stream *s, int64_t *size)
{
    if (s == NULL)
        return SP_ERR_NULL_POINTER;
    enter(s);
    int status = state_size(s, size);
    leave(s);
    return status;
}

int sp_stream_export(const sp_stream *s, int64_t *state, int64_t size,
                     int64_t *written)
{
    if (s == NULL)
        return SP_ERR_NULL_POINTER;
    enter(s);
    int status = export_state(s, state, size, written);
    leave(s);
    return status;
}
