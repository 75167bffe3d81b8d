/*
 * check.h - the whole "framework" of the C unit tests: a CHECK macro that
 * counts and reports, and a summary line for meson's test log.
 *
 * Each test file includes it once; the counters are static to that file.
 */
#ifndef SP_TEST_CHECK_H
#define SP_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>

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
static int check_summary(void)
{
    printf("%d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

#endif /* SP_TEST_CHECK_H */
