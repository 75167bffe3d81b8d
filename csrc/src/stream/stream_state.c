/*
 * stream_state.c - checkpointing a stream: sp_stream_export() writes its
 * whole state as int64 values, sp_stream_import() rebuilds a stream from
 * them and checks every value first, so a damaged state gives
 * SP_ERR_INVALID_STATE, never undefined behaviour.
 *
 * The state is a header, then each unread pack as (count, ids...,
 * lengths...), then each open bin as (slot, count, ids..., lengths...),
 * then a checksum of all that. Loads and used space are sums of the
 * lengths, so they are not stored.
 *
 * The checksum is the sum (mod 2^64) of
 * spi_mix64(value_i + (i + 1) * SPI_GOLDEN_GAMMA) over the values before
 * it, with spi_mix64() a bijection of 64-bit words (the SplitMix64
 * finaliser, mix.h). Changing any one value changes its term and no
 * other, so every single-bit flip, and every change of one value, is
 * caught; the consistency checks then catch what a checksum forged to
 * match would still have to get past.
 */
#include <stdlib.h>
#include <string.h>

#include "common/mix.h"
#include "stream/stream_internal.h"

#define STATE_MAGIC ((int64_t)0x53505354524d3031) /* "SPSTRM01" */
#define STATE_VERSION 3
enum {
    H_MAGIC, H_VERSION, H_CAPACITY, H_STRATEGY, H_K, H_MAX_ITEMS, H_NEXT_ID,
    H_FINISHED, H_PACKS, H_OPEN_BINS, H_HEADER_SIZE
};

/* How many values the state takes. Every term is bounded by memory the
 * stream already holds. */
static int64_t state_size(const sp_stream *s)
{
    const pack_queue *q = &s->queue;
    return H_HEADER_SIZE + q->num_packs + 2 * spi_queue_items(q) +
           2 * s->num_open + 2 * s->open_items + 1; /* + the checksum */
}

int64_t spi_state_checksum(const int64_t *state, int64_t size)
{
    uint64_t sum = 0;
    for (int64_t i = 0; i < size; i++)
        sum += spi_mix64((uint64_t)state[i] + (uint64_t)(i + 1) * SPI_GOLDEN_GAMMA);
    return (int64_t)sum;
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

static int write_state(const sp_stream *s, int64_t *state, int64_t size,
                       int64_t *written)
{
    if (state == NULL || written == NULL)
        return SP_ERR_NULL_POINTER;
    if (size < state_size(s))
        return SP_ERR_BUFFER_TOO_SMALL;
    const pack_queue *q = &s->queue;
    int64_t *w = state;
    w[H_MAGIC] = STATE_MAGIC;
    w[H_VERSION] = STATE_VERSION;
    w[H_CAPACITY] = s->capacity;
    w[H_STRATEGY] = s->strategy;
    w[H_K] = s->k;
    w[H_MAX_ITEMS] = s->max_items;
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
        w = write_group(w, bin->ids, bin->lengths, bin->count);
    }
    *w = spi_state_checksum(state, w - state);
    w++;
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
    if (s->strategy == SP_NF && g->ids[0] != s->next_id - g->count)
        return 0; /* NF's open bin holds the latest ids */
    if (slot > 0 && g->count >= slot)
        return 0; /* a class-i bin closes with its i-th item */
    if (g->count >= s->limit)
        return 0; /* and every bin at the item limit */
    for (int64_t j = 0; j < g->count; j++)
        if (spi_stream_slot(s, g->lengths[j]) != slot)
            return 0;
    return 1;
}

/* No id may be in two places: sort them all and look for repeats. */
static int check_ids_distinct(const sp_stream *s)
{
    const pack_queue *q = &s->queue;
    const int64_t queued = spi_queue_items(q);
    const int64_t n = queued + s->open_items;
    if (n == 0)
        return SP_OK;
    int64_t *all = spi_alloc_array(n, sizeof(int64_t));
    if (all == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    if (queued > 0)
        memcpy(all, q->items, (size_t)queued * sizeof(int64_t));
    int64_t m = queued;
    for (int64_t i = 0; i < s->num_slots; i++) {
        const open_bin *bin = &s->bins[i];
        if (bin->count > 0)
            memcpy(all + m, bin->ids, (size_t)bin->count * sizeof(int64_t));
        m += bin->count;
    }
    qsort(all, (size_t)n, sizeof(int64_t), spi_compare_int64);
    int status = SP_OK;
    for (int64_t j = 1; j < n && status == SP_OK; j++)
        if (all[j] == all[j - 1])
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
        if (!take_group(r, s, s->limit, &g))
            return SP_ERR_INVALID_STATE;
        int status = spi_queue_reserve(q, 1, g.count);
        if (status != SP_OK)
            return status;
        int64_t at = spi_queue_items(q);
        memcpy(q->items + at, g.ids, (size_t)g.count * sizeof(int64_t));
        memcpy(q->lengths + at, g.lengths, (size_t)g.count * sizeof(int64_t));
        spi_queue_end_pack(q, at + g.count, g.sum);
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
        if (spi_reserve_pair(&bin->ids, &bin->lengths, &bin->room, g.count)
            != SP_OK)
            return SP_ERR_OUT_OF_MEMORY;
        memcpy(bin->ids, g.ids, (size_t)g.count * sizeof(int64_t));
        memcpy(bin->lengths, g.lengths, (size_t)g.count * sizeof(int64_t));
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
    if (state_size < H_HEADER_SIZE + 1 || state[H_MAGIC] != STATE_MAGIC ||
        state[H_VERSION] != STATE_VERSION ||
        spi_state_checksum(state, state_size - 1) != state[state_size - 1])
        return SP_ERR_INVALID_STATE;
    state_size--; /* the checksum is checked: the rest is the state */
    const int64_t strategy = state[H_STRATEGY], next_id = state[H_NEXT_ID];
    const int64_t finished = state[H_FINISHED], packs = state[H_PACKS];
    const int64_t open_bins = state[H_OPEN_BINS];
    if (strategy != SP_NF && strategy != SP_HK)
        return SP_ERR_INVALID_STATE;
    sp_options opts;
    sp_options_init(&opts);
    opts.k = state[H_K];
    opts.max_items = state[H_MAX_ITEMS];
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

/* ---- public entry points, inside the handle's guard ----------------------- */

int sp_stream_state_size(const sp_stream *s, int64_t *size)
{
    if (size == NULL)
        return SP_ERR_NULL_POINTER;
    int status = spi_stream_enter(s);
    if (status != SP_OK)
        return status;
    *size = state_size(s);
    spi_stream_leave(s);
    return SP_OK;
}

int sp_stream_export(const sp_stream *s, int64_t *state, int64_t size,
                     int64_t *written)
{
    int status = spi_stream_enter(s);
    if (status != SP_OK)
        return status;
    status = write_state(s, state, size, written);
    spi_stream_leave(s);
    return status;
}
