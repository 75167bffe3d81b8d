/*
 * lengths.c - what a valid batch of lengths is: each in [1, capacity]
 * (spi_length_status, internal.h) and, for sp_pack(), a total within
 * int64_t. sp_pack(), sp_lengths_check() and the stream's batches all
 * check here.
 */
#include "internal.h"

/* Every length in [1, capacity] and the total within int64. The common
 * case is one branch-free pass (min, max and sum vectorise); only a failure
 * or a possible overflow takes the slower pass that finds the culprit.
 * With a copy, the first pass also writes each length to it and the rest
 * reads only the copy, so the caller's buffer is read once. */
int spi_check_lengths(spi_job *job, int64_t *copy)
{
    int64_t *error_index = job->error_index;
    const int64_t *len = job->lengths;
    const int64_t n = job->n, cap = job->capacity;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    uint64_t sum = 0; /* wraps only when an overflow is possible (checked) */
    if (copy != NULL) {
        for (int64_t i = 0; i < n; i++) {
            int64_t l = len[i];
            copy[i] = l;
            lo = l < lo ? l : lo;
            hi = l > hi ? l : hi;
            sum += (uint64_t)l;
        }
        len = job->lengths = copy;
    } else {
        for (int64_t i = 0; i < n; i++) {
            int64_t l = len[i];
            lo = l < lo ? l : lo;
            hi = l > hi ? l : hi;
            sum += (uint64_t)l;
        }
    }
    if (lo >= 1 && hi <= cap && hi <= INT64_MAX / (n > 0 ? n : 1)) {
        job->min_length = lo;
        job->max_length = hi;
        job->total = (int64_t)sum;
        return SP_OK;
    }
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t l = len[i];
        int status = spi_length_status(l, cap);
        if (status != SP_OK) {
            if (error_index)
                *error_index = i;
            return status;
        }
        if (l > INT64_MAX - total)
            return SP_ERR_OVERFLOW;
        total += l;
    }
    job->min_length = lo;
    job->max_length = hi;
    job->total = total;
    return SP_OK;
}

/* Lengths are checked in blocks: a block with no bad length passes in one
 * branch-free (vectorisable) sweep, and only a block with one is searched. */
#define CHECK_BLOCK 4096

int spi_check_each_length(const int64_t *lengths, int64_t n, int64_t capacity,
                          int64_t *error_index)
{
    const uint64_t cap = (uint64_t)capacity;
    for (int64_t start = 0; start < n; start += CHECK_BLOCK) {
        const int64_t end = n - start < CHECK_BLOCK ? n : start + CHECK_BLOCK;
        /* l - 1 and cap - l are both in [0, cap) for a good length; for a
         * bad one (l < 1, or l > cap) either has its top bit set. Only
         * subtractions and ors, which SSE2 does two at a time (a 64-bit
         * compare needs SSE4.2). */
        uint64_t bad = 0;
        for (int64_t j = start; j < end; j++)
            bad |= ((uint64_t)lengths[j] - 1u) | (cap - (uint64_t)lengths[j]);
        if (bad >> 63 == 0)
            continue;
        for (int64_t j = start; j < end; j++) {
            int status = spi_length_status(lengths[j], capacity);
            if (status != SP_OK) {
                if (error_index != NULL)
                    *error_index = j;
                return status;
            }
        }
    }
    return SP_OK;
}

int spi_check_count_and_capacity(int64_t n, int64_t capacity)
{
    if (n < 0)
        return SP_ERR_NEGATIVE_COUNT;
    if (n > SPI_MAX_N)
        return SP_ERR_TOO_MANY_LENGTHS;
    return capacity <= 0 ? SP_ERR_INVALID_CAPACITY : SP_OK;
}

int sp_lengths_check(const int64_t *lengths, int64_t n, int64_t capacity,
                     int64_t *total, int64_t *error_index)
{
    if (error_index)
        *error_index = -1;
    if (n > 0 && lengths == NULL)
        return SP_ERR_NULL_POINTER;
    int status = spi_check_count_and_capacity(n, capacity);
    if (status != SP_OK)
        return status;
    spi_job job = {.lengths = lengths, .n = n, .capacity = capacity,
                   .error_index = error_index};
    status = spi_check_lengths(&job, NULL);
    if (status == SP_OK && total != NULL)
        *total = job.total;
    return status;
}
