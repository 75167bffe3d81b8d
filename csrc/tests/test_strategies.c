/*
 * test_strategies.c - every strategy id on many random inputs: each id
 * exactly once, no bin over capacity, bin_used equal to the sums, offsets
 * increasing and ending at n, no empty bin, the same answer twice. Plus the
 * properties that follow from how each family places items (any-fit,
 * decreasing order), OBFD == BFD bin for bin, and the worked example.
 *
 * The inputs come from a fixed xorshift generator, so a failure reproduces.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "seqpacker.h"

/* A pack result in malloc'ed buffers sized by sp_pack_bound(). */
typedef struct result {
    int status;
    int64_t n;
    int64_t *items;
    int64_t *offsets;
    int64_t *used;
    int64_t num_bins;
} result;

static result run_pack(const int64_t *lengths, int64_t n, int64_t capacity,
                       int strategy, const sp_options *opt, int with_used)
{
    result r = {0};
    int64_t bound = 0;
    CHECK_EQ(sp_pack_bound(n < 0 ? 0 : n, &bound), SP_OK);
    r.n = n;
    r.items = malloc(sizeof(int64_t) * (size_t)(bound + 1));
    r.offsets = malloc(sizeof(int64_t) * (size_t)(bound + 1));
    r.used = with_used ? malloc(sizeof(int64_t) * (size_t)(bound + 1)) : NULL;
    int64_t error_index = 0;
    r.status = sp_pack(lengths, n, capacity, strategy, opt, r.items, r.offsets,
                       r.used, &r.num_bins, &error_index);
    if (r.status == SP_OK)
        CHECK_EQ(error_index, -1);
    return r;
}

static void free_result(result *r)
{
    free(r->items);
    free(r->offsets);
    free(r->used);
}

/* Same bins, same ids in the same places. */
static int same_bins(const result *a, const result *b)
{
    if (a->num_bins != b->num_bins)
        return 0;
    for (int64_t i = 0; i <= a->num_bins; i++)
        if (a->offsets[i] != b->offsets[i])
            return 0;
    for (int64_t i = 0; i < a->n; i++)
        if (a->items[i] != b->items[i])
            return 0;
    return 1;
}

static int is_any_fit(int s)
{
    /* A new bin is opened only when the item fits no open bin. */
    return s == SP_FF || s == SP_BF || s == SP_WF || s == SP_FFD ||
           s == SP_BFD || s == SP_OBFD || s == SP_FFS;
}

static int is_sorted_first(int s)
{
    /* Place items longest first, so lengths never grow within a bin. */
    return s == SP_FFD || s == SP_BFD || s == SP_OBFD;
}

/* The invariants of one result; returns 1 when all hold. */
static int check_layout(const int64_t *lengths, int64_t n, int64_t capacity,
                        const result *r)
{
    int before = checks_failed;
    CHECK(r->num_bins >= (n > 0) && r->num_bins <= n);
    CHECK_EQ(r->offsets[0], 0);
    CHECK_EQ(r->offsets[r->num_bins], n);
    char *seen = calloc((size_t)n + 1, 1);
    int64_t bad_id = 0, twice = 0, empty = 0, over = 0, wrong_sum = 0;
    for (int64_t b = 0; b < r->num_bins; b++) {
        int64_t lo = r->offsets[b], hi = r->offsets[b + 1];
        if (hi <= lo || lo < 0 || hi > n) {
            empty++;
            continue;
        }
        int64_t sum = 0;
        for (int64_t j = lo; j < hi; j++) {
            int64_t id = r->items[j];
            if (id < 0 || id >= n) {
                bad_id++;
                continue;
            }
            twice += seen[id];
            seen[id] = 1;
            sum += lengths[id];
        }
        over += sum > capacity;
        wrong_sum += r->used != NULL && r->used[b] != sum;
    }
    free(seen);
    CHECK_EQ(bad_id, 0);
    CHECK_EQ(twice, 0);
    CHECK_EQ(empty, 0);
    CHECK_EQ(over, 0);
    CHECK_EQ(wrong_sum, 0);
    return checks_failed == before;
}

/* Properties that follow from the family of the strategy (needs used). */
static void check_family(const int64_t *lengths, int64_t n, int64_t capacity,
                         int strategy, const result *r)
{
    const int64_t *it = r->items, *off = r->offsets, *used = r->used;
    if (strategy == SP_NF) {
        int64_t out_of_order = 0, mergeable = 0;
        for (int64_t i = 0; i < n; i++)
            out_of_order += it[i] != i;
        for (int64_t b = 1; b < r->num_bins; b++)
            mergeable += lengths[it[off[b]]] <= capacity - used[b - 1];
        CHECK_EQ(out_of_order, 0);
        CHECK_EQ(mergeable, 0);
    }
    if (is_any_fit(strategy)) {
        /* When bin b opened, its first item fitted no earlier bin, whose
         * load then was at most its final load. */
        int64_t lightest = INT64_MAX, fitted = 0;
        for (int64_t b = 1; b < r->num_bins; b++) {
            lightest = used[b - 1] < lightest ? used[b - 1] : lightest;
            fitted += lengths[it[off[b]]] <= capacity - lightest;
        }
        CHECK_EQ(fitted, 0);
    }
    if (is_sorted_first(strategy)) {
        int64_t rising = 0;
        for (int64_t b = 0; b < r->num_bins; b++)
            for (int64_t j = off[b] + 1; j < off[b + 1]; j++)
                rising += lengths[it[j]] > lengths[it[j - 1]];
        CHECK_EQ(rising, 0);
    }
}

/* Pack with one strategy and check everything that holds for it. */
static void check_strategy(const int64_t *lengths, int64_t n, int64_t capacity,
                           int strategy)
{
    result r = run_pack(lengths, n, capacity, strategy, NULL, 1);
    CHECK_EQ(r.status, SP_OK);
    if (r.status == SP_OK && check_layout(lengths, n, capacity, &r)) {
        check_family(lengths, n, capacity, strategy, &r);
        /* Deterministic, and bin_used is optional without changing bins. */
        result again = run_pack(lengths, n, capacity, strategy, NULL, 1);
        result no_used = run_pack(lengths, n, capacity, strategy, NULL, 0);
        CHECK(again.status == SP_OK && same_bins(&r, &again));
        CHECK(again.status == SP_OK &&
              memcmp(r.used, again.used, sizeof(int64_t) * (size_t)r.num_bins) == 0);
        CHECK(no_used.status == SP_OK && same_bins(&r, &no_used));
        free_result(&again);
        free_result(&no_used);
    } else {
        fprintf(stderr, "  strategy %s, n %" PRId64 ", capacity %" PRId64 "\n",
                sp_strategy_name(strategy), n, capacity);
    }
    free_result(&r);
}

/* OBFD is BFD made fast: the very same bins. */
static void check_obfd_is_bfd(const int64_t *lengths, int64_t n, int64_t capacity)
{
    result bfd = run_pack(lengths, n, capacity, SP_BFD, NULL, 1);
    result obfd = run_pack(lengths, n, capacity, SP_OBFD, NULL, 1);
    CHECK(bfd.status == SP_OK && obfd.status == SP_OK && same_bins(&bfd, &obfd));
    free_result(&bfd);
    free_result(&obfd);
}

static void check_all(const int64_t *lengths, int64_t n, int64_t capacity)
{
    for (int s = 0; s < SP_STRATEGY_COUNT; s++)
        check_strategy(lengths, n, capacity, s);
    check_obfd_is_bfd(lengths, n, capacity);
}

/* The shapes of input that stress the tie rules and the index choices. */
enum shape { UNIFORM, SHORT, NEAR_HALF, NEAR_THIRD, EQUAL, FULL, ONES, SHAPES };

static void fill(int64_t *lengths, int64_t n, int64_t capacity, enum shape shape)
{
    int64_t same = random_in(1, capacity);
    for (int64_t i = 0; i < n; i++) {
        int64_t l;
        switch (shape) {
        case UNIFORM: l = random_in(1, capacity); break;
        case SHORT: l = random_in(1, capacity / 16 > 0 ? capacity / 16 : 1); break;
        case NEAR_HALF: l = capacity / 2 + random_in(0, 4) - 2; break;
        case NEAR_THIRD: l = capacity / 3 + random_in(0, 4) - 2; break;
        case EQUAL: l = same; break;
        case FULL: l = capacity; break;
        default: l = 1; break;
        }
        lengths[i] = l < 1 ? 1 : (l > capacity ? capacity : l);
    }
}

static void test_random_inputs(void)
{
    static const int64_t sizes[] = {1, 2, 3, 7, 64, 1000, 5000};
    static const int64_t capacities[] = {
        1, 2, 3, 10, 1024, 4096, 65535, 65536, 65537,
        (int64_t)1 << 40, INT64_MAX / 4,
    };
    const size_t ns = sizeof sizes / sizeof sizes[0];
    const size_t nc = sizeof capacities / sizeof capacities[0];
    int64_t *lengths = malloc(sizeof(int64_t) * 5000);
    for (size_t i = 0; i < ns; i++)
        for (size_t c = 0; c < nc; c++)
            for (int shape = 0; shape < SHAPES; shape++) {
                /* The total of the lengths must fit int64. */
                if (sizes[i] > INT64_MAX / capacities[c])
                    continue;
                fill(lengths, sizes[i], capacities[c], (enum shape)shape);
                check_all(lengths, sizes[i], capacities[c]);
            }
    free(lengths);
}

/* Around the switch points of the residual index (dense up to a capacity
 * of max(n, 2^16)) and of the sort (counting sort up to a length range of
 * max(n, 2^16)), with enough items to fill many bins. */
static void test_thresholds(void)
{
    const int64_t n = 70000;
    int64_t *lengths = malloc(sizeof(int64_t) * (size_t)n);
    static const int64_t capacities[] = {65535, 65536, 65537, 69999, 70000, 70001};
    for (size_t c = 0; c < sizeof capacities / sizeof capacities[0]; c++) {
        fill(lengths, n, capacities[c], UNIFORM);
        check_all(lengths, n, capacities[c]);
        fill(lengths, n, capacities[c], SHORT);
        check_obfd_is_bfd(lengths, n, capacities[c]);
    }
    free(lengths);
}

/* Lengths of 2^40-scale: the sparse residual index and the radix sort. */
static void test_huge_capacity(void)
{
    const int64_t n = 3000, capacity = (int64_t)1 << 40;
    int64_t *lengths = malloc(sizeof(int64_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        lengths[i] = random_in(capacity / 8, capacity / 2);
    check_all(lengths, n, capacity);
    /* Capacity INT64_MAX: two lengths near INT64_MAX / 3 among short
     * ones, so residuals and sums come close to the top of the range. */
    for (int64_t i = 0; i < n; i++)
        lengths[i] = random_in(1, (int64_t)1 << 48);
    lengths[7] = INT64_MAX / 3 - random_in(0, 1000);
    lengths[n / 2] = INT64_MAX / 3 + random_in(0, 1000);
    check_all(lengths, n, INT64_MAX);
    check_all(lengths, 8, INT64_MAX);
    free(lengths);
}

/* The README example: bins {0}, {1, 7}, {2, 4}, {3, 5, 6}. */
static void test_example(void)
{
    static const int64_t lengths[8] = {1000, 800, 600, 500, 400, 300, 200, 100};
    static const int64_t items[8] = {0, 1, 7, 2, 4, 3, 5, 6};
    static const int64_t offsets[5] = {0, 1, 3, 5, 8};
    static const int64_t used[4] = {1000, 900, 1000, 1000};
    const int strategies[2] = {SP_OBFD, SP_BFD};
    for (int k = 0; k < 2; k++) {
        result r = run_pack(lengths, 8, 1024, strategies[k], NULL, 1);
        CHECK_EQ(r.status, SP_OK);
        CHECK_EQ(r.num_bins, 4);
        if (r.status == SP_OK && r.num_bins == 4) {
            CHECK(memcmp(r.items, items, sizeof items) == 0);
            CHECK(memcmp(r.offsets, offsets, sizeof offsets) == 0);
            CHECK(memcmp(r.used, used, sizeof used) == 0);
        }
        free_result(&r);
    }
}

/* FirstFitShuffle: any seed gives a valid packing, the same seed the same. */
static void test_seeds(void)
{
    const int64_t n = 2000, capacity = 1000;
    int64_t *lengths = malloc(sizeof(int64_t) * (size_t)n);
    fill(lengths, n, capacity, UNIFORM);
    sp_options opt;
    sp_options_init(&opt);
    static const uint64_t seeds[] = {0, 1, 42, UINT64_MAX};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        opt.seed = seeds[i];
        result a = run_pack(lengths, n, capacity, SP_FFS, &opt, 1);
        result b = run_pack(lengths, n, capacity, SP_FFS, &opt, 1);
        CHECK_EQ(a.status, SP_OK);
        if (a.status == SP_OK && check_layout(lengths, n, capacity, &a)) {
            check_family(lengths, n, capacity, SP_FFS, &a);
            CHECK(b.status == SP_OK && same_bins(&a, &b));
        }
        free_result(&a);
        free_result(&b);
    }
    free(lengths);
}

/* Pack with opt: it must succeed with a valid layout. */
static void check_packs_with(const int64_t *lengths, int64_t n,
                             int64_t capacity, int strategy,
                             const sp_options *opt)
{
    result r = run_pack(lengths, n, capacity, strategy, opt, 1);
    CHECK_EQ(r.status, SP_OK);
    if (r.status == SP_OK)
        check_layout(lengths, n, capacity, &r);
    free_result(&r);
}

/* HarmonicK and ParallelOBFD with their options at the limits. */
static void test_options(void)
{
    const int64_t n = 3000, capacity = 4096;
    int64_t *lengths = malloc(sizeof(int64_t) * (size_t)n);
    fill(lengths, n, capacity, UNIFORM);
    sp_options opt;
    static const int64_t ks[] = {2, 3, 10, 100, SP_MAX_K};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        sp_options_init(&opt);
        opt.k = ks[i];
        check_packs_with(lengths, n, capacity, SP_HK, &opt);
    }
    static const int64_t threads[] = {0, 1, 2, 3, 8};
    for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++) {
        sp_options_init(&opt);
        opt.threads = threads[i];
        check_packs_with(lengths, n, capacity, SP_OBFDP, &opt);
    }
    free(lengths);
}

/* obfdp packs shares on threads only from 2^17 lengths per thread: check
 * that path (and the mending of the least-full bins) on enough lengths,
 * with both threads and with three, under valgrind too in CI. */
static void test_parallel_shares(void)
{
    const int64_t n = 3 * ((int64_t)1 << 17) + 1234, capacity = 2048;
    int64_t *lengths = malloc(sizeof(int64_t) * (size_t)n);
    fill(lengths, n, capacity, UNIFORM);
    result serial = run_pack(lengths, n, capacity, SP_OBFD, NULL, 1);
    for (int64_t threads = 2; threads <= 3; threads++) {
        sp_options opt;
        sp_options_init(&opt);
        opt.threads = threads;
        result r = run_pack(lengths, n, capacity, SP_OBFDP, &opt, 1);
        CHECK_EQ(r.status, SP_OK);
        if (r.status == SP_OK && check_layout(lengths, n, capacity, &r)) {
            /* at most 0.1% (and one) more bins than serial OBFD */
            CHECK(r.num_bins >= serial.num_bins);
            CHECK(r.num_bins * 1000 <= serial.num_bins * 1001 + 1000);
        }
        result again = run_pack(lengths, n, capacity, SP_OBFDP, &opt, 1);
        CHECK(same_bins(&r, &again)); /* deterministic for a thread count */
        free_result(&again);
        free_result(&r);
    }
    free_result(&serial);
    free(lengths);
}

/* With threads allowed, a large call maps its output pages on a helper
 * thread while the strategy runs: the bins must be exactly those of a
 * call on one thread, with and without bin_used, and an error must come
 * back the same (the helper is joined on that path too). */
static void test_page_helper(void)
{
    const int64_t n = 600000, capacity = 2048; /* outputs over 4 MiB */
    int64_t *lengths = malloc(sizeof(int64_t) * (size_t)n);
    fill(lengths, n, capacity, UNIFORM);
    static const int strategies[] = {SP_NF, SP_HK, SP_OBFD};
    sp_options one, two;
    sp_options_init(&one);
    sp_options_init(&two);
    one.threads = 1;
    two.threads = 2;
    for (size_t i = 0; i < sizeof strategies / sizeof strategies[0]; i++) {
        result alone = run_pack(lengths, n, capacity, strategies[i], &one, 1);
        CHECK_EQ(alone.status, SP_OK);
        for (int with_used = 0; with_used <= 1; with_used++) {
            result helped = run_pack(lengths, n, capacity, strategies[i], &two,
                                     with_used);
            CHECK_EQ(helped.status, SP_OK);
            CHECK(same_bins(&alone, &helped));
            if (with_used)
                CHECK(memcmp(alone.used, helped.used,
                             sizeof(int64_t) * (size_t)alone.num_bins) == 0);
            free_result(&helped);
        }
        free_result(&alone);
    }
    lengths[n - 1] = capacity + 1;
    for (size_t i = 0; i < sizeof strategies / sizeof strategies[0]; i++) {
        int64_t items_bound = 0;
        CHECK_EQ(sp_pack_bound(n, &items_bound), SP_OK);
        int64_t *items = malloc(sizeof(int64_t) * (size_t)(items_bound + 1));
        int64_t *offsets = malloc(sizeof(int64_t) * (size_t)(items_bound + 1));
        int64_t num_bins = -1, error_index = 0;
        int status = sp_pack(lengths, n, capacity, strategies[i], &two, items,
                             offsets, NULL, &num_bins, &error_index);
        CHECK_EQ(status, SP_ERR_LENGTH_EXCEEDS_CAPACITY);
        CHECK_EQ(error_index, n - 1);
        free(items);
        free(offsets);
    }
    free(lengths);
}

/* Every strategy with an item limit: a valid packing whose bins hold at
 * most max_items ids; BFD and OBFD still agree above the limits that OBFD
 * plans differently (2 and 3), and a limit of 1 gives one bin per id. */
static void test_item_limit(void)
{
    static const int64_t sizes[] = {1, 5, 300};
    static const int64_t capacities[] = {1, 10, 1000, (int64_t)1 << 40};
    static const int64_t limits[] = {1, 2, 3, 4, 7, SP_MAX_LENGTHS};
    int64_t *lengths = malloc(sizeof(int64_t) * 3000);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (size_t c = 0; c < sizeof capacities / sizeof *capacities; c++)
            for (int shape = 0; shape < SHAPES; shape++) {
                fill(lengths, sizes[i], capacities[c], (enum shape)shape);
                for (size_t m = 0; m < sizeof limits / sizeof *limits; m++) {
                    sp_options opt;
                    sp_options_init(&opt);
                    opt.max_items = limits[m];
                    result bfd = {0};
                    for (int st = 0; st < SP_STRATEGY_COUNT; st++) {
                        result r = run_pack(lengths, sizes[i], capacities[c],
                                            st, &opt, 1);
                        CHECK_EQ(r.status, SP_OK);
                        if (r.status != SP_OK || !check_layout(lengths, sizes[i],
                                                               capacities[c], &r)) {
                            free_result(&r);
                            continue;
                        }
                        int64_t over = 0;
                        for (int64_t b = 0; b < r.num_bins; b++)
                            over += r.offsets[b + 1] - r.offsets[b] > limits[m];
                        CHECK_EQ(over, 0);
                        if (limits[m] == 1)
                            CHECK_EQ(r.num_bins, sizes[i]);
                        if (st == SP_BFD) {
                            bfd = r;
                            continue;
                        }
                        if (st == SP_OBFD && limits[m] > 3)
                            CHECK(same_bins(&bfd, &r));
                        free_result(&r);
                    }
                    free_result(&bfd);
                }
            }
    free(lengths);
    sp_options opt;
    sp_options_init(&opt);
    CHECK_EQ(opt.max_items, 0);
    opt.max_items = -1;
    CHECK_EQ(sp_options_check(&opt), SP_ERR_INVALID_OPTION);
    opt.max_items = SP_MAX_LENGTHS + (int64_t)1;
    CHECK_EQ(sp_options_check(&opt), SP_ERR_INVALID_OPTION);
}

int main(void)
{
    test_example();
    test_random_inputs();
    test_thresholds();
    test_huge_capacity();
    test_seeds();
    test_options();
    test_parallel_shares();
    test_page_helper();
    test_item_limit();
    return check_summary();
}
