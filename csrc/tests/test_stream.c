/*
 * test_stream.c - the sp_stream_* calls: creation checks, NF and HK on
 * worked examples, agreement with sp_pack() on random inputs fed in random
 * batches, the open-bin bound, every error path, and export/import
 * (round trip mid-stream, and corrupted states that must be refused),
 * and SP_ERR_BUSY for calls that overlap on one handle.
 *
 * Uses seqpacker.h like any C caller; only test_busy_changes_nothing
 * holds a handle's guard through stream_internal.h, to make an overlap
 * happen on purpose, and the threads that share a handle come from the
 * library's platform layer (platform.h), so the test runs wherever the
 * library does. Inputs come from a fixed xorshift generator, so a failure
 * reproduces.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/platform.h"
#include "seqpacker.h"
#include "stream/stream_internal.h"

/* Packs collected from a stream, in the order read. */
typedef struct packs {
    int64_t num_packs;
    int64_t num_items;
    int64_t items[4096];
    int64_t lengths[4096];
    int64_t offsets[4097];
    int64_t used[4096];
} packs;

static void packs_init(packs *p)
{
    p->num_packs = 0;
    p->num_items = 0;
    p->offsets[0] = 0;
}

/* What sp_stream_get_info() says, or every field -1 when it fails. */
static sp_stream_info info_of(const sp_stream *s)
{
    sp_stream_info info;
    if (sp_stream_get_info(s, &info) != SP_OK)
        memset(&info, 0xff, sizeof info);
    return info;
}

/* Read the stream's pending packs and append them to p. */
static int drain(sp_stream *s, packs *p)
{
    sp_stream_info info;
    int status = sp_stream_get_info(s, &info);
    if (status != SP_OK)
        return status;
    const int64_t np = info.unread_packs, ni = info.unread_items;
    static int64_t items[4096], lengths[4096], offsets[4097], used[4096];
    if (np > 4096 || ni > 4096)
        return SP_ERR_BUFFER_TOO_SMALL;
    sp_pack_buffers out = {items, lengths, ni, offsets, used, np, -1};
    status = sp_stream_read(s, &out);
    if (status != SP_OK || out.num_packs != np || offsets[0] != 0 ||
        offsets[np] != ni)
        return status != SP_OK ? status : -1;
    for (int64_t b = 0; b < np; b++) {
        int64_t sum = 0;
        for (int64_t j = offsets[b]; j < offsets[b + 1]; j++) {
            p->lengths[p->num_items] = lengths[j];
            p->items[p->num_items++] = items[j];
            sum += lengths[j];
        }
        if (sum != used[b])
            return -2;
        p->used[p->num_packs] = used[b];
        p->offsets[++p->num_packs] = p->num_items;
    }
    return SP_OK;
}

/* The unread-pack count after a call, through sp_stream_get_info(). */
static int64_t unread(const sp_stream *s)
{
    return info_of(s).unread_packs;
}

/* Adds one length through sp_stream_add(), which gives the unread count;
 * on success that count must be what sp_stream_get_info() says. */
static int add_counted(sp_stream *s, int64_t length, int64_t *pending)
{
    int64_t r = -7;
    int status = sp_stream_add(s, length, &r);
    if (status != SP_OK)
        return status;
    CHECK_EQ(r, unread(s));
    *pending = r;
    return SP_OK;
}

/* Adds one length, not asking for the count. */
static int add(sp_stream *s, int64_t length)
{
    return sp_stream_add(s, length, NULL);
}

static int add_many_counted(sp_stream *s, const int64_t *lengths, int64_t n,
                            int64_t *error_index, int64_t *pending)
{
    int status = sp_stream_add_many(s, lengths, n, error_index);
    if (s != NULL)
        *pending = unread(s);
    return status;
}

static int finish_counted(sp_stream *s, int64_t *pending)
{
    int status = sp_stream_finish(s);
    *pending = unread(s);
    return status;
}

/* sp_pack_buffers over the given arrays; num_packs -1 until a call sets it. */
static sp_pack_buffers buffers(int64_t *items, int64_t *lengths,
                               int64_t items_size, int64_t *bin_offsets,
                               int64_t *bin_used, int64_t packs_size)
{
    sp_pack_buffers out = {items, lengths, items_size, bin_offsets, bin_used,
                           packs_size, -1};
    return out;
}

static sp_stream *create_limited(int64_t capacity, int strategy, int64_t k,
                                 int64_t max_items)
{
    sp_options o;
    sp_options_init(&o);
    o.k = k;
    o.max_items = max_items;
    sp_stream *s = NULL;
    CHECK_EQ(sp_stream_create(capacity, strategy, &o, &s), SP_OK);
    return s;
}

static sp_stream *create(int64_t capacity, int strategy, int64_t k)
{
    return create_limited(capacity, strategy, k, 0);
}

/* Does pack a of p hold exactly the given ids (and used)? */
static int pack_is(const packs *p, int64_t a, const int64_t *ids, int64_t n,
                   int64_t used)
{
    if (a >= p->num_packs || p->offsets[a + 1] - p->offsets[a] != n ||
        p->used[a] != used)
        return 0;
    return memcmp(p->items + p->offsets[a], ids, (size_t)n * sizeof *ids) == 0;
}

static void test_create_errors(void)
{
    sp_stream *s = (sp_stream *)&rng_state; /* must be overwritten */
    sp_options o;
    sp_options_init(&o);
    CHECK_EQ(sp_stream_create(10, SP_NF, NULL, NULL), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_stream_create(0, SP_NF, NULL, &s), SP_ERR_INVALID_CAPACITY);
    CHECK(s == NULL);
    CHECK_EQ(sp_stream_create(-5, SP_HK, NULL, &s), SP_ERR_INVALID_CAPACITY);
    CHECK_EQ(sp_stream_create(10, -1, NULL, &s), SP_ERR_UNKNOWN_STRATEGY);
    CHECK_EQ(sp_stream_create(10, SP_STRATEGY_COUNT, NULL, &s),
             SP_ERR_UNKNOWN_STRATEGY);
    for (int st = 0; st < SP_STRATEGY_COUNT; st++) {
        if (st == SP_NF || st == SP_HK)
            continue;
        CHECK_EQ(sp_stream_create(10, st, NULL, &s), SP_ERR_NOT_STREAMABLE);
        CHECK(s == NULL);
    }
    int64_t bad_k[] = {-1, 0, 1, SP_MAX_K + 1, INT64_MAX};
    for (size_t i = 0; i < sizeof bad_k / sizeof *bad_k; i++) {
        o.k = bad_k[i];
        CHECK_EQ(sp_stream_create(10, SP_HK, &o, &s), SP_ERR_INVALID_OPTION);
        CHECK_EQ(sp_stream_create(10, SP_NF, &o, &s), SP_ERR_INVALID_OPTION);
        CHECK(s == NULL);
    }
    sp_options_init(&o);
    o.threads = -1;
    CHECK_EQ(sp_stream_create(10, SP_NF, &o, &s), SP_ERR_INVALID_OPTION);
    o.k = 2;
    o.threads = 0;
    CHECK_EQ(sp_stream_create(10, SP_HK, &o, &s), SP_OK);
    sp_stream_free(s);
    o.k = SP_MAX_K;
    CHECK_EQ(sp_stream_create(INT64_MAX, SP_HK, &o, &s), SP_OK);
    sp_stream_free(s);
    sp_stream_free(NULL);
    sp_stream_info info;
    CHECK_EQ(sp_stream_get_info(NULL, &info), SP_ERR_NULL_POINTER);
}

static void test_nf_example(void)
{
    sp_stream *s = create(10, SP_NF, SP_DEFAULT_K);
    packs p;
    packs_init(&p);
    int64_t pending = -1;
    /* 5 opens bin 0; 5 fills it exactly, so it closes at once. */
    CHECK_EQ(add_counted(s, 5, &pending), SP_OK);
    CHECK_EQ(pending, 0);
    CHECK_EQ(info_of(s).open_bins, 1);
    CHECK_EQ(add_counted(s, 5, &pending), SP_OK);
    CHECK_EQ(pending, 1);
    CHECK_EQ(info_of(s).open_bins, 0);
    /* 3 then 8: 8 does not fit, so {2} closes; 8 stays open. */
    CHECK_EQ(add_counted(s, 3, &pending), SP_OK);
    CHECK_EQ(add_counted(s, 8, &pending), SP_OK);
    CHECK_EQ(pending, 2);
    /* 2 fills {3} exactly; then 10 is a full bin on its own. */
    CHECK_EQ(add(s, 2), SP_OK);
    CHECK_EQ(add_counted(s, 10, &pending), SP_OK);
    CHECK_EQ(pending, 4);
    CHECK_EQ(add(s, 4), SP_OK);
    /* Everything sp_stream_get_info() tells: open {6} (length 4), and the
     * unread packs {0, 1}, {2}, {3, 4}, {5}. */
    sp_stream_info info = info_of(s);
    CHECK_EQ(info.capacity, 10);
    CHECK_EQ(info.strategy, SP_NF);
    CHECK_EQ(info.k, SP_DEFAULT_K);
    CHECK_EQ(info.sequences_added, 7);
    CHECK_EQ(info.open_bins, 1);
    CHECK_EQ(info.open_items, 1);
    CHECK_EQ(info.unread_packs, 4);
    CHECK_EQ(info.unread_items, 6);
    CHECK_EQ(info.finished, 0);
    CHECK_EQ(drain(s, &p), SP_OK);
    info = info_of(s);
    CHECK_EQ(info.unread_packs, 0);
    CHECK_EQ(info.unread_items, 0);
    CHECK_EQ(finish_counted(s, &pending), SP_OK);
    CHECK_EQ(pending, 1);
    info = info_of(s);
    CHECK_EQ(info.finished, 1);
    CHECK_EQ(info.open_bins, 0);
    CHECK_EQ(info.open_items, 0);
    CHECK_EQ(info.unread_items, 1);
    CHECK_EQ(info.sequences_added, 7);
    CHECK_EQ(drain(s, &p), SP_OK);
    CHECK_EQ(p.num_packs, 5);
    CHECK(pack_is(&p, 0, (int64_t[]){0, 1}, 2, 10));
    CHECK(pack_is(&p, 1, (int64_t[]){2}, 1, 3));
    CHECK(pack_is(&p, 2, (int64_t[]){3, 4}, 2, 10));
    CHECK(pack_is(&p, 3, (int64_t[]){5}, 1, 10));
    CHECK(pack_is(&p, 4, (int64_t[]){6}, 1, 4));
    sp_stream_free(s);
}

static void test_hk_example(void)
{
    /* capacity 12, k 4: 12 -> class 1, 6 and 5 -> class 2, 4 -> class 3,
     * 3 and shorter -> the last class (next fit). */
    sp_stream *s = create(12, SP_HK, 4);
    packs p;
    packs_init(&p);
    int64_t pending = -1;
    const int64_t lengths[] = {5, 3, 12, 4, 6, 3, 4, 3, 2, 4, 3, 5};
    /* id 2 (class 1) closes at once; id 4 completes class 2 {0, 4}; id 9
     * completes class 3 {3, 6, 9}; id 10 does not fit the last-class bin
     * {1, 5, 7, 8} (load 11), which closes. */
    const int64_t pending_after[] = {0, 0, 1, 1, 2, 2, 2, 2, 2, 3, 4, 4};
    const int64_t open_after[] = {1, 2, 2, 3, 2, 2, 2, 2, 2, 1, 1, 2};
    for (int i = 0; i < 12; i++) {
        CHECK_EQ(add_counted(s, lengths[i], &pending), SP_OK);
        CHECK_EQ(pending, pending_after[i]);
        CHECK_EQ(info_of(s).open_bins, open_after[i]);
    }
    CHECK_EQ(drain(s, &p), SP_OK);
    /* Open now: the last class {10} and class 2 {11}; finish closes them
     * in opening order. */
    CHECK_EQ(finish_counted(s, &pending), SP_OK);
    CHECK_EQ(pending, 2);
    CHECK_EQ(info_of(s).open_bins, 0);
    CHECK_EQ(drain(s, &p), SP_OK);
    CHECK_EQ(p.num_packs, 6);
    CHECK(pack_is(&p, 0, (int64_t[]){2}, 1, 12));
    CHECK(pack_is(&p, 1, (int64_t[]){0, 4}, 2, 11));
    CHECK(pack_is(&p, 2, (int64_t[]){3, 6, 9}, 3, 12));
    CHECK(pack_is(&p, 3, (int64_t[]){1, 5, 7, 8}, 4, 11));
    CHECK(pack_is(&p, 4, (int64_t[]){10}, 1, 3));
    CHECK(pack_is(&p, 5, (int64_t[]){11}, 1, 5));
    sp_stream_free(s);
}

/* The packs of p sorted by first id must be sp_pack()'s bins, in order. */
static void check_same_as_offline(const packs *p, const int64_t *lengths,
                                  int64_t n, int64_t capacity, int strategy,
                                  int64_t k, int64_t max_items)
{
    static int64_t items[4096], offsets[4097], used[4096];
    int64_t num_bins = -1, error_index = -1;
    sp_options o;
    sp_options_init(&o);
    o.k = k;
    o.max_items = max_items;
    CHECK_EQ(sp_pack(lengths, n, capacity, strategy, &o, items, offsets, used,
                     &num_bins, &error_index), SP_OK);
    CHECK_EQ(p->num_packs, num_bins);
    CHECK_EQ(p->num_items, n);
    if (p->num_packs != num_bins)
        return;
    int64_t lengths_right = 0;
    for (int64_t j = 0; j < n; j++)
        lengths_right += p->lengths[j] == lengths[p->items[j]];
    CHECK_EQ(lengths_right, n);
    /* Offline bin b starts with a smaller id than bin b + 1, so finding
     * each stream pack's place by its first id is a sort. */
    int64_t matched = 0;
    for (int64_t a = 0; a < p->num_packs; a++) {
        int64_t first = p->items[p->offsets[a]], b = 0;
        while (b < num_bins && items[offsets[b]] != first)
            b++;
        if (b == num_bins)
            continue;
        int64_t size = offsets[b + 1] - offsets[b];
        matched += pack_is(p, a, items + offsets[b], size, used[b]);
    }
    CHECK_EQ(matched, num_bins);
    for (int64_t a = 0; a < p->num_packs && max_items > 0; a++)
        CHECK(p->offsets[a + 1] - p->offsets[a] <= max_items);
    if (strategy == SP_NF) {
        /* NF closes bins in opening order: the very same sequence. */
        CHECK(memcmp(p->items, items, (size_t)n * sizeof *items) == 0);
        CHECK(memcmp(p->offsets, offsets,
                     (size_t)(num_bins + 1) * sizeof *offsets) == 0);
    }
}

/* sp_stream_pack_many() of a batch, sized by its bound, its packs appended
 * to p; lengths and used are asked for only with `full` (p then gets the
 * lengths from the input and used from their sums). */
static int pack_many_into(sp_stream *s, packs *p, const int64_t *lengths,
                          int64_t n, int full)
{
    static int64_t items[8192], item_lengths[8192], offsets[8193], used[8192];
    int64_t items_size = -1, packs_size = -1, err = -2;
    int status = sp_stream_pack_many_bound(s, n, &items_size, &packs_size);
    if (status != SP_OK || items_size > 8192 || packs_size > 8192)
        return status != SP_OK ? status : -1;
    /* the bound is exact in what it counts: a size below it is refused */
    sp_pack_buffers small = {items, NULL, items_size - 1, offsets, NULL,
                             packs_size, -1};
    if (items_size > 0 &&
        sp_stream_pack_many(s, lengths, n, &small, &err)
            != SP_ERR_BUFFER_TOO_SMALL)
        return -3;
    sp_pack_buffers out = {items, full ? item_lengths : NULL, items_size,
                           offsets, full ? used : NULL, packs_size, -1};
    status = sp_stream_pack_many(s, lengths, n, &out, &err);
    const int64_t got = out.num_packs;
    if (status != SP_OK || err != -1 || offsets[0] != 0)
        return status != SP_OK ? status : -4;
    for (int64_t b = 0; b < got; b++) {
        int64_t sum = 0;
        for (int64_t j = offsets[b]; j < offsets[b + 1]; j++) {
            int64_t id = items[j];
            if (full)
                sum += item_lengths[j];
            p->lengths[p->num_items] = full ? item_lengths[j] : -1;
            p->items[p->num_items++] = id;
        }
        if (full && sum != used[b])
            return -2;
        p->used[p->num_packs] = full ? used[b] : -1;
        p->offsets[++p->num_packs] = p->num_items;
    }
    return unread(s) == 0 ? SP_OK : -5;
}

/* Fill in the lengths and used that pack_many_into() left out (-1). */
static void fill_lengths(packs *p, const int64_t *lengths)
{
    for (int64_t b = 0; b < p->num_packs; b++) {
        int64_t sum = 0;
        for (int64_t j = p->offsets[b]; j < p->offsets[b + 1]; j++) {
            if (p->lengths[j] == -1)
                p->lengths[j] = lengths[p->items[j]];
            sum += p->lengths[j];
        }
        if (p->used[b] == -1)
            p->used[b] = sum;
    }
}

/* Feed lengths in random batches (single adds and add_many of
 * 0..max_batch), reading at random moments; the open-bin count never
 * passes the bound. */
static void feed(sp_stream *s, packs *p, const int64_t *lengths, int64_t n,
                 int64_t max_open, int64_t max_batch)
{
    int64_t at = 0, pending = -1, err = -2;
    while (at < n) {
        uint64_t how = next_random() % 4;
        if (how == 0) {
            CHECK_EQ(add_counted(s, lengths[at], &pending), SP_OK);
            at++;
        } else if (how == 1) {
            int64_t m = random_in(0, max_batch);
            m = m > n - at ? n - at : m;
            CHECK_EQ(pack_many_into(s, p, lengths + at, m, next_random() % 2),
                     SP_OK);
            at += m;
        } else {
            int64_t m = random_in(0, max_batch);
            m = m > n - at ? n - at : m;
            CHECK_EQ(add_many_counted(s, lengths + at, m, &err, &pending),
                     SP_OK);
            CHECK_EQ(err, -1);
            at += m;
        }
        sp_stream_info info = info_of(s);
        CHECK(info.open_bins >= 0 && info.open_bins <= max_open);
        CHECK(info.open_items >= info.open_bins);
        CHECK(info.unread_items >= info.unread_packs);
        CHECK_EQ(info.sequences_added, at);
        if (next_random() % 2 == 0)
            CHECK_EQ(drain(s, p), SP_OK);
    }
}

/* One stream over lengths fed in random batches of up to max_batch, then
 * finished, against sp_pack(). */
static void check_stream_vs_offline(const int64_t *lengths, int64_t n,
                                    int64_t capacity, int strategy, int64_t k,
                                    int64_t max_items, int64_t max_batch)
{
    sp_stream *s = create_limited(capacity, strategy, k, max_items);
    packs *p = malloc(sizeof *p);
    packs_init(p);
    feed(s, p, lengths, n, strategy == SP_NF ? 1 : k, max_batch);
    CHECK_EQ(sp_stream_finish(s), SP_OK);
    CHECK_EQ(drain(s, p), SP_OK);
    fill_lengths(p, lengths);
    check_same_as_offline(p, lengths, n, capacity, strategy, k, max_items);
    free(p);
    sp_stream_free(s);
}

static void test_random_vs_offline(void)
{
    static int64_t lengths[4096];
    for (int round = 0; round < 300; round++) {
        int strategy = round % 2 == 0 ? SP_NF : SP_HK;
        int64_t capacity = round % 5 == 0 ? random_in(1, 4)
                                          : random_in(1, 1000);
        int64_t k = random_in(2, 12);
        int64_t n = random_in(0, 2000);
        int64_t hi = random_in(1, capacity);
        for (int64_t i = 0; i < n; i++)
            lengths[i] = random_in(1, hi);
        /* A third of the rounds with an item limit. */
        int64_t max_items = round % 3 == 0 ? random_in(1, 5) : 0;
        check_stream_vs_offline(lengths, n, capacity, strategy, k, max_items,
                                40);
    }
}

/* HK batches of hundreds of lengths take stream.c's block loop (k <= 18,
 * a class table: capacity <= batch / 4) and every other batch the plain
 * one, into the stream's queue and into pack_many's buffers with and
 * without lengths; all must give sp_pack()'s bins. */
static void test_hk_long_batches_vs_offline(void)
{
    static int64_t lengths[4096];
    for (int round = 0; round < 200; round++) {
        int64_t capacity = random_in(1, 150);
        int64_t k = random_in(2, 20); /* blocks of 8, of 16, and none */
        int64_t n = random_in(1000, 4000);
        int64_t hi = random_in(1, capacity);
        for (int64_t i = 0; i < n; i++)
            lengths[i] = random_in(1, hi);
        check_stream_vs_offline(lengths, n, capacity, SP_HK, k,
                                round % 4 == 0 ? 3 : 0, 700);
    }
}

/* A batch is checked whole first, in blocks by sign bits (lengths.c's
 * spi_check_each_length), or as NF's batch loop reads it: either way every
 * extreme value, at any place of a long batch, gives the error of
 * sp_stream_add() and its index, and changes nothing. */
static void test_batch_check_extremes(void)
{
    static int64_t batch[10000];
    const int64_t capacities[] = {1, 7, 4096, INT64_MAX - 1, INT64_MAX};
    for (int c = 0; c < 5; c++) {
        const int64_t cap = capacities[c];
        const int64_t values[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, cap,
                                  cap < INT64_MAX ? cap + 1 : cap, INT64_MAX};
        sp_stream *s = create(cap, c % 2 == 0 ? SP_NF : SP_HK, 10);
        sp_stream *one = create(cap, SP_NF, 10);
        for (int v = 0; v < 8; v++) {
            const int64_t n = random_in(1, 10000), at = random_in(0, n - 1);
            for (int64_t i = 0; i < n; i++)
                batch[i] = 1;
            batch[at] = values[v];
            const int expected = add(one, values[v]);
            int64_t err = -2;
            CHECK_EQ(sp_stream_add_many(s, batch, n, &err), expected);
            CHECK_EQ(err, expected == SP_OK ? -1 : at);
            if (expected != SP_OK)
                CHECK_EQ(info_of(s).sequences_added, 0);
            sp_stream_free(s);
            s = create(cap, c % 2 == 0 ? SP_NF : SP_HK, 10);
        }
        sp_stream_free(s);
        sp_stream_free(one);
    }
}

/* Export the state of s into a malloc'ed buffer. */
static int64_t *export_state(const sp_stream *s, int64_t *size)
{
    *size = -1;
    CHECK_EQ(sp_stream_state_size(s, size), SP_OK);
    int64_t *state = malloc((size_t)(*size + 1) * sizeof *state);
    int64_t written = -1;
    CHECK_EQ(sp_stream_export(s, state, *size - 1, &written),
             SP_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ(sp_stream_export(s, state, *size + 1, &written), SP_OK);
    CHECK_EQ(written, *size);
    return state;
}

/* Give a (damaged) state of `size` values the checksum of its values
 * before the last, so that import checks what lies behind it. */
static void seal(int64_t *state, int64_t size)
{
    state[size - 1] = spi_state_checksum(state, size - 1);
}

/* A bad length anywhere in a long HK batch (one that takes the block
 * loop), with bins open before it, gives its status and index through
 * add_many and pack_many, and leaves the state exactly as it was; with
 * two bad lengths, the first is named. */
static void test_hk_bad_length_in_long_batch_changes_nothing(void)
{
    static int64_t batch[3000], items[8192], item_lengths[8192];
    static int64_t offsets[8193], used[8192];
    for (int round = 0; round < 120; round++) {
        const int64_t cap = random_in(2, 100), k = random_in(2, 19);
        sp_stream *s = create(cap, SP_HK, k);
        for (int64_t i = 0; i < 50; i++) /* open bins, small lengths too */
            CHECK_EQ(add(s, random_in(1, cap)), SP_OK);
        const int64_t n = random_in(400, 3000);
        for (int64_t i = 0; i < n; i++)
            batch[i] = random_in(1, cap);
        const int64_t bad_values[] = {0, -5, cap + 1, INT64_MIN, INT64_MAX};
        const int64_t bad = bad_values[round % 5];
        const int64_t at = round % 3 == 0 ? n - random_in(1, 20)
                                          : random_in(0, n - 1);
        batch[at] = bad;
        /* Sometimes a second bad length before it: that one is named. */
        const int64_t first = round % 6 == 0 ? random_in(0, at - 1) : at;
        batch[first] = first == at ? bad : cap + 7;
        const int expected = batch[first] < 1 ? SP_ERR_LENGTH_NOT_POSITIVE
                                              : SP_ERR_LENGTH_EXCEEDS_CAPACITY;
        int64_t before_size, after_size, err = -2, got = -2;
        int64_t *before = export_state(s, &before_size);
        const int how = round % 3; /* add_many, pack_many ids, pack_many full */
        if (how == 0) {
            CHECK_EQ(sp_stream_add_many(s, batch, n, &err), expected);
        } else {
            sp_pack_buffers out = {items, how == 2 ? item_lengths : NULL,
                                   8192, offsets, how == 2 ? used : NULL,
                                   8192, -1};
            CHECK_EQ(sp_stream_pack_many(s, batch, n, &out, &err), expected);
            got = out.num_packs;
            CHECK_EQ(got, 0);
        }
        CHECK_EQ(err, first);
        int64_t *after = export_state(s, &after_size);
        CHECK_EQ(after_size, before_size);
        CHECK(after_size == before_size &&
              memcmp(before, after, (size_t)before_size * sizeof *before) == 0);
        free(before);
        free(after);
        sp_stream_free(s);
    }
}

/* sp_stream_pack_many() refuses, changing nothing: NULL arguments, a
 * negative count, a bad length (naming it), buffers below the bound, a
 * finished stream. */
static void test_pack_many_errors(void)
{
    sp_stream *s = create(10, SP_NF, 3);
    int64_t items[16], lengths[16], offsets[17], used[16];
    int64_t err = -2, is = -1, ps = -1;
    CHECK_EQ(add(s, 4), SP_OK); /* one open bin, one id */
    CHECK_EQ(sp_stream_pack_many_bound(NULL, 1, &is, &ps), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_stream_pack_many_bound(s, 1, NULL, &ps), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_stream_pack_many_bound(s, -1, &is, &ps), SP_ERR_NEGATIVE_COUNT);
    CHECK_EQ(sp_stream_pack_many_bound(s, INT64_MAX, &is, &ps), SP_ERR_OVERFLOW);
    CHECK_EQ(sp_stream_pack_many_bound(s, 3, &is, &ps), SP_OK);
    CHECK_EQ(is, 4); /* the open bin's id and three more */
    CHECK_EQ(ps, 4);
    int64_t batch[] = {5, 6, 11};
    sp_pack_buffers out = buffers(items, lengths, 16, offsets, used, 16);
    CHECK_EQ(sp_stream_pack_many(NULL, batch, 3, &out, &err),
             SP_ERR_NULL_POINTER);
    CHECK_EQ(err, -1);
    CHECK_EQ(out.num_packs, 0);
    CHECK_EQ(sp_stream_pack_many(s, batch, 2, NULL, &err), SP_ERR_NULL_POINTER);
    out = buffers(NULL, lengths, 16, offsets, used, 16);
    CHECK_EQ(sp_stream_pack_many(s, batch, 3, &out, &err), SP_ERR_NULL_POINTER);
    CHECK_EQ(err, -1); /* the arguments first, then the lengths */
    CHECK_EQ(out.num_packs, 0);
    CHECK_EQ(sp_stream_pack_many(s, batch, 2, &out, &err), SP_ERR_NULL_POINTER);
    out = buffers(items, lengths, 16, NULL, used, 16);
    CHECK_EQ(sp_stream_pack_many(s, batch, 2, &out, &err), SP_ERR_NULL_POINTER);
    out = buffers(items, lengths, 16, offsets, used, 16);
    CHECK_EQ(sp_stream_pack_many(s, NULL, 2, &out, &err), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_stream_pack_many(s, batch, -1, &out, &err),
             SP_ERR_NEGATIVE_COUNT);
    out = buffers(items, lengths, 2, offsets, used, 16);
    CHECK_EQ(sp_stream_pack_many(s, batch, 2, &out, &err),
             SP_ERR_BUFFER_TOO_SMALL);
    out = buffers(items, lengths, 16, offsets, used, 2);
    CHECK_EQ(sp_stream_pack_many(s, batch, 2, &out, &err),
             SP_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ(out.num_packs, 0);
    CHECK_EQ(info_of(s).sequences_added, 1);
    CHECK_EQ(info_of(s).open_bins, 1);
    CHECK_EQ(unread(s), 0);
    /* then it works: {4, 5} closes when 6 does not fit; 6 stays open */
    out = buffers(items, lengths, 16, offsets, used, 16);
    CHECK_EQ(sp_stream_pack_many(s, batch, 2, &out, &err), SP_OK);
    CHECK_EQ(out.num_packs, 1);
    CHECK_EQ(err, -1);
    CHECK(items[0] == 0 && items[1] == 1 && offsets[1] == 2 && used[0] == 9);
    CHECK(lengths[0] == 4 && lengths[1] == 5);
    /* error_index may be NULL */
    CHECK_EQ(sp_stream_pack_many(s, batch, 0, &out, NULL), SP_OK);
    CHECK_EQ(out.num_packs, 0);
    CHECK_EQ(sp_stream_finish(s), SP_OK);
    out = buffers(items, NULL, 16, offsets, NULL, 16);
    CHECK_EQ(sp_stream_pack_many(s, batch, 0, &out, &err), SP_ERR_FINISHED);
    sp_stream_free(s);
}

static void test_errors(void)
{
    sp_stream *s = create(10, SP_HK, 3);
    int64_t pending = -1, err = -2;
    sp_stream_info info;
    CHECK_EQ(add_counted(NULL, 1, &pending), SP_ERR_NULL_POINTER);
    CHECK_EQ(add_counted(s, 4, &pending), SP_OK);
    /* Rejected lengths change nothing: no id, no pack, no open bin. */
    CHECK_EQ(add_counted(s, 0, &pending), SP_ERR_LENGTH_NOT_POSITIVE);
    CHECK_EQ(add_counted(s, -3, &pending), SP_ERR_LENGTH_NOT_POSITIVE);
    CHECK_EQ(add_counted(s, INT64_MIN, &pending), SP_ERR_LENGTH_NOT_POSITIVE);
    CHECK_EQ(add_counted(s, 11, &pending), SP_ERR_LENGTH_EXCEEDS_CAPACITY);
    CHECK_EQ(add_counted(s, INT64_MAX, &pending),
             SP_ERR_LENGTH_EXCEEDS_CAPACITY);
    CHECK_EQ(info_of(s).sequences_added, 1);
    CHECK_EQ(info_of(s).open_bins, 1);
    /* A batch with a bad length is refused whole. */
    int64_t batch[] = {1, 2, 11, 3};
    CHECK_EQ(add_many_counted(s, batch, 4, &err, &pending),
             SP_ERR_LENGTH_EXCEEDS_CAPACITY);
    CHECK_EQ(err, 2);
    batch[2] = 0;
    CHECK_EQ(sp_stream_add_many(s, batch, 4, &err),
             SP_ERR_LENGTH_NOT_POSITIVE);
    CHECK_EQ(err, 2);
    CHECK_EQ(sp_stream_add_many(s, batch, -1, &err), SP_ERR_NEGATIVE_COUNT);
    CHECK_EQ(sp_stream_add_many(s, NULL, 2, &err), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_stream_add_many(NULL, batch, 1, &err), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_stream_add_many(s, NULL, 0, NULL), SP_OK);
    CHECK_EQ(sp_stream_get_info(s, &info), SP_OK);
    CHECK_EQ(info.sequences_added, 1);
    CHECK_EQ(info.unread_packs, 0);
    CHECK_EQ(info.unread_items, 0);
    /* 10 is class 1 and closes at once as {1}; 3 (10 / 3 >= k) opens
     * the last class. */
    CHECK_EQ(add_many_counted(s, (int64_t[]){10, 3}, 2, &err, &pending),
             SP_OK);
    CHECK_EQ(pending, 1);
    CHECK_EQ(info_of(s).open_bins, 2);
    CHECK_EQ(sp_stream_get_info(NULL, &info), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_stream_get_info(s, NULL), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_stream_get_info(s, &info), SP_OK);
    CHECK_EQ(info.unread_packs, 1);
    CHECK_EQ(info.unread_items, 1);
    /* Too small buffers read nothing. */
    int64_t items[4], offsets[4], used[4];
    sp_pack_buffers out = buffers(items, NULL, 0, offsets, used, 4);
    CHECK_EQ(sp_stream_read(s, &out), SP_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ(out.num_packs, 0);
    out = buffers(items, NULL, 4, offsets, used, 0);
    CHECK_EQ(sp_stream_read(s, &out), SP_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ(out.num_packs, 0);
    out = buffers(NULL, NULL, 4, offsets, used, 3);
    CHECK_EQ(sp_stream_read(s, &out), SP_ERR_NULL_POINTER);
    out = buffers(items, NULL, 4, NULL, used, 3);
    CHECK_EQ(sp_stream_read(s, &out), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_stream_read(s, NULL), SP_ERR_NULL_POINTER);
    out = buffers(items, NULL, 4, offsets, used, 3);
    CHECK_EQ(sp_stream_read(NULL, &out), SP_ERR_NULL_POINTER);
    CHECK_EQ(out.num_packs, 0);
    CHECK_EQ(sp_stream_get_info(s, &info), SP_OK);
    CHECK_EQ(info.unread_packs, 1);
    CHECK_EQ(info.unread_items, 1);
    out = buffers(items, NULL, 1, offsets, NULL, 1);
    CHECK_EQ(sp_stream_read(s, &out), SP_OK);
    CHECK_EQ(out.num_packs, 1);
    CHECK_EQ(items[0], 1);
    CHECK_EQ(offsets[1], 1);
    /* Nothing pending: an empty read is fine and gives offsets[0] = 0. */
    offsets[0] = 77;
    out = buffers(NULL, NULL, 0, offsets, NULL, 0);
    CHECK_EQ(sp_stream_read(s, &out), SP_OK);
    CHECK_EQ(out.num_packs, 0);
    CHECK_EQ(offsets[0], 0);
    /* After finish, adds and finish are refused; reads still work. The
     * open bins close in opening order: class 2 {0}, then {2}. */
    CHECK_EQ(sp_stream_finish(NULL), SP_ERR_NULL_POINTER);
    CHECK_EQ(finish_counted(s, &pending), SP_OK);
    CHECK_EQ(pending, 2);
    CHECK_EQ(add_counted(s, 1, &pending), SP_ERR_FINISHED);
    CHECK_EQ(add_many_counted(s, batch, 1, &err, &pending), SP_ERR_FINISHED);
    CHECK_EQ(finish_counted(s, &pending), SP_ERR_FINISHED);
    CHECK_EQ(info_of(s).sequences_added, 3);
    int64_t lengths[4];
    out = buffers(items, lengths, 4, offsets, used, 3);
    CHECK_EQ(sp_stream_read(s, &out), SP_OK);
    CHECK_EQ(out.num_packs, 2);
    CHECK_EQ(lengths[0], 4);
    CHECK_EQ(lengths[1], 3);
    CHECK_EQ(items[0], 0);
    CHECK_EQ(items[1], 2);
    CHECK_EQ(used[0], 4);
    CHECK_EQ(used[1], 3);
    sp_stream_free(s);
}

/* Stopping mid-stream, exporting (with packs left unread) and going on
 * from an import gives the packs of an uninterrupted run. */
static void test_export_import_resume(void)
{
    static int64_t lengths[3000];
    for (int round = 0; round < 60; round++) {
        int strategy = round % 2 == 0 ? SP_NF : SP_HK;
        int64_t capacity = random_in(1, 500), k = random_in(2, 9);
        int64_t n = random_in(1, 3000), cut = random_in(0, n);
        for (int64_t i = 0; i < n; i++)
            lengths[i] = random_in(1, capacity);
        packs *whole = malloc(sizeof *whole), *resumed = malloc(sizeof *resumed);
        packs_init(whole);
        packs_init(resumed);
        sp_stream *a = create(capacity, strategy, k);
        CHECK_EQ(sp_stream_add_many(a, lengths, n, NULL), SP_OK);
        CHECK_EQ(sp_stream_finish(a), SP_OK);
        CHECK_EQ(drain(a, whole), SP_OK);
        sp_stream_free(a);

        sp_stream *b = create(capacity, strategy, k), *c = NULL;
        CHECK_EQ(sp_stream_add_many(b, lengths, cut, NULL), SP_OK);
        int64_t size;
        int64_t *state = export_state(b, &size);
        sp_stream_free(b);
        CHECK_EQ(sp_stream_import(state, size, &c), SP_OK);
        free(state);
        if (c != NULL) {
            CHECK_EQ(info_of(c).sequences_added, cut);
            CHECK_EQ(sp_stream_add_many(c, lengths + cut, n - cut, NULL),
                     SP_OK);
            CHECK_EQ(sp_stream_finish(c), SP_OK);
            CHECK_EQ(drain(c, resumed), SP_OK);
            CHECK_EQ(resumed->num_packs, whole->num_packs);
            CHECK(memcmp(resumed->items, whole->items,
                         (size_t)n * sizeof(int64_t)) == 0);
            CHECK(memcmp(resumed->used, whole->used,
                         (size_t)whole->num_packs * sizeof(int64_t)) == 0);
        }
        sp_stream_free(c);
        free(whole);
        free(resumed);
    }
    /* A finished stream stays finished. */
    sp_stream *f = create(10, SP_NF, 2), *g = NULL;
    CHECK_EQ(add(f, 3), SP_OK);
    CHECK_EQ(sp_stream_finish(f), SP_OK);
    int64_t size;
    int64_t *state = export_state(f, &size);
    CHECK_EQ(sp_stream_import(state, size, &g), SP_OK);
    CHECK_EQ(add(g, 1), SP_ERR_FINISHED);
    packs p;
    packs_init(&p);
    CHECK_EQ(drain(g, &p), SP_OK);
    CHECK(pack_is(&p, 0, (int64_t[]){0}, 1, 3));
    free(state);
    sp_stream_free(f);
    sp_stream_free(g);
}

/* Import must refuse damaged states and never read out of bounds (run
 * under valgrind). Some single changes still describe a valid stream (a
 * load moved within its class's range); those may import, the rest must
 * not, and the specific ones below are always refused. */
static void test_import_corrupted(void)
{
    sp_stream *s = create(100, SP_HK, 4), *t = NULL;
    /* Open bins: class 2 {0}, class 3 {1}, last class {2, 3}; one unread
     * pack, class 1 {4}. */
    CHECK_EQ(sp_stream_add_many(s, (int64_t[]){40, 30, 5, 6, 90}, 5, NULL),
             SP_OK);
    int64_t size;
    int64_t *state = export_state(s, &size);
    /* Header 10, the pack (1 + 2), bins (2 + 4) + (2 + 2) + (2 + 2), and
     * the checksum. */
    CHECK_EQ(size, 10 + 3 + 6 + 4 + 4 + 1);
    /* Every single-bit flip of every value is caught by the checksum. */
    for (int64_t i = 0; i < size; i++) {
        for (int bit = 0; bit < 64; bit++) {
            state[i] ^= (int64_t)((uint64_t)1 << bit);
            CHECK_EQ(sp_stream_import(state, size, &t), SP_ERR_INVALID_STATE);
            state[i] ^= (int64_t)((uint64_t)1 << bit);
        }
    }
    CHECK_EQ(sp_stream_import(NULL, size, &t), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_stream_import(state, size, NULL), SP_ERR_NULL_POINTER);
    /* Every truncation, and one entry too many. */
    for (int64_t m = 0; m < size; m++) {
        CHECK_EQ(sp_stream_import(state, m, &t), SP_ERR_INVALID_STATE);
        CHECK(t == NULL);
    }
    state[size] = 0;
    CHECK_EQ(sp_stream_import(state, size + 1, &t), SP_ERR_INVALID_STATE);
    /* Every entry set to a range of wrong values: never a crash. */
    const int64_t values[] = {-1, 0, 1, 2, 3, 5, 99, 100, 101, INT64_MAX,
                              INT64_MIN};
    int64_t refused = 0, tries = 0;
    for (int64_t i = 0; i < size - 1; i++) { /* (the checksum: above) */
        int64_t saved = state[i];
        for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
            if (values[v] == saved)
                continue;
            state[i] = values[v];
            CHECK_EQ(sp_stream_import(state, size, &t), SP_ERR_INVALID_STATE);
            seal(state, size); /* past the checksum: the checks behind it */
            int status = sp_stream_import(state, size, &t);
            tries++;
            refused += status != SP_OK;
            if (status == SP_OK) {
                /* What imports must be usable. */
                int added = add(t, 1);
                CHECK(added == SP_OK ||
                      (values[v] == INT64_MAX && added == SP_ERR_OVERFLOW));
                CHECK_EQ(sp_stream_finish(t), SP_OK);
                sp_stream_free(t);
            } else {
                CHECK(t == NULL);
            }
        }
        state[i] = saved;
        seal(state, size);
    }
    CHECK(refused > tries * 9 / 10);
    /* Specific damage that must always be refused. */
    /* The layout: header [0, 10); the pack {4} (length 90) at 10; the
     * last class (slot 0, ids 2 3, lengths 5 6) at 13; class 2 (id 0,
     * length 40) at 19; class 3 (id 1, length 30) at 23. */
    const int64_t expected[] = {1, 4, 90, 0, 2, 2, 3, 5, 6, 2, 1, 0, 40,
                                3, 1, 1, 30};
    CHECK(memcmp(state + 10, expected, sizeof expected) == 0);
    const struct { int64_t at, value, at2, value2; } damage[] = {
        {0, 0, 0, 0},           /* magic */
        {1, 2, 1, 2},           /* version: 2, not this library's */
        {2, 0, 2, 0},           /* capacity */
        {3, SP_FF, 3, SP_FF},   /* not a streaming strategy */
        {4, 1, 4, 1},           /* k */
        {5, -1, 5, -1},         /* a negative item limit */
        {5, 1, 5, 1},           /* open bins over the item limit */
        {6, 4, 6, 4},           /* next id not above every id in use */
        {7, 1, 7, 1},           /* finished with open bins */
        {7, 2, 7, 2},           /* finished flag not 0 or 1 */
        {8, 2, 8, 2},           /* more packs than present */
        {9, 4, 9, 4},           /* more open bins than present */
        {10, 0, 10, 0},         /* a pack with no ids */
        {12, 101, 12, 101},     /* a length over capacity */
        {13, 4, 13, 4},         /* no slot 4 (classes 1..3 and 0) */
        {23, 2, 26, 40},        /* class 2 twice */
        {15, 7, 15, 7},         /* an id that was never handed out */
        {15, 0, 15, 0},         /* id 0 in two bins */
        {16, 2, 16, 2},         /* ids not increasing */
        {22, 55, 22, 55},       /* class 1 length in the class-2 bin */
        {22, 33, 22, 33},       /* class 3 length in the class-2 bin */
        {17, 26, 17, 26},       /* class 3 length in the last class */
        {26, 0, 26, 0},         /* length 0 */
        {24, 2, 24, 2},         /* more items than present */
    };
    for (size_t d = 0; d < sizeof damage / sizeof *damage; d++) {
        int64_t saved = state[damage[d].at], saved2 = state[damage[d].at2];
        state[damage[d].at] = damage[d].value;
        state[damage[d].at2] = damage[d].value2;
        seal(state, size);
        CHECK_EQ(sp_stream_import(state, size, &t), SP_ERR_INVALID_STATE);
        CHECK(t == NULL);
        state[damage[d].at2] = saved2;
        state[damage[d].at] = saved;
        seal(state, size);
    }
    CHECK_EQ(sp_stream_import(state, size, &t), SP_OK);
    sp_stream_free(t);
    free(state);
    sp_stream_free(s);
}

/* NF keeps its open bin after the unread packs; the state must agree. */
static void test_import_corrupted_nf(void)
{
    sp_stream *s = create(10, SP_NF, SP_DEFAULT_K), *t = NULL;
    CHECK_EQ(sp_stream_add_many(s, (int64_t[]){6, 6}, 2, NULL), SP_OK);
    int64_t size;
    int64_t *state = export_state(s, &size);
    /* The pack {0} (length 6) at 10; the open bin (slot 0, id 1, length 6)
     * at 13. */
    const int64_t expected[] = {1, 0, 6, 0, 1, 1, 6};
    CHECK_EQ(size, 18);
    CHECK(memcmp(state + 10, expected, sizeof expected) == 0);
    const struct { int64_t at, value; } damage[] = {
        {11, 1},  /* the pack holds the open bin's id */
        {15, 0},  /* the open bin does not hold the latest id */
        {16, 10}, /* an exactly full bin would have closed */
        {13, 1},  /* NF has one slot */
        {9, 2},   /* two open bins */
    };
    for (size_t d = 0; d < sizeof damage / sizeof *damage; d++) {
        int64_t saved = state[damage[d].at];
        state[damage[d].at] = damage[d].value;
        seal(state, size);
        CHECK_EQ(sp_stream_import(state, size, &t), SP_ERR_INVALID_STATE);
        CHECK(t == NULL);
        state[damage[d].at] = saved;
        seal(state, size);
    }
    /* Intact, it resumes: 4 fills the open bin exactly. */
    CHECK_EQ(sp_stream_import(state, size, &t), SP_OK);
    int64_t pending = -1;
    CHECK_EQ(add_counted(t, 4, &pending), SP_OK);
    CHECK_EQ(pending, 2);
    packs p;
    packs_init(&p);
    CHECK_EQ(drain(t, &p), SP_OK);
    CHECK(pack_is(&p, 0, (int64_t[]){0}, 1, 6));
    CHECK(pack_is(&p, 1, (int64_t[]){1, 2}, 2, 10));
    CHECK_EQ(p.lengths[1], 6);
    CHECK_EQ(p.lengths[2], 4);
    sp_stream_free(t);
    free(state);
    sp_stream_free(s);
}

/* sp_stream_add gives the unread count after the call (NULL: not asked). */
static void test_add_count(void)
{
    int64_t count = -7;
    CHECK_EQ(sp_stream_add(NULL, 1, &count), SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_stream_add(NULL, 1, NULL), SP_ERR_NULL_POINTER);
    sp_stream *s = create(10, SP_NF, 2);
    CHECK_EQ(sp_stream_add(s, 4, &count), SP_OK);
    CHECK_EQ(count, 0);
    CHECK_EQ(sp_stream_add(s, 6, &count), SP_OK); /* exactly full: closes */
    CHECK_EQ(count, 1);
    CHECK_EQ(sp_stream_add(s, 11, &count), SP_ERR_LENGTH_EXCEEDS_CAPACITY);
    CHECK_EQ(sp_stream_add(s, 0, &count), SP_ERR_LENGTH_NOT_POSITIVE);
    /* the bad lengths changed nothing */
    CHECK_EQ(sp_stream_add(s, 9, &count), SP_OK);
    CHECK_EQ(count, 1);
    CHECK_EQ(sp_stream_add(s, 3, &count), SP_OK); /* 9 + 3 > 10: the 9 closes */
    CHECK_EQ(count, 2);
    CHECK_EQ(sp_stream_add(s, 1, NULL), SP_OK);   /* 3 + 1 fits */
    CHECK_EQ(unread(s), 2);
    packs p;
    packs_init(&p);
    CHECK_EQ(drain(s, &p), SP_OK);
    CHECK_EQ(unread(s), 0);
    CHECK_EQ(info_of(s).sequences_added, 5);
    CHECK_EQ(sp_stream_add(s, 6, &count), SP_OK); /* 3 + 1 + 6: full */
    CHECK_EQ(count, 1);
    CHECK_EQ(drain(s, &p), SP_OK);
    CHECK(pack_is(&p, 0, (int64_t[]){0, 1}, 2, 10));
    CHECK(pack_is(&p, 1, (int64_t[]){2}, 1, 9));
    CHECK(pack_is(&p, 2, (int64_t[]){3, 4, 5}, 3, 10));
    CHECK_EQ(sp_stream_finish(s), SP_OK);
    CHECK_EQ(sp_stream_add(s, 1, &count), SP_ERR_FINISHED);
    CHECK_EQ(sp_stream_add(s, 1, NULL), SP_ERR_FINISHED);
    sp_stream_free(s);
}

/* While one call holds a handle (its guard taken here by hand, as an
 * overlapping call on another thread would hold it), every call on it
 * returns SP_ERR_BUSY at once and changes nothing: neither the stream (its
 * exported state, byte for byte) nor the outputs it would have filled.
 * Afterwards the handle works as before. */
static void test_busy_changes_nothing(void)
{
    sp_stream *s = create(10, SP_HK, 3);
    /* open: class 2 {0} and the last class {2}; unread: {1} */
    CHECK_EQ(sp_stream_add_many(s, (int64_t[]){4, 10, 3}, 3, NULL), SP_OK);
    int64_t before_size, after_size;
    int64_t *before = export_state(s, &before_size);

    CHECK_EQ(spi_stream_enter(s), SP_OK);
    int64_t batch[] = {4, 3}, count = -7, err = -7, is = -7, ps = -7;
    int64_t size = -7, written = -7, state[64];
    int64_t items[16], lengths[16], offsets[17], used[16];
    sp_stream_info info, untouched;
    memset(&info, 0x5a, sizeof info);
    untouched = info;
    CHECK_EQ(sp_stream_add(s, 4, &count), SP_ERR_BUSY);
    CHECK_EQ(count, -7);
    CHECK_EQ(sp_stream_add(s, 4, NULL), SP_ERR_BUSY);
    CHECK_EQ(sp_stream_add_many(s, batch, 2, &err), SP_ERR_BUSY);
    CHECK_EQ(sp_stream_add_many(s, batch, 2, NULL), SP_ERR_BUSY);
    sp_pack_buffers out = buffers(items, lengths, 16, offsets, used, 16);
    CHECK_EQ(sp_stream_pack_many(s, batch, 2, &out, &err), SP_ERR_BUSY);
    CHECK_EQ(out.num_packs, 0);
    out = buffers(items, lengths, 16, offsets, used, 16);
    CHECK_EQ(sp_stream_read(s, &out), SP_ERR_BUSY);
    CHECK_EQ(out.num_packs, 0);
    CHECK_EQ(sp_stream_finish(s), SP_ERR_BUSY);
    CHECK_EQ(sp_stream_get_info(s, &info), SP_ERR_BUSY);
    CHECK(memcmp(&info, &untouched, sizeof info) == 0);
    CHECK_EQ(sp_stream_pack_many_bound(s, 1, &is, &ps), SP_ERR_BUSY);
    CHECK_EQ(is, -7);
    CHECK_EQ(ps, -7);
    CHECK_EQ(sp_stream_state_size(s, &size), SP_ERR_BUSY);
    CHECK_EQ(size, -7);
    CHECK_EQ(sp_stream_export(s, state, 64, &written), SP_ERR_BUSY);
    spi_stream_leave(s);

    int64_t *after = export_state(s, &after_size);
    CHECK_EQ(after_size, before_size);
    CHECK(after_size == before_size &&
          memcmp(before, after, (size_t)before_size * sizeof *before) == 0);
    /* The handle is free again: the same calls do their work. */
    info = info_of(s);
    CHECK_EQ(info.sequences_added, 3);
    CHECK_EQ(info.open_bins, 2);
    CHECK_EQ(info.unread_packs, 1);
    CHECK_EQ(sp_stream_add(s, 4, &count), SP_OK); /* class 2 {0, 3} closes */
    CHECK_EQ(count, 2);
    out = buffers(items, lengths, 16, offsets, used, 16);
    CHECK_EQ(sp_stream_read(s, &out), SP_OK);
    CHECK_EQ(out.num_packs, 2);
    CHECK(items[0] == 1 && items[1] == 0 && items[2] == 3);
    CHECK_EQ(sp_stream_finish(s), SP_OK);
    free(before);
    free(after);
    sp_stream_free(s);
}

/* Threads that share a handle (misuse the library survives): a call that
 * overlaps another returns SP_ERR_BUSY and changes nothing; every other
 * call gives its normal status and does its work. Each thread counts the
 * lengths accepted and keeps the packs it read. After the join the stream
 * must agree: as many ids as accepted lengths, each id read exactly once
 * (by some thread, or after the finish), every pack within capacity, and
 * the lengths read adding up to the lengths accepted. */
#define THREADS 4
#define PER_THREAD 20000
#define SHARED_N ((int64_t)THREADS * PER_THREAD)
#define SHARED_CAPACITY 64
#define SHARED_K 6

typedef struct shared_use {
    sp_stream *s;
    int seed;
    int64_t accepted, accepted_sum; /* lengths accepted, and their sum */
    int64_t busy;                   /* SP_ERR_BUSY answers */
    int64_t bad;                    /* answers that break the contract */
    int64_t num_ids, read_sum;      /* ids read, and the sum of their lengths */
    int64_t *ids;                   /* SHARED_N entries */
    sp_pack_buffers out;            /* room for every pack there can be */
} shared_use;

static int shared_use_init(shared_use *u, sp_stream *s, int seed)
{
    memset(u, 0, sizeof *u);
    u->s = s;
    u->seed = seed;
    u->ids = malloc((size_t)SHARED_N * sizeof(int64_t));
    u->out = buffers(malloc((size_t)SHARED_N * sizeof(int64_t)),
                     malloc((size_t)SHARED_N * sizeof(int64_t)), SHARED_N,
                     malloc((size_t)(SHARED_N + 1) * sizeof(int64_t)),
                     malloc((size_t)SHARED_N * sizeof(int64_t)), SHARED_N);
    return u->ids != NULL && u->out.items != NULL && u->out.lengths != NULL &&
           u->out.bin_offsets != NULL && u->out.bin_used != NULL;
}

static void shared_use_free(shared_use *u)
{
    free(u->ids);
    free(u->out.items);
    free(u->out.lengths);
    free(u->out.bin_offsets);
    free(u->out.bin_used);
}

/* Keep the packs a call wrote to u->out; a pack that is empty, over
 * capacity or whose used is not its lengths' sum counts as bad. */
static void shared_collect(shared_use *u)
{
    const sp_pack_buffers *o = &u->out;
    if (o->num_packs < 0 || o->num_packs > SHARED_N || o->bin_offsets[0] != 0) {
        u->bad++;
        return;
    }
    for (int64_t b = 0; b < o->num_packs; b++) {
        int64_t sum = 0;
        if (o->bin_offsets[b + 1] <= o->bin_offsets[b] ||
            o->bin_offsets[b + 1] > SHARED_N ||
            u->num_ids + o->bin_offsets[b + 1] - o->bin_offsets[b] > SHARED_N) {
            u->bad++;
            return;
        }
        for (int64_t j = o->bin_offsets[b]; j < o->bin_offsets[b + 1]; j++) {
            u->ids[u->num_ids++] = o->items[j];
            sum += o->lengths[j];
        }
        u->bad += sum != o->bin_used[b] || sum > SHARED_CAPACITY;
        u->read_sum += sum;
    }
}

/* One answer: the normal status counts, SP_ERR_BUSY is tallied, anything
 * else breaks the contract. Returns whether the call did its work. */
static int shared_answer(shared_use *u, int status)
{
    if (status == SP_ERR_BUSY)
        u->busy++;
    else if (status != SP_OK)
        u->bad++;
    return status == SP_OK;
}

static void hammer(void *arg)
{
    shared_use *u = arg;
    uint64_t x = (uint64_t)u->seed * 2654435761u + 1;
    int64_t batch[8];
    for (int i = 0; i < PER_THREAD;) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        int64_t length = (int64_t)(x >> 33) % SHARED_CAPACITY + 1;
        int64_t batch_sum = 0;
        for (int j = 0; j < 8; j++)
            batch_sum += batch[j] = (length + j) % SHARED_CAPACITY + 1;
        if (i % 3 == 0 && i + 8 <= PER_THREAD) {
            int64_t err = -7;
            if (shared_answer(u, sp_stream_add_many(u->s, batch, 8, &err))) {
                u->accepted += 8;
                u->accepted_sum += batch_sum;
            }
            i += 8;
        } else if (i % 3 == 1 && i + 8 <= PER_THREAD) {
            int64_t err = -7;
            u->out.num_packs = -1;
            int status = sp_stream_pack_many(u->s, batch, 8, &u->out, &err);
            if (shared_answer(u, status)) {
                u->accepted += 8;
                u->accepted_sum += batch_sum;
                shared_collect(u);
            } else {
                u->bad += u->out.num_packs != 0; /* nothing handed out */
            }
            i += 8;
        } else {
            int64_t count = -7;
            if (shared_answer(u, sp_stream_add(u->s, length, &count))) {
                u->accepted++;
                u->accepted_sum += length;
                u->bad += count < 0;
            } else {
                u->bad += count != -7; /* a BUSY add writes nothing */
            }
            i++;
        }
        sp_stream_info info;
        info.capacity = -7;
        if (shared_answer(u, sp_stream_get_info(u->s, &info))) {
            u->bad += info.open_bins < 0 || info.open_bins > SHARED_K ||
                      info.sequences_added < 0 ||
                      info.sequences_added > SHARED_N ||
                      info.unread_items < info.unread_packs ||
                      info.capacity != SHARED_CAPACITY || info.finished != 0;
        } else {
            u->bad += info.capacity != -7;
        }
        if (x >> 62 == 0) {
            u->out.num_packs = -1;
            if (shared_answer(u, sp_stream_read(u->s, &u->out)))
                shared_collect(u);
            else
                u->bad += u->out.num_packs != 0;
        }
    }
}

static void test_shared_handle(void)
{
    sp_stream *s = create(SHARED_CAPACITY, SP_HK, SHARED_K);
    spi_thread threads[THREADS];
    int started[THREADS];
    shared_use uses[THREADS], last;
    int ready = 1;
    for (int t = 0; t < THREADS; t++)
        ready &= shared_use_init(&uses[t], s, t);
    ready &= shared_use_init(&last, s, THREADS);
    CHECK(ready);
    if (!ready)
        return; /* (out of memory: leaks, but the test has failed) */
    for (int t = 0; t < THREADS; t++) {
        started[t] = spi_thread_start(&threads[t], hammer, &uses[t]) == SP_OK;
        CHECK(started[t]);
    }
    for (int t = 0; t < THREADS; t++)
        if (started[t])
            spi_thread_join(&threads[t]);
    int64_t accepted = 0, accepted_sum = 0, busy = 0, bad = 0;
    for (int t = 0; t < THREADS; t++) {
        accepted += uses[t].accepted;
        accepted_sum += uses[t].accepted_sum;
        busy += uses[t].busy;
        bad += uses[t].bad;
    }
    CHECK_EQ(bad, 0);
    CHECK(accepted > 0 && accepted <= SHARED_N);
    /* Alone now: nothing is busy. */
    CHECK_EQ(info_of(s).sequences_added, accepted);
    CHECK_EQ(sp_stream_finish(s), SP_OK);
    CHECK_EQ(sp_stream_read(s, &last.out), SP_OK);
    shared_collect(&last);
    CHECK_EQ(last.bad, 0);
    CHECK_EQ(last.busy, 0);
    /* Every accepted id read exactly once, and the lengths all there. */
    char *seen = calloc((size_t)SHARED_N, 1);
    int64_t ids = 0, once = 0, read_sum = last.read_sum;
    for (int t = 0; t <= THREADS; t++) {
        const shared_use *u = t < THREADS ? &uses[t] : &last;
        for (int64_t j = 0; j < u->num_ids; j++) {
            const int64_t id = u->ids[j];
            ids++;
            if (id >= 0 && id < accepted && !seen[id]) {
                seen[id] = 1;
                once++;
            }
        }
        if (t < THREADS)
            read_sum += u->read_sum;
    }
    CHECK_EQ(ids, accepted);
    CHECK_EQ(once, accepted);
    CHECK_EQ(read_sum, accepted_sum);
    printf("shared handle: %" PRId64 " lengths accepted, %" PRId64
           " calls answered SP_ERR_BUSY\n", accepted, busy);
    free(seen);
    for (int t = 0; t < THREADS; t++)
        shared_use_free(&uses[t]);
    shared_use_free(&last);
    sp_stream_free(s);
}

int main(void)
{
    test_pack_many_errors();
    rng_state = UINT64_C(0x243f6a8885a308d3); /* this file's inputs */
    test_create_errors();
    test_nf_example();
    test_hk_example();
    test_random_vs_offline();
    test_hk_long_batches_vs_offline();
    test_batch_check_extremes();
    test_hk_bad_length_in_long_batch_changes_nothing();
    test_errors();
    test_export_import_resume();
    test_import_corrupted();
    test_import_corrupted_nf();
    test_add_count();
    test_busy_changes_nothing();
    test_shared_handle();
    return check_summary();
}
