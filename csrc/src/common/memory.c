/*
 * memory.c - allocation of the per-call working arrays.
 *
 * On large inputs the first-touch page faults of fresh allocations can
 * cost more than the algorithm itself (the kernel traps and zeroes every
 * page), so every array comes from spi_alloc_advised(), which backs large
 * ones with huge pages where the system offers them (platform.c).
 */
#include <string.h>

#include "common/internal.h"

void *spi_alloc_array(int64_t count, size_t size)
{
    if (count < 0 || size == 0 || (uint64_t)count > SIZE_MAX / size)
        return NULL;
    size_t bytes = (size_t)count * size;
    return spi_alloc_advised(bytes == 0 ? 1 : bytes); /* NULL only on failure */
}

void *spi_alloc_zeroed(int64_t count, size_t size)
{
    void *p = spi_alloc_array(count, size);
    if (p != NULL)
        memset(p, 0, count == 0 ? 1 : (size_t)count * size);
    return p;
}
