/*
 * fuzz_stream.c - libFuzzer harness over the stream calls: a stream (NF or
 * HK, any k and capacity) driven by a sequence of adds, batches, reads,
 * batches into the caller's buffers, checkpoints (export, import) and a
 * finish, with good and bad lengths and buffers too small. Every call must
 * give a status; at the end the packs of the accepted lengths, sorted by
 * first id, must equal sp_pack()'s bins for them.
 */
#include <stdlib.h>

#include "fuzz_input.h"
#include "seqpacker.h"

#define MAX_ITEMS 2048

static int64_t accepted[MAX_ITEMS];
static int64_t num_accepted;
/* Every pack read: its first id and used, and ids seen. */
static int64_t first_id[MAX_ITEMS], pack_used[MAX_ITEMS];
static int64_t num_packs_read;
static unsigned char id_seen[MAX_ITEMS];

static void take_packs(const sp_pack_buffers *out)
{
    for (int64_t p = 0; p < out->num_packs; p++) {
        int64_t sum = 0;
        for (int64_t j = out->bin_offsets[p]; j < out->bin_offsets[p + 1]; j++) {
            const int64_t id = out->items[j];
            if (id < 0 || id >= num_accepted || id_seen[id]++)
                abort(); /* an id never handed out, or twice */
            if (out->lengths != NULL && out->lengths[j] != accepted[id])
                abort();
            sum += accepted[id];
        }
        if (out->bin_used != NULL && out->bin_used[p] != sum)
            abort();
        first_id[num_packs_read] = out->items[out->bin_offsets[p]];
        pack_used[num_packs_read++] = sum;
    }
}

static int64_t items[3 * MAX_ITEMS], item_lengths[3 * MAX_ITEMS];
static int64_t offsets[3 * MAX_ITEMS + 1], used[3 * MAX_ITEMS];

static sp_pack_buffers buffers(int64_t items_size, int64_t packs_size, int with_extras)
{
    sp_pack_buffers out = {items, with_extras ? item_lengths : NULL, items_size,
                           offsets, with_extras ? used : NULL, packs_size, -1};
    return out;
}

static void read_all(sp_stream *s)
{
    sp_pack_buffers out = buffers(3 * MAX_ITEMS, 3 * MAX_ITEMS, 1);
    if (sp_stream_read(s, &out) != SP_OK)
        abort();
    take_packs(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    num_accepted = num_packs_read = 0;
    memset(id_seen, 0, sizeof id_seen);
    const int strategy = take(&in, 1) % 2 ? SP_HK : SP_NF;
    const int64_t capacity = 1 + (int64_t)take(&in, 1) % 200;
    sp_options options;
    sp_options_init(&options);
    options.k = 2 + (int64_t)take(&in, 1) % 24;
    sp_stream *s = NULL;
    if (sp_stream_create(capacity, strategy, &options, &s) != SP_OK)
        abort();
    int64_t batch[64], error_index, unread, bound_items, bound_packs;
    while (in.left > 0 && num_accepted < MAX_ITEMS - 64) {
        const uint64_t op = take(&in, 1) % 6;
        if (op == 0) { /* one length */
            const int64_t l = take_length(&in);
            const int status = sp_stream_add(s, l, &unread);
            if (status == SP_OK)
                accepted[num_accepted++] = l;
            else if (status != SP_ERR_LENGTH_NOT_POSITIVE &&
                     status != SP_ERR_LENGTH_EXCEEDS_CAPACITY)
                abort();
        } else if (op <= 2) { /* a batch, queued or straight out */
            const int64_t n = (int64_t)take(&in, 1) % 64;
            for (int64_t j = 0; j < n; j++)
                batch[j] = take_length(&in);
            int status;
            if (op == 1) {
                status = sp_stream_add_many(s, batch, n, &error_index);
            } else {
                if (sp_stream_pack_many_bound(s, n, &bound_items, &bound_packs) != SP_OK)
                    abort();
                const int short_by = take(&in, 1) % 8 == 0; /* sometimes too small */
                sp_pack_buffers out = buffers(bound_items - short_by, bound_packs, n % 2);
                status = sp_stream_pack_many(s, batch, n, &out, &error_index);
                if (status == SP_ERR_BUFFER_TOO_SMALL && short_by && out.num_packs == 0)
                    continue;
                if (status == SP_OK) {
                    for (int64_t j = 0; j < n; j++)
                        accepted[num_accepted + j] = batch[j];
                    num_accepted += n;
                    take_packs(&out);
                    continue;
                }
            }
            if (status == SP_OK) {
                for (int64_t j = 0; j < n; j++)
                    accepted[num_accepted++] = batch[j];
            } else if (status != SP_ERR_LENGTH_NOT_POSITIVE &&
                       status != SP_ERR_LENGTH_EXCEEDS_CAPACITY) {
                abort();
            }
        } else if (op == 3) {
            read_all(s);
        } else if (op == 4) { /* a checkpoint: continue from the copy */
            int64_t state_size, written;
            if (sp_stream_state_size(s, &state_size) != SP_OK)
                abort();
            int64_t *state = malloc((size_t)state_size * sizeof *state);
            sp_stream *t = NULL;
            if (state == NULL || sp_stream_export(s, state, state_size, &written) != SP_OK ||
                sp_stream_import(state, written, &t) != SP_OK)
                abort();
            free(state);
            sp_stream_free(s);
            s = t;
        } else {
            sp_stream_info info;
            if (sp_stream_get_info(s, &info) != SP_OK || info.sequences_added != num_accepted ||
                info.open_bins > (strategy == SP_NF ? 1 : options.k))
                abort();
        }
    }
    if (sp_stream_finish(s) != SP_OK)
        abort();
    read_all(s);
    sp_stream_free(s);

    /* The packs sorted by first id are sp_pack's bins, in its order. */
    static int64_t bin_items[MAX_ITEMS], bin_offsets[MAX_ITEMS + 1], bin_used[MAX_ITEMS];
    int64_t num_bins;
    if (sp_pack(accepted, num_accepted, capacity, strategy, &options, bin_items, bin_offsets,
                bin_used, &num_bins, NULL) != SP_OK || num_bins != num_packs_read)
        abort();
    for (int64_t id = 0; id < num_accepted; id++)
        if (!id_seen[id])
            abort();
    for (int64_t b = 0; b < num_bins; b++) {
        int64_t p = 0;
        while (first_id[p] != bin_items[bin_offsets[b]])
            if (++p == num_packs_read)
                abort();
        if (pack_used[p] != bin_used[b])
            abort();
    }
    return 0;
}
