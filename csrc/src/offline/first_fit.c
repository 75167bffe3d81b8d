/*
 * first_fit.c - the lowest-numbered bin that fits, in O(log bins).
 *
 * A max tree over the residuals of the bins in opening order, whose groups
 * are one 64-byte cache line each (first_fit_tree.h), so a query touches
 * one line per level. When the capacity fits 16 bits (every common context
 * length) the keys are uint16_t: 32 per line, so a million bins need 4
 * levels and the leaves fit in L2; otherwise int64_t keys, 8 per line.
 * Bins not yet opened have residual 0, so they never fit (every length is
 * >= 1) and opening bin b is just setting its leaf.
 */
#include <stdlib.h>

#include "common/bits.h"
#include "offline/offline.h"

#define FFT_MAX_LEVELS 22 /* 8^21 > 2^62 bins */

#if defined(__SSE2__)
#  include <emmintrin.h>
/* A group of 32 uint16_t keys is four SSE2 vectors. g >= s exactly when
 * the saturating difference s - g is 0. */
static inline int64_t narrow_first_fit_sse2(const uint16_t *group, uint16_t s)
{
    const __m128i *g = (const __m128i *)group;
    const __m128i sv = _mm_set1_epi16((short)s), zero = _mm_setzero_si128();
    uint64_t mask = 0;
    for (int v = 0; v < 4; v++) {
        __m128i fits = _mm_cmpeq_epi16(_mm_subs_epu16(sv, _mm_loadu_si128(g + v)), zero);
        mask |= (uint64_t)(uint32_t)_mm_movemask_epi8(fits) << (16 * v);
    }
    return spi_lowest_bit(mask) / 2; /* two mask bits per key */
}

static inline uint16_t narrow_group_max_sse2(const uint16_t *group)
{
    const __m128i *g = (const __m128i *)group;
    /* max(a, b) = (a -sat b) + b for unsigned 16-bit lanes */
    __m128i m = _mm_loadu_si128(g);
    for (int v = 1; v < 4; v++) {
        __m128i x = _mm_loadu_si128(g + v);
        m = _mm_adds_epu16(_mm_subs_epu16(m, x), x);
    }
    /* fold the 8 lanes in halves (shifts must be immediates) */
    __m128i x = _mm_srli_si128(m, 8);
    m = _mm_adds_epu16(_mm_subs_epu16(m, x), x);
    x = _mm_srli_si128(m, 4);
    m = _mm_adds_epu16(_mm_subs_epu16(m, x), x);
    x = _mm_srli_si128(m, 2);
    m = _mm_adds_epu16(_mm_subs_epu16(m, x), x);
    return (uint16_t)_mm_extract_epi16(m, 0);
}
#  define FFT_FIRST_FIT_IN narrow_first_fit_sse2
#  define FFT_GROUP_MAX narrow_group_max_sse2
#endif

#define FFT_KEY uint16_t
#define FFT_FANOUT 32
#define FFT(name) narrow_##name
#include "offline/first_fit_tree.h"
#undef FFT_KEY
#undef FFT_FANOUT
#undef FFT
#undef FFT_FIRST_FIT_IN
#undef FFT_GROUP_MAX

#define FFT_KEY int64_t
#define FFT_FANOUT 8
#define FFT(name) wide_##name
#include "offline/first_fit_tree.h"
#undef FFT_KEY
#undef FFT_FANOUT
#undef FFT
#undef FFT_FIRST_FIT_IN
#undef FFT_GROUP_MAX

struct spi_first_fit {
    int64_t capacity;
    int narrow; /* capacity <= UINT16_MAX: the uint16_t tree */
    narrow_tree narrow_tree;
    wide_tree wide_tree;
};

spi_first_fit *spi_ff_create(int64_t capacity, int64_t max_bins)
{
    spi_first_fit *ff = calloc(1, sizeof *ff);
    if (ff == NULL)
        return NULL;
    ff->capacity = capacity;
    ff->narrow = capacity <= UINT16_MAX;
    int status = ff->narrow ? narrow_init(&ff->narrow_tree, max_bins)
                            : wide_init(&ff->wide_tree, max_bins);
    if (status != SP_OK) {
        spi_ff_free(ff);
        return NULL;
    }
    return ff;
}

void spi_ff_free(spi_first_fit *ff)
{
    if (ff == NULL)
        return;
    narrow_release(&ff->narrow_tree);
    wide_release(&ff->wide_tree);
    free(ff);
}

int32_t spi_ff_find(const spi_first_fit *ff, int64_t s)
{
    if (ff->narrow)
        return narrow_find(&ff->narrow_tree, (uint16_t)s);
    return wide_find(&ff->wide_tree, s);
}

void spi_ff_set(spi_first_fit *ff, int32_t b, int64_t residual)
{
    if (ff->narrow)
        narrow_set(&ff->narrow_tree, b, (uint16_t)residual);
    else
        wide_set(&ff->wide_tree, b, residual);
}

int64_t spi_ff_residual(const spi_first_fit *ff, int32_t b)
{
    if (ff->narrow)
        return ff->narrow_tree.level[0][b];
    return ff->wide_tree.level[0][b];
}

void spi_ff_place_run(spi_first_fit *ff, spi_bins *bins, int64_t length,
                     int64_t count)
{
    while (count > 0) {
        int32_t b = spi_ff_find(ff, length);
        int64_t r;
        if (b < 0) {
            b = spi_bins_open(bins);
            r = ff->capacity;
        } else {
            r = spi_ff_residual(ff, b);
        }
        /* Bins before b stay too full for this length, so b keeps fitting
         * until its residual drops below it. (A division costs more than
         * the rest of the step: skip it when b fits one more item only.) */
        int64_t q = (count > 1 && r - length >= length) ? r / length : 1;
        q = q < count ? q : count;
        const int64_t room = spi_bins_room(bins, b);
        q = q < room ? q : room;
        spi_bins_place(bins, b, length, q);
        /* A bin at its item limit has no residual for any length. */
        spi_ff_set(ff, b, q < room ? r - q * length : 0);
        count -= q;
    }
}
