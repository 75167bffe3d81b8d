/* Pack eight sequence lengths into bins of 1024 tokens with the default
 * strategy (OBFD) and print the bins. Build against an installed library:
 *     cc pack_lengths.c $(pkg-config --cflags --libs seqpacker)
 */
#include <stdio.h>
#include <stdlib.h>

#include <seqpacker.h>

int main(void)
{
    const int64_t lengths[] = {1000, 800, 600, 500, 400, 300, 200, 100};
    const int64_t n = sizeof lengths / sizeof lengths[0];

    /* Caller-owned buffers, sized by sp_pack_bound(). */
    int64_t bound = 0;
    if (sp_pack_bound(n, &bound) != SP_OK)
        return 1;
    int64_t *items = malloc(sizeof(int64_t) * bound);
    int64_t *offsets = malloc(sizeof(int64_t) * (bound + 1));
    int64_t *used = malloc(sizeof(int64_t) * bound);
    int64_t num_bins = 0, bad_index = -1;
    if (items == NULL || offsets == NULL || used == NULL)
        return 1;

    int status = sp_pack(lengths, n, 1024, SP_OBFD, NULL, items, offsets,
                         used, &num_bins, &bad_index);
    if (status != SP_OK) {
        fprintf(stderr, "sp_pack: %s (index %lld)\n",
                sp_status_string(status), (long long)bad_index);
        return 1;
    }
    printf("seqpacker %s: %lld bins\n", sp_version_string(), (long long)num_bins);
    for (int64_t b = 0; b < num_bins; b++) {
        printf("bin %lld (used %lld):", (long long)b, (long long)used[b]);
        for (int64_t k = offsets[b]; k < offsets[b + 1]; k++)
            printf(" %lld", (long long)items[k]);
        printf("\n");
    }
    free(items);
    free(offsets);
    free(used);
    return 0;
}
