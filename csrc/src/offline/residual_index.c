/*
 * residual_index.c - open bins keyed by remaining space, for best fit and
 * worst fit.
 *
 * Bins with equal remaining space are interchangeable for every later
 * decision, so best fit only needs "the smallest residual >= s". When the
 * capacity is small next to n, each residual value gets a LIFO stack of bins
 * and a hierarchical 64-bit bitset marks the non-empty stacks: a query is a
 * few word operations per level. For a large capacity (up to 2^62) that
 * would cost O(capacity) memory, so a treap over (residual, recency) is used
 * instead: O(log bins) per operation and O(bins) memory. Both give the same
 * answer, including the tie rule (the bin that reached a residual most
 * recently is taken first).
 */
#include <stdlib.h>
#include <string.h>

#include "common/bits.h"
#include "common/mix.h"
#include "offline/offline.h"

#define DENSE_MIN_LIMIT ((int64_t)1 << 16)
#define DENSE_MAX_LIMIT ((int64_t)1 << 24)
#define MAX_LEVELS 5

struct spi_residual_index {
    int dense;
    int64_t capacity;
    /* dense mode */
    int32_t *head;   /* capacity + 1 stack heads, -1 when empty */
    int32_t *next;   /* per bin: next bin down its stack */
    int levels;
    uint64_t *level[MAX_LEVELS];
    int64_t words[MAX_LEVELS];
    /* treap mode */
    int32_t root;
    int32_t *left, *right;
    int64_t *residual;
    uint64_t *stamp;
    uint64_t clock;
};

/* ---- hierarchical bitset ------------------------------------------------ */

static void bits_set(spi_residual_index *ri, int64_t x)
{
    for (int lv = 0; lv < ri->levels; lv++) {
        uint64_t *w = &ri->level[lv][x >> 6];
        uint64_t before = *w;
        *w = before | (UINT64_C(1) << (x & 63));
        if (before != 0)
            return;
        x >>= 6;
    }
}

static void bits_clear(spi_residual_index *ri, int64_t x)
{
    for (int lv = 0; lv < ri->levels; lv++) {
        uint64_t *w = &ri->level[lv][x >> 6];
        *w &= ~(UINT64_C(1) << (x & 63));
        if (*w != 0)
            return;
        x >>= 6;
    }
}

/* Smallest set position >= x, or -1. */
static int64_t bits_next(const spi_residual_index *ri, int64_t x)
{
    for (int lv = 0; lv < ri->levels; lv++) {
        int64_t w = x >> 6;
        if (w >= ri->words[lv])
            return -1;
        uint64_t m = ri->level[lv][w] & (~UINT64_C(0) << (x & 63));
        if (m != 0) {
            int64_t pos = (w << 6) | spi_lowest_bit(m);
            for (int down = lv - 1; down >= 0; down--)
                pos = (pos << 6) | spi_lowest_bit(ri->level[down][pos]);
            return pos;
        }
        x = w + 1;
    }
    return -1;
}

/* Largest set position, or -1. */
static int64_t bits_max(const spi_residual_index *ri)
{
    int top = ri->levels - 1;
    uint64_t m = ri->level[top][0];
    if (m == 0)
        return -1;
    int64_t pos = spi_highest_bit(m);
    for (int down = top - 1; down >= 0; down--)
        pos = (pos << 6) | spi_highest_bit(ri->level[down][pos]);
    return pos;
}

static int dense_init(spi_residual_index *ri, int64_t max_bins)
{
    int64_t universe = ri->capacity + 1;
    ri->head = spi_alloc_array(universe, sizeof(int32_t));
    ri->next = spi_alloc_array(max_bins, sizeof(int32_t));
    if (!ri->head || !ri->next)
        return SP_ERR_OUT_OF_MEMORY;
    memset(ri->head, 0xff, (size_t)universe * sizeof(int32_t));
    int64_t bits = universe;
    ri->levels = 0;
    do {
        int64_t words = (bits + 63) >> 6;
        ri->words[ri->levels] = words;
        ri->level[ri->levels] = spi_alloc_zeroed(words, sizeof(uint64_t));
        if (ri->level[ri->levels] == NULL)
            return SP_ERR_OUT_OF_MEMORY;
        ri->levels++;
        bits = words;
    } while (bits > 1);
    return SP_OK;
}

/* ---- treap --------------------------------------------------------------- */

/* Priorities are a fixed hash of the bin number (the high half of the b-th
 * SplitMix64 output from state 0), so the shape is deterministic and
 * independent of the lengths. The answers depend on the keys alone, never
 * on the shape. */
static uint32_t priority(int32_t b)
{
    return (uint32_t)(spi_mix64((uint64_t)b * SPI_GOLDEN_GAMMA) >> 32);
}

/* Order: residual ascending, then most recent (larger stamp) first. */
static int key_less(const spi_residual_index *ri, int32_t a, int64_t res,
                    uint64_t stamp)
{
    if (ri->residual[a] != res)
        return ri->residual[a] < res;
    return ri->stamp[a] > stamp;
}

static void split(spi_residual_index *ri, int32_t t, int64_t res,
                  uint64_t stamp, int32_t *l, int32_t *r)
{
    if (t < 0) {
        *l = *r = -1;
    } else if (key_less(ri, t, res, stamp)) {
        split(ri, ri->right[t], res, stamp, &ri->right[t], r);
        *l = t;
    } else {
        split(ri, ri->left[t], res, stamp, l, &ri->left[t]);
        *r = t;
    }
}

static int32_t merge(spi_residual_index *ri, int32_t a, int32_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    if (priority(a) > priority(b)) {
        ri->right[a] = merge(ri, ri->right[a], b);
        return a;
    }
    ri->left[b] = merge(ri, a, ri->left[b]);
    return b;
}

static int32_t erase(spi_residual_index *ri, int32_t t, int32_t x)
{
    if (t == x)
        return merge(ri, ri->left[t], ri->right[t]);
    if (key_less(ri, t, ri->residual[x], ri->stamp[x]))
        ri->right[t] = erase(ri, ri->right[t], x);
    else
        ri->left[t] = erase(ri, ri->left[t], x);
    return t;
}

/* First node with residual >= s (the most recent among the smallest). */
static int32_t lower_bound(const spi_residual_index *ri, int64_t s)
{
    int32_t t = ri->root, found = -1;
    while (t >= 0) {
        if (ri->residual[t] >= s) {
            found = t;
            t = ri->left[t];
        } else {
            t = ri->right[t];
        }
    }
    return found;
}

static int treap_init(spi_residual_index *ri, int64_t max_bins)
{
    ri->root = -1;
    ri->clock = 0;
    ri->left = spi_alloc_array(max_bins, sizeof(int32_t));
    ri->right = spi_alloc_array(max_bins, sizeof(int32_t));
    ri->residual = spi_alloc_array(max_bins, sizeof(int64_t));
    ri->stamp = spi_alloc_array(max_bins, sizeof(uint64_t));
    if (!ri->left || !ri->right || !ri->residual || !ri->stamp)
        return SP_ERR_OUT_OF_MEMORY;
    return SP_OK;
}

/* ---- public -------------------------------------------------------------- */

spi_residual_index *spi_ri_create(int64_t capacity, int64_t max_bins)
{
    spi_residual_index *ri = calloc(1, sizeof *ri);
    if (ri == NULL)
        return NULL;
    ri->capacity = capacity;
    int64_t limit = max_bins > DENSE_MIN_LIMIT ? max_bins : DENSE_MIN_LIMIT;
    limit = limit < DENSE_MAX_LIMIT ? limit : DENSE_MAX_LIMIT;
    ri->dense = capacity <= limit;
    int status = ri->dense ? dense_init(ri, max_bins) : treap_init(ri, max_bins);
    if (status != SP_OK) {
        spi_ri_free(ri);
        return NULL;
    }
    return ri;
}

void spi_ri_free(spi_residual_index *ri)
{
    if (ri == NULL)
        return;
    free(ri->head);
    free(ri->next);
    for (int lv = 0; lv < MAX_LEVELS; lv++)
        free(ri->level[lv]);
    free(ri->left);
    free(ri->right);
    free(ri->residual);
    free(ri->stamp);
    free(ri);
}

void spi_ri_push(spi_residual_index *ri, int32_t b, int64_t r)
{
    if (ri->dense) {
        int32_t h = ri->head[r];
        ri->next[b] = h;
        ri->head[r] = b;
        if (h < 0)
            bits_set(ri, r);
        return;
    }
    ri->residual[b] = r;
    ri->stamp[b] = ++ri->clock;
    ri->left[b] = ri->right[b] = -1;
    int32_t l, g;
    split(ri, ri->root, r, ri->stamp[b], &l, &g);
    ri->root = merge(ri, merge(ri, l, b), g);
}

static int32_t dense_pop(spi_residual_index *ri, int64_t r)
{
    int32_t b = ri->head[r];
    int32_t nx = ri->next[b];
    ri->head[r] = nx;
    if (nx < 0)
        bits_clear(ri, r);
    return b;
}

int32_t spi_ri_pop_best(spi_residual_index *ri, int64_t s, int64_t *r)
{
    if (ri->dense) {
        if (s > ri->capacity)
            return -1;
        int64_t at = bits_next(ri, s);
        if (at < 0)
            return -1;
        *r = at;
        return dense_pop(ri, at);
    }
    int32_t b = lower_bound(ri, s);
    if (b < 0)
        return -1;
    *r = ri->residual[b];
    ri->root = erase(ri, ri->root, b);
    return b;
}

int32_t spi_ri_pop_max(spi_residual_index *ri, int64_t *r)
{
    if (ri->dense) {
        int64_t at = bits_max(ri);
        if (at < 0)
            return -1;
        *r = at;
        return dense_pop(ri, at);
    }
    int32_t t = ri->root;
    if (t < 0)
        return -1;
    while (ri->right[t] >= 0)
        t = ri->right[t];
    return spi_ri_pop_best(ri, ri->residual[t], r);
}
