/*
 * small_cap.c - packing a length histogram into bins of at most 2 or 3 items.
 *
 * The input is a histogram (distinct lengths, strictly descending, with
 * their counts); the output is a list of templates, each a multiset of at
 * most max_items lengths and a number of bins that take it. Every item is
 * covered exactly once.
 *
 * Cap 2 is solved exactly by a greedy pairing (pack_pairs). Cap 3 solves
 * the LP relaxation of the cardinality-limited cutting-stock problem by
 * column generation (Gilmore and Gomory, "A linear programming approach to
 * the cutting-stock problem", 1961), rounds its solution down and packs
 * the small residual with a greedy; the answer is never worse than that
 * greedy alone on the whole histogram, which is computed too. Above
 * LP_ROWS distinct lengths the LP first runs on groups of neighbouring
 * lengths (pack_triples), which bounds its time.
 *
 * csrc/tests/bench_small_cap.c (meson test --benchmark) prints the
 * efficiency, time and LP work of both caps on real histograms;
 * docs/constraints-benchmarks.md gives obfd's figures at limits 2 and 3.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- template lists --------------------------------------------------- */

typedef struct tlist {
    spi_template *t;
    int64_t n;
    int64_t cap;
} tlist;

/* Append `times` bins holding the lengths len[0 .. items). */
static int tlist_add(tlist *l, const int64_t *len, int64_t items, int64_t times)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap == 0 ? 64 : 2 * l->cap;
        spi_template *t = realloc(l->t, (size_t)cap * sizeof(spi_template));
        if (t == NULL)
            return SP_ERR_OUT_OF_MEMORY;
        l->t = t;
        l->cap = cap;
    }
    spi_template *t = &l->t[l->n++];
    memset(t, 0, sizeof(*t));
    for (int64_t k = 0; k < items; k++)
        t->len[k] = len[k];
    t->items = items;
    t->times = times;
    return SP_OK;
}

static int64_t tlist_bins(const tlist *l)
{
    int64_t bins = 0;
    for (int64_t k = 0; k < l->n; k++)
        bins += l->t[k].times;
    return bins;
}

/* Order: more items first, then longer lengths first; equal keys merge. */
static int template_cmp(const void *pa, const void *pb)
{
    const spi_template *a = pa, *b = pb;
    if (a->items != b->items)
        return a->items > b->items ? -1 : 1;
    for (int k = 0; k < SPI_TEMPLATE_MAX; k++)
        if (a->len[k] != b->len[k])
            return a->len[k] > b->len[k] ? -1 : 1;
    return 0;
}

/* Sort the templates and merge those with the same lengths, so that the
 * output is canonical and each multiset appears once. */
static void tlist_merge(tlist *l)
{
    if (l->n == 0)
        return;
    qsort(l->t, (size_t)l->n, sizeof(spi_template), template_cmp);
    int64_t w = 0;
    for (int64_t k = 1; k < l->n; k++) {
        if (template_cmp(&l->t[w], &l->t[k]) == 0)
            l->t[w].times += l->t[k].times;
        else
            l->t[++w] = l->t[k];
    }
    l->n = w + 1;
}

/* ---- cap 2: exact pairing --------------------------------------------
 * Repeatedly the largest remaining length L goes with the largest
 * remaining length P <= C - L (L itself when two remain), or alone.
 *
 * Optimal by an exchange argument: take an optimal packing. If L shares a
 * bin with Q != P, P sits elsewhere (alone or with R); swapping P and Q
 * keeps both bins within C (L + P <= C, and Q + R <= P + R since Q <= P,
 * as P is the largest that fits L). If L is alone, moving P into L's bin
 * does not add a bin. If nothing fits L, L is alone in every packing.
 * Either way some optimal packing has the greedy's first bin, and the rest
 * is an optimal packing of the remaining items (induction). A run of equal
 * choices is one template: the choice repeats while both counts last.
 *
 * O(distinct): the fitting threshold C - L only grows, and the remaining
 * lengths are found by a "next remaining index" forest with path halving. */

static int64_t next_remaining(int64_t *next, int64_t k)
{
    while (next[k] != k) {
        next[k] = next[next[k]];
        k = next[k];
    }
    return k;
}

static int pack_pairs(const int64_t *length, const int64_t *count,
                      int64_t distinct, int64_t capacity, tlist *out)
{
    int64_t *rem = spi_alloc_array(distinct, sizeof(int64_t));
    int64_t *next = spi_alloc_array(distinct + 1, sizeof(int64_t));
    int status = SP_OK;
    if (rem == NULL || next == NULL) {
        status = SP_ERR_OUT_OF_MEMORY;
        goto done;
    }
    memcpy(rem, count, (size_t)distinct * sizeof(int64_t));
    for (int64_t d = 0; d <= distinct; d++)
        next[d] = d;
    int64_t fit = distinct; /* first index whose length fits beside L */
    for (;;) {
        int64_t i = next_remaining(next, 0);
        if (i == distinct)
            break;
        const int64_t big = length[i];
        while (fit > 0 && length[fit - 1] <= capacity - big)
            fit--;
        int64_t j;
        if (fit > i)
            j = next_remaining(next, fit);
        else
            j = rem[i] >= 2 ? i : next_remaining(next, i + 1);
        int64_t len[2] = {big, j < distinct ? length[j] : 0};
        int64_t times;
        if (j == distinct)
            times = rem[i];
        else if (j == i)
            times = rem[i] / 2;
        else
            times = rem[i] < rem[j] ? rem[i] : rem[j];
        status = tlist_add(out, len, j == distinct ? 1 : 2, times);
        if (status != SP_OK)
            goto done;
        rem[i] -= times;
        if (j < distinct)
            rem[j] -= times;
        if (rem[i] == 0)
            next[i] = i + 1;
        if (j < distinct && rem[j] == 0)
            next[j] = j + 1;
    }
done:
    free(rem);
    free(next);
    return status;
}

/* ---- cap 3: greedy -----------------------------------------------------
 * The largest remaining length plus the best completion of one or two
 * remaining items (largest sum within the room; a single item on a tie),
 * repeated as a template while every count in it lasts. Used alone as the
 * baseline and for the residual that the LP's rounding leaves. O(distinct)
 * per template, and at most about 3 * distinct templates. */

/* The best completion within `room` among rem[from ..) (pick[] gets the
 * distinct indices); returns the number of items, 0 when nothing fits. */
static int best_completion(const int64_t *length, const int64_t *rem,
                           int64_t distinct, int64_t from, int64_t room,
                           int64_t *fits, int64_t pick[2])
{
    int64_t m = 0;
    for (int64_t d = from; d < distinct; d++)
        if (rem[d] > 0 && length[d] <= room)
            fits[m++] = d;
    if (m == 0)
        return 0;
    int64_t best = length[fits[0]];
    int items = 1;
    pick[0] = fits[0];
    /* Two different lengths: two pointers over the descending list. */
    for (int64_t p = 0, q = m - 1; p < q;) {
        if (length[fits[q]] <= room - length[fits[p]]) {
            int64_t sum = length[fits[p]] + length[fits[q]];
            if (sum > best) {
                best = sum;
                items = 2;
                pick[0] = fits[p];
                pick[1] = fits[q];
            }
            q--;
        } else {
            p++;
        }
    }
    /* Twice the same length: the largest that fits twice. */
    for (int64_t k = 0; k < m; k++) {
        int64_t d = fits[k];
        if (rem[d] >= 2 && length[d] <= room - length[d]) {
            if (2 * length[d] > best) {
                items = 2;
                pick[0] = pick[1] = d;
            }
            break;
        }
    }
    return items;
}

/* Pack everything in rem[] (which ends all zero) greedily into out. */
static int pack_greedy3(const int64_t *length, int64_t *rem, int64_t distinct,
                        int64_t capacity, int64_t *fits, tlist *out)
{
    int64_t i = 0;
    for (;;) {
        while (i < distinct && rem[i] == 0)
            i++;
        if (i == distinct)
            return SP_OK;
        int64_t pick[3] = {i, -1, -1}, pick2[2];
        rem[i]--;
        int k = best_completion(length, rem, distinct, i, capacity - length[i],
                                fits, pick2);
        rem[i]++;
        for (int c = 0; c < k; c++)
            pick[1 + c] = pick2[c];
        int items = 1 + k;
        /* Repeat while every distinct length in it has enough left. */
        int64_t times = INT64_MAX;
        for (int c = 0; c < items; c++) {
            int64_t mult = 0;
            for (int e = 0; e < items; e++)
                mult += pick[e] == pick[c];
            int64_t t = rem[pick[c]] / mult;
            times = t < times ? t : times;
        }
        int64_t len[3];
        for (int c = 0; c < items; c++) {
            len[c] = length[pick[c]];
            rem[pick[c]] -= times;
        }
        int status = tlist_add(out, len, items, times);
        if (status != SP_OK)
            return status;
    }
}

/* ---- cap 3: column generation -----------------------------------------
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
 * lowers the objective most enters (greatest improvement: on the Wikipedia
 * histogram it needs fewer pivots than Dantzig's rule), until none
 * improves and a full pricing runs again. It stops when full pricing finds
 * no pattern worth more than 1 + eps, or at a pivot limit (the rounding is
 * valid at any basis). */

#define LP_EPS 1e-9    /* pricing: a column improves below -LP_EPS */
#define LP_PIVOT 1e-9  /* smallest pivot element */
#define LP_ROUND 1e-6  /* x within this below an integer rounds up to it */

typedef struct pattern {
    int32_t ix[SPI_TEMPLATE_MAX]; /* distinct indices, ascending; -1 empty */
} pattern;

typedef struct lp {
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
    pattern *basis;    /* D */
    pattern *pool;     /* pool_cap >= D */
    int64_t pool_n;
    int64_t pool_cap;
    double x_tol;      /* primal feasibility tolerance for the ratio test */
    int64_t pivots;
    int64_t pricings;
} lp;

static void lp_free(lp *p)
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

static int lp_init(lp *p, const int64_t *length, const int64_t *count,
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
        lp_free(p);
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
static void lp_crash(lp *p, const tlist *seed, int seeds, int64_t max_pivots)
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

/* The LP objective of the current basis. */
static double lp_objective(const lp *p)
{
    double s = 0;
    for (int64_t i = 0; i < p->D; i++)
        s += p->x[i];
    return s;
}

/* ---- cap 3: rows, rounding and the whole -------------------------------
 * The LP's rows are groups of w consecutive distinct lengths, each standing
 * for its longest one (w = 1: the lengths themselves). A pattern over the
 * groups fits whatever lengths of the groups fill it, so a grouped solution
 * is a valid packing; it costs up to the gap inside a group per item.
 * Grouping bounds the dense LP's size (LP_ROWS rows) and time. */

#define LP_ROWS 256

typedef struct grouping {
    const int64_t *length; /* the distinct lengths, D */
    int64_t D;
    int64_t w;
    int64_t G;
    int64_t *glen;   /* G: the longest length of each group */
    int64_t *gcount; /* G: the items in each group */
} grouping;

static void grouping_free(grouping *g)
{
    free(g->glen);
    free(g->gcount);
    g->glen = g->gcount = NULL;
}

static int grouping_init(grouping *g, const int64_t *length,
                         const int64_t *count, int64_t D, int64_t w)
{
    g->length = length;
    g->D = D;
    g->w = w;
    g->G = (D + w - 1) / w;
    g->glen = spi_alloc_array(g->G, sizeof(int64_t));
    g->gcount = spi_alloc_zeroed(g->G, sizeof(int64_t));
    if (g->glen == NULL || g->gcount == NULL) {
        grouping_free(g);
        return SP_ERR_OUT_OF_MEMORY;
    }
    for (int64_t d = 0; d < D; d++) {
        if (d % w == 0)
            g->glen[d / w] = length[d];
        g->gcount[d / w] += count[d];
    }
    return SP_OK;
}


/* Runs of one slot of a grouped pattern: at most w lengths each. */
#define SLOT_RUNS (SPI_SMALL_CAP_MAX_DISTINCT / LP_ROWS + 1)

typedef struct slot {
    int64_t len[SLOT_RUNS];
    int64_t cnt[SLOT_RUNS];
    int runs;
    int at;
} slot;

/* `times` items of group gi for one slot, longest remaining first. */
static void draw(const grouping *g, int64_t gi, int64_t times, int64_t *rem,
                 slot *s)
{
    s->runs = s->at = 0;
    int64_t end = (gi + 1) * g->w < g->D ? (gi + 1) * g->w : g->D;
    for (int64_t d = gi * g->w; d < end && times > 0; d++) {
        int64_t k = rem[d] < times ? rem[d] : times;
        if (k == 0)
            continue;
        s->len[s->runs] = g->length[d];
        s->cnt[s->runs++] = k;
        rem[d] -= k;
        times -= k;
    }
}

/* `times` bins of grouped pattern c as templates over the real lengths:
 * each slot draws its items from its group (slots of one group one after
 * the other), and the slots' runs are zipped into templates. */
static int expand(const grouping *g, const pattern *c, int items,
                  int64_t times, int64_t *rem, tlist *out)
{
    slot s[SPI_TEMPLATE_MAX];
    for (int k = 0; k < items; k++)
        draw(g, c->ix[k], times, rem, &s[k]);
    while (times > 0) {
        int64_t run = times, len[SPI_TEMPLATE_MAX];
        for (int k = 0; k < items; k++) {
            const slot *t = &s[k];
            run = t->cnt[t->at] < run ? t->cnt[t->at] : run;
            len[k] = t->len[t->at];
        }
        /* Descending order within the template (insertion sort of 3). */
        for (int k = 1; k < items; k++)
            for (int j = k; j > 0 && len[j] > len[j - 1]; j--) {
                int64_t tmp = len[j];
                len[j] = len[j - 1];
                len[j - 1] = tmp;
            }
        int status = tlist_add(out, len, items, run);
        if (status != SP_OK)
            return status;
        for (int k = 0; k < items; k++)
            if ((s[k].cnt[s[k].at] -= run) == 0)
                s[k].at++;
        times -= run;
    }
    return SP_OK;
}

/* Round the basic x down into templates, taking from the group counts
 * grem[] and the length counts rem[]; a rounded value never takes more
 * than grem[] holds, so the cover stays exact. */
static int lp_round_down(const lp *p, const grouping *g, int64_t *grem,
                         int64_t *rem, tlist *out)
{
    for (int64_t i = 0; i < p->D; i++) {
        const pattern *c = &p->basis[i];
        double xi = p->x[i] + LP_ROUND;
        if (xi < 1)
            continue;
        int64_t times = xi >= 9.0e18 ? INT64_MAX : (int64_t)xi;
        int items = 0;
        while (items < SPI_TEMPLATE_MAX && c->ix[items] >= 0)
            items++;
        for (int a = 0; a < items; a++) {
            int64_t mult = 0;
            for (int b = 0; b < items; b++)
                mult += c->ix[b] == c->ix[a];
            int64_t t = grem[c->ix[a]] / mult;
            times = t < times ? t : times;
        }
        if (times == 0)
            continue;
        for (int a = 0; a < items; a++)
            grem[c->ix[a]] -= times;
        int status = expand(g, c, items, times, rem, out);
        if (status != SP_OK)
            return status;
    }
    return SP_OK;
}

/* Pivot limit: generous next to the few D pivots the histograms need. */
static int64_t lp_max_pivots(int64_t D) { return 20 * D + 1000; }

/* Solve the LP over g's rows, crashing from the patterns of seed[0 ..
 * seeds) (lengths of the rows), round down into out and pack the rest
 * greedily: every item of count[] ends up in out. */
static int lp_pack(const grouping *g, const int64_t *count, int64_t capacity,
                   const tlist *seed, int seeds, int64_t max_pivots,
                   int64_t *fits, tlist *out, spi_small_cap_stats *stats)
{
    const int64_t G = g->G;
    int64_t *grem = spi_alloc_array(G, sizeof(int64_t));
    int64_t *rem = spi_alloc_array(g->D, sizeof(int64_t));
    int64_t pool = G;
    for (int k = 0; k < seeds; k++)
        pool += seed[k].n;
    lp p;
    int status = SP_ERR_OUT_OF_MEMORY;
    if (grem == NULL || rem == NULL ||
        lp_init(&p, g->glen, g->gcount, G, capacity, pool) != SP_OK)
        goto done;
    int optimal;
    lp_crash(&p, seed, seeds, max_pivots);
    lp_solve(&p, max_pivots, &optimal);
    lp_refresh_primal(&p);
    if (stats != NULL) {
        stats->pivots += p.pivots;
        stats->pricings += p.pricings;
        stats->optimal = optimal;
        stats->lp_bins = lp_objective(&p);
        stats->lp_rows = G;
    }
    memcpy(grem, g->gcount, (size_t)G * sizeof(int64_t));
    memcpy(rem, count, (size_t)g->D * sizeof(int64_t));
    status = lp_round_down(&p, g, grem, rem, out);
    lp_free(&p);
    if (status == SP_OK)
        status = pack_greedy3(g->length, rem, g->D, capacity, fits, out);
done:
    free(grem);
    free(rem);
    return status;
}

/* Keep in *best whichever of *best and *other (when it was made: not
 * empty) takes fewer bins, *best on a tie; the other one is freed. */
static void keep_fewer(tlist *best, tlist *other)
{
    if (other->n > 0 && tlist_bins(other) < tlist_bins(best)) {
        tlist swap = *best;
        *best = *other;
        *other = swap;
    }
    free(other->t);
    *other = (tlist){0};
}

/* Cap 3. Up to LP_ROWS lengths: the LP on the lengths themselves. More:
 * first the LP on groups; then, up to LP_POLISH_ROWS lengths, the LP on
 * the lengths, crashed from the grouped answer and the greedy and stopped
 * after LP_POLISH * D pivots (its value can only improve on the grouped
 * answer's, which is in its start). Beyond LP_POLISH_ROWS a pivot costs too
 * much (D^2) for that. The answer is the one of fewest bins among these
 * and the greedy alone. */
#define LP_POLISH 4
#define LP_POLISH_ROWS 512

static int pack_triples(const int64_t *length, const int64_t *count,
                        int64_t D, int64_t capacity, tlist *out,
                        spi_small_cap_stats *stats)
{
    int64_t *rem = spi_alloc_array(D, sizeof(int64_t));
    int64_t *fits = spi_alloc_array(D, sizeof(int64_t));
    tlist greedy = {0}, coarse = {0}, coarse_greedy = {0}, fine = {0};
    grouping one = {0}, grouped = {0};
    int status = SP_ERR_OUT_OF_MEMORY;
    if (rem == NULL || fits == NULL)
        goto done;
    memcpy(rem, count, (size_t)D * sizeof(int64_t));
    status = pack_greedy3(length, rem, D, capacity, fits, &greedy);
    if (status != SP_OK)
        goto done;
    if (stats != NULL)
        stats->greedy_bins = tlist_bins(&greedy);
    status = grouping_init(&one, length, count, D, 1);
    if (status != SP_OK)
        goto done;
    int64_t max_pivots = lp_max_pivots(D);
    if (D > LP_ROWS) {
        status = grouping_init(&grouped, length, count, D, (D + LP_ROWS - 1) / LP_ROWS);
        if (status != SP_OK)
            goto done;
        memcpy(rem, grouped.gcount, (size_t)grouped.G * sizeof(int64_t));
        status = pack_greedy3(grouped.glen, rem, grouped.G, capacity, fits, &coarse_greedy);
        if (status == SP_OK)
            status = lp_pack(&grouped, count, capacity, &coarse_greedy, 1,
                             lp_max_pivots(grouped.G), fits, &coarse, stats);
        if (status != SP_OK)
            goto done;
        if (stats != NULL)
            stats->grouped_bins = tlist_bins(&coarse);
        max_pivots = LP_POLISH * D;
    }
    if (D <= LP_POLISH_ROWS) {
        const tlist seed[2] = {greedy, coarse};
        status = lp_pack(&one, count, capacity, seed, D > LP_ROWS ? 2 : 1, max_pivots,
                         fits, &fine, stats);
        if (status != SP_OK)
            goto done;
        keep_fewer(&fine, &coarse);
    } else {
        fine = coarse;
        coarse = (tlist){0};
    }
    keep_fewer(&fine, &greedy);
    *out = fine;
    fine = (tlist){0};
done:
    free(greedy.t);
    free(coarse.t);
    free(coarse_greedy.t);
    free(fine.t);
    grouping_free(&one);
    grouping_free(&grouped);
    free(rem);
    free(fits);
    return status;
}

/* ---- entry point ------------------------------------------------------ */

/* The preconditions that are cheap to check. */
static int check_histogram(const int64_t *length, const int64_t *count,
                           int64_t distinct, int64_t capacity)
{
    for (int64_t d = 0; d < distinct; d++) {
        int status = spi_length_status(length[d], capacity);
        if (status != SP_OK)
            return status;
        if (count[d] < 1 || (d > 0 && length[d] >= length[d - 1]))
            return SP_ERR_INVALID_OPTION;
    }
    return SP_OK;
}

int spi_small_cap_templates_stats(const int64_t *length, const int64_t *count,
                                  int64_t distinct, int64_t capacity,
                                  int64_t max_items, spi_template **out,
                                  int64_t *num_templates,
                                  spi_small_cap_stats *stats)
{
    if (out == NULL || num_templates == NULL ||
        (distinct > 0 && (length == NULL || count == NULL)))
        return SP_ERR_NULL_POINTER;
    *out = NULL;
    *num_templates = 0;
    if (stats != NULL)
        memset(stats, 0, sizeof(*stats));
    if (distinct < 0)
        return SP_ERR_NEGATIVE_COUNT;
    if (capacity <= 0)
        return SP_ERR_INVALID_CAPACITY;
    if (max_items != 2 && max_items != 3)
        return SP_ERR_INVALID_OPTION;
    int status = check_histogram(length, count, distinct, capacity);
    if (status != SP_OK || distinct == 0)
        return status;
    if (max_items == 3 && distinct > SPI_SMALL_CAP_MAX_DISTINCT) {
        *num_templates = -1;
        return SP_OK;
    }
    tlist l = {0};
    if (max_items == 2)
        status = pack_pairs(length, count, distinct, capacity, &l);
    else
        status = pack_triples(length, count, distinct, capacity, &l, stats);
    if (status != SP_OK) {
        free(l.t);
        return status;
    }
    tlist_merge(&l);
    if (stats != NULL)
        stats->bins = tlist_bins(&l);
    *out = l.t;
    *num_templates = l.n;
    return SP_OK;
}

int spi_small_cap_templates(const int64_t *length, const int64_t *count,
                            int64_t distinct, int64_t capacity,
                            int64_t max_items, spi_template **out,
                            int64_t *num_templates)
{
    return spi_small_cap_templates_stats(length, count, distinct, capacity,
                                         max_items, out, num_templates, NULL);
}
