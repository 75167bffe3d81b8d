/*
 * platform.h - every operating-system call the library makes: threads, the
 * online CPU count, the page size, and advice on pages.
 *
 * platform.c implements them with POSIX (pthreads and sysconf; on Linux
 * also madvise) or with Win32. No other file of csrc/src includes an
 * operating-system header. Advice changes speed only, never a result:
 * where the system offers none (Windows, macOS, the BSDs, or a build with
 * -Dlinux_page_advice=false) the advice calls do nothing, and every
 * packing is the same.
 */
#ifndef SPI_PLATFORM_H
#define SPI_PLATFORM_H

#include <stddef.h>

#if !defined(_WIN32)
#  include <pthread.h>
#endif

/* ---- threads -------------------------------------------------------- */

typedef void (*spi_thread_fn)(void *arg);

/* A thread running fn(arg). The struct stays in place from
 * spi_thread_start() until spi_thread_join(): the thread reads it. */
typedef struct spi_thread {
    spi_thread_fn fn;
    void *arg;
#if defined(_WIN32)
    void *handle; /* a HANDLE from _beginthreadex */
#else
    pthread_t id;
#endif
} spi_thread;

/* Start fn(arg) on a new thread: SP_OK, or SP_ERR_OUT_OF_MEMORY when the
 * system cannot create one (the caller then runs fn itself). */
int spi_thread_start(spi_thread *thread, spi_thread_fn fn, void *arg);

/* Wait for a thread that spi_thread_start() started, and release it. */
void spi_thread_join(spi_thread *thread);

/* The number of online CPUs, at least 1 (1 when the system cannot say). */
int spi_cpu_count(void);

/* ---- pages ---------------------------------------------------------- */

/* The size of a memory page in bytes: a power of two (4096 when the
 * system cannot say). */
size_t spi_page_size(void);

/* bytes (>= 1) of memory, released with free(); NULL on failure. Where the
 * system takes huge-page advice (Linux with transparent huge pages), a
 * block of 2 MiB or more is aligned to 2 MiB and advised to use huge
 * pages, which cuts its first-touch page faults 512-fold. */
void *spi_alloc_advised(size_t bytes);

/* Whether spi_populate_pages() can map pages ahead of their first write
 * (Linux 5.14 and later: MADV_POPULATE_WRITE); 0 elsewhere. */
int spi_can_populate(void);

/* Ask the system to map the pages of [start, start + bytes) for writing,
 * leaving their contents as they are; start and bytes are multiples of
 * spi_page_size(). Does nothing where the system cannot, or refuses. */
void spi_populate_pages(void *start, size_t bytes);

#endif /* SPI_PLATFORM_H */
