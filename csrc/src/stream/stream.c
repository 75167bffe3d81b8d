/*
 * stream.c - online packing of a stream of lengths with bounded memory:
 * NextFit and HarmonicK behind the opaque sp_stream handle.
 *
 * A stream keeps its open bins and a queue of the packs that have closed
 * but have not been read yet (stream_queue.c). Nothing else grows with the
 * number of items seen, so memory is bounded by the open bins plus the
 * unread packs.
 *
 * Both strategies follow the Harmonic-K rule of internal.h: NextFit is its
 * k = 1 case, where every length is in the last class (slot 0, next fit).
 * Ids are 0, 1, 2, ... in the order lengths are accepted. A bin closes
 * (goes to the queue) as soon as it can take nothing more:
 *   - slot 0 (NF's bin, HK's last class): the next item of the slot does
 *     not fit, or the bin is exactly full;
 *   - HK class i (slot i, 1 <= i < k): when it holds i items.
 * sp_stream_finish() closes the remaining open bins in opening order (by
 * first id), so that sorting all the packs of a stream by first id gives
 * exactly the bins of sp_pack() with the same strategy, in its order.
 *
 * With an item limit m (sp_options.max_items), a bin also closes as soon
 * as it holds m items (a class-i bin at min(i, m)).
 *
 * Every open bin keeps its ids and lengths in its own buffers. Three loops
 * place items by the rule: place() one at a time (any batch, any limit),
 * nf_run() for NF batches and hk_run_blocks() for long HK batches without
 * an item limit, the last two only for speed.
 */
#include <stdlib.h>
#include <string.h>

#include "stream/stream_internal.h"

/* Room in the queue for all that n more lengths can close: every open bin
 * and a pack per length. Made before a batch, so the packing loops never
 * allocate for the queue. */
static int reserve_for(sp_stream *s, int64_t n)
{
    if (n > INT64_MAX - s->open_items || n > INT64_MAX - s->num_open)
        return SP_ERR_OVERFLOW;
    return spi_queue_reserve(&s->queue, s->num_open + n, s->open_items + n);
}

/* ---- placing items ---------------------------------------------------------
 * The loops write packs into q: the stream's queue, or the caller's
 * buffers in sp_stream_pack_many() (whose lengths and used may be NULL).
 * Their counters live in a cursor while they run: stores to the int64
 * output arrays could alias the stream's int64 fields, which would
 * otherwise be reloaded and stored for every item. */
typedef struct cursor {
    int64_t packs, at, id, num_open, open_items;
} cursor;

static cursor cursor_start(const sp_stream *s, const pack_queue *q)
{
    cursor c = {q->num_packs, spi_queue_items(q), s->next_id, s->num_open,
                s->open_items};
    return c;
}

static void cursor_store(sp_stream *s, pack_queue *q, const cursor *c)
{
    q->num_packs = c->packs;
    s->next_id = c->id;
    s->num_open = c->num_open;
    s->open_items = c->open_items;
}

/* Copy a bin's items to items[at ..] (and their lengths, unless
 * item_lengths is NULL); returns the position after them. */
static inline int64_t copy_bin(const open_bin *bin, int64_t *items,
                               int64_t *item_lengths, int64_t at)
{
    for (int64_t i = 0; i < bin->count; i++)
        items[at + i] = bin->ids[i];
    if (item_lengths != NULL)
        for (int64_t i = 0; i < bin->count; i++)
            item_lengths[at + i] = bin->lengths[i];
    return at + bin->count;
}

/* Write a bin to q as pack *packs, its items from *at, and empty it. The
 * open-bin counts are the caller's. */
static inline void emit_bin(open_bin *bin, const pack_queue *q, int64_t *at,
                            int64_t *packs)
{
    *at = copy_bin(bin, q->items, q->lengths, *at);
    if (q->used != NULL)
        q->used[*packs] = bin->load;
    q->offsets[++*packs] = *at;
    bin->count = 0;
    bin->load = 0;
}

/* Place one length l of slot `slot` into its bin. A class bin that this
 * item completes goes straight out with it; a next-fit bin it does not
 * fit closes first, and one it fills exactly closes after it.
 * SP_ERR_OUT_OF_MEMORY when a bin buffer cannot grow, before anything
 * changes. */
static inline int place(open_bin *bin, pack_queue *q, cursor *c, int64_t slot,
                        int64_t l, int64_t cap, int64_t limit)
{
    int64_t *const items = q->items, *const item_lengths = q->lengths;
    const int64_t count = bin->count;
    if (slot > 0 && spi_hk_class_closes(slot, count, limit)) {
        c->at = copy_bin(bin, items, item_lengths, c->at);
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
    const int closes = slot == 0 &&
                       spi_next_fit_closes_before(bin->load, count, l, cap, limit);
    if (spi_reserve_pair(&bin->ids, &bin->lengths, &bin->room,
                         closes ? 1 : count + 1) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    if (closes) {
        c->num_open--;
        c->open_items -= count;
        emit_bin(bin, q, &c->at, &c->packs);
    }
    c->num_open += bin->count == 0;
    c->open_items++;
    bin->ids[bin->count] = c->id;
    bin->lengths[bin->count++] = l;
    bin->load += l;
    if (slot == 0 && (bin->load == cap || bin->count == limit)) {
        c->num_open--;
        c->open_items -= bin->count;
        emit_bin(bin, q, &c->at, &c->packs);
    }
    return SP_OK;
}

/* A length outside [1, capacity] where a loop reads it: nf_run() checks
 * every length so (it is not checked before); the other loops meet one
 * only when another thread has written the caller's buffer since the
 * check, and stop there (see run_batch). */
static inline int changed(int64_t length, int64_t capacity)
{
    return (uint64_t)length - 1u >= (uint64_t)capacity;
}

/* NextFit over a batch, written straight to q, checking each length as it
 * reads it (once): the batch is not checked before, which saves a pass.
 * The open bin's items go out first, where the loop continues the bin,
 * and the bin open at the end comes back to its buffer, which has room for
 * it (see run_batch). Its ids are the latest ones, consecutive; its
 * lengths are the batch's last ones, after the old bin's when no pack
 * closed. A bad length changes nothing: the stream and q stay as they
 * were (what the loop wrote lies past q's packs), and its status and index
 * come back (*bad). */
static int nf_run(sp_stream *s, pack_queue *q, const int64_t *lengths,
                  int64_t n, int64_t *bad)
{
    open_bin *const bin = &s->bins[0];
    int64_t *const items = q->items, *const item_lengths = q->lengths;
    int64_t *const offsets = q->offsets, *const used = q->used;
    const int64_t cap = s->capacity, old = bin->count;
    int64_t at = copy_bin(bin, items, item_lengths, spi_queue_items(q));
    int64_t load = bin->load, id = s->next_id, packs = q->num_packs;
    for (int64_t j = 0; j < n; j++, id++) {
        const int64_t l = lengths[j];
        if (changed(l, cap)) {
            *bad = j;
            return spi_length_status(l, cap);
        }
        if (spi_next_fit_closes_before(load, 0, l, cap, INT64_MAX)) { /* no limit */
            if (used != NULL)
                used[packs] = load;
            offsets[++packs] = at;
            load = 0;
        }
        items[at] = id;
        if (item_lengths != NULL)
            item_lengths[at] = l;
        at++;
        load += l;
        if (load == cap) {
            if (used != NULL)
                used[packs] = load;
            offsets[++packs] = at;
            load = 0;
        }
    }
    const int64_t count = at - offsets[packs];
    if (count > n) /* nothing closed: the old items stay, the batch follows */
        memcpy(bin->lengths + old, lengths, (size_t)n * sizeof(int64_t));
    else if (count > 0)
        memcpy(bin->lengths, lengths + n - count, (size_t)count * sizeof(int64_t));
    for (int64_t j = 0; j < count; j++)
        bin->ids[j] = id - count + j;
    bin->count = count;
    bin->load = load;
    q->num_packs = packs;
    s->next_id = id;
    s->num_open = count > 0;
    s->open_items = count;
    return SP_OK;
}

/* A class-i bin holds at most i - 1 items before its last one comes, so
 * with few classes hk_run_blocks() can write a class bin out as a fixed
 * block of entries whether it closes or not, and advance the output by
 * its count or by 0. Whether a bin closes is a coin toss for random
 * lengths, so a branch on it mispredicts often, and the blocks need none.
 * HK_BLOCK_SMALL serves k <= 10 (the default), HK_BLOCK k <= 18. */
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
        s->limit != INT64_MAX ||
        (q->lengths == NULL) != (q->used == NULL))
        return 0;
    open_bin *next_fit = &s->bins[0];
    if (spi_reserve_pair(&next_fit->ids, &next_fit->lengths, &next_fit->room,
                        s->capacity + 1) != SP_OK)
        return 0;
    memset(b, 0, sizeof *b); /* blocks copy whole rows: no garbage */
    for (int64_t slot = 1; slot < s->num_slots; slot++) {
        open_bin *bin = &s->bins[slot];
        if (spi_reserve_pair(&bin->ids, &bin->lengths, &bin->room, block)
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
static void hk_blocks_store(sp_stream *s, const hk_blocks *b, cursor *c,
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
static SPI_ALWAYS_INLINE int64_t hk_run_blocks(sp_stream *s, pack_queue *q,
                                             hk_blocks *b,
                                             const int64_t *lengths, int64_t n,
                                             const int32_t *class_of, cursor *c,
                                             const int64_t block,
                                             const int with_lengths)
{
    const int64_t cap = s->capacity;
    /* The next-fit bin's counters in locals, as in cursor. */
    open_bin *const next_fit = &s->bins[0];
    int64_t *const fit_ids = next_fit->ids, *const fit_lengths = next_fit->lengths;
    int64_t fit_count = next_fit->count, fit_load = next_fit->load;
    int64_t *const items = q->items, *const item_lengths = q->lengths;
    int64_t *const offsets = q->offsets, *const used = q->used;
    int64_t at = c->at, packs = c->packs, id = c->id;
    int64_t j = 0;
    for (; j < n - block; j++, id++) {
        const int64_t l = lengths[j];
        if (changed(l, cap))
            break;
        const int64_t slot = class_of[l - 1];
        if (slot == 0) { /* the next-fit bin */
            if (spi_next_fit_closes_before(fit_load, 0, l, cap, INT64_MAX)) {
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
        const int64_t closes = spi_hk_class_closes(slot, count, INT64_MAX);
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

/* Pack a batch into q, which has room for all it can close. A bad length
 * (SP_ERR_LENGTH_*) changes nothing: *done is 0 and *at its index. Each
 * length is checked where a loop reads it to index or size anything, so
 * a caller's buffer that another thread writes meanwhile gives wrong
 * packs or an error, never a bad access. Only such a change, or a bin
 * buffer that cannot grow, stops a batch partway: the lengths before
 * stay accepted (*done of them) and *at is the one it stopped at. */
static int run_batch(sp_stream *s, pack_queue *q, const int64_t *lengths,
                     int64_t n, int64_t *done, int64_t *at)
{
    const int64_t cap = s->capacity;
    open_bin *const first = &s->bins[0];
    *done = 0;
    *at = -1;
    /* NF's batch loop checks as it goes and copies the open bin out and
     * back, which a batch at least as long pays for; it needs room for the
     * bin it leaves open (at most the old one plus the batch, and at most
     * capacity items). */
    if (s->strategy == SP_NF && s->limit == INT64_MAX && n >= first->count &&
        spi_reserve_pair(&first->ids, &first->lengths, &first->room,
                         n < cap - first->count ? first->count + n : cap) == SP_OK) {
        const int status = nf_run(s, q, lengths, n, at);
        spi_shrink_pair(&first->ids, &first->lengths, &first->room, first->count);
        *done = status == SP_OK ? n : 0;
        return status;
    }
    /* The other loops take a batch that is checked whole first. */
    int status = spi_check_each_length(lengths, n, cap, at);
    if (status != SP_OK)
        return status;
    int32_t *class_of = s->strategy == SP_HK
                            ? spi_hk_class_table(cap, s->classes, n) : NULL;
    cursor c = cursor_start(s, q);
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
    for (; j < n; j++, c.id++) {
        const int64_t l = lengths[j];
        if (changed(l, cap)) {
            status = spi_length_status(l, cap);
            break;
        }
        const int64_t slot = class_of ? class_of[l - 1] : spi_stream_slot(s, l);
        status = place(&s->bins[slot], q, &c, slot, l, cap, s->limit);
        if (status != SP_OK)
            break;
    }
    free(class_of);
    cursor_store(s, q, &c);
    *done = j;
    if (status != SP_OK)
        *at = j;
    return status;
}

/* ---- the calls, inside the handle's guard --------------------------------- */

sp_stream *spi_stream_new(int64_t capacity, int strategy, int64_t k,
                          int64_t max_items)
{
    sp_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    atomic_flag_clear(&s->busy);
    s->capacity = capacity;
    s->strategy = strategy;
    s->k = k;
    s->max_items = max_items;
    s->limit = max_items > 0 ? max_items : INT64_MAX;
    s->classes = strategy == SP_NF ? 1 : k;
    /* HK classes are 1 .. min(k - 1, capacity), plus the last class. */
    s->num_slots = strategy == SP_NF ? 1
                   : (capacity < k - 1 ? capacity : k - 1) + 1;
    s->bins = calloc((size_t)s->num_slots, sizeof *s->bins);
    if (s->bins == NULL || spi_queue_init(&s->queue) != SP_OK) {
        sp_stream_free(s);
        return NULL;
    }
    return s;
}

static void free_bin_buffers(open_bin *bin)
{
    free(bin->ids);
    free(bin->lengths);
    memset(bin, 0, sizeof *bin);
}

static int add_one(sp_stream *s, int64_t length, int64_t *unread_packs)
{
    if (s->finished)
        return SP_ERR_FINISHED;
    int status = spi_length_status(length, s->capacity);
    if (status == SP_OK && s->next_id == INT64_MAX)
        status = SP_ERR_OVERFLOW;
    if (status == SP_OK)
        status = reserve_for(s, 1);
    if (status == SP_OK) {
        cursor c = cursor_start(s, &s->queue);
        const int64_t slot = spi_stream_slot(s, length);
        status = place(&s->bins[slot], &s->queue, &c, slot, length, s->capacity,
                       s->limit);
        if (status == SP_OK) {
            c.id++;
            cursor_store(s, &s->queue, &c);
        }
    }
    if (unread_packs != NULL)
        *unread_packs = s->queue.num_packs;
    return status;
}

/* What every batch call checks before it changes anything: the buffer, a
 * stream not finished, ids left. (The lengths: run_batch.) */
static int begin_batch(const sp_stream *s, const int64_t *lengths, int64_t n)
{
    if (n > 0 && lengths == NULL)
        return SP_ERR_NULL_POINTER;
    if (n < 0)
        return SP_ERR_NEGATIVE_COUNT;
    if (s->finished)
        return SP_ERR_FINISHED;
    return n > INT64_MAX - s->next_id ? SP_ERR_OVERFLOW : SP_OK;
}

static int add_many(sp_stream *s, const int64_t *lengths, int64_t n,
                    int64_t *error_index)
{
    int status = begin_batch(s, lengths, n);
    if (status != SP_OK)
        return status;
    status = reserve_for(s, n);
    if (status != SP_OK) {
        if (error_index != NULL)
            *error_index = 0; /* nothing of the batch accepted */
        return status;
    }
    int64_t done, at;
    status = run_batch(s, &s->queue, lengths, n, &done, &at);
    if (status != SP_OK && error_index != NULL)
        *error_index = at;
    return status;
}

/* The buffer sizes sp_stream_pack_many() needs for n more lengths: every
 * unread pack and open bin may close, and every length close a pack. */
static int pack_many_bound(const sp_stream *s, int64_t n, int64_t *items_size,
                           int64_t *packs_size)
{
    const pack_queue *q = &s->queue;
    const int64_t queued = spi_queue_items(q);
    if (n < 0)
        return SP_ERR_NEGATIVE_COUNT;
    if (n > INT64_MAX - queued - s->open_items ||
        n > INT64_MAX - q->num_packs - s->num_open)
        return SP_ERR_OVERFLOW;
    *items_size = queued + s->open_items + n;
    *packs_size = q->num_packs + s->num_open + n;
    return SP_OK;
}

/* The unread packs, then those the batch closes, into the caller's
 * buffers seen as a queue. */
static int pack_many(sp_stream *s, const int64_t *lengths, int64_t n,
                     sp_pack_buffers *out, int64_t *error_index)
{
    int status = begin_batch(s, lengths, n);
    if (status != SP_OK)
        return status;
    if (out->items == NULL || out->bin_offsets == NULL)
        return SP_ERR_NULL_POINTER;
    int64_t need_items, need_packs;
    status = pack_many_bound(s, n, &need_items, &need_packs);
    if (status != SP_OK)
        return status;
    if (out->items_size < need_items || out->packs_size < need_packs)
        return SP_ERR_BUFFER_TOO_SMALL;
    /* Only the slots that the unread packs and the batch's own lengths
     * fill are prefaulted: the room left for open bins that may close is
     * rarely filled, and touching it would cost O(open items) per call. */
    spi_prefault prefault = {
        .start = {out->items},
        .bytes = {(size_t)(spi_queue_items(&s->queue) + n) * sizeof(int64_t)},
        .ranges = 1,
    };
    spi_prefault_start(&prefault, (int)s->threads);
    status = spi_queue_copy_out(&s->queue, out);
    pack_queue view = spi_queue_view(out);
    view.num_packs = out->num_packs;
    int64_t done = 0, at = -1;
    if (status == SP_OK)
        status = run_batch(s, &view, lengths, n, &done, &at);
    if (status == SP_OK || done > 0) { /* the unread packs went out too */
        spi_queue_clear(&s->queue);
        out->num_packs = view.num_packs;
    } else { /* nothing changed: they stay unread */
        out->num_packs = 0;
    }
    if (status != SP_OK && error_index != NULL)
        *error_index = at;
    spi_prefault_join(&prefault);
    return status;
}

static int finish(sp_stream *s)
{
    if (s->finished)
        return SP_ERR_FINISHED;
    int status = reserve_for(s, 0);
    if (status != SP_OK)
        return status;
    /* (first id, slot) pairs, sorted by first id: opening order. */
    int64_t *order = spi_alloc_array(2 * (s->num_open > 0 ? s->num_open : 1),
                                     sizeof(int64_t));
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
    qsort(order, (size_t)m, 2 * sizeof(int64_t), spi_compare_int64);
    pack_queue *q = &s->queue;
    int64_t at = spi_queue_items(q);
    for (int64_t j = 0; j < m; j++)
        emit_bin(&s->bins[order[2 * j + 1]], q, &at, &q->num_packs);
    free(order);
    for (int64_t i = 0; i < s->num_slots; i++)
        free_bin_buffers(&s->bins[i]);
    s->num_open = 0;
    s->open_items = 0;
    s->finished = 1;
    return SP_OK;
}

static int read_packs(sp_stream *s, sp_pack_buffers *out)
{
    int status = spi_queue_copy_out(&s->queue, out);
    if (status == SP_OK)
        spi_queue_clear(&s->queue);
    return status;
}

static void get_info(const sp_stream *s, sp_stream_info *info)
{
    info->capacity = s->capacity;
    info->strategy = s->strategy;
    info->k = s->k;
    info->max_items = s->max_items;
    info->sequences_added = s->next_id;
    info->open_bins = s->num_open;
    info->open_items = s->open_items;
    info->unread_packs = s->queue.num_packs;
    info->unread_items = spi_queue_items(&s->queue);
    info->finished = s->finished;
}

/* ---- public entry points ---------------------------------------------------
 * Each takes the handle's guard (stream_internal.h) around its work. */

int sp_stream_create(int64_t capacity, int strategy, const sp_options *options,
                     sp_stream **out)
{
    if (out == NULL)
        return SP_ERR_NULL_POINTER;
    *out = NULL;
    if (capacity <= 0)
        return SP_ERR_INVALID_CAPACITY;
    sp_strategy_info info;
    int known = sp_strategy_describe(strategy, &info);
    if (known != SP_OK)
        return known;
    if (!info.streamable)
        return SP_ERR_NOT_STREAMABLE;
    sp_options opts;
    sp_options_init(&opts);
    if (options != NULL)
        opts = *options;
    int status = sp_options_check(&opts);
    if (status != SP_OK)
        return status;
    *out = spi_stream_new(capacity, strategy, opts.k, opts.max_items);
    if (*out == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    (*out)->threads = opts.threads;
    return SP_OK;
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
    spi_queue_free(&s->queue);
    free(s);
}

int sp_stream_add(sp_stream *s, int64_t length, int64_t *unread_packs)
{
    int status = spi_stream_enter(s);
    if (status != SP_OK)
        return status;
    status = add_one(s, length, unread_packs);
    spi_stream_leave(s);
    return status;
}

int sp_stream_add_many(sp_stream *s, const int64_t *lengths, int64_t n,
                       int64_t *error_index)
{
    if (error_index != NULL)
        *error_index = -1;
    int status = spi_stream_enter(s);
    if (status != SP_OK)
        return status;
    status = add_many(s, lengths, n, error_index);
    spi_stream_leave(s);
    return status;
}

int sp_stream_pack_many_bound(const sp_stream *s, int64_t n,
                              int64_t *items_size, int64_t *packs_size)
{
    if (items_size == NULL || packs_size == NULL)
        return SP_ERR_NULL_POINTER;
    int status = spi_stream_enter(s);
    if (status != SP_OK)
        return status;
    status = pack_many_bound(s, n, items_size, packs_size);
    spi_stream_leave(s);
    return status;
}

int sp_stream_pack_many(sp_stream *s, const int64_t *lengths, int64_t n,
                        sp_pack_buffers *out, int64_t *error_index)
{
    if (error_index != NULL)
        *error_index = -1;
    if (out == NULL)
        return SP_ERR_NULL_POINTER;
    out->num_packs = 0;
    int status = spi_stream_enter(s);
    if (status != SP_OK)
        return status;
    status = pack_many(s, lengths, n, out, error_index);
    spi_stream_leave(s);
    return status;
}

int sp_stream_finish(sp_stream *s)
{
    int status = spi_stream_enter(s);
    if (status != SP_OK)
        return status;
    status = finish(s);
    spi_stream_leave(s);
    return status;
}

int sp_stream_read(sp_stream *s, sp_pack_buffers *out)
{
    if (out == NULL)
        return SP_ERR_NULL_POINTER;
    out->num_packs = 0;
    int status = spi_stream_enter(s);
    if (status != SP_OK)
        return status;
    status = read_packs(s, out);
    spi_stream_leave(s);
    return status;
}

int sp_stream_get_info(const sp_stream *s, sp_stream_info *info)
{
    if (info == NULL)
        return SP_ERR_NULL_POINTER;
    int status = spi_stream_enter(s);
    if (status != SP_OK)
        return status;
    get_info(s, info);
    spi_stream_leave(s);
    return SP_OK;
}
