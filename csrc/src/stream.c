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

#include "stream_internal.h"

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
int sp_reserve_pair(int64_t **a, int64_t **b, int64_t *room, int64_t need)
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
int sp_queue_reserve(pack_queue *q, int64_t packs, int64_t items)
{
    int64_t have = q->offsets[q->num_packs];
    if (items > INT64_MAX - have || packs > INT64_MAX - 1 - q->num_packs)
        return SP_ERR_OVERFLOW;
    if (sp_reserve_pair(&q->items, &q->lengths, &q->items_room, have + items)
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


/* Every open bin may close while n more items arrive, and each of them may
 * close a bin of its own: make room for all of it before a batch, so the
 * packing loops never allocate for the queue. */
static int reserve_for(sp_stream *s, int64_t n)
{
    if (n > INT64_MAX - s->open_items || n > INT64_MAX - s->num_open)
        return SP_ERR_OVERFLOW;
    return sp_queue_reserve(&s->queue, s->num_open + n, s->open_items + n);
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

/* NextFit over lengths that are already valid, closing packs into q (the
 * stream's queue, or the caller's buffers in sp_stream_pack_many(), where
 * lengths and used may be NULL). The open bin's items are written
 * straight after the last pack; closing it only ends a pack. */
static void nf_run(sp_stream *s, pack_queue *q, const int64_t *lengths,
                   int64_t n)
{
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
        if (item_lengths != NULL)
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

/* Copy the items of an HK bin to items[at ..] (and their lengths, unless
 * item_lengths is NULL); returns the position after them. */
static inline int64_t hk_copy_out(const open_bin *bin, int64_t *items,
                                  int64_t *item_lengths, int64_t at)
{
    for (int64_t i = 0; i < bin->count; i++)
        items[at + i] = bin->ids[i];
    if (item_lengths != NULL)
        for (int64_t i = 0; i < bin->count; i++)
            item_lengths[at + i] = bin->lengths[i];
    return at + bin->count;
}

/* Write an HK bin to q as pack *packs, its items from *at, and empty it.
 * The fill counts are the caller's (hk_run keeps them in locals). */
static inline void hk_emit(open_bin *bin, const pack_queue *q, int64_t *at,
                           int64_t *packs)
{
    *at = hk_copy_out(bin, q->items, q->lengths, *at);
    if (q->used != NULL)
        q->used[*packs] = bin->load;
    q->offsets[++*packs] = *at;
    bin->count = 0;
    bin->load = 0;
}

/* Close an open HK bin into q as one pack (finish()). */
static void hk_close(sp_stream *s, pack_queue *q, open_bin *bin)
{
    int64_t at = q->offsets[q->num_packs];
    s->num_open -= bin->count > 0;
    s->open_items -= bin->count;
    hk_emit(bin, q, &at, &q->num_packs);
}

/* hk_run's counters, kept in locals while it runs: stores to the int64
 * output arrays could alias the stream's int64 fields, which would
 * otherwise be reloaded and stored for every item. */
typedef struct hk_cursor {
    int64_t packs, at, id, num_open, open_items;
} hk_cursor;

/* Place one length of class `slot` by the plain rules: a class-i bin
 * closes with its i-th item, which goes straight out after the others; the
 * last class (slot 0) is next fit. SP_ERR_OUT_OF_MEMORY when a bin buffer
 * cannot grow, before anything changes. */
static inline int hk_place(open_bin *bin, pack_queue *q, hk_cursor *c,
                           int64_t slot, int64_t l, int64_t cap)
{
    int64_t *const items = q->items, *const item_lengths = q->lengths;
    const int64_t count = bin->count;
    if (slot > 0 && count + 1 == slot) {
        c->at = hk_copy_out(bin, items, item_lengths, c->at);
        items[c->at] = c->id;
        if (item_lengths != NULL)
            item_lengths[c->at] = l;
        c->at++;
        if (q->used != NULL)
            q->used[c->packs] = bin->load + l;
        q->offsets[++c->packs] = c->at;
        c->num_open -= count > 0;
        c->open_items -= count;
        bin->count = 0;
        bin->load = 0;
        return SP_OK;
    }
    /* A next-fit bin the item does not fit closes first, and the item
     * starts the next one. */
    const int closes = slot == 0 && l > cap - bin->load;
    if (sp_reserve_pair(&bin->ids, &bin->lengths, &bin->room,
                        closes ? 1 : count + 1) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    if (closes) {
        c->num_open--;
        c->open_items -= count;
        hk_emit(bin, q, &c->at, &c->packs);
    }
    c->num_open += bin->count == 0;
    c->open_items++;
    bin->ids[bin->count] = c->id;
    bin->lengths[bin->count++] = l;
    bin->load += l;
    if (slot == 0 && bin->load == cap) {
        c->num_open--;
        c->open_items -= bin->count;
        hk_emit(bin, q, &c->at, &c->packs);
    }
    return SP_OK;
}

/* A class-i bin holds at most i - 1 items before its last one comes, so
 * with few classes hk_run_blocks() can write a class bin out as a fixed
 * block of entries whether it closes or not, and advance the output by
 * its count or by 0. Whether a bin closes is a coin toss for random
 * lengths, and the mispredicted branch on it was most of the plain loop's
 * time. HK_BLOCK_SMALL serves k <= 10 (the default), HK_BLOCK k <= 18. */
#define HK_BLOCK_SMALL 8
#define HK_BLOCK 16
/* Shorter batches take the plain loop: setting the blocks up costs more. */
#define HK_BLOCKS_MIN_BATCH 256

/* The class bins while hk_run_blocks() runs, in one small array each
 * (no pointer to follow per item): bin `slot` holds counts[slot] items,
 * ids[slot][..] and lengths[slot][..], with a spare entry past the block
 * (see hk_run_blocks). Slot 0, the next-fit bin, stays in the stream. */
typedef struct hk_blocks {
    int64_t counts[HK_BLOCK + 2];
    int64_t loads[HK_BLOCK + 2];
    int64_t ids[HK_BLOCK + 2][HK_BLOCK + 1];
    int64_t lengths[HK_BLOCK + 2][HK_BLOCK + 1];
} hk_blocks;

/* The block size hk_run_blocks() can use, or 0. It needs a long batch
 * with a class table (so capacity <= n / 4), a largest class whose items
 * but the last fit in a block, output lengths and used both present or
 * both absent, room for a block in every class bin and for capacity + 1
 * items in the next-fit bin (so that nothing grows during the loop).
 * Fills b when it returns a size. */
static int64_t hk_blocks_load(sp_stream *s, const pack_queue *q, int64_t n,
                              const int32_t *class_of, hk_blocks *b)
{
    const int64_t most_held = s->num_slots - 2; /* by the largest class */
    const int64_t block = most_held <= HK_BLOCK_SMALL ? HK_BLOCK_SMALL
                          : most_held <= HK_BLOCK     ? HK_BLOCK
                                                      : 0;
    if (block == 0 || n < HK_BLOCKS_MIN_BATCH || class_of == NULL ||
        (q->lengths == NULL) != (q->used == NULL))
        return 0;
    open_bin *next_fit = &s->bins[0];
    if (sp_reserve_pair(&next_fit->ids, &next_fit->lengths, &next_fit->room,
                        s->capacity + 1) != SP_OK)
        return 0;
    memset(b, 0, sizeof *b); /* blocks copy whole rows: no garbage */
    for (int64_t slot = 1; slot < s->num_slots; slot++) {
        open_bin *bin = &s->bins[slot];
        if (sp_reserve_pair(&bin->ids, &bin->lengths, &bin->room, block)
            != SP_OK)
            return 0;
        b->counts[slot] = bin->count;
        b->loads[slot] = bin->load;
        memcpy(b->ids[slot], bin->ids, (size_t)bin->count * sizeof(int64_t));
        memcpy(b->lengths[slot], bin->lengths,
               (size_t)bin->count * sizeof(int64_t));
    }
    return block;
}

/* Back into the stream's class bins, with its open-bin counts. Without
 * output lengths, hk_run_blocks() keeps no lengths in b: a held id from
 * the batch (first_id on) takes its length from there, and an older one
 * still has its own in the bin, at the same place (its bin never
 * closed). */
static void hk_blocks_store(sp_stream *s, const hk_blocks *b, hk_cursor *c,
                            const int64_t *lengths, int64_t first_id,
                            int with_lengths)
{
    c->num_open = s->bins[0].count > 0;
    c->open_items = s->bins[0].count;
    for (int64_t slot = 1; slot < s->num_slots; slot++) {
        open_bin *bin = &s->bins[slot];
        bin->count = b->counts[slot];
        bin->load = 0;
        for (int64_t i = 0; i < bin->count; i++) {
            const int64_t id = b->ids[slot][i];
            bin->ids[i] = id;
            if (with_lengths)
                bin->lengths[i] = b->lengths[slot][i];
            else if (id >= first_id)
                bin->lengths[i] = lengths[id - first_id];
            bin->load += bin->lengths[i];
        }
        c->num_open += bin->count > 0;
        c->open_items += bin->count;
    }
}

/* Write the next-fit bin (count items of ids and lengths, with load) out
 * as a pack at *at (hk_run_blocks). */
static inline void hk_emit_next_fit(const int64_t *ids, const int64_t *lengths,
                                    int64_t count, int64_t load, pack_queue *q,
                                    int64_t *at, int64_t *packs,
                                    int with_lengths)
{
    memcpy(q->items + *at, ids, (size_t)count * sizeof(int64_t));
    if (with_lengths) {
        memcpy(q->lengths + *at, lengths, (size_t)count * sizeof(int64_t));
        q->used[*packs] = load;
    }
    *at += count;
    q->offsets[++*packs] = *at;
}

/* HK over lengths[0 .. n - block), with no branch on whether a class bin
 * closes (see HK_BLOCK). A class bin's held items go out as a block and
 * the new item after them, in the output and in the bin; in the bin past
 * the block when it closes, so a class-1 bin, which closes at every item,
 * never has its block written and the next block read from it never
 * waits for a store (a wide load over a recent narrow store stalls).
 * Lengths of the last class go to the next-fit bin, whose buffer already
 * has room for a whole bin. A block lands past the written output when
 * its bin stays open; `block` items before the end of the batch the
 * buffers surely have room for it (each item adds at most one id and one
 * pack). Without output lengths the class bins keep only ids (see
 * hk_blocks_store), which also sets the open-bin counts of the cursor.
 * Returns the number of lengths placed. block and with_lengths are
 * constants at each call, so the compiler writes a loop for each. */
static SP_ALWAYS_INLINE int64_t hk_run_blocks(sp_stream *s, pack_queue *q,
                                             hk_blocks *b,
                                             const int64_t *lengths, int64_t n,
                                             const int32_t *class_of, hk_cursor *c,
                                             const int64_t block,
                                             const int with_lengths)
{
    const int64_t cap = s->capacity;
    /* The next-fit bin's counters in locals, as in hk_cursor. */
    open_bin *const next_fit = &s->bins[0];
    int64_t *const fit_ids = next_fit->ids, *const fit_lengths = next_fit->lengths;
    int64_t fit_count = next_fit->count, fit_load = next_fit->load;
    int64_t *const items = q->items, *const item_lengths = q->lengths;
    int64_t *const offsets = q->offsets, *const used = q->used;
    int64_t at = c->at, packs = c->packs, id = c->id;
    int64_t j = 0;
    for (; j < n - block; j++, id++) {
        const int64_t l = lengths[j];
        const int64_t slot = class_of[l - 1];
        if (slot == 0) { /* the next-fit bin */
            if (l > cap - fit_load) {
                hk_emit_next_fit(fit_ids, fit_lengths, fit_count, fit_load, q,
                                 &at, &packs, with_lengths);
                fit_count = fit_load = 0;
            }
            fit_ids[fit_count] = id;
            fit_lengths[fit_count++] = l;
            fit_load += l;
            if (fit_load == cap) {
                hk_emit_next_fit(fit_ids, fit_lengths, fit_count, fit_load, q,
                                 &at, &packs, with_lengths);
                fit_count = fit_load = 0;
            }
            continue;
        }
        const int64_t count = b->counts[slot];
        const int64_t closes = count + 1 == slot;
        const int64_t stays = 1 - closes;
        /* Kept after the held ones, or past the block when it closes. */
        const int64_t keep_at = count + ((block - count) & -closes);
        memcpy(items + at, b->ids[slot], (size_t)block * sizeof(int64_t));
        items[at + count] = id;
        b->ids[slot][keep_at] = id;
        if (with_lengths) {
            b->lengths[slot][keep_at] = l;
            const int64_t load = b->loads[slot] + l;
            memcpy(item_lengths + at, b->lengths[slot], (size_t)block * sizeof(int64_t));
            item_lengths[at + count] = l;
            used[packs] = load;
            b->loads[slot] = load & -stays;
        }
        at += slot & -closes;
        packs += closes;
        offsets[packs] = at;
        b->counts[slot] = (count + 1) & -stays;
    }
    next_fit->count = fit_count;
    next_fit->load = fit_load;
    c->at = at, c->packs = packs, c->id = id;
    return j;
}

/* HarmonicK over lengths that are already valid, closing packs into q (as
 * in nf_run). class_of, when not NULL, holds the class of every length
 * 1..capacity (saves a division per item). Stops early only when a bin
 * buffer cannot grow, before touching anything for that length; *done is
 * the number of lengths placed. */
static int hk_run(sp_stream *s, pack_queue *q, const int64_t *lengths,
                  int64_t n, const int32_t *class_of, int64_t *done)
{
    const int64_t cap = s->capacity, k = s->k;
    hk_cursor c = {q->num_packs, q->offsets[q->num_packs], s->next_id,
                   s->num_open, s->open_items};
    int status = SP_OK;
    int64_t j = 0;
    hk_blocks blocks;
    const int64_t block = hk_blocks_load(s, q, n, class_of, &blocks);
    const int with_lengths = q->lengths != NULL;
    if (block == HK_BLOCK_SMALL)
        j = with_lengths
                ? hk_run_blocks(s, q, &blocks, lengths, n, class_of, &c, HK_BLOCK_SMALL, 1)
                : hk_run_blocks(s, q, &blocks, lengths, n, class_of, &c, HK_BLOCK_SMALL, 0);
    else if (block == HK_BLOCK)
        j = with_lengths
                ? hk_run_blocks(s, q, &blocks, lengths, n, class_of, &c, HK_BLOCK, 1)
                : hk_run_blocks(s, q, &blocks, lengths, n, class_of, &c, HK_BLOCK, 0);
    if (block != 0)
        hk_blocks_store(s, &blocks, &c, lengths, s->next_id, with_lengths);
    for (; j < n && status == SP_OK; j++, c.id++) {
        const int64_t l = lengths[j];
        const int64_t slot = class_of ? class_of[l - 1] : sp_hk_class(cap, l, k);
        status = hk_place(&s->bins[slot], q, &c, slot, l, cap);
        if (status != SP_OK)
            break;
    }
    q->num_packs = c.packs;
    s->next_id = c.id;
    s->num_open = c.num_open;
    s->open_items = c.open_items;
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
    int status = sp_options_check(&opts);
    if (status != SP_OK)
        return status;
    *out = stream_new(capacity, strategy, opts.k);
    if (*out == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    (*out)->threads = opts.threads;
    return SP_OK;
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
            nf_run(s, &s->queue, &length, 1);
        } else {
            int64_t done;
            status = hk_run(s, &s->queue, &length, 1, NULL, &done);
        }
    }
    return status;
}

/* Lengths are checked in blocks: a block with no bad length passes in one
 * branch-free (vectorisable) sweep, and only a block with one is searched. */
#define CHECK_BLOCK 4096

/* SP_OK when every length of the batch is in [1, capacity]; else the
 * status of the first bad one, whose index goes to *error_index. */
static int check_batch(const sp_stream *s, const int64_t *lengths, int64_t n,
                       int64_t *error_index)
{
    const uint64_t cap = (uint64_t)s->capacity;
    for (int64_t start = 0; start < n; start += CHECK_BLOCK) {
        const int64_t end = n - start < CHECK_BLOCK ? n : start + CHECK_BLOCK;
        /* l - 1 and cap - l are both in [0, cap) for a good length; for a
         * bad one (l < 1, or l > cap) either has its top bit set. Only
         * subtractions and ors, which SSE2 does two at a time (a 64-bit
         * compare needs SSE4.2). */
        uint64_t bad = 0;
        for (int64_t j = start; j < end; j++)
            bad |= ((uint64_t)lengths[j] - 1u) | (cap - (uint64_t)lengths[j]);
        if (bad >> 63 == 0)
            continue;
        for (int64_t j = start; j < end; j++) {
            int status = check_length(s, lengths[j]);
            if (status != SP_OK) {
                if (error_index != NULL)
                    *error_index = j;
                return status;
            }
        }
    }
    return SP_OK;
}

/* What every batch call checks before it changes anything: the handle and
 * buffer, a stream not finished, every length valid, ids left. */
static int begin_batch(const sp_stream *s, const int64_t *lengths, int64_t n,
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
    /* The whole batch first, so a bad length leaves the stream exactly as
     * it was (no item of the batch accepted). */
    int status = check_batch(s, lengths, n, error_index);
    if (status != SP_OK)
        return status;
    return n > INT64_MAX - s->next_id ? SP_ERR_OVERFLOW : SP_OK;
}

/* Pack a checked batch, closing packs into q. Only a failed bin allocation
 * stops HK early: the lengths before it stay accepted and *done (always
 * set) counts them. */
static int run_batch(sp_stream *s, pack_queue *q, const int64_t *lengths,
                     int64_t n, int64_t *done)
{
    if (s->strategy == SP_NF) {
        nf_run(s, q, lengths, n);
        *done = n;
        return SP_OK;
    }
    /* A long batch amortises a table of the classes of all lengths;
     * without one (or without memory) each is divided. */
    int32_t *class_of = NULL;
    if (s->capacity <= n / 4)
        class_of = sp_alloc_array(s->capacity, sizeof(int32_t));
    for (int64_t l = 1; class_of != NULL && l <= s->capacity; l++)
        class_of[l - 1] = (int32_t)sp_hk_class(s->capacity, l, s->k);
    int status = hk_run(s, q, lengths, n, class_of, done);
    free(class_of);
    return status;
}

static int add_many(sp_stream *s, const int64_t *lengths, int64_t n,
                    int64_t *error_index)
{
    int status = begin_batch(s, lengths, n, error_index);
    if (status == SP_OK)
        status = reserve_for(s, n);
    if (status != SP_OK)
        return status;
    int64_t done;
    status = run_batch(s, &s->queue, lengths, n, &done);
    if (status != SP_OK && error_index != NULL)
        *error_index = done;
    return status;
}

/* The buffer sizes sp_stream_pack_many() needs for n more lengths: every
 * unread pack and open bin may close, and every length close a pack. */
static int pack_many_bound(const sp_stream *s, int64_t n, int64_t *items_size,
                           int64_t *packs_size)
{
    const pack_queue *q = &s->queue;
    const int64_t queued = q->offsets[q->num_packs];
    if (n < 0)
        return SP_ERR_NEGATIVE_COUNT;
    if (n > INT64_MAX - queued - s->open_items ||
        n > INT64_MAX - q->num_packs - s->num_open)
        return SP_ERR_OVERFLOW;
    *items_size = queued + s->open_items + n;
    *packs_size = q->num_packs + s->num_open + n;
    return SP_OK;
}

/* NF after a batch of n lengths written to the caller's buffers: its open
 * bin (count items, the latest ids, so consecutive) goes back to the front
 * of the emptied queue. Its lengths are the last ones of the old open bin
 * followed by the batch; old_at is where the old bin's lengths begin in
 * the queue. The queue has room (see pack_many). */
static void nf_keep_open_bin(sp_stream *s, const int64_t *lengths, int64_t n,
                             int64_t old_at)
{
    pack_queue *q = &s->queue;
    const int64_t count = s->bins[0].count;
    if (count == 0)
        return; /* (the queue may have no buffers at all) */
    const int64_t from_batch = count < n ? count : n, kept = count - from_batch;
    /* kept > 0 only when no pack closed: the whole old bin stays. */
    memmove(q->lengths, q->lengths + old_at, (size_t)kept * sizeof(int64_t));
    if (from_batch > 0)
        memcpy(q->lengths + kept, lengths + n - from_batch,
               (size_t)from_batch * sizeof(int64_t));
    for (int64_t j = 0; j < count; j++)
        q->items[j] = s->next_id - count + j;
}

/* sp_stream_pack_many() into out, the caller's buffers seen as an empty
 * queue whose rooms are their sizes. */
static int pack_many(sp_stream *s, const int64_t *lengths, int64_t n,
                     pack_queue *out, int64_t *num_packs, int64_t *error_index)
{
    int status = begin_batch(s, lengths, n, error_index);
    if (status != SP_OK)
        return status;
    if (num_packs == NULL || out->items == NULL || out->offsets == NULL)
        return SP_ERR_NULL_POINTER;
    int64_t need_items, need_packs;
    status = pack_many_bound(s, n, &need_items, &need_packs);
    if (status != SP_OK)
        return status;
    if (out->items_room < need_items || out->packs_room < need_packs)
        return SP_ERR_BUFFER_TOO_SMALL;
    pack_queue *q = &s->queue;
    const int64_t queued = q->offsets[q->num_packs];
    const int64_t nf_open = s->strategy == SP_NF ? s->bins[0].count : 0;
    if (s->strategy == SP_NF) {
        /* NF's open bin comes back to the front of the queue afterwards:
         * at most the old one plus the batch, and at most capacity items
         * (nf_open <= capacity: each length is >= 1). */
        int64_t most = n < s->capacity - nf_open ? nf_open + n : s->capacity;
        if (sp_reserve_pair(&q->items, &q->lengths, &q->items_room, most)
            != SP_OK)
            return SP_ERR_OUT_OF_MEMORY;
    }
    sp_prefault prefault = {
        .start = {out->items},
        .bytes = {(size_t)need_items * sizeof(int64_t)},
        .ranges = 1,
    };
    sp_prefault_start(&prefault, (int)s->threads);
    /* The unread packs first (with NF's open bin after them, where nf_run
     * continues it), then the batch closes its packs behind them. */
    const int64_t copied = queued + nf_open;
    if (copied > 0) { /* else the queue may have no buffers yet */
        memcpy(out->items, q->items, (size_t)copied * sizeof(int64_t));
        if (out->lengths != NULL)
            memcpy(out->lengths, q->lengths, (size_t)copied * sizeof(int64_t));
    }
    memcpy(out->offsets, q->offsets, (size_t)(q->num_packs + 1) * sizeof(int64_t));
    if (out->used != NULL && q->num_packs > 0)
        memcpy(out->used, q->used, (size_t)q->num_packs * sizeof(int64_t));
    out->num_packs = q->num_packs;
    int64_t done;
    status = run_batch(s, out, lengths, n, &done);
    if (s->strategy == SP_NF)
        nf_keep_open_bin(s, lengths, n, queued);
    q->num_packs = 0;
    queue_trim(q, s->strategy == SP_NF ? s->bins[0].count : 0);
    *num_packs = out->num_packs;
    if (status != SP_OK && error_index != NULL)
        *error_index = done;
    sp_prefault_join(&prefault);
    return status;
}

int sp_compare_int64(const void *a, const void *b)
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
        qsort(order, (size_t)m, 2 * sizeof(int64_t), sp_compare_int64);
        for (int64_t j = 0; j < m; j++)
            hk_close(s, &s->queue, &s->bins[order[2 * j + 1]]);
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

int sp_stream_pack_many_bound(const sp_stream *s, int64_t n,
                              int64_t *items_size, int64_t *packs_size)
{
    if (s == NULL || items_size == NULL || packs_size == NULL)
        return SP_ERR_NULL_POINTER;
    enter(s);
    int status = pack_many_bound(s, n, items_size, packs_size);
    leave(s);
    return status;
}

int sp_stream_pack_many(sp_stream *s, const int64_t *lengths, int64_t n,
                        int64_t *items, int64_t *item_lengths,
                        int64_t items_size, int64_t *bin_offsets,
                        int64_t *bin_used, int64_t packs_size,
                        int64_t *num_packs, int64_t *error_index)
{
    if (num_packs != NULL)
        *num_packs = 0;
    if (s == NULL) {
        if (error_index != NULL)
            *error_index = -1;
        return SP_ERR_NULL_POINTER;
    }
    pack_queue out = {
        .items = items,
        .lengths = item_lengths,
        .items_room = items_size,
        .offsets = bin_offsets,
        .used = bin_used,
        .packs_room = packs_size,
    };
    enter(s);
    int status = pack_many(s, lengths, n, &out, num_packs, error_index);
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

int sp_stream_state_size(const sp_stream *s, int64_t *size)
{
    if (s == NULL)
        return SP_ERR_NULL_POINTER;
    enter(s);
    int status = sp_stream_measure_state(s, size);
    leave(s);
    return status;
}

int sp_stream_export(const sp_stream *s, int64_t *state, int64_t size,
                     int64_t *written)
{
    if (s == NULL)
        return SP_ERR_NULL_POINTER;
    enter(s);
    int status = sp_stream_write_state(s, state, size, written);
    leave(s);
    return status;
}
