/*
 * threads.c - run a task split into parts on short-lived threads.
 *
 * Threads are created and joined inside each call: the library keeps no
 * pool, so nothing breaks after fork() (DataLoader workers fork).
 */
#include "common/internal.h"

#define MAX_PARTS 1024

typedef struct part_call {
    spi_task_fn fn;
    void *ctx;
    int part, parts;
} part_call;

static void run_part(void *arg)
{
    part_call *c = arg;
    c->fn(c->ctx, c->part, c->parts);
}

int spi_online_cpus(void)
{
    int n = spi_cpu_count();
    return n > MAX_PARTS ? MAX_PARTS : n;
}

void spi_run_parallel(int parts, spi_task_fn fn, void *ctx)
{
    if (parts > MAX_PARTS)
        parts = MAX_PARTS;
    part_call call[MAX_PARTS];
    spi_thread thread[MAX_PARTS];
    int started[MAX_PARTS];
    for (int p = 1; p < parts; p++) {
        call[p] = (part_call){fn, ctx, p, parts};
        started[p] = spi_thread_start(&thread[p], run_part, &call[p]) == SP_OK;
    }
    fn(ctx, 0, parts);
    for (int p = 1; p < parts; p++) {
        if (started[p])
            spi_thread_join(&thread[p]);
        else
            fn(ctx, p, parts); /* no thread: the caller does this part */
    }
}
