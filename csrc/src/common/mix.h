/*
 * mix.h - SplitMix64 (Steele, Lea and Flood), the one 64-bit mixer of the
 * library, specified bit for bit in docs/prng.md.
 *
 * spi_mix64() is its finaliser, a bijection of 64-bit words;
 * spi_splitmix64_next() is the generator: it adds SPI_GOLDEN_GAMMA to the
 * state and returns the finaliser of the new state. Its k-th output from
 * state s (counting from 1) is therefore spi_mix64(s + k * SPI_GOLDEN_GAMMA).
 * The FirstFitShuffle shuffle draws from the generator; the stream state
 * checksum and the treap priorities use the finaliser.
 */
#ifndef SPI_MIX_H
#define SPI_MIX_H

#include <stdint.h>

/* The generator's increment: 2^64 / golden ratio, rounded down (odd). */
#define SPI_GOLDEN_GAMMA UINT64_C(0x9E3779B97F4A7C15)

/* SplitMix64's finaliser: every input bit affects every output bit. */
static inline uint64_t spi_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* One SplitMix64 draw: advances *state and returns a 64-bit output. */
static inline uint64_t spi_splitmix64_next(uint64_t *state)
{
    *state += SPI_GOLDEN_GAMMA;
    return spi_mix64(*state);
}

#endif
