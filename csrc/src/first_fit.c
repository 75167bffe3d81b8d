/*
 * first_fit.c - the lowest-numbered bin that fits, in O(log bins).
 *
 * An 8-ary max tree over the residuals of the bins in opening order. A
 * group of 8 int64 values is one 64-byte cache line, so a query touches one
 * line per level, and a million bins need 7 levels instead of the 20 of a
 * binary tree. Bins not yet opened have residual 0, so they never fit
 * (every length is >= 1) and opening bin b is just setting its leaf.
 */
#include <stdlib.h>

#include "internal.h"

#define FANOUT 8
#define MAX_LEVELS 22 /* 8^21 > 2^62 bins */

struct sp_first_fit {
    int64_t capacity;
    int levels;                 /* level 0 holds the leaves */
    int64_t *level[MAX_LEVELS]; /* level[l][i] = max of group i of level l-1 */
    int64_t top;                /* max over the whole top level */
};

sp_first_fit *sp_ff_create(int64_t capacity, int64_t max_bins)
{
    sp_first_fit *ff = calloc(1, sizeof *ff);
    if (ff == NULL)
        return NULL;
    ff->capacity = capacity;
    /* Level l has `width` entries, a multiple of FANOUT; the top has one
     * group of FANOUT entries. */
    int64_t width = max_bins < 1 ? 1 : max_bins;
    do {
        width = (width + FANOUT - 1) / FANOUT * FANOUT;
        ff->level[ff->levels] = sp_alloc_zeroed(width, sizeof(int64_t));
        if (ff->level[ff->levels] == NULL) {
            sp_ff_free(ff);
            return NULL;
        }
        ff->levels++;
        width /= FANOUT;
    } while (width > 1);
    return ff;
}

void sp_ff_free(sp_first_fit *ff)
{
    if (ff == NULL)
        return;
    for (int l = 0; l < ff->levels; l++)
        free(ff->level[l]);
    free(ff);
}

/* Index of the first of the FANOUT values at group that is >= s. The caller
 * knows that one exists. */
static inline int64_t first_at_least(const int64_t *group, int64_t s)
{
    int64_t j = 0;
    while (group[j] < s)
        j++;
    return j;
}

int32_t sp_ff_find(const sp_first_fit *ff, int64_t s)
{
    if (ff->top < s)
        return -1;
    int64_t at = 0;
    for (int l = ff->levels - 1; l >= 0; l--)
        at = at * FANOUT + first_at_least(ff->level[l] + at * FANOUT, s);
    return (int32_t)at;
}

static inline int64_t group_max(const int64_t *group)
{
    int64_t m = group[0];
    for (int j = 1; j < FANOUT; j++)
        m = group[j] > m ? group[j] : m;
    return m;
}

void sp_ff_set(sp_first_fit *ff, int32_t b, int64_t residual)
{
    int64_t at = b;
    ff->level[0][at] = residual;
    /* Stop as soon as a group's maximum is already what its parent holds. */
    for (int l = 1; l < ff->levels; l++) {
        int64_t group = at / FANOUT;
        int64_t m = group_max(ff->level[l - 1] + group * FANOUT);
        if (ff->level[l][group] == m)
            return;
        ff->level[l][group] = m;
        at = group;
    }
    ff->top = group_max(ff->level[ff->levels - 1]);
}

int64_t sp_ff_residual(const sp_first_fit *ff, int32_t b)
{
    return ff->level[0][b];
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
         * until its residual drops below it. (A division costs more than
         * the rest of the step: skip it when b fits one more item only.) */
        int64_t q = (count > 1 && r - length >= length) ? r / length : 1;
        q = q < count ? q : count;
        sp_bins_place(bins, b, length, q);
        sp_ff_set(ff, b, r - q * length);
        count -= q;
    }
}
