/*
 * first_fit_tree.h - a max tree over bin residuals, instantiated by
 * first_fit.c for two key types (see there). Before including, define
 *   FFT_KEY     the key type (an unsigned or signed integer type)
 *   FFT_FANOUT  keys per group: 64 bytes / sizeof(FFT_KEY), one cache line
 *   FFT(name)   the prefixed name of each function
 * and optionally FFT_FIRST_FIT_IN / FFT_GROUP_MAX (vectorised group scans).
 * Level 0 holds one key per bin; level l + 1 holds the maximum of each
 * group of FFT_FANOUT keys of level l; the top level is a single group.
 */

typedef struct FFT(tree) {
    int levels;
    FFT_KEY *level[FFT_MAX_LEVELS];
    FFT_KEY top; /* maximum of the top group */
} FFT(tree);

static int FFT(init)(FFT(tree) *t, int64_t max_bins)
{
    int64_t width = max_bins < 1 ? 1 : max_bins;
    t->levels = 0;
    do {
        width = (width + FFT_FANOUT - 1) / FFT_FANOUT * FFT_FANOUT;
        t->level[t->levels] = spi_alloc_zeroed(width, sizeof(FFT_KEY));
        if (t->level[t->levels] == NULL)
            return SP_ERR_OUT_OF_MEMORY;
        t->levels++;
        width /= FFT_FANOUT;
    } while (width > 1);
    t->top = 0;
    return SP_OK;
}

static void FFT(release)(FFT(tree) *t)
{
    for (int l = 0; l < t->levels; l++)
        free(t->level[l]);
}

/* Position of the first key >= s in a group; the caller knows one exists.
 * FFT_FIRST_FIT_IN and FFT_GROUP_MAX may name vectorised versions. */
#ifndef FFT_FIRST_FIT_IN
static inline int64_t FFT(first_fit_in)(const FFT_KEY *group, FFT_KEY s)
{
    uint64_t mask = 0; /* branch-free: the keys that fit, then the lowest */
    for (int j = 0; j < FFT_FANOUT; j++)
        mask |= (uint64_t)(group[j] >= s) << j;
    return spi_lowest_bit(mask);
}
#  define FFT_FIRST_FIT_IN FFT(first_fit_in)
#endif

#ifndef FFT_GROUP_MAX
static inline FFT_KEY FFT(group_max)(const FFT_KEY *group)
{
    FFT_KEY m = group[0];
    for (int j = 1; j < FFT_FANOUT; j++)
        m = group[j] > m ? group[j] : m;
    return m;
}
#  define FFT_GROUP_MAX FFT(group_max)
#endif

static int32_t FFT(find)(const FFT(tree) *t, FFT_KEY s)
{
    if (t->top < s)
        return -1;
    int64_t at = 0;
    for (int l = t->levels - 1; l >= 0; l--)
        at = at * FFT_FANOUT + FFT_FIRST_FIT_IN(t->level[l] + at * FFT_FANOUT, s);
    return (int32_t)at;
}

static void FFT(set)(FFT(tree) *t, int32_t b, FFT_KEY residual)
{
    int64_t at = b;
    t->level[0][at] = residual;
    /* Stop as soon as a group's maximum is already what its parent holds. */
    for (int l = 1; l < t->levels; l++) {
        int64_t group = at / FFT_FANOUT;
        FFT_KEY m = FFT_GROUP_MAX(t->level[l - 1] + group * FFT_FANOUT);
        if (t->level[l][group] == m)
            return;
        t->level[l][group] = m;
        at = group;
    }
    t->top = FFT_GROUP_MAX(t->level[t->levels - 1]);
}
