/*
 * lengths.c - sp_lengths_check(): the checks sp_pack() runs on its
 * arguments (offline/job.c), for a caller to run ahead.
 */
#include "offline/offline.h"

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
