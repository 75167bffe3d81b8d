/*
 * shuffle.c - FirstFitShuffle: a seeded shuffle of the input, then first fit.
 *
 * The shuffle must give the same order on every platform and be easy to
 * reproduce from another language, so it is spelled out exactly in
 * docs/prng.md: SplitMix64 seeded with options.seed, feeding a Fisher-Yates
 * shuffle whose bounded draws use Lemire's method on 32-bit values (integer
 * arithmetic only, no 128-bit multiply, no floating point).
 */
#include <stdlib.h>

#include "common/mix.h"
#include "offline/offline.h"

/* A uniform integer in [0, bound), 1 <= bound < 2^32, by Lemire's
 * multiply-and-shift with rejection: the high 32 bits of a draw times bound
 * give the result, and the few draws whose low 32 bits of the product fall
 * below 2^32 mod bound are rejected, which removes the bias. The division
 * runs only on the rare draws that might be rejected. */
static uint32_t uniform_below(uint64_t *state, uint32_t bound)
{
    uint64_t m = (spi_splitmix64_next(state) >> 32) * (uint64_t)bound;
    if ((uint32_t)m < bound) {
        const uint32_t threshold = (0u - bound) % bound; /* 2^32 mod bound */
        while ((uint32_t)m < threshold)
            m = (spi_splitmix64_next(state) >> 32) * (uint64_t)bound;
    }
    return (uint32_t)(m >> 32);
}

int spi_strategy_ffs(spi_job *job)
{
    const int64_t n = job->n;
    int32_t *order = spi_alloc_array(n, sizeof(int32_t));
    if (order == NULL)
        return SP_ERR_OUT_OF_MEMORY;
    for (int64_t i = 0; i < n; i++)
        order[i] = (int32_t)i;
    /* Fisher-Yates, from the last position down to 1 (n < 2^31). */
    uint64_t state = job->options.seed;
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = uniform_below(&state, (uint32_t)i + 1);
        int32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }

    /* Gather the lengths in shuffled order first: one pass of independent
     * loads, rather than a cache miss inside each first-fit step. */
    int64_t *shuffled = spi_alloc_array(n, sizeof(int64_t));
    spi_bins bins = {0};
    spi_first_fit *ff = NULL;
    int status = SP_ERR_OUT_OF_MEMORY;
    if (shuffled == NULL || spi_bins_init(&bins, job) != SP_OK ||
        (ff = spi_ff_create(job->capacity, n)) == NULL)
        goto done;
    for (int64_t step = 0; step < n; step++)
        shuffled[step] = job->lengths[order[step]];
    for (int64_t step = 0; step < n; step++)
        spi_ff_place_run(ff, &bins, shuffled[step], 1);
    spi_bins_emit(&bins, job, order);
    status = SP_OK;

done:
    spi_ff_free(ff);
    spi_bins_free(&bins);
    free(shuffled);
    free(order);
    return status;
}
