/*
 * test_api.c - the public C ABI outside the packing itself: versions,
 * status strings, strategy names, sp_pack_bound, sp_options_init and every
 * error path of sp_pack. Uses only seqpacker.h, like any C caller.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "seqpacker.h"

/* Sentinel written into outputs to see whether a call touched them. */
#define UNTOUCHED ((int64_t)0x5eed5eed)

typedef struct outputs {
    int64_t items[16];
    int64_t offsets[17];
    int64_t used[16];
    int64_t num_bins;
    int64_t error_index;
} outputs;

static void reset(outputs *o)
{
    for (int i = 0; i < 16; i++)
        o->items[i] = o->used[i] = UNTOUCHED;
    for (int i = 0; i < 17; i++)
        o->offsets[i] = UNTOUCHED;
    o->num_bins = UNTOUCHED;
    o->error_index = UNTOUCHED;
}

/* sp_pack with the outputs of o and default options. */
static int pack(const int64_t *lengths, int64_t n, int64_t capacity,
                int strategy, outputs *o)
{
    reset(o);
    return sp_pack(lengths, n, capacity, strategy, NULL, o->items, o->offsets,
                   o->used, &o->num_bins, &o->error_index);
}

static void test_versions(void)
{
    CHECK_EQ(sp_version_number(), SP_VERSION_NUMBER);
    CHECK(strcmp(sp_version_string(), SP_VERSION_STRING) == 0);
    CHECK_EQ(SP_VERSION_NUMBER,
             SP_VERSION_MAJOR * 10000 + SP_VERSION_MINOR * 100 + SP_VERSION_PATCH);
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", SP_VERSION_MAJOR,
             SP_VERSION_MINOR, SP_VERSION_PATCH);
    CHECK(strcmp(sp_version_string(), expected) == 0);
}

static void test_status_strings(void)
{
    const char *unknown = sp_status_string(-12345);
    CHECK(unknown != NULL && unknown[0] != '\0');
    CHECK(sp_status_string(SP_ERR_INVALID_ELEMENT_SIZE + 1) != NULL);
    CHECK(sp_status_string(INT32_MAX) != NULL);
    CHECK(sp_status_string(INT32_MIN) != NULL);
    /* Every defined code has its own non-empty text, distinct from the
     * text of an unknown code and from every other code's text. */
    for (int s = SP_OK; s <= SP_ERR_INVALID_ELEMENT_SIZE; s++) {
        const char *text = sp_status_string(s);
        CHECK(text != NULL && text[0] != '\0');
        if (text == NULL)
            continue;
        CHECK(strcmp(text, unknown) != 0);
        for (int t = SP_OK; t < s; t++)
            CHECK(strcmp(text, sp_status_string(t)) != 0);
    }
}

static void test_strategy_names(void)
{
    static const char *const expected[SP_STRATEGY_COUNT] = {
        [SP_NF] = "nf",     [SP_FF] = "ff",     [SP_BF] = "bf",
        [SP_WF] = "wf",     [SP_FFD] = "ffd",   [SP_BFD] = "bfd",
        [SP_FFS] = "ffs",   [SP_MFFD] = "mffd", [SP_OBFD] = "obfd",
        [SP_OBFDP] = "obfdp", [SP_HK] = "hk",
    };
    for (int s = 0; s < SP_STRATEGY_COUNT; s++) {
        const char *name = sp_strategy_name(s);
        CHECK(name != NULL && strcmp(name, expected[s]) == 0);
    }
    CHECK(sp_strategy_name(-1) == NULL);
    CHECK(sp_strategy_name(SP_STRATEGY_COUNT) == NULL);
    CHECK(sp_strategy_name(INT32_MAX) == NULL);
    CHECK(sp_strategy_name(INT32_MIN) == NULL);
}

static void test_strategy_describe(void)
{
    static const struct {
        const char *long_name, *aliases;
        int streamable;
    } expected[SP_STRATEGY_COUNT] = {
        [SP_NF] = {"NextFit", "", 1},
        [SP_FF] = {"FirstFit", "", 0},
        [SP_BF] = {"BestFit", "", 0},
        [SP_WF] = {"WorstFit", "", 0},
        [SP_FFD] = {"FirstFitDecreasing", "", 0},
        [SP_BFD] = {"BestFitDecreasing", "", 0},
        [SP_FFS] = {"FirstFitShuffle", "", 0},
        [SP_MFFD] = {"ModifiedFirstFitDecreasing", "", 0},
        [SP_OBFD] = {"OptimizedBestFitDecreasing", "", 0},
        [SP_OBFDP] = {"ParallelOptimizedBestFitDecreasing", "", 0},
        [SP_HK] = {"HarmonicK", "Harmonic", 1},
    };
    for (int s = 0; s < SP_STRATEGY_COUNT; s++) {
        sp_strategy_info info = {0};
        CHECK_EQ(sp_strategy_describe(s, &info), SP_OK);
        CHECK(info.name != NULL && info.long_name != NULL && info.aliases != NULL);
        if (info.name == NULL || info.long_name == NULL || info.aliases == NULL)
            continue;
        CHECK(strcmp(info.name, sp_strategy_name(s)) == 0);
        CHECK(strcmp(info.long_name, expected[s].long_name) == 0);
        CHECK(strcmp(info.aliases, expected[s].aliases) == 0);
        CHECK_EQ(info.streamable, expected[s].streamable);
        /* streamable says exactly what sp_stream_create() accepts. */
        sp_stream *stream = NULL;
        int status = sp_stream_create(100, s, NULL, &stream);
        CHECK_EQ(status, info.streamable ? SP_OK : SP_ERR_NOT_STREAMABLE);
        sp_stream_free(stream);
    }
    /* An unknown id or a NULL info is refused, and *info stays as it was. */
    sp_strategy_info kept = {"x", "y", "z", 7};
    static const int unknown[] = {-1, SP_STRATEGY_COUNT, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK_EQ(sp_strategy_describe(unknown[i], &kept), SP_ERR_UNKNOWN_STRATEGY);
        CHECK(strcmp(kept.name, "x") == 0 && kept.streamable == 7);
    }
    CHECK_EQ(sp_strategy_describe(SP_OBFD, NULL), SP_ERR_NULL_POINTER);
}

static void test_bound_and_options(void)
{
    int64_t size = -7;
    CHECK_EQ(sp_pack_bound(0, &size), SP_OK);
    CHECK_EQ(size, 0);
    CHECK_EQ(sp_pack_bound(1000000, &size), SP_OK);
    CHECK_EQ(size, 1000000);
    CHECK_EQ(sp_pack_bound(-1, &size), SP_ERR_NEGATIVE_COUNT);
    CHECK_EQ(size, 0);
    CHECK_EQ(sp_pack_bound(INT64_MIN, &size), SP_ERR_NEGATIVE_COUNT);
    CHECK_EQ(sp_pack_bound(1, NULL), SP_ERR_NULL_POINTER);

    sp_options o;
    memset(&o, 0x7b, sizeof o);
    sp_options_init(&o);
    CHECK(o.seed == SP_DEFAULT_SEED);
    CHECK_EQ(o.k, SP_DEFAULT_K);
    CHECK_EQ(o.threads, 0);
    sp_options_init(NULL); /* documented no-op: must not crash */

    /* sp_options_check: the defaults and both ends of each range pass. */
    CHECK_EQ(sp_options_check(&o), SP_OK);
    CHECK_EQ(sp_options_check(NULL), SP_ERR_NULL_POINTER);
    const struct { int64_t k, threads; int status; } cases[] = {
        {2, 0, SP_OK}, {SP_MAX_K, 1, SP_OK}, {10, SP_MAX_THREADS, SP_OK},
        {1, 0, SP_ERR_INVALID_OPTION}, {0, 0, SP_ERR_INVALID_OPTION},
        {-1, 0, SP_ERR_INVALID_OPTION}, {SP_MAX_K + 1, 0, SP_ERR_INVALID_OPTION},
        {INT64_MAX, 0, SP_ERR_INVALID_OPTION}, {10, -1, SP_ERR_INVALID_OPTION},
        {10, SP_MAX_THREADS + 1, SP_ERR_INVALID_OPTION}, {10, INT64_MIN, SP_ERR_INVALID_OPTION},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sp_options_init(&o);
        o.k = cases[i].k;
        o.threads = cases[i].threads;
        CHECK_EQ(sp_options_check(&o), cases[i].status);
    }
}

static void test_null_pointers(void)
{
    int64_t len[2] = {3, 4}, items[2], offsets[3], used[2], nb, err;
    CHECK_EQ(sp_pack(NULL, 2, 10, SP_OBFD, NULL, items, offsets, used, &nb, &err),
             SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_pack(len, 2, 10, SP_OBFD, NULL, NULL, offsets, used, &nb, &err),
             SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_pack(len, 2, 10, SP_OBFD, NULL, items, NULL, used, &nb, &err),
             SP_ERR_NULL_POINTER);
    CHECK_EQ(sp_pack(len, 2, 10, SP_OBFD, NULL, items, offsets, used, NULL, &err),
             SP_ERR_NULL_POINTER);
    CHECK_EQ(err, -1);
    /* bin_used and error_index are optional. */
    CHECK_EQ(sp_pack(len, 2, 10, SP_OBFD, NULL, items, offsets, NULL, &nb, NULL),
             SP_OK);
    CHECK_EQ(nb, 1);
    CHECK_EQ(offsets[0], 0);
    CHECK_EQ(offsets[1], 2);
    /* With n == 0 the lengths and items may be NULL. */
    CHECK_EQ(sp_pack(NULL, 0, 10, SP_OBFD, NULL, NULL, offsets, NULL, &nb, NULL),
             SP_OK);
    CHECK_EQ(nb, 0);
    CHECK_EQ(offsets[0], 0);
}

static void test_count_and_capacity(void)
{
    int64_t len[1] = {1};
    outputs o;
    CHECK_EQ(pack(len, -1, 10, SP_OBFD, &o), SP_ERR_NEGATIVE_COUNT);
    CHECK_EQ(pack(len, INT64_MIN, 10, SP_OBFD, &o), SP_ERR_NEGATIVE_COUNT);
    CHECK_EQ(pack(len, 1, 0, SP_OBFD, &o), SP_ERR_INVALID_CAPACITY);
    CHECK_EQ(pack(len, 1, -5, SP_OBFD, &o), SP_ERR_INVALID_CAPACITY);
    CHECK_EQ(pack(len, 1, INT64_MIN, SP_OBFD, &o), SP_ERR_INVALID_CAPACITY);
    CHECK_EQ(o.error_index, -1);
    /* An empty input is valid for every strategy and capacity. */
    for (int s = 0; s < SP_STRATEGY_COUNT; s++) {
        CHECK_EQ(pack(NULL, 0, 1, s, &o), SP_OK);
        CHECK_EQ(o.num_bins, 0);
        CHECK_EQ(o.offsets[0], 0);
        CHECK_EQ(o.error_index, -1);
        CHECK_EQ(o.items[0], UNTOUCHED);
    }
}

static void test_bad_lengths(void)
{
    outputs o;
    /* The first bad index is reported, whichever kind of error comes first. */
    int64_t zero_first[5] = {5, 0, 2000, -1, 7};
    CHECK_EQ(pack(zero_first, 5, 1024, SP_OBFD, &o), SP_ERR_LENGTH_NOT_POSITIVE);
    CHECK_EQ(o.error_index, 1);
    int64_t big_first[5] = {5, 6, 1025, 0, -3};
    CHECK_EQ(pack(big_first, 5, 1024, SP_OBFD, &o), SP_ERR_LENGTH_EXCEEDS_CAPACITY);
    CHECK_EQ(o.error_index, 2);
    int64_t negative_last[4] = {1, 2, 3, INT64_MIN};
    CHECK_EQ(pack(negative_last, 4, 1024, SP_FF, &o), SP_ERR_LENGTH_NOT_POSITIVE);
    CHECK_EQ(o.error_index, 3);
    int64_t over_by_one[1] = {INT64_MAX};
    CHECK_EQ(pack(over_by_one, 1, INT64_MAX - 1, SP_NF, &o),
             SP_ERR_LENGTH_EXCEEDS_CAPACITY);
    CHECK_EQ(o.error_index, 0);
    /* Every strategy validates before packing. */
    for (int s = 0; s < SP_STRATEGY_COUNT; s++) {
        CHECK_EQ(pack(zero_first, 5, 1024, s, &o), SP_ERR_LENGTH_NOT_POSITIVE);
        CHECK_EQ(o.error_index, 1);
        CHECK_EQ(pack(big_first, 5, 1024, s, &o), SP_ERR_LENGTH_EXCEEDS_CAPACITY);
        CHECK_EQ(o.error_index, 2);
    }
    /* A length equal to the capacity is valid. */
    int64_t full[3] = {1024, 1024, 1};
    CHECK_EQ(pack(full, 3, 1024, SP_OBFD, &o), SP_OK);
    CHECK_EQ(o.num_bins, 3);
    CHECK_EQ(o.error_index, -1);
}

static void test_unknown_strategy(void)
{
    int64_t len[2] = {3, 4};
    outputs o;
    CHECK_EQ(pack(len, 2, 10, -1, &o), SP_ERR_UNKNOWN_STRATEGY);
    CHECK_EQ(pack(len, 2, 10, SP_STRATEGY_COUNT, &o), SP_ERR_UNKNOWN_STRATEGY);
    CHECK_EQ(pack(len, 2, 10, INT32_MAX, &o), SP_ERR_UNKNOWN_STRATEGY);
    CHECK_EQ(pack(len, 2, 10, INT32_MIN, &o), SP_ERR_UNKNOWN_STRATEGY);
    CHECK_EQ(o.error_index, -1);
}

static int pack_with(const sp_options *opt, int strategy)
{
    int64_t len[3] = {3, 4, 5}, items[3], offsets[4], used[3], nb, err;
    return sp_pack(len, 3, 10, strategy, opt, items, offsets, used, &nb, &err);
}

static void test_options(void)
{
    sp_options o;
    for (int s = 0; s < SP_STRATEGY_COUNT; s++) {
        sp_options_init(&o);
        o.k = 1;
        CHECK_EQ(pack_with(&o, s), SP_ERR_INVALID_OPTION);
        o.k = 0;
        CHECK_EQ(pack_with(&o, s), SP_ERR_INVALID_OPTION);
        o.k = -7;
        CHECK_EQ(pack_with(&o, s), SP_ERR_INVALID_OPTION);
        o.k = SP_MAX_K + 1;
        CHECK_EQ(pack_with(&o, s), SP_ERR_INVALID_OPTION);
        o.k = INT64_MAX;
        CHECK_EQ(pack_with(&o, s), SP_ERR_INVALID_OPTION);
        sp_options_init(&o);
        o.threads = -1;
        CHECK_EQ(pack_with(&o, s), SP_ERR_INVALID_OPTION);
        o.threads = INT64_MIN;
        CHECK_EQ(pack_with(&o, s), SP_ERR_INVALID_OPTION);
    }
    /* The limits themselves are valid. */
    for (int s = 0; s < SP_STRATEGY_COUNT; s++) {
        sp_options_init(&o);
        o.k = 2;
        CHECK_EQ(pack_with(&o, s), SP_OK);
        o.k = SP_MAX_K;
        CHECK_EQ(pack_with(&o, s), SP_OK);
        sp_options_init(&o);
        o.threads = 1;
        o.seed = UINT64_MAX;
        CHECK_EQ(pack_with(&o, s), SP_OK);
    }
}

static void test_overflow(void)
{
    outputs o;
    /* Each length fits the capacity, their total does not fit int64. */
    int64_t half[2] = {INT64_MAX / 2 + 1, INT64_MAX / 2 + 1};
    for (int s = 0; s < SP_STRATEGY_COUNT; s++) {
        CHECK_EQ(pack(half, 2, INT64_MAX, s, &o), SP_ERR_OVERFLOW);
        CHECK_EQ(o.error_index, -1);
    }
    int64_t many[4] = {INT64_MAX, 1, 1, 1};
    CHECK_EQ(pack(many, 4, INT64_MAX, SP_OBFD, &o), SP_ERR_OVERFLOW);
    /* Right at the limit is fine: the total is exactly INT64_MAX. (Harmonic
     * and MFFD may keep the two in separate bins, so only the total and the
     * layout are checked for every strategy.) */
    int64_t exact[2] = {INT64_MAX / 2, INT64_MAX / 2 + 1};
    for (int s = 0; s < SP_STRATEGY_COUNT; s++) {
        int status = pack(exact, 2, INT64_MAX, s, &o);
        CHECK_EQ(status, SP_OK);
        if (status != SP_OK)
            continue;
        CHECK(o.num_bins == 1 || o.num_bins == 2);
        if (o.num_bins == 1)
            CHECK_EQ(o.used[0], INT64_MAX);
        else
            CHECK(o.used[0] + o.used[1] == INT64_MAX);
        CHECK_EQ(o.offsets[o.num_bins], 2);
    }
    /* Any-fit strategies must put both in one bin. */
    const int one_bin[] = {SP_NF, SP_FF, SP_BF, SP_WF, SP_FFD, SP_BFD, SP_OBFD};
    for (size_t i = 0; i < sizeof one_bin / sizeof one_bin[0]; i++) {
        CHECK_EQ(pack(exact, 2, INT64_MAX, one_bin[i], &o), SP_OK);
        CHECK_EQ(o.num_bins, 1);
        CHECK_EQ(o.used[0], INT64_MAX);
    }
}

int main(void)
{
    test_versions();
    test_status_strings();
    test_strategy_names();
    test_strategy_describe();
    test_bound_and_options();
    test_null_pointers();
    test_count_and_capacity();
    test_bad_lengths();
    test_unknown_strategy();
    test_options();
    test_overflow();
    return check_summary();
}
