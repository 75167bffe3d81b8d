/*
 * bins_digest.c - print a digest of the bins of every strategy, and of a
 * stream, on fixed inputs: one line per run, the same on every platform.
 *
 * CI runs it on each build (Linux, the portable path that Linux builds
 * with -Dlinux_page_advice=false, Windows under Wine) and compares the
 * outputs: the platform layer changes speed only, never a bin. The inputs
 * include half a million lengths with two threads allowed, where the
 * page helper and OBFDP's parallel phases run, and an item limit of 3,
 * where OBFD plans its bins with floating-point arithmetic.
 *
 * Exit status 0 when every call succeeded; 1 otherwise (after printing the
 * status in place of the digest).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "seqpacker.h"

/* FNV-1a over the bytes of int64 values, little-endian whatever the host. */
typedef struct digest {
    uint64_t h;
} digest;

static void digest_values(digest *d, const int64_t *v, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        for (int byte = 0; byte < 8; byte++) {
            d->h ^= ((uint64_t)v[i] >> (8 * byte)) & 0xff;
            d->h *= UINT64_C(0x100000001b3);
        }
}

typedef struct input {
    const char *name;
    int64_t n, capacity, threads, max_items;
} input;

static const input inputs[] = {
    {"small", 1000, 2048, 1, 0},
    {"short", 20000, 64, 1, 0},
    {"limit3", 5000, 512, 1, 3},
    {"large", 600000, 2048, 2, 0}, /* outputs over 4 MiB: the page helper */
};

static int64_t *make_lengths(const input *in)
{
    int64_t *lengths = malloc(sizeof(int64_t) * (size_t)in->n);
    if (lengths == NULL)
        return NULL;
    for (int64_t i = 0; i < in->n; i++)
        lengths[i] = random_in(1, in->capacity);
    return lengths;
}

static int pack_line(const input *in, const int64_t *lengths, int strategy)
{
    int64_t *items = malloc(sizeof(int64_t) * (size_t)in->n);
    int64_t *offsets = malloc(sizeof(int64_t) * (size_t)(in->n + 1));
    int64_t *used = malloc(sizeof(int64_t) * (size_t)in->n);
    int64_t num_bins = 0, error_index = 0;
    sp_options options;
    sp_options_init(&options);
    options.threads = in->threads;
    options.max_items = in->max_items;
    options.seed = 7;
    int status = items && offsets && used
                     ? sp_pack(lengths, in->n, in->capacity, strategy, &options,
                               items, offsets, used, &num_bins, &error_index)
                     : SP_ERR_OUT_OF_MEMORY;
    printf("%-6s %-5s ", in->name, sp_strategy_name(strategy));
    if (status == SP_OK) {
        digest d = {UINT64_C(0xcbf29ce484222325)};
        digest_values(&d, &num_bins, 1);
        digest_values(&d, offsets, num_bins + 1);
        digest_values(&d, items, in->n);
        digest_values(&d, used, num_bins);
        printf("bins %" PRId64 " digest %016" PRIx64 "\n", num_bins, d.h);
    } else {
        printf("status %d\n", status);
    }
    free(items);
    free(offsets);
    free(used);
    return status == SP_OK;
}

/* The packs of one sp_stream_pack_many() call and the finish, in order. */
static int stream_line(const input *in, const int64_t *lengths, int strategy)
{
    sp_options options;
    sp_options_init(&options);
    options.threads = in->threads;
    options.max_items = in->max_items;
    sp_stream *s = NULL;
    int64_t items_size = 0, packs_size = 0, error_index = 0;
    int status = sp_stream_create(in->capacity, strategy, &options, &s);
    if (status == SP_OK)
        status = sp_stream_pack_many_bound(s, in->n, &items_size, &packs_size);
    int64_t *items = malloc(sizeof(int64_t) * (size_t)(items_size + 1));
    int64_t *offsets = malloc(sizeof(int64_t) * (size_t)(packs_size + 1));
    int64_t *used = malloc(sizeof(int64_t) * (size_t)(packs_size + 1));
    if (status == SP_OK && (items == NULL || offsets == NULL || used == NULL))
        status = SP_ERR_OUT_OF_MEMORY;
    sp_pack_buffers out = {items, NULL, items_size, offsets, used, packs_size, 0};
    digest d = {UINT64_C(0xcbf29ce484222325)};
    int64_t packs = 0;
    for (int call = 0; call < 2 && status == SP_OK; call++) {
        if (call == 0) {
            status = sp_stream_pack_many(s, lengths, in->n, &out, &error_index);
        } else {
            status = sp_stream_finish(s);
            if (status == SP_OK)
                status = sp_stream_read(s, &out);
        }
        if (status == SP_OK) {
            digest_values(&d, offsets, out.num_packs + 1);
            digest_values(&d, items, offsets[out.num_packs]);
            digest_values(&d, used, out.num_packs);
            packs += out.num_packs;
        }
    }
    printf("%-6s %-5s stream ", in->name, sp_strategy_name(strategy));
    if (status == SP_OK)
        printf("packs %" PRId64 " digest %016" PRIx64 "\n", packs, d.h);
    else
        printf("status %d\n", status);
    sp_stream_free(s);
    free(items);
    free(offsets);
    free(used);
    return status == SP_OK;
}

int main(void)
{
    int ok = 1;
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        int64_t *lengths = make_lengths(&inputs[i]);
        if (lengths == NULL) {
            printf("%s: out of memory\n", inputs[i].name);
            return 1;
        }
        for (int strategy = 0; strategy < SP_STRATEGY_COUNT; strategy++)
            ok &= pack_line(&inputs[i], lengths, strategy);
        ok &= stream_line(&inputs[i], lengths, SP_NF);
        ok &= stream_line(&inputs[i], lengths, SP_HK);
        free(lengths);
    }
    return ok ? 0 : 1;
}
