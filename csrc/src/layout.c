/*
 * layout.c - laying packed sequences out as rows: copying runs of token
 * ids and numbering positions (sp_copy_runs, sp_fill_positions).
 *
 * Both are a single pass over the output. Each run is read once, checked
 * against its buffer, then copied, so a value changed by another thread
 * between a check and its use cannot take a copy out of bounds.
 */
#include <string.h>

#include "seqpacker.h"

static int valid_element_size(int64_t size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

/* Whether [start, start + length) lies within [0, size). */
static int run_fits(int64_t start, int64_t length, int64_t size)
{
    return start >= 0 && length >= 0 && start <= size && length <= size - start;
}

SP_API int sp_copy_runs(void *dst, int64_t dst_size, const void *src,
                        int64_t src_size, int64_t elem_size,
                        const int64_t *src_start, const int64_t *dst_start,
                        const int64_t *length, int64_t n, int64_t *error_index)
{
    if (error_index == NULL)
        return SP_ERR_NULL_POINTER;
    *error_index = -1;
    if (n < 0 || dst_size < 0 || src_size < 0)
        return SP_ERR_NEGATIVE_COUNT;
    if (!valid_element_size(elem_size))
        return SP_ERR_INVALID_ELEMENT_SIZE;
    if (n > 0 && (src_start == NULL || dst_start == NULL || length == NULL))
        return SP_ERR_NULL_POINTER;
    if ((dst == NULL && dst_size > 0) || (src == NULL && src_size > 0))
        return SP_ERR_NULL_POINTER;
    unsigned char *out = dst;
    const unsigned char *in = src;
    size_t width = (size_t)elem_size;
    for (int64_t r = 0; r < n; r++) {
        int64_t from = src_start[r], to = dst_start[r], count = length[r];
        if (!run_fits(from, count, src_size) || !run_fits(to, count, dst_size)) {
            *error_index = r;
            return SP_ERR_OUT_OF_BOUNDS;
        }
        if (count > 0)
            memcpy(out + (size_t)to * width, in + (size_t)from * width, (size_t)count * width);
    }
    return SP_OK;
}

SP_API int sp_fill_positions(void *positions, int64_t size, int64_t elem_size,
                             const int64_t *lengths, int64_t n,
                             int64_t *error_index)
{
    if (error_index == NULL)
        return SP_ERR_NULL_POINTER;
    *error_index = -1;
    if (n < 0 || size < 0)
        return SP_ERR_NEGATIVE_COUNT;
    if (elem_size != 2 && elem_size != 4 && elem_size != 8)
        return SP_ERR_INVALID_ELEMENT_SIZE;
    /* The largest position an element holds, plus one. */
    int64_t limit = elem_size == 2 ? INT64_C(1) << 15
                  : elem_size == 4 ? INT64_C(1) << 31 : INT64_MAX;
    if ((n > 0 && lengths == NULL) || (positions == NULL && size > 0))
        return SP_ERR_NULL_POINTER;
    int64_t at = 0;
    for (int64_t r = 0; r < n; r++) {
        int64_t count = lengths[r];
        if (!run_fits(at, count, size) || count > limit) {
            *error_index = r;
            return SP_ERR_OUT_OF_BOUNDS;
        }
        if (elem_size == 2) {
            int16_t *out = (int16_t *)positions + at;
            for (int64_t p = 0; p < count; p++)
                out[p] = (int16_t)p;
        } else if (elem_size == 4) {
            int32_t *out = (int32_t *)positions + at;
            for (int64_t p = 0; p < count; p++)
                out[p] = (int32_t)p;
        } else {
            int64_t *out = (int64_t *)positions + at;
            for (int64_t p = 0; p < count; p++)
                out[p] = p;
        }
        at += count;
    }
    return SP_OK;
}
