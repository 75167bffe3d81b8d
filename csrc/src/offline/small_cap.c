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
 * column generation (lp.c), rounds its solution down and packs
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

#include "offline/lp.h"
#include "offline/offline.h"

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

/* ---- cap 3: rows, rounding and the whole -------------------------------
 * The LP's rows are groups of w consecutive distinct lengths, each standing
 * for its longest one (w = 1: the lengths themselves). A pattern over the
 * groups fits whatever lengths of the groups fill it, so a grouped solution
 * is a valid packing; it costs up to the gap inside a group per item.
 * Grouping bounds the dense LP's size (LP_ROWS rows) and time. */

#define LP_ROWS 256
/* The most seed lists lp_pack() starts from (the greedy and the grouped
 * answer). */
#define LP_SEEDS 2

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
static int expand(const grouping *g, const spi_lp_pattern *c, int items,
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
static int round_down(const spi_lp *p, const grouping *g, int64_t *grem,
                      int64_t *rem, tlist *out)
{
    for (int64_t i = 0; i < p->D; i++) {
        const spi_lp_pattern *c = &p->basis[i];
        int64_t times = spi_lp_rounded(p, i);
        if (times == 0)
            continue;
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
    spi_lp_seed lp_seed[LP_SEEDS];
    for (int k = 0; k < seeds; k++) {
        pool += seed[k].n;
        lp_seed[k] = (spi_lp_seed){seed[k].t, seed[k].n};
    }
    spi_lp p;
    int status = SP_ERR_OUT_OF_MEMORY;
    if (grem == NULL || rem == NULL ||
        spi_lp_init(&p, g->glen, g->gcount, G, capacity, pool) != SP_OK)
        goto done;
    int optimal;
    spi_lp_run(&p, lp_seed, seeds, max_pivots, &optimal);
    if (stats != NULL) {
        stats->pivots += p.pivots;
        stats->pricings += p.pricings;
        stats->optimal = optimal;
        stats->lp_bins = spi_lp_objective(&p);
        stats->lp_rows = G;
    }
    memcpy(grem, g->gcount, (size_t)G * sizeof(int64_t));
    memcpy(rem, count, (size_t)g->D * sizeof(int64_t));
    status = round_down(&p, g, grem, rem, out);
    spi_lp_free(&p);
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
