/*
 * test_small_cap.c - spi_small_cap_templates(): on random histograms the
 * templates cover every item exactly once, stay within the capacity and
 * the cap, and are the same twice; cap 2 matches an exhaustive optimum,
 * cap 3 is never worse than the greedy and never better than an
 * exhaustive optimum on tiny inputs; larger histograms take the grouped LP
 * path; bad arguments give their statuses.
 *
 * The inputs come from a fixed xorshift generator, so a failure reproduces.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "offline/offline.h"

/* A histogram: distinct lengths strictly descending with counts >= 1. */
typedef struct histogram {
    int64_t length[4096];
    int64_t count[4096];
    int64_t distinct;
    int64_t capacity;
} histogram;

/* A random histogram of `distinct` lengths in [1, capacity] (at most
 * capacity of them), counts in [1, max_count]. */
static void random_histogram(histogram *h, int64_t distinct, int64_t capacity,
                             int64_t max_count)
{
    if (distinct > capacity)
        distinct = capacity;
    h->capacity = capacity;
    h->distinct = 0;
    /* Choose `distinct` of the capacity values, descending (selection
     * sampling). */
    int64_t need = distinct;
    for (int64_t l = capacity; l >= 1 && need > 0; l--) {
        if (random_in(1, l) <= need) {
            h->length[h->distinct] = l;
            h->count[h->distinct++] = random_in(1, max_count);
            need--;
        }
    }
}

static int64_t total_items(const histogram *h)
{
    int64_t n = 0;
    for (int64_t d = 0; d < h->distinct; d++)
        n += h->count[d];
    return n;
}

/* Every template valid and the cover exact; returns the bins, -1 if not. */
static int64_t check_templates(const histogram *h, int64_t cap,
                               const spi_template *t, int64_t nt)
{
    int64_t *covered = calloc((size_t)h->distinct + 1, sizeof(int64_t));
    int64_t bins = 0;
    int ok = covered != NULL;
    for (int64_t k = 0; ok && k < nt; k++) {
        int64_t sum = 0;
        ok &= t[k].items >= 1 && t[k].items <= cap && t[k].times >= 1;
        for (int64_t e = 0; ok && e < t[k].items; e++) {
            int64_t l = t[k].len[e];
            ok &= e == 0 || l <= t[k].len[e - 1];
            int64_t d = 0;
            while (d < h->distinct && h->length[d] != l)
                d++;
            ok &= d < h->distinct;
            if (ok)
                covered[d] += t[k].times;
            sum += l;
        }
        for (int64_t e = t[k].items; ok && e < SPI_TEMPLATE_MAX; e++)
            ok &= t[k].len[e] == 0;
        ok &= sum <= h->capacity;
        bins += t[k].times;
    }
    for (int64_t d = 0; ok && d < h->distinct; d++)
        ok &= covered[d] == h->count[d];
    free(covered);
    CHECK(ok);
    return ok ? bins : -1;
}

/* Run, check validity and determinism; returns the bins (-1 on failure). */
static int64_t pack(const histogram *h, int64_t cap, spi_small_cap_stats *st)
{
    spi_template *a = NULL, *b = NULL;
    int64_t na = 0, nb = 0;
    CHECK_EQ(spi_small_cap_templates_stats(h->length, h->count, h->distinct,
                                           h->capacity, cap, &a, &na, st), SP_OK);
    CHECK_EQ(spi_small_cap_templates(h->length, h->count, h->distinct, h->capacity,
                                     cap, &b, &nb), SP_OK);
    CHECK_EQ(na, nb);
    CHECK(na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof(*a)) == 0));
    int64_t bins = check_templates(h, cap, a, na);
    if (st != NULL)
        CHECK_EQ(st->bins, bins);
    /* Never below the bounds every packing meets. */
    int64_t total = 0, n = total_items(h);
    for (int64_t d = 0; d < h->distinct; d++)
        total += h->length[d] * h->count[d];
    CHECK(bins >= (total + h->capacity - 1) / h->capacity);
    CHECK(bins >= (n + cap - 1) / cap);
    free(a);
    free(b);
    return bins;
}

/* ---- exhaustive optimum for tiny inputs ------------------------------- */

static int64_t items_len[16];
static int items_n;

/* Fewest bins for the items not in `used`, each bin at most cap items. */
static int64_t exhaustive(unsigned used, int64_t capacity, int64_t cap)
{
    int first = 0;
    while (first < items_n && (used >> first & 1))
        first++;
    if (first == items_n)
        return 0;
    used |= 1u << first;
    int64_t best = 1 + exhaustive(used, capacity, cap);
    const int64_t room = capacity - items_len[first];
    for (int j = first + 1; j < items_n; j++) {
        if ((used >> j & 1) || items_len[j] > room)
            continue;
        int64_t v = 1 + exhaustive(used | 1u << j, capacity, cap);
        best = v < best ? v : best;
        for (int k = j + 1; cap >= 3 && k < items_n; k++) {
            if ((used >> k & 1) || items_len[k] > room - items_len[j])
                continue;
            v = 1 + exhaustive(used | 1u << j | 1u << k, capacity, cap);
            best = v < best ? v : best;
        }
    }
    return best;
}

static int64_t exhaustive_optimum(const histogram *h, int64_t cap)
{
    items_n = 0;
    for (int64_t d = 0; d < h->distinct; d++)
        for (int64_t c = 0; c < h->count[d]; c++)
            items_len[items_n++] = h->length[d];
    return exhaustive(0, h->capacity, cap);
}

static void test_tiny_exhaustive(void)
{
    int cap3_optimal = 0, cases = 0;
    for (int round = 0; round < 3000; round++) {
        histogram h;
        int64_t capacity = random_in(1, 40);
        random_histogram(&h, random_in(1, 5), capacity, 3);
        while (total_items(&h) > 9) {
            h.count[h.distinct - 1]--; /* trim to at most 9 items */
            if (h.count[h.distinct - 1] == 0)
                h.distinct--;
        }
        CHECK_EQ(pack(&h, 2, NULL), exhaustive_optimum(&h, 2));
        spi_small_cap_stats st;
        int64_t bins = pack(&h, 3, &st);
        int64_t opt = exhaustive_optimum(&h, 3);
        CHECK(bins >= opt);
        CHECK(bins <= opt + 1);
        CHECK(bins <= st.greedy_bins);
        cap3_optimal += bins == opt;
        cases++;
    }
    printf("cap 3 optimal on %d of %d tiny cases\n", cap3_optimal, cases);
}

/* The greedy that cap 3 must not lose to, item by item over a list: the
 * longest item left plus the fullest one or two items left that fit. */
static int64_t greedy3_items(const histogram *h)
{
    int64_t n = total_items(h), bins = 0;
    int64_t *len = malloc((size_t)n * sizeof(int64_t));
    char *used = calloc((size_t)n, 1);
    int64_t m = 0;
    for (int64_t d = 0; d < h->distinct; d++)
        for (int64_t c = 0; c < h->count[d]; c++)
            len[m++] = h->length[d]; /* descending */
    for (int64_t i = 0; i < n; i++) {
        if (used[i])
            continue;
        used[i] = 1;
        bins++;
        int64_t room = h->capacity - len[i], best = 0, bj = -1, bk = -1;
        for (int64_t j = i + 1; j < n; j++) {
            if (used[j] || len[j] > room)
                continue;
            if (len[j] > best) {
                best = len[j];
                bj = j;
                bk = -1;
            }
            for (int64_t k = j + 1; k < n; k++)
                if (!used[k] && len[k] <= room - len[j] && len[j] + len[k] > best) {
                    best = len[j] + len[k];
                    bj = j;
                    bk = k;
                }
        }
        if (bj >= 0)
            used[bj] = 1;
        if (bk >= 0)
            used[bk] = 1;
    }
    free(len);
    free(used);
    return bins;
}

/* The histogram greedy takes as many bins as the same greedy item by item
 * (so "never worse than the greedy" means that greedy). */
static void test_greedy_reference(void)
{
    for (int round = 0; round < 300; round++) {
        histogram h;
        random_histogram(&h, random_in(1, 12), random_in(2, 60), 6);
        spi_small_cap_stats st;
        int64_t bins = pack(&h, 3, &st);
        CHECK_EQ(st.greedy_bins, greedy3_items(&h));
        CHECK(bins <= st.greedy_bins);
    }
}

/* Medium and grouped histograms: valid, and cap 3 within a few percent of
 * the LP bound when that is exact (no grouping). */
static void test_larger(void)
{
    for (int round = 0; round < 40; round++) {
        histogram h;
        int64_t distinct = round < 20 ? random_in(20, 250) : random_in(257, 800);
        random_histogram(&h, distinct, random_in(distinct, 4 * distinct),
                         round % 2 ? 1000000 : 50);
        spi_small_cap_stats st;
        pack(&h, 2, NULL);
        int64_t bins = pack(&h, 3, &st);
        CHECK(bins <= st.greedy_bins);
        if (h.distinct <= 256 && st.optimal)
            /* Rounding down leaves at most a few items per basic column. */
            CHECK((double)bins <= st.lp_bins + (double)h.distinct + 1);
        if (h.distinct > 256)
            CHECK(st.grouped_bins > 0 && bins <= st.grouped_bins);
    }
}

static void test_edges(void)
{
    histogram h;
    spi_template *t = (spi_template *)&h; /* a non-NULL value to overwrite */
    int64_t nt = 7;
    /* Nothing to pack. */
    CHECK_EQ(spi_small_cap_templates(NULL, NULL, 0, 10, 3, &t, &nt), SP_OK);
    CHECK(t == NULL);
    CHECK_EQ(nt, 0);
    /* One length, caps 2 and 3, fitting 1, 2 or 3 to a bin. */
    h.distinct = 1;
    h.count[0] = 7;
    h.capacity = 12;
    for (int64_t l = 3; l <= 12; l++) {
        h.length[0] = l;
        int64_t per = 12 / l;
        CHECK_EQ(pack(&h, 2, NULL), (7 + (per < 2 ? per : 2) - 1) / (per < 2 ? per : 2));
        CHECK_EQ(pack(&h, 3, NULL), (7 + (per < 3 ? per : 3) - 1) / (per < 3 ? per : 3));
    }
    /* Huge counts do not overflow anything. */
    h.length[0] = 5;
    h.length[1] = 3;
    h.count[0] = h.count[1] = INT64_C(1) << 50;
    h.distinct = 2;
    h.capacity = 13;
    /* 5 + 5 + 3 and 3 + 3 + 3: the item count bound. */
    CHECK_EQ(pack(&h, 3, NULL), (2 * h.count[0] + 2) / 3);
    /* Bad arguments. */
    h.length[0] = 10;
    h.length[1] = 4;
    h.count[0] = h.count[1] = 1;
    CHECK_EQ(spi_small_cap_templates(h.length, h.count, 2, 12, 3, NULL, &nt),
             SP_ERR_NULL_POINTER);
    CHECK_EQ(spi_small_cap_templates(NULL, h.count, 2, 12, 3, &t, &nt),
             SP_ERR_NULL_POINTER);
    CHECK_EQ(spi_small_cap_templates(h.length, h.count, -1, 12, 3, &t, &nt),
             SP_ERR_NEGATIVE_COUNT);
    CHECK_EQ(spi_small_cap_templates(h.length, h.count, 2, 0, 3, &t, &nt),
             SP_ERR_INVALID_CAPACITY);
    CHECK_EQ(spi_small_cap_templates(h.length, h.count, 2, 12, 4, &t, &nt),
             SP_ERR_INVALID_OPTION);
    CHECK_EQ(spi_small_cap_templates(h.length, h.count, 2, 12, 1, &t, &nt),
             SP_ERR_INVALID_OPTION);
    CHECK_EQ(spi_small_cap_templates(h.length, h.count, 2, 9, 3, &t, &nt),
             SP_ERR_LENGTH_EXCEEDS_CAPACITY);
    h.length[1] = 0;
    CHECK_EQ(spi_small_cap_templates(h.length, h.count, 2, 12, 2, &t, &nt),
             SP_ERR_LENGTH_NOT_POSITIVE);
    h.length[1] = 10; /* not strictly descending */
    CHECK_EQ(spi_small_cap_templates(h.length, h.count, 2, 12, 2, &t, &nt),
             SP_ERR_INVALID_OPTION);
    h.length[1] = 4;
    h.count[1] = 0;
    CHECK_EQ(spi_small_cap_templates(h.length, h.count, 2, 12, 2, &t, &nt),
             SP_ERR_INVALID_OPTION);
}

/* Above SPI_SMALL_CAP_MAX_DISTINCT cap 3 declines; cap 2 still packs. */
static void test_many_distinct(void)
{
    static histogram h;
    random_histogram(&h, SPI_SMALL_CAP_MAX_DISTINCT + 1, 3 * SPI_SMALL_CAP_MAX_DISTINCT, 5);
    CHECK_EQ(h.distinct, SPI_SMALL_CAP_MAX_DISTINCT + 1);
    spi_template *t = NULL;
    int64_t nt = 0;
    CHECK_EQ(spi_small_cap_templates(h.length, h.count, h.distinct, h.capacity, 3, &t,
                                     &nt), SP_OK);
    CHECK_EQ(nt, -1);
    CHECK(t == NULL);
    pack(&h, 2, NULL);
    h.distinct = SPI_SMALL_CAP_MAX_DISTINCT;
    pack(&h, 3, NULL);
}

int main(void)
{
    test_edges();
    test_tiny_exhaustive();
    test_greedy_reference();
    test_larger();
    test_many_distinct();
    return check_summary();
}
