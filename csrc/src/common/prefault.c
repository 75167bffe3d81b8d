/*
 * prefault.c - fault in output pages on a helper thread.
 *
 * Output arrays usually arrive fresh from the caller's allocator, so the
 * first write to each page traps into the kernel, which zeroes it: a large
 * share of a fast strategy's time, spent on the calling thread. Where the
 * system can map pages ahead of their first write (spi_can_populate: Linux
 * 5.14 and later), a helper thread asks it to, on another core, ahead of
 * the strategy. The advice never changes the contents of a page, so the
 * helper may run while the strategy writes the same arrays; where it is
 * missing or refused, nothing happens and the strategy faults the pages in
 * itself, as it would anyway.
 *
 * The thread is created and joined inside the call (see threads.c: no
 * pool, so nothing breaks after fork()).
 */
#include <stdint.h>

#include "common/internal.h"

/* Smaller outputs fault in faster than a thread starts. */
#define MIN_BYTES ((size_t)4 << 20)

static void populate(void *arg)
{
    const spi_prefault *pf = arg;
    const uintptr_t page = (uintptr_t)spi_page_size();
    for (int r = 0; r < pf->ranges; r++) {
        /* Whole pages inside the range only: the pages at its ends may
         * belong to other objects, which need no help. */
        uintptr_t begin = ((uintptr_t)pf->start[r] + page - 1) & ~(page - 1);
        uintptr_t end = ((uintptr_t)pf->start[r] + pf->bytes[r]) & ~(page - 1);
        if (end > begin)
            spi_populate_pages((void *)begin, end - begin);
    }
}

void spi_prefault_start(spi_prefault *pf, int threads)
{
    pf->started = 0;
    if (!spi_can_populate())
        return;
    size_t total = 0;
    for (int r = 0; r < pf->ranges; r++)
        total += pf->bytes[r];
    if (threads == 0)
        threads = spi_online_cpus();
    pf->started = threads > 1 && total >= MIN_BYTES
                  && spi_thread_start(&pf->thread, populate, pf) == SP_OK;
}

void spi_prefault_join(spi_prefault *pf)
{
    if (pf->started)
        spi_thread_join(&pf->thread);
    pf->started = 0;
}
