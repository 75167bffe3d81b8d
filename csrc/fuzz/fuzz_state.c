/*
 * fuzz_state.c - libFuzzer harness over sp_stream_import(): any buffer,
 * as it is (the checksum refuses nearly all) and sealed with the right
 * checksum (so the checks behind it are reached). What imports must work:
 * more lengths, a finish and a read, all without a bad access.
 */
#include <stdlib.h>

#include "fuzz_input.h"
#include "seqpacker.h"
#include "stream/stream_internal.h"

static void use(sp_stream *s)
{
    static int64_t items[4096], offsets[4097];
    int64_t batch[3] = {1, 2, 3}, error_index;
    sp_stream_info info;
    if (sp_stream_get_info(s, &info) != SP_OK)
        abort();
    const int status = sp_stream_add_many(s, batch, 3, &error_index);
    if (status != SP_OK && status != SP_ERR_LENGTH_EXCEEDS_CAPACITY &&
        status != SP_ERR_FINISHED && status != SP_ERR_OVERFLOW)
        abort();
    if (sp_stream_get_info(s, &info) != SP_OK)
        abort();
    if (!info.finished && sp_stream_finish(s) != SP_OK)
        abort();
    if (sp_stream_get_info(s, &info) != SP_OK || info.unread_items > 4096)
        return; /* (larger states are read by the other harness) */
    sp_pack_buffers out = {items, NULL, 4096, offsets, NULL, 4096, 0};
    if (sp_stream_read(s, &out) != SP_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const int64_t n = (int64_t)(size / sizeof(int64_t));
    int64_t *state = malloc((size_t)(n > 0 ? n : 1) * sizeof *state);
    if (state == NULL)
        return 0;
    memcpy(state, data, (size_t)n * sizeof *state);
    sp_stream *s = NULL;
    for (int sealed = 0; sealed < 2; sealed++) {
        if (sealed && n > 0)
            state[n - 1] = spi_state_checksum(state, n - 1);
        const int status = sp_stream_import(state, n, &s);
        if (status == SP_OK) {
            use(s);
            sp_stream_free(s);
        } else if (s != NULL || (status != SP_ERR_INVALID_STATE &&
                                 status != SP_ERR_OUT_OF_MEMORY)) {
            abort();
        }
    }
    free(state);
    return 0;
}
