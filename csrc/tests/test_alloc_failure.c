/*
 * test_alloc_failure.c - every allocation of every entry point may fail:
 * the call then returns a status (SP_ERR_OUT_OF_MEMORY, or SP_OK where it
 * has a way around), never crashes, and once its objects are freed nothing
 * the library allocated is left.
 *
 * The test binary is linked with -Wl,--wrap for malloc, calloc, realloc,
 * aligned_alloc (not on Windows, whose C runtime lacks it and where the
 * library never calls it) and free (see meson.build), so the library's
 * own calls come here: the fail_at-th allocation from now fails, and every block is
 * counted until it is freed. Each scenario runs with fail_at = 1, 2, ...
 * until a run meets no failure at all, so every allocation on its path is
 * made to fail once. The library itself has no hook for this.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "offline/offline.h"
#include "seqpacker.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);

static int64_t fail_at = 0; /* 0: never; else the n-th allocation fails */
static int64_t allocations = 0, live = 0, failed = 0;

/* Whether this allocation is the one to fail. */
static int fails(void)
{
    allocations++;
    if (fail_at != 0 && allocations == fail_at) {
        failed++;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t size)
{
    if (fails())
        return NULL;
    void *p = __real_malloc(size);
    live += p != NULL;
    return p;
}

void *__wrap_calloc(size_t count, size_t size)
{
    if (fails())
        return NULL;
    void *p = __real_calloc(count, size);
    live += p != NULL;
    return p;
}

#if !defined(_WIN32)
void *__real_aligned_alloc(size_t alignment, size_t size);

void *__wrap_aligned_alloc(size_t alignment, size_t size)
{
    if (fails())
        return NULL;
    void *p = __real_aligned_alloc(alignment, size);
    live += p != NULL;
    return p;
}
#endif

void *__wrap_realloc(void *p, size_t size)
{
    if (fails())
        return NULL; /* p stays valid, as realloc promises */
    void *q = __real_realloc(p, size);
    live += p == NULL && q != NULL;
    return q;
}

void __wrap_free(void *p)
{
    live -= p != NULL;
    __real_free(p);
}

/* A scenario runs some calls and frees what they made; it returns 1 when a
 * call gave a status other than SP_OK and SP_ERR_OUT_OF_MEMORY. */
typedef int (*scenario_fn)(void);

static int64_t points_tested = 0;

/* Run a scenario with every allocation on its path failing in turn. */
static void every_failure(const char *name, scenario_fn scenario)
{
    for (fail_at = 1;; fail_at++) {
        allocations = live = failed = 0;
        int bad = scenario();
        if (bad || live != 0)
            fprintf(stderr, "%s: allocation %" PRId64 " failing: bad status %d, %" PRId64
                    " blocks left\n", name, fail_at, bad, live);
        CHECK(!bad);
        CHECK_EQ(live, 0);
        if (failed == 0)
            break; /* the scenario made fewer allocations than fail_at */
        points_tested++;
    }
    fail_at = 0;
}

static int ok_or_oom(int status)
{
    return status == SP_OK || status == SP_ERR_OUT_OF_MEMORY;
}

#define N_LENGTHS 3000
static int64_t lengths[N_LENGTHS];

static int pack_with(int strategy)
{
    static int64_t items[N_LENGTHS], offsets[N_LENGTHS + 1], used[N_LENGTHS];
    int64_t num_bins = 0, error_index = 0;
    sp_options options;
    sp_options_init(&options);
    options.threads = 1;
    int bad = 0;
    /* With and without bin_used: without, sp_pack allocates scratch. */
    bad |= !ok_or_oom(sp_pack(lengths, N_LENGTHS, 512, strategy, &options, items,
                              offsets, used, &num_bins, &error_index));
    bad |= !ok_or_oom(sp_pack(lengths, N_LENGTHS, 512, strategy, &options, items,
                              offsets, NULL, &num_bins, &error_index));
    return bad;
}

static int strategy_now;
static int pack_scenario(void) { return pack_with(strategy_now); }

/* A stream through every call: create, adds, batches, a read, a batch into
 * the caller's buffers, export and import, finish. */
static int stream_scenario_with(int strategy)
{
    static int64_t items[2 * N_LENGTHS], item_lengths[2 * N_LENGTHS];
    static int64_t offsets[2 * N_LENGTHS + 1], used[2 * N_LENGTHS];
    sp_pack_buffers out = {items, item_lengths, 2 * N_LENGTHS, offsets, used,
                           2 * N_LENGTHS, 0};
    sp_stream *s = NULL, *t = NULL;
    int64_t error_index, unread, size, written;
    int bad = 0;
    int status = sp_stream_create(512, strategy, NULL, &s);
    bad |= !ok_or_oom(status);
    if (status != SP_OK)
        return bad;
    for (int i = 0; i < 40; i++)
        bad |= !ok_or_oom(sp_stream_add(s, lengths[i], &unread));
    bad |= !ok_or_oom(sp_stream_add_many(s, lengths, N_LENGTHS / 2, &error_index));
    bad |= !ok_or_oom(sp_stream_read(s, &out));
    bad |= !ok_or_oom(sp_stream_pack_many(s, lengths + N_LENGTHS / 2, N_LENGTHS / 2, &out,
                                          &error_index));
    bad |= sp_stream_state_size(s, &size) != SP_OK;
    int64_t *state = malloc((size_t)size * sizeof(int64_t));
    if (state != NULL) {
        bad |= sp_stream_export(s, state, size, &written) != SP_OK;
        status = sp_stream_import(state, written, &t);
        bad |= !ok_or_oom(status);
        free(state);
    }
    if (t != NULL) {
        bad |= !ok_or_oom(sp_stream_add_many(t, lengths, 100, &error_index));
        bad |= !ok_or_oom(sp_stream_finish(t));
        sp_stream_free(t);
    }
    bad |= !ok_or_oom(sp_stream_finish(s));
    bad |= !ok_or_oom(sp_stream_read(s, &out));
    sp_stream_free(s);
    return bad;
}

/* The lower bound on both of its paths: the histogram (capacity <= 4n)
 * and the sorted copy. */
static int lower_bound_scenario(void)
{
    int64_t bound = 0, error_index = 0;
    int bad = 0;
    bad |= !ok_or_oom(sp_lower_bound(lengths, N_LENGTHS, 512, 0, &bound, &error_index));
    bad |= !ok_or_oom(sp_lower_bound(lengths, N_LENGTHS, INT64_C(1) << 40, 2, &bound,
                                     &error_index));
    return bad;
}

static int stream_nf(void) { return stream_scenario_with(SP_NF); }
static int stream_hk(void) { return stream_scenario_with(SP_HK); }

/* The small-cap templates (an internal call) at caps 2 and 3, on a
 * histogram of 300 distinct lengths: the grouped LP, the LP on the
 * lengths, the greedy and the template lists all allocate. */
#define SMALL_CAP_DISTINCT 300
static int small_cap_scenario(void)
{
    static int64_t length[SMALL_CAP_DISTINCT], count[SMALL_CAP_DISTINCT];
    for (int d = 0; d < SMALL_CAP_DISTINCT; d++) {
        length[d] = 2 * (SMALL_CAP_DISTINCT - d) - (d % 3 == 0);
        count[d] = 1 + d % 7;
    }
    int bad = 0;
    for (int64_t cap = 2; cap <= 3; cap++) {
        spi_template *t = NULL;
        int64_t nt = 0;
        int status = spi_small_cap_templates(length, count, SMALL_CAP_DISTINCT,
                                             2 * SMALL_CAP_DISTINCT, cap, &t, &nt);
        bad |= !ok_or_oom(status) || (status != SP_OK && t != NULL);
        free(t);
    }
    return bad;
}

int main(void)
{
    for (int i = 0; i < N_LENGTHS; i++)
        lengths[i] = random_in(1, 512);
    for (int strategy = 0; strategy < SP_STRATEGY_COUNT; strategy++) {
        strategy_now = strategy;
        every_failure(sp_strategy_name(strategy), pack_scenario);
    }
    every_failure("stream nf", stream_nf);
    every_failure("stream hk", stream_hk);
    every_failure("lower bound", lower_bound_scenario);
    every_failure("small cap", small_cap_scenario);
    printf("allocation failure points tested: %" PRId64 "\n", points_tested);
    CHECK(points_tested > 50);
    return check_summary();
}
