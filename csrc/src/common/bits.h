/*
 * bits.h - the lowest and the highest set bit of a 64-bit word, on every
 * compiler: the GCC and Clang builtins, MSVC's intrinsics, or a loop.
 */
#ifndef SPI_BITS_H
#define SPI_BITS_H

#include <stdint.h>

#if defined(_MSC_VER) && !defined(__clang__)
#  include <intrin.h>
#endif

/* The position of the lowest set bit of x, which is not 0. */
static inline int spi_lowest_bit(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(x);
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64))
    unsigned long pos;
    _BitScanForward64(&pos, x);
    return (int)pos;
#else
    int pos = 0;
    while ((x & 1) == 0) {
        x >>= 1;
        pos++;
    }
    return pos;
#endif
}

/* The position of the highest set bit of x, which is not 0. */
static inline int spi_highest_bit(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return 63 - __builtin_clzll(x);
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64))
    unsigned long pos;
    _BitScanReverse64(&pos, x);
    return (int)pos;
#else
    int pos = 63;
    while ((x >> pos) == 0)
        pos--;
    return pos;
#endif
}

#endif /* SPI_BITS_H */
