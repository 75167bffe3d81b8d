/*
 * memory.c - allocation of the per-call working arrays.
 *
 * A packing call at a million sequences spends more time in first-touch
 * page faults on fresh allocations than in the algorithm (about 1.3 us per
 * 4 KiB page on a typical VM). Large arrays are therefore aligned to 2 MiB
 * and, where the kernel offers it, advised to use transparent huge pages,
 * which cuts the number of faults 512-fold.
 */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#  define _DEFAULT_SOURCE /* madvise */
#endif
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#  include <sys/mman.h>
#endif

#include "internal.h"

#define HUGE_PAGE ((size_t)2 << 20)

void *spi_alloc_array(int64_t count, size_t size)
{
    if (count < 0 || size == 0 || (uint64_t)count > SIZE_MAX / size)
        return NULL;
    size_t bytes = (size_t)count * size;
    if (bytes < HUGE_PAGE)
        return malloc(bytes == 0 ? 1 : bytes); /* NULL only on failure */
    if (bytes > SIZE_MAX - HUGE_PAGE)
        return NULL;
    size_t rounded = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *p = aligned_alloc(HUGE_PAGE, rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (p != NULL)
        (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice only */
#endif
    return p;
}

void *spi_alloc_zeroed(int64_t count, size_t size)
{
    void *p = spi_alloc_array(count, size);
    if (p != NULL)
        memset(p, 0, count == 0 ? 1 : (size_t)count * size);
    return p;
}
