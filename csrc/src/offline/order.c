/*
 * order.c - ids sorted by decreasing length (stable), and the same order as
 * runs of equal lengths.
 *
 * Lengths are integers, so no comparison sort is needed: when the range of
 * lengths is small next to n a single counting sort does it in O(n + range);
 * otherwise an LSD radix sort on (max_length - length) in 16-bit digits,
 * which is stable and costs O(n) per digit whatever the capacity.
 */
#include <stdlib.h>
#include <string.h>

#include "offline/offline.h"

#define RADIX_BITS 16
#define RADIX_SIZE ((int64_t)1 << RADIX_BITS)

void spi_sorted_free(spi_sorted *sorted)
{
    free(sorted->order);
    free(sorted->run_length);
    free(sorted->run_count);
    memset(sorted, 0, sizeof *sorted);
}

static int alloc_sorted(spi_sorted *s, int64_t n, int64_t max_runs)
{
    s->runs = 0;
    s->order = spi_alloc_array(n, sizeof(int32_t));
    s->run_length = spi_alloc_array(max_runs, sizeof(int64_t));
    s->run_count = spi_alloc_array(max_runs, sizeof(int32_t));
    if (!s->order || !s->run_length || !s->run_count) {
        spi_sorted_free(s);
        return SP_ERR_OUT_OF_MEMORY;
    }
    return SP_OK;
}

/* Counting sort on key = max_length - length (0 = longest), in parts:
 * each part counts and then scatters its own slice of the input, into
 * positions that keep the whole order stable. */
typedef struct counting_ctx {
    const spi_job *job;
    spi_sorted *sorted;
    int64_t range;
    int32_t *start; /* parts x range: counts, then write positions */
} counting_ctx;

static void count_part(void *arg, int part, int parts)
{
    counting_ctx *c = arg;
    const int64_t *len = c->job->lengths;
    const int64_t top = c->job->max_length;
    int32_t *count = c->start + part * c->range;
    int64_t begin, end;
    spi_part_range(c->job->n, part, parts, &begin, &end);
    for (int64_t i = begin; i < end; i++)
        count[top - len[i]]++;
}

static void scatter_part(void *arg, int part, int parts)
{
    counting_ctx *c = arg;
    const int64_t *len = c->job->lengths;
    const int64_t top = c->job->max_length;
    int32_t *start = c->start + part * c->range;
    int32_t *order = c->sorted->order;
    int64_t begin, end;
    spi_part_range(c->job->n, part, parts, &begin, &end);
    for (int64_t i = begin; i < end; i++)
        order[start[top - len[i]]++] = (int32_t)i;
}

static int counting_sort(const spi_job *job, spi_sorted *s, int64_t range,
                         int parts)
{
    int64_t max_runs = range < job->n ? range : job->n;
    if (alloc_sorted(s, job->n, max_runs) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    counting_ctx c = {job, s, range, spi_alloc_zeroed(parts * range, sizeof(int32_t))};
    if (c.start == NULL) {
        spi_sorted_free(s);
        return SP_ERR_OUT_OF_MEMORY;
    }
    if (parts > 1)
        spi_run_parallel(parts, count_part, &c);
    else
        count_part(&c, 0, 1);
    int32_t at = 0;
    for (int64_t key = 0; key < range; key++) {
        int32_t total = 0;
        for (int p = 0; p < parts; p++) {
            int32_t *slot = &c.start[p * range + key];
            int32_t count = *slot;
            *slot = at + total;
            total += count;
        }
        if (total == 0)
            continue;
        s->run_length[s->runs] = job->max_length - key;
        s->run_count[s->runs] = total;
        s->runs++;
        at += total;
    }
    if (parts > 1)
        spi_run_parallel(parts, scatter_part, &c);
    else
        scatter_part(&c, 0, 1);
    free(c.start);
    return SP_OK;
}

static int radix_sort(const spi_job *job, spi_sorted *s, int64_t range)
{
    const int64_t n = job->n, top = job->max_length;
    const int64_t *len = job->lengths;
    if (alloc_sorted(s, n, n) != SP_OK)
        return SP_ERR_OUT_OF_MEMORY;
    int32_t *tmp = spi_alloc_array(n, sizeof(int32_t));
    int64_t *bucket = spi_alloc_array(RADIX_SIZE, sizeof(int64_t));
    if (tmp == NULL || bucket == NULL) {
        free(tmp);
        free(bucket);
        spi_sorted_free(s);
        return SP_ERR_OUT_OF_MEMORY;
    }
    int32_t *src = s->order, *dst = tmp;
    for (int64_t i = 0; i < n; i++)
        src[i] = (int32_t)i;
    uint64_t max_key = (uint64_t)(range - 1);
    for (int shift = 0; shift < 64 && (max_key >> shift) != 0; shift += RADIX_BITS) {
        memset(bucket, 0, RADIX_SIZE * sizeof(int64_t));
        for (int64_t j = 0; j < n; j++)
            bucket[((uint64_t)(top - len[src[j]]) >> shift) & (RADIX_SIZE - 1)]++;
        int64_t at = 0;
        for (int64_t d = 0; d < RADIX_SIZE; d++) {
            int64_t c = bucket[d];
            bucket[d] = at;
            at += c;
        }
        for (int64_t j = 0; j < n; j++) {
            int32_t id = src[j];
            dst[bucket[((uint64_t)(top - len[id]) >> shift) & (RADIX_SIZE - 1)]++] = id;
        }
        int32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != s->order) {
        memcpy(s->order, src, (size_t)n * sizeof(int32_t));
    }
    free(tmp);
    free(bucket);

    for (int64_t j = 0; j < n; j++) {
        int64_t l = len[s->order[j]];
        if (s->runs > 0 && s->run_length[s->runs - 1] == l) {
            s->run_count[s->runs - 1]++;
        } else {
            s->run_length[s->runs] = l;
            s->run_count[s->runs] = 1;
            s->runs++;
        }
    }
    return SP_OK;
}

int spi_sort_decreasing_parallel(const spi_job *job, spi_sorted *sorted,
                                int parts)
{
    memset(sorted, 0, sizeof *sorted);
    int64_t range = job->max_length - job->min_length + 1;
    int64_t dense_limit = job->n > RADIX_SIZE ? job->n : RADIX_SIZE;
    if (range > dense_limit)
        return radix_sort(job, sorted, range);
    /* Per-part counts cost parts x range memory: split only short ranges. */
    if (range > RADIX_SIZE || parts < 1)
        parts = 1;
    return counting_sort(job, sorted, range, parts);
}

int spi_sort_decreasing(const spi_job *job, spi_sorted *sorted)
{
    return spi_sort_decreasing_parallel(job, sorted, 1);
}
