/*
 * job.c - what a valid batch for sp_pack() is, the checks that turn the
 * caller's arguments into a spi_job: the count and the capacity in range,
 * each length in [1, capacity] (spi_length_status, common/internal.h) and a
 * total within int64_t. sp_pack(), sp_lengths_check(), sp_lower_bound()
 * and HK (which checks its own lengths) check here.
 */
#include "offline/offline.h"

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

int spi_check_count_and_capacity(int64_t n, int64_t capacity)
{
    if (n < 0)
        return SP_ERR_NEGATIVE_COUNT;
    if (n > SPI_MAX_N)
        return SP_ERR_TOO_MANY_LENGTHS;
    return capacity <= 0 ? SP_ERR_INVALID_CAPACITY : SP_OK;
}
