/*
 * first_fit.c - the lowest-numbered bin that fits, in O(log bins).
 *
 * A max segment tree over the residuals of the bins in opening order. Bins
 * not yet opened have residual 0, so they never fit (every length is >= 1)
 * and opening bin b is just setting its leaf.
 */
#include <stdlib.h>

#include "internal.h"

struct sp_first_fit {
    int64_t capacity;
    int64_t leaves; /* a power of two >= max_bins */
    int64_t *tree;  /* 2 * leaves; tree[1] is the root */
};

sp_first_fit *sp_ff_create(int64_t capacity, int64_t max_bins)
{
    sp_first_fit *ff = calloc(1, sizeof *ff);
    if (ff == NULL)
        return NULL;
    ff->capacity = capacity;
    ff->leaves = 1;
    while (ff->leaves < max_bins)
        ff->leaves <<= 1;
    ff->tree = calloc((size_t)(2 * ff->leaves), sizeof(int64_t));
    if (ff->tree == NULL) {
        free(ff);
        return NULL;
    }
    return ff;
}

void sp_ff_free(sp_first_fit *ff)
{
    if (ff == NULL)
        return;
    free(ff->tree);
    free(ff);
}

int32_t sp_ff_find(const sp_first_fit *ff, int64_t s)
{
    const int64_t *t = ff->tree;
    if (t[1] < s)
        return -1;
    int64_t node = 1;
    while (node < ff->leaves) {
        node <<= 1;
        if (t[node] < s)
            node++;
    }
    return (int32_t)(node - ff->leaves);
}

void sp_ff_set(sp_first_fit *ff, int32_t b, int64_t residual)
{
    int64_t *t = ff->tree;
    int64_t i = ff->leaves + b;
    t[i] = residual;
    /* Stop as soon as an ancestor's maximum does not change. */
    for (i >>= 1; i >= 1; i >>= 1) {
        int64_t l = t[2 * i], r = t[2 * i + 1];
        int64_t m = l > r ? l : r;
        if (t[i] == m)
            break;
        t[i] = m;
    }
}

int64_t sp_ff_residual(const sp_first_fit *ff, int32_t b)
{
    return ff->tree[ff->leaves + b];
}

void sp_ff_place_run(sp_first_fit *ff, sp_bins *bins, int64_t length,
                     int64_t count)
{
    while (count > 0) {
        int32_t b = sp_ff_find(ff, length);
        int64_t r;
        if (b < 0) {
            b = sp_bins_open(bins);
            r = ff->capacity;
        } else {
            r = sp_ff_residual(ff, b);
        }
        /* Bins before b stay too full for this length, so b keeps fitting
         * until its residual drops below it. */
        int64_t q = r / length;
        q = q < count ? q : count;
        sp_bins_place(bins, b, length, q);
        sp_ff_set(ff, b, r - q * length);
        count -= q;
    }
}
