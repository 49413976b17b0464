/* Constraints and the Pareto front (explore/pareto.h). */
#include "explore/pareto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int floe_explore_maximised(const char *figure)
{
    return strcmp(figure, "tokens_per_s") == 0 || strcmp(figure, "users_served") == 0;
}

double floe_explore_value(const floe_sweep *s, const floe_explore_result *r, uint64_t p, const char *name)
{
    int a = floe_sweep_find_axis(s, name);
    if (a < 0)
        return floe_explore_figure(&r->figures, name);
    const floe_sweep_axis *x = &s->axes[a];
    int k = 0;
    while (strcmp(x->key[k], name) != 0)
        k++;
    const char *t = x->values[floe_sweep_value_index(s, p, a) * x->n_keys + k];
    char *end;
    double v = strtod(t, &end);
    return *end ? NAN : v; /* users = max: no number */
}

int floe_explore_objectives(const floe_sweep *s, const floe_explore_result *res, uint64_t n, const char *names[8])
{
    int k = 0;
    if (s->n_objectives) {
        for (; k < s->n_objectives; k++)
            names[k] = s->objectives[k];
        return k;
    }
    names[k++] = "latency_us";
    if (s->energy_path[0])
        names[k++] = "energy_uj_per_token";
    names[k++] = "chips";
    if (s->area_path[0])
        names[k++] = "area_mm2";
    for (uint64_t p = 0; p < n; p++)
        if (res[p].tier >= 0 && !isnan(res[p].figures.ppl)) {
            names[k++] = "ppl";
            break;
        }
    return k;
}

/* a dominates b: no worse in every objective, better in one. */
static int dominates(const double *a, const double *b, int k)
{
    int better = 0;
    for (int i = 0; i < k; i++) {
        if (a[i] > b[i])
            return 0;
        better |= a[i] < b[i];
    }
    return better;
}

/* qsort has no context argument: the objective table of the sort in progress (one at a time). */
static const double *sort_ctx;
static int sort_k;

static int lex_cmp(const void *a, const void *b)
{
    const double *x = &sort_ctx[*(const uint64_t *)a * (size_t)sort_k],
                 *y = &sort_ctx[*(const uint64_t *)b * (size_t)sort_k];
    for (int i = 0; i < sort_k; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return *(const uint64_t *)a < *(const uint64_t *)b ? -1 : *(const uint64_t *)a > *(const uint64_t *)b;
}

void floe_explore_select(const floe_sweep *s, floe_explore_result *res, uint64_t n)
{
    const char *obj[8];
    int k = floe_explore_objectives(s, res, n, obj);
    double *v = malloc((n ? n : 1) * (size_t)k * sizeof *v);
    for (uint64_t p = 0; p < n; p++) {
        floe_explore_result *r = &res[p];
        r->front = 0;
        r->within = r->tier >= 0 && r->figures.fits && strcmp(r->status, "ok") == 0;
        for (int c = 0; r->within && c < s->n_constraints; c++) {
            const floe_sweep_constraint *q = &s->constraints[c];
            double x = floe_explore_value(s, r, p, q->name);
            r->within = !isnan(x) && floe_cmp_holds(q->op, x, q->value);
        }
        for (int i = 0; v && i < k; i++) {
            double x = floe_explore_figure(&r->figures, obj[i]);
            if (isnan(x))
                r->within = 0;
            v[p * (size_t)k + (size_t)i] = floe_explore_maximised(obj[i]) ? -x : x;
        }
    }
    uint64_t *order = v ? malloc((n ? n : 1) * sizeof *order) : NULL, m = 0;
    if (!order) { /* out of memory: no front rather than a wrong one */
        free(v);
        return;
    }
    for (uint64_t p = 0; p < n; p++)
        if (res[p].within)
            order[m++] = p;
    /* A point can only be dominated by one before it in lexicographic order, and when it is, by a
       point of the front (dominance is transitive): compare each with the front found so far. */
    sort_ctx = v, sort_k = k;
    qsort(order, m, sizeof *order, lex_cmp);
    uint64_t *front = malloc((m ? m : 1) * sizeof *front), nf = 0;
    if (!front) {
        free(order);
        free(v);
        return;
    }
    for (uint64_t i = 0; i < m; i++) {
        uint64_t p = order[i];
        int dominated = 0;
        for (uint64_t j = 0; j < nf && !dominated; j++)
            dominated = dominates(&v[front[j] * (size_t)k], &v[p * (size_t)k], k);
        if (!dominated)
            front[nf++] = p, res[p].front = 1;
    }
    free(front);
    free(order);
    free(v);
}
