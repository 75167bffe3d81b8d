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
 *   - HK small class (slot 0, next fit): like NF.
 * sp_stream_finish() closes the remaining open bins in opening order (by
 * first id), so that sorting all the packs of a stream by first id gives
 * exactly the bins of sp_pack() with the same strategy, in its order.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* One open bin. For NF the ids are implicit: the open bin always holds
 * the last `count` ids accepted. HK bins keep their ids in `ids`, and the
 * buffer is reused by the next bin of the same class. */
typedef struct open_bin {
    int64_t load;
    int64_t count;
    int64_t room; /* allocated entries of ids */
    int64_t *ids;
} open_bin;

/* Closed packs waiting to be read: pack p holds
 * items[offsets[p] .. offsets[p + 1]) and used[p]. */
typedef struct pack_queue {
    int64_t *items;
    int64_t *offsets; /* packs + 1 entries, offsets[0] == 0 */
    int64_t *used;
    int64_t num_packs;
    int64_t items_room;
    int64_t packs_room;
} pack_queue;

struct sp_stream {
    int64_t capacity;
    int strategy;
    int finished;
    int64_t k;
    int64_t next_id;
    int64_t num_open;   /* open bins holding at least one item */
    int64_t open_items; /* items in the open bins */
    int64_t num_slots; /* NF: 1; HK: slot 0 small class, slot i class i */
    open_bin *bins;
    pack_queue queue;
};

/* Format of sp_stream_export(): a header, then each open bin as
 * (slot, load, count, ids...), then each unread pack as
 * (used, count, ids...). */
#define STATE_MAGIC ((int64_t)0x53505354524d3031) /* "SPSTRM01" */
#define STATE_VERSION 1
enum {
    H_MAGIC, H_VERSION, H_CAPACITY, H_STRATEGY, H_K, H_NEXT_ID, H_FINISHED,
    H_OPEN_BINS, H_PACKS, H_HEADER_SIZE
};

/* ---- growable arrays ---------------------------------------------------- */

/* Make *array hold at least `need` int64 entries; *room is its size. */
static int reserve(int64_t **array, int64_t *room, int64_t need)
{
    if (need <= *room)
        return SP_OK;
    int64_t grown = *room < 8 ? 8 : *room;
    while (grown < need)
        grown = grown > INT64_MAX / 2 ? need : grown * 2;
    if ((uint64_t)grown > SIZE_MAX / sizeof(int64_t))
        return SP_ERR_OUT_OF_MEMORY;
    int64_t *bigger = realloc(*array, (size_t)grown * sizeof(int64_t));
    if (bigger == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    *array = bigger;
    *room = grown;
    return SP_OK;
}

/* Room in the queue for `packs` more packs holding `items` more ids. */
static int queue_reserve(pack_queue *q, int64_t packs, int64_t items)
{
    int64_t have = q->offsets[q->num_packs];
    if (items > INT64_MAX - have || packs > INT64_MAX - 1 - q->num_packs)
        return SP_ERR_OVERFLOW;
    if (reserve(&q->items, &q->items_room, have + items) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    int64_t need = q->num_packs + packs;
    if (need > q->packs_room) {
        /* offsets and used share packs_room; grow both to the same size. */
        int64_t room = q->packs_room, offsets_room = room + 1;
        if (reserve(&q->used, &room, need) != SP_OK)
            return SP_ERR_OUT_OF_MEMORY;
        if (reserve(&q->offsets, &offsets_room, room + 1) != SP_OK)
            return SP_ERR_OUT_OF_MEMORY;
        q->packs_room = room;
    }
    return SP_OK;
}

/* Give back what a large batch left behind once it is read, so memory
 * follows the unread packs; small buffers stay for the next batch. */
#define QUEUE_KEEP ((int64_t)1 << 16)

static void queue_trim(pack_queue *q)
{
    if (q->items_room > QUEUE_KEEP) {
        free(q->items);
        q->items = NULL;
        q->items_room = 0;
    }
    if (q->packs_room > QUEUE_KEEP) {
        int64_t *small = realloc(q->offsets, sizeof(int64_t));
        if (small != NULL)
            q->offsets = small;
        free(q->used);
        q->used = NULL;
        q->packs_room = 0;
    }
}

/* ---- closing bins (the queue has room: see reserve_for) ----------------- */

static inline void push_pack_end(pack_queue *q, int64_t end, int64_t used)
{
    q->used[q->num_packs] = used;
    q->offsets[++q->num_packs] = end;
}

/* Close a bin whose ids are first, first + 1, ..., first + count - 1. */
static inline void push_range(pack_queue *q, int64_t first, int64_t count,
                              int64_t used)
{
    int64_t at = q->offsets[q->num_packs];
    for (int64_t j = 0; j < count; j++)
        q->items[at + j] = first + j;
    push_pack_end(q, at + count, used);
}

/* Close a bin holding ids[0..count) and then `extra` (or nothing when
 * extra < 0). */
static inline void push_ids(pack_queue *q, const int64_t *ids, int64_t count,
                            int64_t extra, int64_t used)
{
    int64_t at = q->offsets[q->num_packs];
    if (count > 0)
        memcpy(q->items + at, ids, (size_t)count * sizeof(int64_t));
    at += count;
    if (extra >= 0)
        q->items[at++] = extra;
    push_pack_end(q, at, used);
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

/* NextFit over lengths that are already valid. */
static void nf_run(sp_stream *s, const int64_t *lengths, int64_t n)
{
    open_bin *bin = &s->bins[0];
    pack_queue *q = &s->queue;
    const int64_t cap = s->capacity;
    int64_t load = bin->load, count = bin->count, id = s->next_id;
    for (int64_t j = 0; j < n; j++, id++) {
        int64_t l = lengths[j];
        if (l > cap - load) {
            push_range(q, id - count, count, load);
            load = 0;
            count = 0;
        }
        load += l;
        count++;
        if (load == cap) {
            push_range(q, id + 1 - count, count, load);
            load = 0;
            count = 0;
        }
    }
    bin->load = load;
    bin->count = count;
    s->num_open = count > 0;
    s->open_items = count;
    s->next_id = id;
}

/* Close an HK bin: queue its ids (then `extra` unless extra < 0) and
 * empty it, keeping its buffer for the next bin of its class. */
static inline void hk_close(sp_stream *s, open_bin *bin, int64_t extra,
                            int64_t used)
{
    push_ids(&s->queue, bin->ids, bin->count, extra, used);
    s->num_open -= bin->count > 0;
    s->open_items -= bin->count;
    bin->count = 0;
    bin->load = 0;
}

static inline void hk_append(sp_stream *s, open_bin *bin, int64_t id,
                             int64_t length)
{
    s->num_open += bin->count == 0;
    s->open_items++;
    bin->ids[bin->count++] = id;
    bin->load += length;
}

/* HarmonicK over lengths that are already valid. Stops early only when a
 * bin buffer cannot grow, before touching anything for that length; *done
 * is the number of lengths placed. */
static int hk_run(sp_stream *s, const int64_t *lengths, int64_t n,
                  int64_t *done)
{
    const int64_t cap = s->capacity, k = s->k;
    int status = SP_OK;
    int64_t j = 0;
    for (; j < n; j++) {
        const int64_t l = lengths[j], id = s->next_id;
        const int64_t slot = sp_hk_class(cap, l, k);
        open_bin *bin = &s->bins[slot];
        if (slot > 0 && bin->count + 1 == slot) {
            /* A class-i bin closes with its i-th item, which goes
             * straight to the queue. */
            hk_close(s, bin, id, bin->load + l);
        } else {
            /* The last class is next fit: a bin the item does not fit
             * closes first, and the item starts the next one. */
            const int closes = slot == 0 && l > cap - bin->load;
            if (reserve(&bin->ids, &bin->room, closes ? 1 : bin->count + 1)
                != SP_OK) {
                status = SP_ERR_OUT_OF_MEMORY;
                break;
            }
            if (closes)
                hk_close(s, bin, -1, bin->load);
            hk_append(s, bin, id, l);
            if (slot == 0 && bin->load == cap)
                hk_close(s, bin, -1, bin->load);
        }
        s->next_id = id + 1;
    }
    *done = j;
    return status;
}

/* ---- public entry points ------------------------------------------------- */

static int check_stream_options(const sp_options *o)
{
    /* The same ranges as sp_pack() accepts. */
    if (o->k < 2 || o->k > SP_MAX_K)
        return SP_ERR_INVALID_OPTION;
    if (o->threads < 0 || o->threads > 1024)
        return SP_ERR_INVALID_OPTION;
    return SP_OK;
}

/* A stream with empty open bins and an empty queue, or NULL. */
static sp_stream *stream_new(int64_t capacity, int strategy, int64_t k)
{
    sp_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->capacity = capacity;
    s->strategy = strategy;
    s->k = k;
    /* HK classes are 1 .. min(k - 1, capacity), plus the small class. */
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
    int status = check_stream_options(&opts);
    if (status != SP_OK)
        return status;
    *out = stream_new(capacity, strategy, opts.k);
    return *out == NULL ? SP_ERR_OUT_OF_MEMORY : SP_OK;
}

void sp_stream_free(sp_stream *s)
{
    if (s == NULL)
        return;
    if (s->bins != NULL) {
        for (int64_t i = 0; i < s->num_slots; i++)
            free(s->bins[i].ids);
        free(s->bins);
    }
    free(s->queue.items);
    free(s->queue.offsets);
    free(s->queue.used);
    free(s);
}

int sp_stream_add(sp_stream *s, int64_t length, int64_t *pending_packs)
{
    if (s == NULL)
        return SP_ERR_NULL_POINTER;
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
            status = hk_run(s, &length, 1, &done);
        }
    }
    if (pending_packs != NULL)
        *pending_packs = s->queue.num_packs;
    return status;
}

int sp_stream_add_many(sp_stream *s, const int64_t *lengths, int64_t n,
                       int64_t *pending_packs, int64_t *error_index)
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
            int64_t done;
            status = hk_run(s, lengths, n, &done);
            if (status != SP_OK && error_index != NULL)
                *error_index = done;
        }
    }
    if (pending_packs != NULL)
        *pending_packs = s->queue.num_packs;
    return status;
}

/* The first id of a non-empty open bin. */
static int64_t first_id(const sp_stream *s, const open_bin *bin)
{
    return s->strategy == SP_NF ? s->next_id - bin->count : bin->ids[0];
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int sp_stream_finish(sp_stream *s, int64_t *pending_packs)
{
    if (s == NULL)
        return SP_ERR_NULL_POINTER;
    if (s->finished)
        return SP_ERR_FINISHED;
    int status = reserve_for(s, 0);
    if (status != SP_OK)
        return status;
    if (s->strategy == SP_NF) {
        open_bin *bin = &s->bins[0];
        if (bin->count > 0)
            push_range(&s->queue, s->next_id - bin->count, bin->count, bin->load);
    } else if (s->num_open > 0) {
        /* Pairs (first id, slot), sorted by first id. */
        int64_t *order = malloc((size_t)s->num_open * 2 * sizeof(int64_t));
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
        for (int64_t j = 0; j < m; j++) {
            open_bin *bin = &s->bins[order[2 * j + 1]];
            push_ids(&s->queue, bin->ids, bin->count, -1, bin->load);
        }
        free(order);
    }
    for (int64_t i = 0; i < s->num_slots; i++) {
        open_bin *bin = &s->bins[i];
        free(bin->ids);
        memset(bin, 0, sizeof *bin);
    }
    s->num_open = 0;
    s->open_items = 0;
    s->finished = 1;
    if (pending_packs != NULL)
        *pending_packs = s->queue.num_packs;
    return SP_OK;
}

int sp_stream_pending(const sp_stream *s, int64_t *num_packs,
                      int64_t *num_items)
{
    if (s == NULL || num_packs == NULL || num_items == NULL)
        return SP_ERR_NULL_POINTER;
    *num_packs = s->queue.num_packs;
    *num_items = s->queue.offsets[s->queue.num_packs];
    return SP_OK;
}

int sp_stream_read(sp_stream *s, int64_t *items, int64_t items_size,
                   int64_t *bin_offsets, int64_t offsets_size,
                   int64_t *bin_used, int64_t *num_packs)
{
    if (s == NULL || num_packs == NULL || bin_offsets == NULL)
        return SP_ERR_NULL_POINTER;
    pack_queue *q = &s->queue;
    int64_t packs = q->num_packs, total = q->offsets[packs];
    if (total > 0 && items == NULL)
        return SP_ERR_NULL_POINTER;
    if (items_size < total || offsets_size < packs + 1)
        return SP_ERR_BUFFER_TOO_SMALL;
    if (total > 0)
        memcpy(items, q->items, (size_t)total * sizeof(int64_t));
    memcpy(bin_offsets, q->offsets, (size_t)(packs + 1) * sizeof(int64_t));
    if (bin_used != NULL && packs > 0)
        memcpy(bin_used, q->used, (size_t)packs * sizeof(int64_t));
    *num_packs = packs;
    q->num_packs = 0;
    queue_trim(q);
    return SP_OK;
}

int64_t sp_stream_sequences_added(const sp_stream *s)
{
    return s == NULL ? -1 : s->next_id;
}

int64_t sp_stream_open_bins(const sp_stream *s)
{
    return s == NULL ? -1 : s->num_open;
}

/* ---- state export / import ----------------------------------------------- */

int sp_stream_state_size(const sp_stream *s, int64_t *size)
{
    if (s == NULL || size == NULL)
        return SP_ERR_NULL_POINTER;
    /* Every term is bounded by memory the stream already holds. */
    int64_t n = H_HEADER_SIZE + 3 * s->num_open + 2 * s->queue.num_packs +
                s->queue.offsets[s->queue.num_packs];
    for (int64_t i = 0; i < s->num_slots; i++)
        n += s->bins[i].count;
    *size = n;
    return SP_OK;
}

int sp_stream_export(const sp_stream *s, int64_t *state, int64_t state_size,
                     int64_t *written)
{
    int64_t need;
    int status = sp_stream_state_size(s, &need);
    if (status != SP_OK)
        return status;
    if (state == NULL || written == NULL)
        return SP_ERR_NULL_POINTER;
    if (state_size < need)
        return SP_ERR_BUFFER_TOO_SMALL;
    int64_t *w = state;
    w[H_MAGIC] = STATE_MAGIC;
    w[H_VERSION] = STATE_VERSION;
    w[H_CAPACITY] = s->capacity;
    w[H_STRATEGY] = s->strategy;
    w[H_K] = s->k;
    w[H_NEXT_ID] = s->next_id;
    w[H_FINISHED] = s->finished;
    w[H_OPEN_BINS] = s->num_open;
    w[H_PACKS] = s->queue.num_packs;
    w += H_HEADER_SIZE;
    for (int64_t i = 0; i < s->num_slots; i++) {
        const open_bin *bin = &s->bins[i];
        if (bin->count == 0)
            continue;
        *w++ = i;
        *w++ = bin->load;
        *w++ = bin->count;
        int64_t first = first_id(s, bin);
        for (int64_t j = 0; j < bin->count; j++)
            *w++ = s->strategy == SP_NF ? first + j : bin->ids[j];
    }
    const pack_queue *q = &s->queue;
    for (int64_t p = 0; p < q->num_packs; p++) {
        int64_t count = q->offsets[p + 1] - q->offsets[p];
        *w++ = q->used[p];
        *w++ = count;
        memcpy(w, q->items + q->offsets[p], (size_t)count * sizeof(int64_t));
        w += count;
    }
    *written = w - state;
    return SP_OK;
}

/* Reads a state buffer front to back; every read is bounds-checked. */
typedef struct reader {
    const int64_t *at;
    int64_t left;
} reader;

static int take(reader *r, int64_t *value)
{
    if (r->left <= 0)
        return 0;
    *value = *r->at++;
    r->left--;
    return 1;
}

/* Take `count` ids: strictly increasing, each in [0, next_id). */
static int take_ids(reader *r, int64_t count, int64_t next_id,
                    const int64_t **ids)
{
    if (count < 1 || count > r->left)
        return 0;
    *ids = r->at;
    for (int64_t j = 0; j < count; j++) {
        int64_t id = r->at[j];
        if (id < 0 || id >= next_id || (j > 0 && id <= r->at[j - 1]))
            return 0;
    }
    r->at += count;
    r->left -= count;
    return 1;
}

/* Could a bin of this slot hold `count` items summing to `load`, without
 * having closed already? Each length l of HK class i has
 * capacity / (i + 1) < l <= capacity / i, and the last class has
 * l <= capacity / k. Written so that no product can overflow. */
static int plausible_open_bin(const sp_stream *s, int64_t slot, int64_t load,
                              int64_t count)
{
    const int64_t cap = s->capacity;
    if (count < 1 || load < count || load >= cap)
        return 0;
    if (s->strategy == SP_NF)
        return 1;
    if (slot == 0) {
        const int64_t most = cap / s->k; /* the longest length of the class */
        return most > 0 && load / most + (load % most != 0) <= count;
    }
    if (count >= slot)
        return 0;
    /* count < slot, so these products are at most cap. */
    const int64_t above = count * (cap / (slot + 1)), most = count * (cap / slot);
    return load - above >= count && load <= most;
}

/* Every id of the state appears once: sort a copy and look for repeats. */
static int ids_distinct(const int64_t *all, int64_t n)
{
    if (n < 2)
        return 1;
    int64_t *copy = sp_alloc_array(n, sizeof(int64_t));
    if (copy == NULL)
        return -1;
    memcpy(copy, all, (size_t)n * sizeof(int64_t));
    qsort(copy, (size_t)n, sizeof(int64_t), compare_int64);
    int ok = 1;
    for (int64_t j = 1; j < n && ok; j++)
        ok = copy[j] != copy[j - 1];
    free(copy);
    return ok;
}

static int import_body(sp_stream *s, reader *r, int64_t open_bins,
                       int64_t packs, int64_t **seen, int64_t *num_seen)
{
    const int64_t next_id = s->next_id;
    int64_t value, slot, load, count;
    const int64_t *ids;
    for (int64_t b = 0; b < open_bins; b++) {
        if (!take(r, &slot) || !take(r, &load) || !take(r, &count))
            return SP_ERR_INVALID_OPTION;
        if (slot < 0 || slot >= s->num_slots || s->bins[slot].count > 0 ||
            !plausible_open_bin(s, slot, load, count) ||
            !take_ids(r, count, next_id, &ids))
            return SP_ERR_INVALID_OPTION;
        open_bin *bin = &s->bins[slot];
        if (s->strategy == SP_NF) {
            /* NF's open bin holds the latest ids, implicitly. */
            if (ids[0] != next_id - count)
                return SP_ERR_INVALID_OPTION;
        } else {
            if (reserve(&bin->ids, &bin->room, count) != SP_OK)
                return SP_ERR_OUT_OF_MEMORY;
            memcpy(bin->ids, ids, (size_t)count * sizeof(int64_t));
        }
        bin->count = count;
        bin->load = load;
        s->num_open++;
        s->open_items += count;
    }
    for (int64_t p = 0; p < packs; p++) {
        if (!take(r, &value) || !take(r, &count))
            return SP_ERR_INVALID_OPTION;
        if (value < count || value > s->capacity ||
            !take_ids(r, count, next_id, &ids))
            return SP_ERR_INVALID_OPTION;
        int status = queue_reserve(&s->queue, 1, count);
        if (status != SP_OK)
            return status;
        push_ids(&s->queue, ids, count, -1, value);
    }
    if (r->left != 0)
        return SP_ERR_INVALID_OPTION;
    /* Gather every id once more to check no id is in two places. */
    int64_t total = s->queue.offsets[s->queue.num_packs] + s->open_items;
    *seen = sp_alloc_array(total, sizeof(int64_t));
    if (*seen == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    int64_t m = s->queue.offsets[s->queue.num_packs];
    if (m > 0)
        memcpy(*seen, s->queue.items, (size_t)m * sizeof(int64_t));
    for (int64_t i = 0; i < s->num_slots; i++) {
        const open_bin *bin = &s->bins[i];
        if (bin->count == 0)
            continue;
        int64_t first = first_id(s, bin);
        for (int64_t j = 0; j < bin->count; j++)
            (*seen)[m++] = s->strategy == SP_NF ? first + j : bin->ids[j];
    }
    *num_seen = m;
    return SP_OK;
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
        return SP_ERR_INVALID_OPTION;
    int64_t strategy = state[H_STRATEGY], next_id = state[H_NEXT_ID];
    int64_t finished = state[H_FINISHED], open_bins = state[H_OPEN_BINS];
    int64_t packs = state[H_PACKS];
    if (strategy != SP_NF && strategy != SP_HK)
        return SP_ERR_INVALID_OPTION;
    sp_options opts;
    sp_options_init(&opts);
    opts.k = state[H_K];
    int status = sp_stream_create(state[H_CAPACITY], (int)strategy, &opts, out);
    if (status != SP_OK)
        return status == SP_ERR_OUT_OF_MEMORY ? status : SP_ERR_INVALID_OPTION;
    sp_stream *s = *out;
    *out = NULL;
    /* Each open bin and pack takes at least 3 entries of the buffer,
     * which bounds the counts before anything is allocated for them. */
    int64_t body = state_size - H_HEADER_SIZE;
    if (next_id < 0 || (finished != 0 && finished != 1) || open_bins < 0 ||
        packs < 0 || open_bins > s->num_slots || open_bins > body / 3 ||
        packs > body / 3 || (finished && open_bins != 0)) {
        sp_stream_free(s);
        return SP_ERR_INVALID_OPTION;
    }
    s->next_id = next_id;
    s->finished = (int)finished;
    reader r = {state + H_HEADER_SIZE, body};
    int64_t *seen = NULL, num_seen = 0;
    status = import_body(s, &r, open_bins, packs, &seen, &num_seen);
    if (status == SP_OK) {
        int distinct = ids_distinct(seen, num_seen);
        status = distinct < 0   ? SP_ERR_OUT_OF_MEMORY
                 : distinct == 0 ? SP_ERR_INVALID_OPTION
                                 : SP_OK;
    }
    free(seen);
    if (status != SP_OK) {
        sp_stream_free(s);
        return status;
    }
    *out = s;
    return SP_OK;
}
