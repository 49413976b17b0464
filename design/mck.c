#include "design/mck.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/compile.h"

/* A partial solution over groups 0..i: its cost vector (with chips, the placement state's rank as
 * one more coordinate), value, placement state and how it was reached. */
typedef struct state {
    double cost[FLOE_MCK_MAX_RES + 1];
    double value;
    int chip, used; /* with chips: the chip being filled and its cores in use */
    int parent;     /* index in the previous group's states, -1 at the first group */
    int choice;
} state;

/* ---- chips ----------------------------------------------------------------------------------------
 * Why the placement state may take part in dominance. Next fit (floe_plan_next_fit) with the order of
 * the parts fixed is monotone in its state (chip, used), ordered lexicographically: let s = (c, u) <=
 * s' = (c', u') and a part of n <= P cores (P per chip). If c < c': s ends on chip c or c + 1 <= c'; on
 * the same chip as s' only when s opened chip c + 1 = c' (n cores used) and s' stayed on c' (u' + n >=
 * n used), so s's result is no greater. If c = c' and u <= u': when u' + n <= P both stay and u + n <=
 * u' + n; else s' opens (c + 1, n), and s stays at (c, u + n) or opens the same (c + 1, n). By induction
 * over the parts of any completion (the same parts for both, since the completion's choices fix
 * them), s ends in a state no greater than s', so on no more chips (chip + 1). Hence a partial solution
 * with no more of any additive cost, no more value and a placement state no greater completes, with
 * whatever completes the other, to a solution at least as good and as cheap: dropping the other loses
 * no optimum. */

static const int *parts_of(const floe_mck_place *pl, int k, int i, int j)
{
    return pl->cores + ((size_t)i * k + j) * FLOE_MCK_MAX_PARTS;
}

static void place_parts(const floe_mck_place *pl, const int *parts, int np, int *chip, int *used)
{
    for (int q = 0; q < np; q++)
        if (parts[q] > 0)
            floe_plan_next_fit(pl->per_chip, parts[q], chip, used);
}

enum { NO_PLACEMENT = INT_MAX };

/* fin[i * (P + 1) + u]: the least final placement state (dchip chips opened after the current one,
 * last: cores used on the last chip) of groups i..n-1 and the tail from state (0, u), over every
 * choice of those groups; dchip NO_PLACEMENT where none can be placed. Placement is the same from
 * (c, u) as from (0, u) shifted by c chips, so this table over u answers for any state. Exact: built
 * backwards, each entry the least over the group's choices of the next group's entry at the state
 * the choice leads to. */
typedef struct fin_state {
    int dchip, last;
} fin_state;

static fin_state *fin_table(const floe_mck *p)
{
    const floe_mck_place *pl = p->place;
    const int P = pl->per_chip, n = p->n, k = p->k;
    fin_state *f = malloc(sizeof *f * (size_t)(n + 1) * (P + 1));
    if (!f)
        return NULL;
    for (int u = 0; u <= P; u++) {
        int c = 0, w = u;
        place_parts(pl, pl->tail, pl->n_tail, &c, &w);
        f[(size_t)n * (P + 1) + u] = (fin_state){c, w};
    }
    for (int i = n - 1; i >= 0; i--)
        for (int u = 0; u <= P; u++) {
            fin_state best = {NO_PLACEMENT, 0};
            for (int j = 0; j < k; j++) {
                const int *parts = parts_of(pl, k, i, j);
                if (parts[0] < 0)
                    continue;
                int c = 0, w = u;
                place_parts(pl, parts, FLOE_MCK_MAX_PARTS, &c, &w);
                const fin_state nx = f[(size_t)(i + 1) * (P + 1) + w];
                if (nx.dchip == NO_PLACEMENT)
                    continue;
                const fin_state t = {c + nx.dchip, nx.last};
                if (t.dchip < best.dchip || (t.dchip == best.dchip && t.last < best.last))
                    best = t;
            }
            f[(size_t)i * (P + 1) + u] = best;
        }
    return f;
}

static int place_ok(const floe_mck_place *pl, int n, int k)
{
    if (pl->per_chip < 1 || pl->n_tail < 0 || (pl->n_tail > 0 && !pl->tail) || !pl->cores)
        return 0;
    for (int q = 0; q < pl->n_tail; q++)
        if (pl->tail[q] < 0 || pl->tail[q] > pl->per_chip)
            return 0;
    for (size_t i = 0; i < (size_t)n * k * FLOE_MCK_MAX_PARTS; i++)
        if (pl->cores[i] > pl->per_chip || (pl->cores[i] < 0 && i % FLOE_MCK_MAX_PARTS))
            return 0;
    return 1;
}

int floe_mck_min_chips(const floe_mck *p)
{
    if (!p->place || p->n < 1 || p->k < 1 || !place_ok(p->place, p->n, p->k))
        return -1;
    fin_state *f = fin_table(p);
    if (!f)
        return -1;
    const int chips = f[0].dchip == NO_PLACEMENT ? 0 : f[0].dchip + 1;
    free(f);
    return chips;
}

int floe_mck_chips_of(const floe_mck_place *pl, int n, int k, const int *choice)
{
    int chip = 0, used = 0;
    for (int i = 0; i < n; i++) {
        const int *parts = parts_of(pl, k, i, choice[i]);
        if (parts[0] < 0)
            return 0;
        place_parts(pl, parts, FLOE_MCK_MAX_PARTS, &chip, &used);
    }
    place_parts(pl, pl->tail, pl->n_tail, &chip, &used);
    return chip + 1;
}

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
    const int n = p->n, k = p->k, R = p->R, D = R + (p->place != NULL); /* dominance coordinates */
    const floe_mck_place *pl = p->place;
    if (pl && !place_ok(pl, n, k))
        return floe_err_set(err, "choice problem: a placement needs cores per chip >= 1 and every part within "
                                 "0..cores per chip (a first part < 0: cannot be placed)");
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
    fin_state *fin = NULL;
    if (pl) {
        if (!(fin = fin_table(p)))
            return floe_err_set(err, "choice problem: out of memory");
        if (fin[0].dchip == NO_PLACEMENT) {
            free(fin);
            return floe_err_set(err, "no choice can be placed on chips: some group has no choice the plan maps");
        }
        if (pl->max_chips > 0 && fin[0].dchip + 1 > pl->max_chips) {
            const int least = fin[0].dchip + 1;
            free(fin);
            return floe_err_set(err, "budget chips <= %d is impossible: the smallest achievable is %d", pl->max_chips,
                                least);
        }
    }
    const int P1 = pl ? pl->per_chip + 1 : 0;
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
    state root = {{0}, 0, 0, 0, -1, 0};
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
                if (pl && ok) { /* placed, and some completion still within the chips */
                    const int *parts = parts_of(pl, k, i, j);
                    ok = parts[0] >= 0;
                    if (ok)
                        place_parts(pl, parts, FLOE_MCK_MAX_PARTS, &t.chip, &t.used);
                    const fin_state f = ok ? fin[(size_t)(i + 1) * P1 + t.used] : (fin_state){NO_PLACEMENT, 0};
                    ok = f.dchip != NO_PLACEMENT && (pl->max_chips <= 0 || t.chip + f.dchip + 1 <= pl->max_chips);
                    t.cost[R] = (double)t.chip * P1 + t.used; /* the state's rank: chip, then cores */
                }
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
        if (D <= 2) { /* the same rule in n log n: a sweep by cost, value, then order found */
            if ((D == 1 ? prune_one(cand, nc, keep, &nk) : prune_two(cand, nc, keep, &nk)) != 0) {
                free(keep);
                floe_err_set(err, "choice problem: out of memory");
                goto done;
            }
        } else if (nc > MAX_QUADRATIC) {
            free(keep);
            floe_err_set(err,
                         "choice problem: %zu partial solutions at group %d with %d resources (chips count as one) "
                         "exceed the %d this solver compares pairwise (one or two have no such limit)",
                         nc, i, D, MAX_QUADRATIC);
            goto done;
        }
        for (size_t a = 0; D > 2 && a < nc; a++) {
            int drop = 0;
            for (size_t b = 0; b < nc && !drop; b++) {
                if (b == a || !dominates(&cand[b], &cand[a], D))
                    continue;
                /* b dominates a: drop a if b is earlier, or if b is strictly better (a cannot then
                   dominate b back) */
                drop = b < a || !dominates(&cand[a], &cand[b], D);
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
            if (pl && pl->max_chips > 0 && o < (int)sizeof msg)
                snprintf(msg + o, sizeof msg - (size_t)o, " chips %d", fin[0].dchip + 1);
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
    res->chips = pl ? b->chip + fin[(size_t)n * P1 + b->used].dchip + 1 : 0;
    int at = (int)best;
    for (int i = n - 1; i >= 0; i--) {
        choice[i] = lv[i][at].choice;
        at = lv[i][at].parent;
    }
    rc = 0;
done:
    for (int i = 0; lv && i < n; i++)
        free(lv[i]);
    free(lv), free(cnt), free(suf), free(cand), free(fin);
    return rc;
}
