/*
 * lp.h - the LP relaxation of cap-3 packing, for small_cap.c (lp.c).
 *
 * Rows are distinct lengths (strictly descending) with their counts; a
 * column is a pattern of at most SPI_TEMPLATE_MAX lengths, repeats allowed,
 * that fits the capacity. spi_lp_run() minimises the number of bins of the
 * relaxation; its basis (basis[i] taken spi_lp_rounded(p, i) times) rounds
 * down to bins that never take more of a length than its count.
 */
#ifndef SPI_LP_H
#define SPI_LP_H

#include <stdint.h>

#include "offline/offline.h"

typedef struct spi_lp_pattern {
    int32_t ix[SPI_TEMPLATE_MAX]; /* distinct indices, ascending; -1 empty */
} spi_lp_pattern;

typedef struct spi_lp {
    int64_t D;
    const int64_t *length;
    const int64_t *count;
    int64_t capacity;
    double *binv;      /* D * D, binv[k * D + i] = (B^-1)[i][k] */
    double *x;         /* D, the basic values */
    double *y;         /* D, the duals */
    double *alpha;     /* D, B^-1 a of the entering column */
    double *best;      /* D + 1, max(0, y[k..D)) */
    int32_t *best_at;  /* D + 1, where best is reached; -1: none */
    spi_lp_pattern *basis; /* D: the basic patterns */
    spi_lp_pattern *pool;  /* pool_cap >= D */
    int64_t pool_n;
    int64_t pool_cap;
    double x_tol;      /* primal feasibility tolerance for the ratio test */
    int64_t pivots;
    int64_t pricings;
} spi_lp;

/* Patterns to start from: the templates t[0 .. n), over lengths among the
 * rows'. */
typedef struct spi_lp_seed {
    const spi_template *t;
    int64_t n;
} spi_lp_seed;

/* The LP of D rows length[0 .. D) (strictly descending, in [1, capacity])
 * with count[0 .. D) (each >= 1; both arrays outlive p), at the start
 * basis of single-item patterns; pool_cap bounds the pool of candidate
 * columns (at least D, and room for the seeds). SP_OK or
 * SP_ERR_OUT_OF_MEMORY (nothing is left allocated). */
int spi_lp_init(spi_lp *p, const int64_t *length, const int64_t *count,
                int64_t D, int64_t capacity, int64_t pool_cap);
void spi_lp_free(spi_lp *p);

/* Pivot in the patterns of seed[0 .. seeds) first, then run column
 * generation until it is optimal (*optimal = 1) or has made max_pivots
 * pivots (*optimal = 0), and recompute the basic values. Deterministic. */
void spi_lp_run(spi_lp *p, const spi_lp_seed *seed, int seeds,
                int64_t max_pivots, int *optimal);

/* The objective (bins of the relaxation) at the current basis. */
double spi_lp_objective(const spi_lp *p);

/* How many times basic pattern i is taken when rounding down: its value,
 * rounded up when just below an integer, else down; 0 below 1. */
int64_t spi_lp_rounded(const spi_lp *p, int64_t i);

#endif /* SPI_LP_H */
