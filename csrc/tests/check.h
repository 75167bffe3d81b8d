/*
 * check.h - the whole "framework" of the C unit tests: a CHECK macro that
 * counts and reports, and a summary line for meson's test log.
 *
 * Each test file includes it once; the counters are static to that file.
 * The helpers are static inline, so a file that leaves some unused still
 * builds with warnings as errors.
 */
#ifndef SP_TEST_CHECK_H
#define SP_TEST_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

/* xorshift64*: a small PRNG that is the same on every platform, so every
 * random test input is reproducible. Each test file may reseed it. */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static inline uint64_t next_random(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(0x2545F4914F6CDD1D);
}

/* Uniform in [lo, hi] for lo <= hi (the modulo bias does not matter here). */
static inline int64_t random_in(int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(span == 0 ? next_random() : next_random() % span);
}

static int checks_passed = 0;
static int checks_failed = 0;

/* Count one check; on failure print where it failed and what was checked,
 * so a red test says what went wrong without a debugger. */
#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) {                                                          \
            checks_passed++;                                                 \
        } else {                                                             \
            checks_failed++;                                                 \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                    \
    } while (0)

/* CHECK(a == b) for int64 values, printing both sides on failure. */
#define CHECK_EQ(a, b)                                                       \
    do {                                                                     \
        int64_t check_a_ = (int64_t)(a), check_b_ = (int64_t)(b);            \
        if (check_a_ == check_b_) {                                          \
            checks_passed++;                                                 \
        } else {                                                             \
            checks_failed++;                                                 \
            fprintf(stderr, "%s:%d: FAILED: %s == %s (%" PRId64 " != %" PRId64 ")\n", \
                    __FILE__, __LINE__, #a, #b, check_a_, check_b_);         \
        }                                                                    \
    } while (0)

/* Print "N passed, M failed" and give the process exit status. */
static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

#endif /* SP_TEST_CHECK_H */
