/*
 * lp.c - the LP relaxation of cap-3 packing (small_cap.c), solved by
 * column generation (Gilmore and Gomory, "A linear programming approach to
 * the cutting-stock problem", 1961).
 *
 * Master LP: minimise sum_p x_p subject to sum_p a_ip x_p = count_i,
 * x >= 0, over patterns p (at most 3 items, lengths may repeat, sum <=
 * capacity). Every subset of a pattern is a pattern, so equality gives the
 * same optimum as covering (>=) and the rounded-down solution covers
 * exactly. Duals may then be negative; pricing simply leaves such lengths
 * out.
 *
 * The master is a dense revised simplex: the explicit basis inverse
 * (D x D, column-major) updated by one elimination per pivot, which skips
 * columns whose pivot-row entry is zero. It starts from the single-item
 * patterns (B = I, x = count, y = 1), which is feasible without a phase 1,
 * and first pivots in the greedy's patterns (lp_crash). The ratio test is
 * Harris's two-pass one (the largest pivot among the near-minimal ratios),
 * for stability on degenerate bases. Full pricing is O(D^2) and returns,
 * for every largest length, its best pattern; the improving ones form a
 * pool that is repriced (O(pool)) after each pivot. Of the pool's
 * LP_CANDIDATES most negative reduced costs, the column whose ratio test
 * lowers the objective most enters (greatest improvement, which takes
 * fewer pivots than Dantzig's rule on the histograms that
 * csrc/tests/bench_small_cap.c reads), until none
 * improves and a full pricing runs again. It stops when full pricing finds
 * no pattern worth more than 1 + eps, or at a pivot limit (the rounding is
 * valid at any basis).
 */

#include <stdlib.h>
#include <string.h>

#include "offline/lp.h"

#define LP_EPS 1e-9    /* pricing: a column improves below -LP_EPS */
#define LP_PIVOT 1e-9  /* smallest pivot element */
#define LP_ROUND 1e-6  /* x within this below an integer rounds up to it */

/* Short names inside this file. */
typedef spi_lp lp;
typedef spi_lp_pattern pattern;

void spi_lp_free(lp *p)
{
    free(p->binv);
    free(p->x);
    free(p->y);
    free(p->alpha);
    free(p->best);
    free(p->best_at);
    free(p->basis);
    free(p->pool);
}

int spi_lp_init(lp *p, const int64_t *length, const int64_t *count,
                int64_t D, int64_t capacity, int64_t pool_cap)
{
    memset(p, 0, sizeof(*p));
    p->D = D;
    p->length = length;
    p->count = count;
    p->capacity = capacity;
    p->binv = spi_alloc_zeroed(D * D, sizeof(double));
    p->x = spi_alloc_array(D, sizeof(double));
    p->y = spi_alloc_array(D, sizeof(double));
    p->alpha = spi_alloc_array(D, sizeof(double));
    p->best = spi_alloc_array(D + 1, sizeof(double));
    p->best_at = spi_alloc_array(D + 1, sizeof(int32_t));
    p->basis = spi_alloc_array(D, sizeof(pattern));
    p->pool_cap = pool_cap > D ? pool_cap : D;
    p->pool = spi_alloc_array(p->pool_cap, sizeof(pattern));
    if (!p->binv || !p->x || !p->y || !p->alpha || !p->best || !p->best_at ||
        !p->basis || !p->pool) {
        spi_lp_free(p);
        return SP_ERR_OUT_OF_MEMORY;
    }
    double largest = 1;
    for (int64_t i = 0; i < D; i++) {
        p->binv[i * D + i] = 1;
        p->x[i] = (double)count[i];
        p->y[i] = 1;
        p->basis[i] = (pattern){{(int32_t)i, -1, -1}};
        largest = p->x[i] > largest ? p->x[i] : largest;
    }
    p->x_tol = 1e-9 * largest;
    return SP_OK;
}

static double pattern_value(const lp *p, const pattern *c)
{
    double v = 0;
    for (int k = 0; k < SPI_TEMPLATE_MAX && c->ix[k] >= 0; k++)
        v += p->y[c->ix[k]];
    return v;
}

/* y = c_B B^-1 afresh (all costs are 1: the column sums of B^-1), so that
 * the incremental updates do not drift across many pivots. */
static void lp_refresh_duals(lp *p)
{
    const int64_t D = p->D;
    for (int64_t k = 0; k < D; k++) {
        const double *col = p->binv + k * D;
        double s = 0;
        for (int64_t i = 0; i < D; i++)
            s += col[i];
        p->y[k] = s;
    }
}

/* Full pricing: for every largest length c with y_c > 0 (a pattern whose
 * largest item is worth <= 0 is dominated by the pattern without it), the
 * best second b <= c within the room and the best third a <= b within what
 * is left, from the suffix maxima of y. Two pointers keep it O(D^2).
 * The patterns worth more than threshold replace the pool; returns their
 * number. */
static int64_t lp_price(lp *p, double threshold)
{
    const int64_t D = p->D, C = p->capacity;
    const int64_t *length = p->length;
    const double *y = p->y;
    p->best[D] = 0;
    p->best_at[D] = -1;
    for (int64_t k = D - 1; k >= 0; k--) {
        int take = y[k] > p->best[k + 1];
        p->best[k] = take ? y[k] : p->best[k + 1];
        p->best_at[k] = take ? (int32_t)k : p->best_at[k + 1];
    }
    p->pool_n = 0;
    int64_t start = D; /* first index whose length fits beside c */
    for (int64_t ic = 0; ic < D; ic++) {
        const int64_t room = C - length[ic];
        while (start > 0 && length[start - 1] <= room)
            start--;
        if (y[ic] <= 0)
            continue;
        double value = y[ic];
        pattern col = {{(int32_t)ic, -1, -1}};
        int64_t third = D; /* first index whose length fits beside c, b */
        for (int64_t ib = start > ic ? start : ic; ib < D; ib++) {
            const int64_t left = room - length[ib];
            while (third > 0 && length[third - 1] <= left)
                third--;
            if (y[ib] <= 0)
                continue;
            int64_t ia = third > ib ? third : ib;
            double v = y[ic] + y[ib] + p->best[ia];
            if (v > value) {
                value = v;
                col = (pattern){{(int32_t)ic, (int32_t)ib, p->best_at[ia]}};
            }
        }
        if (value > threshold && p->pool_n < p->pool_cap)
            p->pool[p->pool_n++] = col;
    }
    p->pricings++;
    return p->pool_n;
}

/* The step length of the ratio test for column c (alpha in p->alpha). */
static double lp_step(lp *p, const pattern *c)
{
    const int64_t D = p->D;
    double *alpha = p->alpha;
    const double *c0 = p->binv + (int64_t)c->ix[0] * D;
    const double *c1 = c->ix[1] >= 0 ? p->binv + (int64_t)c->ix[1] * D : NULL;
    const double *c2 = c->ix[2] >= 0 ? p->binv + (int64_t)c->ix[2] * D : NULL;
    double theta = -1;
    for (int64_t i = 0; i < D; i++) {
        double a = c0[i] + (c1 != NULL ? c1[i] : 0) + (c2 != NULL ? c2[i] : 0);
        alpha[i] = a;
        if (a > LP_PIVOT && (theta < 0 || p->x[i] < theta * a))
            theta = p->x[i] / a; /* a division only when the ratio drops */
    }
    return theta;
}

#define LP_CANDIDATES 32
/* Full pricings between recomputations of the duals from B^-1. */
#define LP_REFRESH 8

/* Among the LP_CANDIDATES pool columns of most negative reduced cost
 * (below -LP_EPS), the one whose pivot lowers the objective most (greatest
 * improvement, -d * step); -1 when none improves. On return p->alpha
 * holds B^-1 of the chosen column. */
static int64_t lp_choose(lp *p, double *reduced)
{
    int64_t cand[LP_CANDIDATES];
    double cd[LP_CANDIDATES];
    int nc = 0;
    for (int64_t k = 0; k < p->pool_n; k++) {
        double d = 1 - pattern_value(p, &p->pool[k]);
        if (d >= -LP_EPS)
            continue;
        /* Insertion into the sorted candidate list (most negative first). */
        int at = nc < LP_CANDIDATES ? nc++ : LP_CANDIDATES;
        while (at > 0 && cd[at - 1] > d) {
            if (at < LP_CANDIDATES) {
                cand[at] = cand[at - 1];
                cd[at] = cd[at - 1];
            }
            at--;
        }
        if (at < LP_CANDIDATES) {
            cand[at] = k;
            cd[at] = d;
        }
    }
    if (nc == 0)
        return -1;
    int best = 0;
    double gain = -1;
    for (int c = 0; c < nc && nc > 1; c++) {
        double g = -cd[c] * lp_step(p, &p->pool[cand[c]]);
        if (g > gain) {
            gain = g;
            best = c;
        }
    }
    if (nc == 1 || best != nc - 1)
        (void)lp_step(p, &p->pool[cand[best]]); /* p->alpha for the pivot */
    *reduced = cd[best];
    return cand[best];
}

/* Bring `col` (reduced cost d < 0, B^-1 col in p->alpha) into the basis. Returns 0 when no row
 * can leave (numerically unbounded; cannot happen in exact arithmetic, as
 * every x_p <= min count). */
static int lp_pivot(lp *p, const pattern *col, double d)
{
    const int64_t D = p->D;
    const double *alpha = p->alpha;
    double *x = p->x;
    /* Harris ratio test: a bound with the tolerance, then the largest
     * pivot among the rows within it. */
    double bound = 0;
    int any = 0;
    for (int64_t i = 0; i < D; i++) {
        if (alpha[i] > LP_PIVOT) {
            double r = (x[i] + p->x_tol) / alpha[i];
            if (!any || r < bound)
                bound = r;
            any = 1;
        }
    }
    if (!any)
        return 0;
    int64_t leave = -1;
    for (int64_t i = 0; i < D; i++)
        if (alpha[i] > LP_PIVOT && x[i] / alpha[i] <= bound &&
            (leave < 0 || alpha[i] > alpha[leave]))
            leave = i;
    const double ar = alpha[leave];
    const double theta = (x[leave] > 0 ? x[leave] : 0) / ar;
    for (int64_t i = 0; i < D; i++) {
        x[i] -= theta * alpha[i];
        if (x[i] < 0)
            x[i] = 0;
    }
    x[leave] = theta;
    /* B^-1 <- E B^-1, column by column; y moves along the old pivot row. */
    for (int64_t k = 0; k < D; k++) {
        double *bcol = p->binv + k * D;
        const double t = bcol[leave] / ar;
        if (t == 0)
            continue;
        for (int64_t i = 0; i < D; i++)
            bcol[i] -= alpha[i] * t;
        bcol[leave] = t;
        p->y[k] += d * t;
    }
    p->basis[leave] = *col;
    p->pivots++;
    return 1;
}

/* x = B^-1 count afresh, then one step of iterative refinement against
 * the basis patterns themselves; negatives clamp to 0. */
static void lp_refresh_primal(lp *p)
{
    const int64_t D = p->D;
    double *x = p->x, *r = p->alpha;
    memset(x, 0, (size_t)D * sizeof(double));
    for (int64_t k = 0; k < D; k++) {
        const double *bcol = p->binv + k * D;
        const double b = (double)p->count[k];
        for (int64_t i = 0; i < D; i++)
            x[i] += bcol[i] * b;
    }
    for (int64_t k = 0; k < D; k++)
        r[k] = (double)p->count[k];
    for (int64_t i = 0; i < D; i++)
        for (int c = 0; c < SPI_TEMPLATE_MAX && p->basis[i].ix[c] >= 0; c++)
            r[p->basis[i].ix[c]] -= x[i];
    for (int64_t k = 0; k < D; k++) {
        const double *bcol = p->binv + k * D;
        if (r[k] != 0)
            for (int64_t i = 0; i < D; i++)
                x[i] += bcol[i] * r[k];
    }
    for (int64_t i = 0; i < D; i++)
        if (x[i] < 0)
            x[i] = 0;
}

/* Pivot in the best pool column while one improves. */
static int lp_pivot_pool(lp *p, int64_t max_pivots)
{
    double d;
    int64_t k;
    while (p->pivots < max_pivots && (k = lp_choose(p, &d)) >= 0)
        if (!lp_pivot(p, &p->pool[k], d))
            return 0;
    return 1;
}

/* The distinct index of length L (present in the descending length[]). */
static int32_t index_of(const int64_t *length, int64_t D, int64_t L)
{
    int64_t lo = 0, hi = D - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (length[mid] > L)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int32_t)lo;
}

/* A crash start: the simplex over the greedy's patterns first. They bring
 * the objective to at most the greedy's bins in about D pivots, where the
 * single-item start takes many more priced pivots to get there. */
static void lp_crash(lp *p, const spi_lp_seed *seed, int seeds,
                     int64_t max_pivots)
{
    p->pool_n = 0;
    for (int s = 0; s < seeds; s++)
        for (int64_t k = 0; k < seed[s].n && p->pool_n < p->pool_cap; k++) {
            const spi_template *t = &seed[s].t[k];
            pattern c = {{-1, -1, -1}};
            for (int64_t e = 0; e < t->items; e++)
                c.ix[e] = index_of(p->length, p->D, t->len[e]);
            p->pool[p->pool_n++] = c;
        }
    /* Plus the fullest pattern for every largest length: pricing with
     * duals proportional to length, into the rest of the pool. */
    for (int64_t i = 0; i < p->D; i++)
        p->y[i] = (double)p->length[i] / (double)p->capacity;
    pattern *keep = p->pool;
    int64_t kept = p->pool_n;
    p->pool += kept;
    p->pool_cap -= kept;
    (void)lp_price(p, 0);
    p->pool = keep;
    p->pool_cap += kept;
    p->pool_n += kept;
    p->pricings--;
    for (int64_t i = 0; i < p->D; i++)
        p->y[i] = 1;
    (void)lp_pivot_pool(p, max_pivots);
}

/* Run column generation to optimality or the pivot limit. */
static void lp_solve(lp *p, int64_t max_pivots, int *optimal)
{
    *optimal = 0;
    int fresh = 0; /* the duals were just recomputed */
    while (p->pivots < max_pivots) {
        if (p->pricings % LP_REFRESH == 0) {
            lp_refresh_duals(p);
            fresh = 1;
        }
        if (lp_price(p, 1 + LP_EPS) == 0) {
            if (fresh) {
                *optimal = 1;
                return;
            }
            lp_refresh_duals(p); /* confirm with exact duals */
            fresh = 1;
            continue;
        }
        fresh = 0;
        if (!lp_pivot_pool(p, max_pivots))
            return;
    }
}

double spi_lp_objective(const lp *p)
{
    double s = 0;
    for (int64_t i = 0; i < p->D; i++)
        s += p->x[i];
    return s;
}

void spi_lp_run(lp *p, const spi_lp_seed *seed, int seeds, int64_t max_pivots,
                int *optimal)
{
    lp_crash(p, seed, seeds, max_pivots);
    lp_solve(p, max_pivots, optimal);
    lp_refresh_primal(p);
}

int64_t spi_lp_rounded(const lp *p, int64_t i)
{
    double xi = p->x[i] + LP_ROUND;
    if (xi < 1)
        return 0;
    return xi >= 9.0e18 ? INT64_MAX : (int64_t)xi;
}
