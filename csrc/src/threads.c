/*
 * threads.c - run a task split into parts on short-lived threads.
 *
 * Threads are created and joined inside each call: the library keeps no
 * pool, so nothing breaks after fork() (DataLoader workers fork).
 */
#if !defined(_WIN32) && !defined(_DEFAULT_SOURCE)
#  define _DEFAULT_SOURCE /* sysconf(_SC_NPROCESSORS_ONLN) */
#endif
#include <pthread.h>
#include <unistd.h>

#include "internal.h"

#define MAX_PARTS 1024

typedef struct part_call {
    spi_task_fn fn;
    void *ctx;
    int part, parts;
} part_call;

static void *run_part(void *arg)
{
    part_call *c = arg;
    c->fn(c->ctx, c->part, c->parts);
    return NULL;
}

int spi_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > MAX_PARTS ? MAX_PARTS : (int)n;
}

void spi_run_parallel(int parts, spi_task_fn fn, void *ctx)
{
    if (parts > MAX_PARTS)
        parts = MAX_PARTS;
    part_call call[MAX_PARTS];
    pthread_t thread[MAX_PARTS];
    int started[MAX_PARTS];
    for (int p = 1; p < parts; p++) {
        call[p] = (part_call){fn, ctx, p, parts};
        started[p] = pthread_create(&thread[p], NULL, run_part, &call[p]) == 0;
    }
    fn(ctx, 0, parts);
    for (int p = 1; p < parts; p++) {
        if (started[p])
            pthread_join(thread[p], NULL);
        else
            fn(ctx, p, parts); /* no thread: the caller does this part */
    }
}
