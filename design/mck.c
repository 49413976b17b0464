#include "design/mck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A partial solution over groups 0..i: its cost vector, value, and how it was reached. */
typedef struct state {
    double cost[FLOE_MCK_MAX_RES];
    double value;
    int parent; /* index in the previous group's states, -1 at the first group */
    int choice;
} state;

/* Budgets are met up to the rounding of sums of doubles: a relative slack of 1e-12. */
static int within(double cost, double budget) { return isinf(budget) || cost <= budget + 1e-12 * fabs(budget); }

static const char *rname(const floe_mck *p, int r) { return p->names[r] ? p->names[r] : "cost"; }

double floe_mck_min_cost(const floe_mck *p, int r)
{
    double t = p->fixed[r];
    for (int i = 0; i < p->n; i++) {
        double m = INFINITY;
        for (int j = 0; j < p->k; j++)
            m = fmin(m, p->c[((size_t)i * p->k + j) * p->R + r]);
        t += m;
    }
    return t;
}

/* Does a dominate b (no more of any cost, no more value)? */
static int dominates(const state *a, const state *b, int R)
{
    for (int r = 0; r < R; r++)
        if (a->cost[r] > b->cost[r])
            return 0;
    return a->value <= b->value;
}

/* Pairwise dominance over more than this many partial solutions would take too long (n^2). */
#define MAX_QUADRATIC 40000

static int by_cost_value_order(const void *x, const void *y)
{
    const state *a = *(const state *const *)x, *b = *(const state *const *)y;
    if (a->cost[0] != b->cost[0])
        return a->cost[0] < b->cost[0] ? -1 : 1;
    if (a->value != b->value)
        return a->value < b->value ? -1 : 1;
    return a < b ? -1 : a > b;
}

static int by_order(const void *x, const void *y)
{
    const state *a = *(const state *const *)x, *b = *(const state *const *)y;
    return a < b ? -1 : a > b;
}

/* One resource: the states of cand[0..nc) that the pairwise rule keeps (none cheaper-or-equal with a
 * value as small, the first found of equals), into keep in the order found. */
static int prune_one(const state *cand, size_t nc, state *keep, size_t *nk)
{
    const state **s = malloc(sizeof *s * (nc ? nc : 1));
    if (!s)
        return -1;
    for (size_t a = 0; a < nc; a++)
        s[a] = &cand[a];
    qsort(s, nc, sizeof *s, by_cost_value_order);
    size_t m = 0;
    double best = INFINITY;
    for (size_t a = 0; a < nc; a++)
        if (s[a]->value < best) { /* anything before it costs no more and is worth no less */
            best = s[a]->value;
            s[m++] = s[a];
        }
    qsort(s, m, sizeof *s, by_order);
    for (size_t a = 0; a < m; a++)
        keep[a] = *s[a];
    *nk = m;
    free(s);
    return 0;
}

static int by_two_costs_value_order(const void *x, const void *y)
{
    const state *a = *(const state *const *)x, *b = *(const state *const *)y;
    for (int r = 0; r < 2; r++)
        if (a->cost[r] != b->cost[r])
            return a->cost[r] < b->cost[r] ? -1 : 1;
    if (a->value != b->value)
        return a->value < b->value ? -1 : 1;
    return a < b ? -1 : a > b;
}

static int by_cost1(const void *x, const void *y)
{
    const double a = (*(const state *const *)x)->cost[1], b = (*(const state *const *)y)->cost[1];
    return a < b ? -1 : a > b;
}

/* Two resources: the same rule in n log n. Swept in order of (cost 0, cost 1, value, order found),
 * a state is dropped when one swept before it has no more of cost 1 and no more value (it then
 * dominates it, strictly or as the first found of equals): a prefix minimum of the value over the
 * ranks of cost 1 (a Fenwick tree) answers that. */
static int prune_two(const state *cand, size_t nc, state *keep, size_t *nk)
{
    const state **s = malloc(sizeof *s * (nc ? nc : 1));
    const state **c1 = malloc(sizeof *c1 * (nc ? nc : 1));
    double *tree = malloc(sizeof *tree * (nc + 1));
    size_t *rank = malloc(sizeof *rank * (nc ? nc : 1));
    if (!s || !c1 || !tree || !rank) {
        free(s), free(c1), free(tree), free(rank);
        return -1;
    }
    for (size_t a = 0; a < nc; a++)
        s[a] = c1[a] = &cand[a];
    qsort(c1, nc, sizeof *c1, by_cost1);
    for (size_t a = 0, r = 0; a < nc; a++) { /* rank of each state's cost 1 (equal costs, one rank) */
        r += a > 0 && c1[a]->cost[1] != c1[a - 1]->cost[1];
        rank[c1[a] - cand] = r + 1;
    }
    for (size_t a = 0; a <= nc; a++)
        tree[a] = INFINITY;
    qsort(s, nc, sizeof *s, by_two_costs_value_order);
    size_t m = 0;
    for (size_t a = 0; a < nc; a++) {
        const size_t r = rank[s[a] - cand];
        double best = INFINITY;
        for (size_t k = r; k > 0; k -= k & (~k + 1)) /* the least value at cost 1 <= this one's */
            best = fmin(best, tree[k]);
        if (s[a]->value < best)
            s[m++] = s[a];
        for (size_t k = r; k <= nc; k += k & (~k + 1))
            tree[k] = fmin(tree[k], s[a]->value);
    }
    qsort(s, m, sizeof *s, by_order);
    for (size_t a = 0; a < m; a++)
        keep[a] = *s[a];
    *nk = m;
    free(s), free(c1), free(tree), free(rank);
    return 0;
}

int floe_mck_solve(const floe_mck *p, int *choice, floe_mck_result *res, floe_err *err)
{
    if (p->n < 1 || p->k < 1 || p->R < 1 || p->R > FLOE_MCK_MAX_RES)
        return floe_err_set(err, "choice problem: need groups >= 1, choices >= 1, 1..%d resources (got %d, %d, %d)",
                            FLOE_MCK_MAX_RES, p->n, p->k, p->R);
    const int n = p->n, k = p->k, R = p->R;
    for (size_t i = 0; i < (size_t)n * k; i++) {
        if (!isfinite(p->v[i]))
            return floe_err_set(err, "choice problem: group %zu choice %zu has a value that is not finite", i / k,
                                i % k);
        for (int r = 0; r < R; r++)
            if (!(p->c[i * R + r] >= 0) || !isfinite(p->c[i * R + r]))
                return floe_err_set(err, "choice problem: group %zu choice %zu has %s %g (need finite, >= 0)", i / k,
                                    i % k, rname(p, r), p->c[i * R + r]);
    }
    /* each budget alone */
    for (int r = 0; r < R; r++) {
        double m = floe_mck_min_cost(p, r);
        if (!within(m, p->budget[r]))
            return floe_err_set(err, "budget %s <= %g is impossible: the smallest achievable is %g", rname(p, r),
                                p->budget[r], m);
    }
    size_t max_states = p->max_states ? p->max_states : (size_t)1 << 20;
    /* suffix minima of each cost: the cheapest completion of groups i+1..n-1 */
    double *suf = calloc((size_t)(n + 1) * R, sizeof(double));
    state **lv = calloc((size_t)n, sizeof(state *));
    size_t *cnt = calloc((size_t)n, sizeof(size_t));
    state *cand = NULL;
    int rc = -1;
    if (!suf || !lv || !cnt) {
        floe_err_set(err, "choice problem: out of memory");
        goto done;
    }
    for (int i = n - 1; i >= 0; i--)
        for (int r = 0; r < R; r++) {
            double m = INFINITY;
            for (int j = 0; j < k; j++)
                m = fmin(m, p->c[((size_t)i * k + j) * R + r]);
            suf[(size_t)i * R + r] = suf[(size_t)(i + 1) * R + r] + m;
        }
    size_t prev_n = 1, largest = 0;
    state root = {{0}, 0, -1, 0};
    for (int r = 0; r < R; r++)
        root.cost[r] = p->fixed[r];
    for (int i = 0; i < n; i++) {
        const state *prev = i ? lv[i - 1] : &root;
        size_t m = prev_n * (size_t)k, nc = 0;
        if (m > max_states) {
            floe_err_set(err, "choice problem: %zu partial solutions at group %d exceed the limit of %zu", m, i,
                         max_states);
            goto done;
        }
        free(cand);
        cand = malloc(sizeof(state) * (m ? m : 1));
        if (!cand) {
            floe_err_set(err, "choice problem: out of memory");
            goto done;
        }
        for (size_t s = 0; s < prev_n; s++)
            for (int j = 0; j < k; j++) {
                state t = prev[s];
                int ok = 1;
                for (int r = 0; r < R; r++) {
                    t.cost[r] += p->c[((size_t)i * k + j) * R + r];
                    ok &= within(t.cost[r] + suf[(size_t)(i + 1) * R + r], p->budget[r]);
                }
                t.value += p->v[(size_t)i * k + j];
                t.parent = i ? (int)s : -1;
                t.choice = j;
                if (ok)
                    cand[nc++] = t;
            }
        /* keep the states no earlier state dominates and no later one strictly dominates */
        state *keep = malloc(sizeof(state) * (nc ? nc : 1));
        if (!keep) {
            floe_err_set(err, "choice problem: out of memory");
            goto done;
        }
        size_t nk = 0;
        if (R <= 2) { /* the same rule in n log n: a sweep by cost, value, then order found */
            if ((R == 1 ? prune_one(cand, nc, keep, &nk) : prune_two(cand, nc, keep, &nk)) != 0) {
                free(keep);
                floe_err_set(err, "choice problem: out of memory");
                goto done;
            }
        } else if (nc > MAX_QUADRATIC) {
            free(keep);
            floe_err_set(err,
                         "choice problem: %zu partial solutions at group %d with %d budgeted resources exceed the "
                         "%d this solver compares pairwise (one or two budgets have no such limit)",
                         nc, i, R, MAX_QUADRATIC);
            goto done;
        }
        for (size_t a = 0; R > 2 && a < nc; a++) {
            int drop = 0;
            for (size_t b = 0; b < nc && !drop; b++) {
                if (b == a || !dominates(&cand[b], &cand[a], R))
                    continue;
                /* b dominates a: drop a if b is earlier, or if b is strictly better (a cannot then
                   dominate b back) */
                drop = b < a || !dominates(&cand[a], &cand[b], R);
            }
            if (!drop)
                keep[nk++] = cand[a];
        }
        lv[i] = keep;
        cnt[i] = nk;
        prev_n = nk;
        if (nk > largest)
            largest = nk;
        if (nk == 0) {
            char msg[FLOE_ERR_MSG_MAX];
            int o = snprintf(msg, sizeof msg, "the budgets contradict each other: each alone is achievable (smallest");
            for (int r = 0; r < R && o < (int)sizeof msg; r++)
                if (!isinf(p->budget[r]))
                    o += snprintf(msg + o, sizeof msg - (size_t)o, " %s %g", rname(p, r), floe_mck_min_cost(p, r));
            floe_err_set(err, "%s), but no choice meets them together", msg);
            goto done;
        }
    }
    size_t best = 0;
    for (size_t s = 1; s < cnt[n - 1]; s++)
        if (lv[n - 1][s].value < lv[n - 1][best].value)
            best = s;
    const state *b = &lv[n - 1][best];
    res->value = b->value;
    for (int r = 0; r < FLOE_MCK_MAX_RES; r++)
        res->cost[r] = r < R ? b->cost[r] : 0;
    res->states = largest;
    int at = (int)best;
    for (int i = n - 1; i >= 0; i--) {
        choice[i] = lv[i][at].choice;
        at = lv[i][at].parent;
    }
    rc = 0;
done:
    for (int i = 0; lv && i < n; i++)
        free(lv[i]);
    free(lv), free(cnt), free(suf), free(cand);
    return rc;
}
