/*
 * bench_small_cap.c - the small-cap figures on real length histograms:
 * efficiency, bins and time at caps 2 and 3, and the LP's work.
 *
 * Arguments: pairs of (histogram .npy, capacity). A histogram is a 1-D
 * little-endian int64 array whose index is the length. A missing file
 * skips it (exit 77, meson's "skipped", when every file is missing). Run by
 * `meson test --benchmark`, not among the pass/fail tests.
 */
#define _POSIX_C_SOURCE 199309L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "offline/offline.h"

/* Read a .npy holding '<i8' values (format versions 1 to 3); NULL when it
 * is missing or not such a file. */
static int64_t *read_npy_int64(const char *path, int64_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    unsigned char pre[10];
    int64_t *data = NULL;
    char *header = NULL;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
        goto done;
    uint32_t hlen = pre[8] | (uint32_t)pre[9] << 8;
    if (pre[6] >= 2) {
        unsigned char more[2];
        if (fread(more, 1, 2, f) != 2)
            goto done;
        hlen |= (uint32_t)more[0] << 16 | (uint32_t)more[1] << 24;
    }
    header = calloc(hlen + 1, 1);
    if (header == NULL || fread(header, 1, hlen, f) != hlen)
        goto done;
    char *shape = strstr(header, "'shape': (");
    if (strstr(header, "'<i8'") == NULL || strstr(header, "'fortran_order': False") == NULL ||
        shape == NULL)
        goto done;
    *n = strtoll(shape + 10, NULL, 10);
    data = malloc((size_t)(*n > 0 ? *n : 1) * sizeof(int64_t));
    if (data != NULL && fread(data, sizeof(int64_t), (size_t)*n, f) != (size_t)*n) {
        free(data);
        data = NULL;
    }
done:
    free(header);
    fclose(f);
    return data;
}

/* Seconds: POSIX's monotonic clock, or on Windows the C runtime's clock(),
 * which counts wall time there (its clock_gettime needs winpthreads). */
static double now(void)
{
#if defined(_WIN32)
    return (double)clock() / CLOCKS_PER_SEC;
#else
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
#endif
}

/* The figures of one histogram at one cap; returns 0 on success. */
static int figures(const char *name, const int64_t *hist, int64_t n,
                   int64_t capacity, int64_t cap)
{
    int64_t *length = malloc((size_t)n * sizeof(int64_t));
    int64_t *count = malloc((size_t)n * sizeof(int64_t));
    int64_t distinct = 0, total = 0, items = 0;
    for (int64_t l = n - 1; l >= 1; l--)
        if (hist[l] > 0) {
            length[distinct] = l;
            count[distinct++] = hist[l];
            total += l * hist[l];
            items += hist[l];
        }
    spi_template *t = NULL;
    int64_t nt = 0;
    spi_small_cap_stats st;
    /* The best of a few runs: the first pays for page faults. */
    double best = 1e30;
    int status = SP_OK;
    for (int run = 0; run < 3 && status == SP_OK; run++) {
        free(t);
        double t0 = now();
        status = spi_small_cap_templates_stats(length, count, distinct, capacity,
                                               cap, &t, &nt, &st);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    if (status == SP_OK && nt >= 0) {
        int64_t lb = (total + capacity - 1) / capacity;
        printf("%s C=%" PRId64 " cap %" PRId64 ": %" PRId64 " items, %" PRId64
               " distinct, %" PRId64 " bins (ceil(total/C) %" PRId64 "), "
               "efficiency %.4f%%, %" PRId64 " templates, %.2f ms\n",
               name, capacity, cap, items, distinct, st.bins, lb,
               100.0 * (double)total / ((double)st.bins * (double)capacity), nt,
               1e3 * best);
        if (cap == 3)
            printf("    last LP: %" PRId64 " rows, %.2f bins (%s, efficiency %.4f%%);"
                   " all LPs: %" PRId64 " pivots, %" PRId64 " pricings;"
                   " grouped LP answer %" PRId64 " bins; greedy alone %" PRId64
                   " bins (%.4f%%)\n",
                   st.lp_rows, st.lp_bins, st.optimal ? "optimal" : "pivot limit",
                   100.0 * (double)total / (st.lp_bins * (double)capacity),
                   st.pivots, st.pricings, st.grouped_bins, st.greedy_bins,
                   100.0 * (double)total / ((double)st.greedy_bins * (double)capacity));
    } else {
        printf("%s cap %" PRId64 ": status %d, templates %" PRId64 "\n", name, cap,
               status, nt);
    }
    free(t);
    free(length);
    free(count);
    return status != SP_OK;
}

int main(int argc, char **argv)
{
    int read = 0, bad = 0;
    for (int a = 1; a + 1 < argc; a += 2) {
        int64_t n = 0;
        int64_t *hist = read_npy_int64(argv[a], &n);
        if (hist == NULL) {
            printf("%s: missing or not an int64 .npy, skipped\n", argv[a]);
            continue;
        }
        read++;
        const char *name = strrchr(argv[a], '/');
        name = name != NULL ? name + 1 : argv[a];
        int64_t capacity = strtoll(argv[a + 1], NULL, 10);
        for (int64_t cap = 2; cap <= 3; cap++)
            bad |= figures(name, hist, n, capacity, cap);
        free(hist);
    }
    return read == 0 ? 77 : bad;
}
