/*
 * fuzz_pack.c - libFuzzer harness over sp_pack(), sp_lengths_check() and
 * sp_lower_bound(): any strategy, capacity, options and lengths. A call
 * that succeeds must give a valid packing (each id once, every bin within
 * capacity, used equal to the sum of its lengths) into no fewer bins than
 * the lower bound; any other call must give a status.
 */
#include <stdlib.h>

#include "fuzz_input.h"
#include "seqpacker.h"

#define MAX_N 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    const int strategy = (int)take(&in, 1) % (SP_STRATEGY_COUNT + 2) - 1;
    int64_t capacity = (int64_t)take(&in, 2);
    if (take(&in, 1) == 0)
        capacity = (int64_t)take(&in, 8); /* now and then any capacity */
    sp_options options;
    sp_options_init(&options);
    options.seed = take(&in, 8);
    options.k = (int64_t)take(&in, 1) % 40;      /* 0, 1 and 40+ are refused */
    options.threads = (int64_t)take(&in, 1) % 4; /* 0 = every CPU */
    static int64_t lengths[MAX_N];
    int64_t n = 0;
    while (in.left > 0 && n < MAX_N)
        lengths[n++] = take_length(&in);

    int64_t total = 0, error_index = -7, bound = 0;
    const int checked = sp_lengths_check(lengths, n, capacity, &total, &error_index);
    if (sp_pack_bound(n, &bound) != SP_OK)
        abort();
    /* The lower bound checks the lengths exactly as sp_lengths_check. */
    int64_t lower = -1, lower_index = -7;
    const int lower_status = sp_lower_bound(lengths, n, capacity, 0, &lower, &lower_index);
    if (lower_status != checked && lower_status != SP_ERR_OUT_OF_MEMORY)
        abort();
    if (lower_status == checked && lower_index != error_index)
        abort();
    static int64_t items[MAX_N], offsets[MAX_N + 1], used[MAX_N];
    int64_t num_bins = -1;
    const int status = sp_pack(lengths, n, capacity, strategy, &options, items, offsets,
                               used, &num_bins, &error_index);
    if (status != SP_OK) {
        /* The same verdict on the lengths as sp_lengths_check's. */
        if ((status == SP_ERR_LENGTH_NOT_POSITIVE ||
             status == SP_ERR_LENGTH_EXCEEDS_CAPACITY) && status != checked)
            abort();
        return 0;
    }
    if (checked != SP_OK)
        abort(); /* sp_pack took lengths that the check refuses */
    if (lower_status == SP_OK && (lower > num_bins || lower < (n > 0)))
        abort(); /* a packing below the lower bound */
    static unsigned char seen[MAX_N];
    memset(seen, 0, (size_t)n);
    if (offsets[0] != 0 || offsets[num_bins] != n)
        abort();
    for (int64_t b = 0; b < num_bins; b++) {
        int64_t sum = 0;
        if (offsets[b + 1] <= offsets[b])
            abort(); /* an empty bin */
        for (int64_t j = offsets[b]; j < offsets[b + 1]; j++) {
            const int64_t id = items[j];
            if (id < 0 || id >= n || seen[id]++)
                abort();
            sum += lengths[id];
        }
        if (sum > capacity || sum != used[b])
            abort();
    }
    return 0;
}
