/*
 * fuzz_input.h - reading a fuzzer's bytes as the arguments of library
 * calls, shared by the harnesses in this folder.
 */
#ifndef SP_FUZZ_INPUT_H
#define SP_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fuzz_input {
    const uint8_t *at;
    size_t left;
} fuzz_input;

/* The next `bytes` bytes (1..8) as an unsigned value; 0 once the input
 * has run out. */
static uint64_t take(fuzz_input *in, int bytes)
{
    uint64_t value = 0;
    for (int i = 0; i < bytes && in->left > 0; i++, in->at++, in->left--)
        value |= (uint64_t)*in->at << (8 * i);
    return value;
}

/* A length: mostly small and valid for small capacities, sometimes any
 * int64 (zero, negative, huge), so that every check is reached. */
static int64_t take_length(fuzz_input *in)
{
    const uint64_t kind = take(in, 1);
    if (kind < 8)
        return (int64_t)take(in, 8);
    return (int64_t)(kind % 64) + (int64_t)take(in, 1);
}

#endif /* SP_FUZZ_INPUT_H */
