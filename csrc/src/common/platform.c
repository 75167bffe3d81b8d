/*
 * platform.c - the operating-system calls of platform.h, in three
 * sections: threads and system facts on Win32, the same on POSIX
 * (pthreads, sysconf), then allocation and page advice, which use Linux's
 * madvise where the build allows it and plain malloc() elsewhere.
 *
 * SPI_LINUX_PAGE_ADVICE (the meson option linux_page_advice; on when
 * undefined) lets the build use madvise. With it off, a Linux build takes
 * the path of every other system, which is how CI tests that path.
 */
#if !defined(_WIN32) && !defined(_DEFAULT_SOURCE)
#  define _DEFAULT_SOURCE /* sysconf(_SC_NPROCESSORS_ONLN), madvise */
#endif
#if !defined(SPI_LINUX_PAGE_ADVICE)
#  define SPI_LINUX_PAGE_ADVICE 1
#endif

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(_WIN32)
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#  endif
#  include <windows.h>
#  include <process.h> /* _beginthreadex: sets up the C runtime per thread */
#else
#  include <pthread.h>
#  include <unistd.h>
#  if SPI_LINUX_PAGE_ADVICE && defined(__linux__)
#    include <sys/mman.h>
#  endif
#endif

#include "common/platform.h"
#include "seqpacker.h"

#define FALLBACK_PAGE_SIZE ((size_t)4096)

/* ---- Win32 ------------------------------------------------------------ */
#if defined(_WIN32)

static unsigned __stdcall thread_entry(void *arg)
{
    spi_thread *thread = arg;
    thread->fn(thread->arg);
    return 0;
}

int spi_thread_start(spi_thread *thread, spi_thread_fn fn, void *arg)
{
    thread->fn = fn;
    thread->arg = arg;
    uintptr_t handle = _beginthreadex(NULL, 0, thread_entry, thread, 0, NULL);
    thread->handle = (void *)handle;
    return handle != 0 ? SP_OK : SP_ERR_OUT_OF_MEMORY;
}

void spi_thread_join(spi_thread *thread)
{
    (void)WaitForSingleObject(thread->handle, INFINITE);
    (void)CloseHandle(thread->handle);
}

int spi_cpu_count(void)
{
    /* Every processor group: GetSystemInfo counts the caller's group only. */
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    if (n < 1)
        return 1;
    return n > INT_MAX ? INT_MAX : (int)n;
}

size_t spi_page_size(void)
{
    SYSTEM_INFO info;
    GetSystemInfo(&info);
    return info.dwPageSize > 0 ? (size_t)info.dwPageSize : FALLBACK_PAGE_SIZE;
}

/* ---- POSIX ------------------------------------------------------------ */
#else

static void *thread_entry(void *arg)
{
    spi_thread *thread = arg;
    thread->fn(thread->arg);
    return NULL;
}

int spi_thread_start(spi_thread *thread, spi_thread_fn fn, void *arg)
{
    thread->fn = fn;
    thread->arg = arg;
    return pthread_create(&thread->id, NULL, thread_entry, thread) == 0
               ? SP_OK : SP_ERR_OUT_OF_MEMORY;
}

void spi_thread_join(spi_thread *thread)
{
    (void)pthread_join(thread->id, NULL);
}

int spi_cpu_count(void)
{
#if defined(_SC_NPROCESSORS_ONLN) /* Linux, macOS, the BSDs; not POSIX */
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > INT_MAX ? INT_MAX : (int)n;
#else
    return 1;
#endif
}

size_t spi_page_size(void)
{
    long size = sysconf(_SC_PAGESIZE);
    return size > 0 ? (size_t)size : FALLBACK_PAGE_SIZE;
}

#endif

/* ---- allocation and page advice ---------------------------------------- */

#if defined(MADV_HUGEPAGE) /* defined only where sys/mman.h came in above */

#define HUGE_PAGE ((size_t)2 << 20)

void *spi_alloc_advised(size_t bytes)
{
    if (bytes < HUGE_PAGE)
        return malloc(bytes);
    if (bytes > SIZE_MAX - HUGE_PAGE)
        return NULL;
    size_t rounded = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *p = aligned_alloc(HUGE_PAGE, rounded);
    if (p != NULL)
        (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice only */
    return p;
}

#else /* no huge-page advice: the alignment would buy nothing */

void *spi_alloc_advised(size_t bytes)
{
    return malloc(bytes);
}

#endif

#if defined(MADV_POPULATE_WRITE)

int spi_can_populate(void)
{
    return 1;
}

void spi_populate_pages(void *start, size_t bytes)
{
    /* Older kernels refuse the advice (EINVAL): the pages then fault in
     * on first write, as they would anyway. */
    (void)madvise(start, bytes, MADV_POPULATE_WRITE);
}

#else

int spi_can_populate(void)
{
    return 0;
}

void spi_populate_pages(void *start, size_t bytes)
{
    (void)start;
    (void)bytes;
}

#endif
