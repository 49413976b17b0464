#include "design/design_job.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic_file.h"
#include "common/gnuplot.h"
#include "common/path.h"
#include "design/mck.h"
#include "design/sensitivity.h"
#include "design/spearman.h"
#include "models/qmodel_io.h"
#include "trainer/qat_job.h"
#include "trainer/qeval.h"
#include "trainer/run_log.h"
#include "compiler/compile.h"
#include "verify/deploy_check.h"
#include "verify/qat_verify.h"

static const char *const RES_NAME[FLOE_DESIGN_RESOURCES] = {"latency_us", "energy_uj", "memory_bytes"};
static const char *const RES_KEY[FLOE_DESIGN_RESOURCES] = {"latency", "energy", "memory"};

int floe_design_parse_budget(const char *spec, double limit[FLOE_DESIGN_RESOURCES], int *chips, floe_err *err)
{
    static const char FORM[] = "latency=US, energy=UJ, memory=BYTES or chips=N";
    for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
        limit[r] = INFINITY;
    *chips = 0;
    if (!spec || !*spec)
        return floe_err_set(err, "--budget: give %s (comma-separated)", FORM);
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[128];
        if (n >= sizeof item)
            return floe_err_set(err, "--budget: item '%.40s...' is too long", p);
        memcpy(item, p, n);
        item[n] = '\0';
        char *eq = strchr(item, '=');
        int r = -1;
        if (eq) {
            *eq = '\0';
            for (int k = 0; k < FLOE_DESIGN_RESOURCES; k++)
                if (strcmp(item, RES_KEY[k]) == 0)
                    r = k;
            if (strcmp(item, "chips") == 0)
                r = FLOE_DESIGN_RESOURCES;
        }
        if (r < 0)
            return floe_err_set(err, "--budget: item '%.*s': expected %s", (int)n, p, FORM);
        char *tail;
        double v = strtod(eq + 1, &tail);
        if (tail == eq + 1 || *tail || !(v > 0) || !isfinite(v))
            return floe_err_set(err, "--budget: %s=%s: need a positive number", item, eq + 1);
        if (r == FLOE_DESIGN_RESOURCES) {
            if (v != floor(v) || v > 1e9)
                return floe_err_set(err, "--budget: chips=%s: need a whole number of chips", eq + 1);
            if (*chips)
                return floe_err_set(err, "--budget: chips is given twice");
            *chips = (int)v;
        } else {
            if (!isinf(limit[r]))
                return floe_err_set(err, "--budget: %s is given twice", item);
            limit[r] = v;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* The choice problem: one group per decoder layer; its choices are the widths (per layer) or the
 * combinations of its seven linears' widths that no other combination beats on the layer's total
 * sensitivity, every cost the solver sees and (under a chips budget) its placement (per linear:
 * floe_combo_count of them priced, the rest dropped before the solver). The solver sees every
 * resource per layer, and per linear the budgeted ones: a resource without a budget constrains
 * nothing, and fewer dimensions keep the partial solutions few. Under a chips budget each choice
 * also carries its parts' cores (floe_layer_cores) and the solver places them (design/mck.h). */
typedef struct problem {
    int G, K;           /* groups (layers), choices per group */
    int per_linear;     /* choices are combinations (combo[g * K + k]) rather than widths */
    int *combo;         /* per linear: [G * K] */
    const double *cost; /* per linear: the combinations' costs [count * FLOE_DESIGN_RESOURCES] (borrowed) */
    int slot[FLOE_DESIGN_RESOURCES]; /* the solver's index of each resource, or -1 */
    double *v, *c;
    int *cores; /* under a chips budget: [G * K * FLOE_MCK_MAX_PARTS] */
    floe_mck_place place;
    floe_mck m;
} problem;

/* The costs (every resource) of choice k of group g. */
static const double *choice_cost(const problem *p, const floe_layer_cost *lc, int g, int k)
{
    return p->per_linear ? p->cost + (size_t)p->combo[(size_t)g * p->K + k] * FLOE_DESIGN_RESOURCES : lc->layer[k];
}

/* Every resource's total of a solution, the fixed part included. */
static void choice_totals(const problem *p, const floe_layer_cost *lc, const int *choice, double *tot)
{
    for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
        tot[r] = lc->fixed[r];
    for (int g = 0; g < p->G; g++)
        for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
            tot[r] += choice_cost(p, lc, g, choice[g])[r];
}

/* Layer l's sensitivity with combination c. */
static double combo_value(const floe_sens *s, const double *sv, int l, int c)
{
    double v = 0;
    for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
        v += sv[((size_t)l * FLOE_LAYER_LINEARS + j) * s->n_widths + floe_combo_digit(c, j, s->n_widths)];
    return v;
}

/* Does placing parts a end, from every state, no further on (chip, then cores) than placing parts b?
 * Placement from (c, u) is that from (0, u) shifted by c chips, so the states (0, 0..per_chip) are
 * all there is to compare; parts that cannot be placed (first < 0) are worse than any that can. */
static int parts_no_worse(int per_chip, const int *a, const int *b)
{
    if (a[0] < 0 || b[0] < 0)
        return b[0] < 0;
    for (int u = 0; u <= per_chip; u++) {
        int ca = 0, ua = u, cb = 0, ub = u;
        for (int q = 0; q < FLOE_MCK_MAX_PARTS; q++) {
            if (a[q] > 0)
                floe_plan_next_fit(per_chip, a[q], &ca, &ua);
            if (b[q] > 0)
                floe_plan_next_fit(per_chip, b[q], &cb, &ub);
        }
        if (ca > cb || (ca == cb && ua > ub))
            return 0;
    }
    return 1;
}

/* Does combination a beat b (no more value, no more of any solver resource, a placement no worse
 * (le_ab; le_ba the converse); on a tie, a first)? */
static int combo_beats(const double *va, const double *ca, int ia, const double *vb, const double *cb, int ib,
                       int le_ab, int le_ba, const problem *p)
{
    int equal = *va == *vb && le_ba;
    if (*va > *vb || !le_ab)
        return 0;
    for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++) {
        if (p->slot[r] < 0)
            continue;
        if (ca[r] > cb[r])
            return 0;
        equal &= ca[r] == cb[r];
    }
    return !equal || ia < ib;
}

/* The distinct placements among the combinations: item[c] indexes them; le[a * n + b]: placement a
 * no worse than b (parts_no_worse). Without a chips budget every combination is one item. */
static int combo_items(const int *cores, int nc, int per_chip, int **item, char **le, int *n_items)
{
    int *it = malloc(sizeof(int) * (size_t)nc), *rep = malloc(sizeof(int) * (size_t)nc), n = 0;
    if (!it || !rep) {
        free(it), free(rep);
        return -1;
    }
    for (int c = 0; c < nc; c++) {
        it[c] = -1;
        for (int k = 0; cores && k < n && it[c] < 0; k++)
            if (!memcmp(cores + (size_t)rep[k] * FLOE_MCK_MAX_PARTS, cores + (size_t)c * FLOE_MCK_MAX_PARTS,
                        sizeof(int) * FLOE_MCK_MAX_PARTS))
                it[c] = k;
        if (!cores && n > 0)
            it[c] = 0;
        if (it[c] < 0)
            rep[n] = c, it[c] = n++;
    }
    char *m = malloc((size_t)n * n);
    if (!m) {
        free(it), free(rep);
        return -1;
    }
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++)
            m[(size_t)a * n + b] = !cores || parts_no_worse(per_chip, cores + (size_t)rep[a] * FLOE_MCK_MAX_PARTS,
                                                            cores + (size_t)rep[b] * FLOE_MCK_MAX_PARTS);
    free(rep);
    *item = it, *le = m, *n_items = n;
    return 0;
}

/* max_chips > 0: a chips budget (the solver places the choices); combo_cores per linear. */
static int problem_init(problem *p, const floe_sens *s, const floe_layer_cost *lc, const double *combo_cost,
                        const int *combo_cores, int fisher, const double *budget, int max_chips)
{
    memset(p, 0, sizeof *p);
    const double *sv = fisher ? s->fisher : s->measured;
    p->per_linear = combo_cost != NULL, p->cost = combo_cost, p->G = s->n_layers;
    int R = 0;
    for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
        p->slot[r] = !p->per_linear || !isinf(budget[r]) ? R++ : -1;
    if (R == 0)
        p->slot[FLOE_DESIGN_MEMORY] = R++;
    if (!p->per_linear) {
        p->K = lc->n_widths;
    } else { /* each layer's combinations that no other beats, padded to one count with its first */
        const int nc = floe_combo_count(s->n_widths);
        double *val = malloc(sizeof(double) * (size_t)nc);
        int *keep = malloc(sizeof(int) * (size_t)nc * p->G), *cnt = calloc((size_t)p->G, sizeof(int)), *item = NULL;
        char *le = NULL;
        int ni = 0;
        if (!val || !keep || !cnt ||
            combo_items(max_chips > 0 ? combo_cores : NULL, nc, lc->per_chip, &item, &le, &ni) != 0) {
            free(val), free(keep), free(cnt);
            return -1;
        }
        for (int l = 0; l < p->G; l++) {
            for (int c = 0; c < nc; c++)
                val[c] = combo_value(s, sv, l, c);
            for (int a = 0; a < nc; a++) {
                int beaten = max_chips > 0 && combo_cores[(size_t)a * FLOE_MCK_MAX_PARTS] < 0; /* never placed */
                for (int b = 0; b < nc && !beaten; b++)
                    beaten = b != a &&
                             combo_beats(&val[b], combo_cost + (size_t)b * FLOE_DESIGN_RESOURCES, b, &val[a],
                                         combo_cost + (size_t)a * FLOE_DESIGN_RESOURCES, a,
                                         le[(size_t)item[b] * ni + item[a]], le[(size_t)item[a] * ni + item[b]], p);
                if (!beaten)
                    keep[(size_t)l * nc + cnt[l]++] = a;
            }
            if (cnt[l] == 0) /* nothing placeable: keep one, the solver then names the layer */
                keep[(size_t)l * nc + cnt[l]++] = 0;
            p->K = cnt[l] > p->K ? cnt[l] : p->K;
        }
        p->combo = malloc(sizeof(int) * (size_t)p->G * p->K);
        if (p->combo)
            for (int l = 0; l < p->G; l++)
                for (int k = 0; k < p->K; k++)
                    p->combo[(size_t)l * p->K + k] = keep[(size_t)l * nc + (k < cnt[l] ? k : 0)];
        free(val), free(keep), free(cnt), free(item), free(le);
        if (!p->combo)
            return -1;
    }
    p->v = malloc(sizeof(double) * (size_t)p->G * p->K);
    p->c = malloc(sizeof(double) * (size_t)p->G * p->K * R);
    p->cores = max_chips > 0 ? malloc(sizeof(int) * (size_t)p->G * p->K * FLOE_MCK_MAX_PARTS) : NULL;
    if (!p->v || !p->c || (max_chips > 0 && !p->cores))
        return -1;
    for (int g = 0; g < p->G; g++)
        for (int k = 0; k < p->K; k++) {
            size_t i = (size_t)g * p->K + k;
            p->v[i] = p->per_linear ? combo_value(s, sv, g, p->combo[i]) : sv[i];
            for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
                if (p->slot[r] >= 0)
                    p->c[i * R + p->slot[r]] = choice_cost(p, lc, g, k)[r];
            if (p->cores)
                memcpy(p->cores + i * FLOE_MCK_MAX_PARTS,
                       p->per_linear ? combo_cores + (size_t)p->combo[i] * FLOE_MCK_MAX_PARTS : lc->cores[k],
                       sizeof(int) * FLOE_MCK_MAX_PARTS);
        }
    p->m.n = p->G, p->m.k = p->K, p->m.R = R, p->m.v = p->v, p->m.c = p->c;
    for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
        if (p->slot[r] >= 0) {
            p->m.fixed[p->slot[r]] = lc->fixed[r];
            p->m.budget[p->slot[r]] = budget[r];
            p->m.names[p->slot[r]] = RES_NAME[r];
        }
    if (max_chips > 0) {
        p->place = (floe_mck_place){lc->per_chip, p->cores, lc->head_cores, lc->n_head, max_chips};
        p->m.place = &p->place;
    }
    return 0;
}

static void problem_free(problem *p) { free(p->v), free(p->c), free(p->combo), free(p->cores); }

/* The widths of a choice: layer_wbits per layer, or linear_wbits per linear. */
static void choice_qconfig(const floe_qconfig *base, const floe_layer_cost *lc, const problem *p, const int *choice,
                           floe_qconfig *qc)
{
    *qc = *base;
    floe_qconfig_clear_wbits(qc);
    for (int g = 0; g < p->G; g++) {
        if (!p->per_linear) {
            qc->layer_wbits[g] = (signed char)lc->widths[choice[g]];
            continue;
        }
        const int c = p->combo[(size_t)g * p->K + choice[g]];
        for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
            qc->linear_wbits[g][j] = (signed char)lc->widths[floe_combo_digit(c, j, lc->n_widths)];
    }
}

/* q's widths of layers 0..L-1 as --wbits-layer takes them, every layer named (its most frequent
 * width, the first of its linears' on a tie), then the linears that differ from it; items separated
 * by sep. */
static void spec_of(const floe_qconfig *q, int L, char sep, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int l = 0; l < L; l++) {
        int w[FLOE_LAYER_LINEARS], best = 0, most = 0;
        for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
            w[j] = floe_qconfig_linear_wbits_of(q, l, j);
        for (int j = 0; j < FLOE_LAYER_LINEARS; j++) {
            int c = 0;
            for (int k = 0; k < FLOE_LAYER_LINEARS; k++)
                c += w[k] == w[j];
            if (c > most)
                most = c, best = w[j];
        }
        o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%s%d=%d", l ? (char[]){sep, 0} : "", l, best);
        for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
            if (w[j] != best)
                o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%c%d.%s=%d", sep, l, floe_linear_name(j), w[j]);
    }
    if (o >= n && n > 4)
        memcpy(buf + n - 4, "...", 4);
}

/* The combination with every linear at width index b0, but linear j (-1: none) at w. */
static int combo_of(int b0, int j, int w, int n_widths)
{
    int c = 0;
    for (int k = FLOE_LAYER_LINEARS - 1; k >= 0; k--)
        c = c * n_widths + (k == j ? w : b0);
    return c;
}

/* One (abits, kvbits) pair: the weight-width problem with activations and cache at that pair,
 * priced, measured and solved on its own (docs/design-choice.md, "Activation and cache widths"). */
typedef struct arm {
    floe_qconfig q;     /* the job's widths with this pair's abits and kvbits */
    floe_layer_cost lc; /* every width priced and placed at this pair */
    double *combo_cost; /* per linear: [floe_combo_count * FLOE_DESIGN_RESOURCES] */
    int *combo_cores;   /* per linear: [floe_combo_count * FLOE_MCK_MAX_PARTS] */
    floe_sens s;        /* measured at this pair */
    double pair_dloss;  /* s.base_loss less the all-base model's at A8 KV8 (0 with one pair) */
    problem p;
    int *choice;         /* [n_layers]: the pair's optimum */
    floe_mck_result res; /* its value is the weights' part; pair_dloss + value is the pair's total */
    int solved;
    floe_err why; /* why not solved */
    double tot[FLOE_DESIGN_RESOURCES];
    int chips; /* the compiler's plan of the optimum (0: not mapped) */
} arm;

static void arm_free(arm *a)
{
    free(a->combo_cost), free(a->combo_cores), free(a->choice);
    floe_sens_free(&a->s);
    problem_free(&a->p);
}

/* The base width's index among lc's widths. */
static int base_index(const floe_layer_cost *lc, int base_bits)
{
    int b0 = 0;
    for (int w = 0; w < lc->n_widths; w++)
        b0 = lc->widths[w] == base_bits ? w : b0;
    return b0;
}

/* Total cores of a choice's parts (-1: not placed). */
static int parts_total(const int *parts)
{
    if (parts[0] < 0)
        return -1;
    int t = 0;
    for (int q = 0; q < FLOE_MCK_MAX_PARTS; q++)
        t += parts[q];
    return t;
}

/* design.csv: for each pair, a row per layer (per linear: per linear of each layer) and width, its
 * sensitivities at the pair, its costs (per linear: the change from the layer all at the base width to
 * that linear alone at w, a marginal, since a linear has no cost of its own), the cores of the layer's
 * groups in the compiler's plan, whether the pair's optimum has it and whether the chosen design does;
 * then the pair's own row (its loss change, in measured_dloss) and its fixed part. */
static int write_design_csv(const char *dir, const arm *arms, int n_arms, int best, int base_bits, floe_err *err)
{
    char path[4300];
    floe_path_join(path, sizeof path, dir, "design.csv");
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    fprintf(af.fp, "abits,kvbits,layer,linear,wbits,measured_dloss,fisher_dloss,latency_us,energy_uj,memory_bytes,"
                   "cores,optimum,chosen\n");
    for (int a = 0; a < n_arms; a++) {
        const arm *A = &arms[a];
        const floe_sens *s = &A->s;
        const floe_layer_cost *lc = &A->lc;
        const problem *p = &A->p;
        const int per = s->n_groups / s->n_layers, b0 = base_index(lc, base_bits), ab = A->q.abits, kb = A->q.kvbits;
        for (int g = 0; g < s->n_groups; g++)
            for (int w = 0; w < s->n_widths; w++) {
                const size_t i = (size_t)g * s->n_widths + w;
                const int l = g / per, jl = g % per, at = combo_of(b0, jl, w, lc->n_widths);
                double c[FLOE_DESIGN_RESOURCES];
                for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
                    c[r] =
                        per == 1
                            ? lc->layer[w][r]
                            : A->combo_cost[(size_t)at * FLOE_DESIGN_RESOURCES + r] -
                                  A->combo_cost[(size_t)combo_of(b0, -1, 0, lc->n_widths) * FLOE_DESIGN_RESOURCES + r];
                int opt = 0;
                if (A->solved)
                    opt = per == 1 ? A->choice[l] == w
                                   : floe_combo_digit(p->combo[(size_t)l * p->K + A->choice[l]], jl, lc->n_widths) == w;
                const int cores =
                    parts_total(per == 1 ? lc->cores[w] : A->combo_cores + (size_t)at * FLOE_MCK_MAX_PARTS);
                fprintf(af.fp, "%d,%d,%d,%s,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%d,%d\n", ab, kb, l,
                        per > 1 ? floe_linear_name(jl) : "all", lc->widths[w], s->measured[i], s->fisher[i],
                        c[FLOE_DESIGN_LATENCY], c[FLOE_DESIGN_ENERGY], c[FLOE_DESIGN_MEMORY], cores, opt,
                        opt && a == best);
            }
        fprintf(af.fp, "%d,%d,pair,,,%.9g,,,,,,%d,%d\n", ab, kb, A->pair_dloss, A->solved, a == best);
        int head = 0;
        for (int h = 0; h < lc->n_head; h++)
            head += lc->head_cores[h];
        fprintf(af.fp, "%d,%d,fixed,,,,,%.9g,%.9g,%.9g,%d,,\n", ab, kb, lc->fixed[FLOE_DESIGN_LATENCY],
                lc->fixed[FLOE_DESIGN_ENERGY], lc->fixed[FLOE_DESIGN_MEMORY], head);
    }
    return floe_afile_commit(&af, err);
}

/* The chips the compiler's plan needs for widths q: the plan floe_deploy_check makes with its
 * defaults (floe_design_plan_opts). */
static int plan_chips(const floe_model_config *mc, const floe_qconfig *q, const floe_machine *mach, int *chips,
                      floe_err *err)
{
    const floe_compile_opts co = floe_design_plan_opts(mc);
    floe_plan_summary sum;
    if (floe_compile_plan(mc, q, mach, &co, &sum, err) != 0)
        return -1;
    *chips = sum.chips;
    return 0;
}

/* The front: the first budgeted resource swept from the smallest achievable total (over the pairs) to
 * the all-widest model's, the other budgets held; each point each pair's optimum, its total the pair's
 * loss change plus the weights' sensitivity. One line per pair in the plot. */
static int write_front(const floe_design_job *j, arm *arms, int n_arms, int swept, floe_err *err)
{
    char path[4300], png[4300], q[8700];
    floe_path_join(path, sizeof path, j->out, "front.csv");
    floe_path_join(png, sizeof png, j->out, "front.png");
    const int n = j->front_points > 1 ? j->front_points : 12;
    double lo = INFINITY, hi = 0;
    for (int a = 0; a < n_arms; a++) {
        const problem *p = &arms[a].p;
        const int at = p->slot[swept];
        double h = p->m.fixed[at];
        for (int g = 0; g < p->G; g++) {
            double m = 0;
            for (int k = 0; k < p->K; k++)
                m = fmax(m, choice_cost(p, &arms[a].lc, g, k)[swept]);
            h += m;
        }
        lo = fmin(lo, floe_mck_min_cost(&p->m, at)), hi = fmax(hi, h);
    }
    int *choice = malloc(sizeof(int) * (size_t)arms[0].p.G);
    char *spec = malloc(1 << 16);
    if (!choice || !spec) {
        free(choice), free(spec);
        return floe_err_set(err, "front: out of memory");
    }
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0) {
        free(choice), free(spec);
        return -1;
    }
    fprintf(af.fp,
            "abits,kvbits,budget_%s,pair_dloss,total_sensitivity,latency_us,energy_uj,memory_bytes,%swbits_layer\n",
            RES_NAME[swept], j->chips > 0 ? "chips," : "");
    double ylo = INFINITY, yhi = -INFINITY;
    for (int a = 0; a < n_arms; a++) {
        const arm *A = &arms[a];
        floe_mck m = A->p.m;
        for (int i = 0; i < n; i++) {
            m.budget[A->p.slot[swept]] = lo + (hi - lo) * i / (n - 1);
            floe_mck_result res;
            floe_err e2;
            if (floe_mck_solve(&m, choice, &res, &e2) != 0)
                continue; /* the other budgets exclude this point */
            floe_qconfig qc;
            double tot[FLOE_DESIGN_RESOURCES];
            choice_qconfig(&A->q, &A->lc, &A->p, choice, &qc);
            choice_totals(&A->p, &A->lc, choice, tot);
            spec_of(&qc, A->p.G, ' ', spec, 1 << 16);
            const double total = A->pair_dloss + res.value;
            fprintf(af.fp, "%d,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,", A->q.abits, A->q.kvbits, m.budget[A->p.slot[swept]],
                    A->pair_dloss, total, tot[0], tot[1], tot[2]);
            if (j->chips > 0)
                fprintf(af.fp, "%d,", res.chips);
            fprintf(af.fp, "%s\n", spec);
            ylo = fmin(ylo, total), yhi = fmax(yhi, total);
        }
    }
    free(choice), free(spec);
    if (floe_afile_commit(&af, err) != 0)
        return -1;
    char range[256], script[10000], series[4000];
    floe_gnuplot_range(range, sizeof range, "y", ylo, yhi);
    floe_gnuplot_quote(q, sizeof q, path);
    size_t o = 0;
    for (int a = 0; a < n_arms; a++)
        o += (size_t)snprintf(series + o, sizeof series - o,
                              "%s%s using ($1 == %d && $2 == %d ? $%d : 1/0):5 with linespoints pt 7 title 'A%d KV%d'",
                              a ? ", " : "", a ? "''" : q, arms[a].q.abits, arms[a].q.kvbits, 6 + swept,
                              arms[a].q.abits, arms[a].q.kvbits);
    snprintf(script, sizeof script,
             "set datafile separator ','\n%s\nset grid\nset xlabel '%s (chosen model)'\n"
             "set ylabel 'total sensitivity (validation loss change, nats)'\nset title 'floe design: the best choice "
             "per budget'\n%splot %s\n",
             n_arms > 1 ? "set key top right" : "set key off", RES_NAME[swept], range, series);
    return floe_gnuplot_png(png, 800, 500, script, err);
}

static int qat_and_check(const floe_design_job *j, const floe_qconfig *qc, const floe_tokens *val,
                         const floe_model_config *mc, const floe_sens_opts *so, floe_design_result *r, floe_err *err)
{
    char dir[4300], qm_path[8700];
    floe_path_join(dir, sizeof dir, j->out, "qat");
    floe_qat_job qj = {.method = FLOE_QAT_SILQ,
                       .teacher = j->teacher,
                       .corpus = j->corpus,
                       .out = dir,
                       .qc = *qc,
                       .init = so->init,
                       .log = j->log};
    floe_qat_settings set = FLOE_QAT_SETTINGS_UNSET;
    set.steps = j->qat_steps;
    qj.set = set;
    qj.eval_windows = j->val_windows;
    floe_qat_chip chip = {j->mach, j->energy, NULL};
    if (j->verify) {
        qj.verify = floe_qat_verify_chip, qj.verify_ctx = &chip, qj.verify_on = j->machine_name;
        qj.verify_every = 1, qj.verify_tokens = 8;
    }
    if (floe_qat_job_run(&qj, err) != 0) {
        floe_err_prefix(err, "QAT of the chosen widths");
        return -1;
    }
    floe_path_join(qm_path, sizeof qm_path, dir, "qmodel.safetensors");
    floe_qmodel m;
    if (floe_qmodel_load(&m, qm_path, err) != 0)
        return -1;
    floe_qfwd f;
    floe_eval_result ev;
    int rc = floe_qfwd_init(&f, mc, so->batch, so->context, err);
    if (rc == 0) {
        rc = floe_qmodel_evaluate(&f, &m, val, j->val_windows, &ev, err);
        floe_qfwd_free(&f);
    }
    floe_qmodel_free(&m);
    if (rc != 0)
        return -1;
    r->qat_done = 1;
    r->qat_loss = ev.loss;
    return 0;
}

static int deploy(const floe_design_job *j, const floe_model_config *mc, const floe_qconfig *qc, floe_design_result *r,
                  floe_err *err)
{
    char qm_path[8700];
    snprintf(qm_path, sizeof qm_path, "%s/qat/qmodel.safetensors", j->out);
    floe_deploy_check_opts o = floe_deploy_check_defaults();
    o.qmodel = r->qat_done ? qm_path : NULL; /* without QAT: random codes, the same timing and energy */
    floe_deploy_report rep;
    if (floe_deploy_check(mc, qc, j->mach, j->energy, &o, &rep, err) != 0) {
        floe_err_prefix(err, "deployment check of the chosen widths");
        return -1;
    }
    if (!rep.fits)
        return floe_err_set(err, "deployment check: the chosen widths do not fit the machine: %s", rep.unfit);
    r->deployed = 1;
    r->deploy_latency_us = rep.decode_s * 1e6;
    r->deploy_energy_uj = rep.decode_j * 1e6;
    r->deploy_chips = rep.plan.chips;
    return 0;
}

/* The cost phase of one pair: every width priced and placed, per linear every combination too. */
static int price_arm(const floe_design_job *j, const floe_model_config *mc, const floe_sens_opts *so, arm *A,
                     floe_err *err)
{
    if (floe_layer_cost_price(mc, &A->q, A->q.wbits, so->widths, so->n_widths, j->mach, j->energy, &A->lc, err) != 0)
        return -1;
    if (!j->per_linear)
        return 0;
    const int nc = floe_combo_count(so->n_widths);
    A->combo_cost = malloc(sizeof(double) * (size_t)nc * FLOE_DESIGN_RESOURCES);
    A->combo_cores = malloc(sizeof(int) * (size_t)nc * FLOE_MCK_MAX_PARTS);
    if (!A->combo_cost || !A->combo_cores)
        return floe_err_set(err, "design: out of memory");
    if (floe_combo_cost_price(mc, &A->q, &A->lc, j->mach, j->energy, A->combo_cost, err) != 0)
        return -1;
    floe_combo_cores(mc, &A->q, &A->lc, j->mach, A->combo_cores);
    return 0;
}

/* The fewest chips of any choice at one pair (every width or combination in every layer): 0 when none
 * maps, -1 out of memory. */
static int arm_min_chips(const arm *A, int n_layers)
{
    const int K = A->combo_cores ? floe_combo_count(A->lc.n_widths) : A->lc.n_widths;
    int *cores = malloc(sizeof(int) * (size_t)n_layers * K * FLOE_MCK_MAX_PARTS);
    if (!cores)
        return -1;
    for (int l = 0; l < n_layers; l++)
        for (int k = 0; k < K; k++)
            memcpy(cores + ((size_t)l * K + k) * FLOE_MCK_MAX_PARTS,
                   A->combo_cores ? A->combo_cores + (size_t)k * FLOE_MCK_MAX_PARTS : A->lc.cores[k],
                   sizeof(int) * FLOE_MCK_MAX_PARTS);
    const floe_mck_place pl = {A->lc.per_chip, cores, A->lc.head_cores, A->lc.n_head, 0};
    const floe_mck m = {.n = n_layers, .k = K, .R = 1, .place = &pl};
    const int chips = floe_mck_min_chips(&m);
    free(cores);
    return chips;
}

/* Names the pair of an arm in logs and errors: "A8 KV4". */
static const char *pair_name(const arm *A, char *buf, size_t n)
{
    snprintf(buf, n, "A%d KV%d", A->q.abits, A->q.kvbits);
    return buf;
}

int floe_design_run(const floe_design_job *j, floe_design_result *r, floe_err *err)
{
    memset(r, 0, sizeof *r);
    if (!j->energy && !isinf(j->budget[FLOE_DESIGN_ENERGY]))
        return floe_err_set(err, "an energy budget needs the machine's energy table (--energy)");
    if (j->use_fisher && (j->choose_abits || j->choose_kvbits))
        return floe_err_set(err, "--fisher cannot choose activation or cache widths: there is no Fisher estimate of "
                                 "them (see docs/design-choice.md), and a measured change is not on the estimate's "
                                 "scale");
    int swept = -1;
    for (int k = FLOE_DESIGN_RESOURCES - 1; k >= 0; k--)
        if (!isinf(j->budget[k]))
            swept = k;
    if (swept < 0 && j->chips > 0) /* chips alone: the front runs over memory */
        swept = FLOE_DESIGN_MEMORY;
    if (swept < 0)
        return floe_err_set(err, "no budget given");
    floe_model_config mc;
    char corpus_buf[1024];
    if (floe_teacher_info(j->teacher, &mc, corpus_buf, sizeof corpus_buf, err) != 0)
        return -1;
    const char *corpus = j->corpus ? j->corpus : (corpus_buf[0] ? corpus_buf : NULL);
    if (floe_mkdir_p(j->out, err) != 0)
        return -1;
    floe_tokens train, val;
    if (floe_train_data(corpus, &train, &val, err) != 0)
        return -1;
    /* the pairs, widest first (ties go to the first) */
    arm arms[FLOE_DESIGN_MAX_PAIRS];
    int n_arms = 0, rc = -1, best = -1;
    memset(arms, 0, sizeof arms);
    for (int ab = 8; ab >= 4; ab -= 4)
        for (int kb = 8; kb >= 4; kb -= 4)
            if ((j->choose_abits || ab == j->q.abits) && (j->choose_kvbits || kb == j->q.kvbits)) {
                arms[n_arms].q = j->q;
                arms[n_arms].q.abits = ab, arms[n_arms].q.kvbits = kb;
                n_arms++;
            }
    char pn[32];
    if (floe_tokens_check_vocab(&train, mc.vocab_size, err) != 0 ||
        floe_ckpt_check_tokenizer(j->teacher, &train, err) != 0)
        goto done;
    floe_sens_opts so = {.q = j->q,
                         .n_widths = 3,
                         .widths = {2, 4, 8},
                         .init = floe_qinit_defaults(),
                         .batch = j->batch > 0 ? j->batch : 4,
                         .context = mc.context,
                         .val_windows = j->val_windows ? j->val_windows : 32,
                         .log = j->log};
    const int per = j->per_linear ? FLOE_LAYER_LINEARS : 1, G = mc.n_layers * per;
    so.per_linear = j->per_linear;
    so.init.method = FLOE_QINIT_CALIB;
    so.init.batches = j->calib_batches > 0 ? j->calib_batches : 2;
    if (j->log) {
        fprintf(j->log, "design: %s (%d layers) on %s, base width W%d, candidates W2 W4 W8, per %s; pairs", mc.name,
                mc.n_layers, j->machine_name ? j->machine_name : "the machine", j->q.wbits,
                per > 1 ? "linear" : "layer");
        for (int a = 0; a < n_arms; a++)
            fprintf(j->log, " %s", pair_name(&arms[a], pn, sizeof pn));
        fprintf(j->log, "\n");
    }
    /* the cost first: it takes milliseconds (per linear: seconds), and an impossible budget is
       refused before the measurements */
    double t0 = floe_now_s();
    for (int a = 0; a < n_arms; a++)
        if (price_arm(j, &mc, &so, &arms[a], err) != 0) {
            if (n_arms > 1)
                floe_err_prefix(err, "at %s", pair_name(&arms[a], pn, sizeof pn));
            goto done;
        }
    r->seconds[1] = floe_now_s() - t0;
    const int ncombo = floe_combo_count(so.n_widths);
    double smallest[FLOE_DESIGN_RESOURCES]; /* over the pairs */
    int fewest = 0;                         /* chips, over the pairs */
    for (int k = 0; k < FLOE_DESIGN_RESOURCES; k++)
        smallest[k] = INFINITY;
    for (int a = 0; a < n_arms; a++) {
        const arm *A = &arms[a];
        const floe_layer_cost *lc = &A->lc;
        double least[FLOE_DESIGN_RESOURCES], most[FLOE_DESIGN_RESOURCES]; /* one layer's cheapest and dearest */
        for (int k = 0; k < FLOE_DESIGN_RESOURCES; k++) {
            least[k] = INFINITY, most[k] = 0;
            for (int c = 0; c < (per > 1 ? ncombo : lc->n_widths); c++) {
                const double x = per > 1 ? A->combo_cost[(size_t)c * FLOE_DESIGN_RESOURCES + k] : lc->layer[c][k];
                least[k] = fmin(least[k], x), most[k] = fmax(most[k], x);
            }
            smallest[k] = fmin(smallest[k], lc->fixed[k] + mc.n_layers * least[k]);
        }
        const int chips = j->chips > 0 ? arm_min_chips(A, mc.n_layers) : 0;
        if (chips < 0) {
            floe_err_set(err, "design: out of memory");
            goto done;
        }
        if (chips > 0 && (fewest == 0 || chips < fewest))
            fewest = chips;
        if (!j->log)
            continue;
        for (int w = 0; w < lc->n_widths; w++) {
            char cores[48] = "not mapped by the compiler's plan";
            if (lc->cores[w][0] >= 0)
                snprintf(cores, sizeof cores, "%d core(s) in the compiler's plan", parts_total(lc->cores[w]));
            fprintf(j->log,
                    "cost%s%s: a layer at W%d: %.4g us, %.4g uJ, %.0f bytes of weights, %s (uniform W%d: %.4g us, "
                    "%d chip(s) in the cost model's plan)\n",
                    n_arms > 1 ? " at " : "", n_arms > 1 ? pair_name(A, pn, sizeof pn) : "", lc->widths[w],
                    lc->layer[w][0], lc->layer[w][1], lc->layer[w][2], cores, lc->widths[w], lc->uniform[w][0],
                    lc->chips[w]);
        }
        if (per > 1)
            fprintf(j->log,
                    "cost: %d combinations of a layer's seven widths, each priced on its own mapping: %.4g to %.4g "
                    "us, %.4g to %.4g uJ a layer (%.2f s)\n",
                    ncombo, least[0], most[0], least[1], most[1], r->seconds[1]);
        if (j->chips > 0)
            fprintf(j->log, "chips%s%s: the fewest any choice takes: %d\n", n_arms > 1 ? " at " : "",
                    n_arms > 1 ? pair_name(A, pn, sizeof pn) : "", chips);
    }
    for (int k = 0; k < FLOE_DESIGN_RESOURCES; k++)
        if (!(smallest[k] <= j->budget[k] * (1 + 1e-12))) {
            floe_err_set(err, "budget %s <= %g is impossible: the smallest achievable is %g", RES_NAME[k], j->budget[k],
                         smallest[k]);
            goto done;
        }
    /* the system's chips bound every plan (floe_compile_plan refuses more) */
    const int system = (int)(j->mach->chips_per_card * j->mach->cards_per_server * j->mach->servers_per_system);
    const int max_chips = j->chips > 0 && j->chips > system ? system : j->chips;
    if (j->chips > 0 && (fewest == 0 || fewest > max_chips)) {
        if (fewest == 0)
            floe_err_set(err, "budget chips <= %d is impossible: no choice of widths maps onto the machine", j->chips);
        else if (fewest > j->chips)
            floe_err_set(err, "budget chips <= %d is impossible: the smallest achievable is %d", j->chips, fewest);
        else
            floe_err_set(err, "budget chips <= %d: the system has %d chip(s) and the smallest achievable is %d",
                         j->chips, system, fewest);
        goto done;
    }
    /* the sensitivities, measured at each pair */
    t0 = floe_now_s();
    double ref_loss = 0; /* the all-base model at A8 KV8 */
    for (int a = 0; a < n_arms; a++) {
        so.q = arms[a].q;
        if (j->log && n_arms > 1)
            fprintf(j->log, "sensitivity at %s:\n", pair_name(&arms[a], pn, sizeof pn));
        if (floe_sens_run(j->teacher, &train, &val, &so, &arms[a].s, err) != 0) {
            if (n_arms > 1)
                floe_err_prefix(err, "at %s", pair_name(&arms[a], pn, sizeof pn));
            goto done;
        }
        if (arms[a].q.abits == 8 && arms[a].q.kvbits == 8)
            ref_loss = arms[a].s.base_loss;
    }
    if (n_arms > 1 && !(arms[0].q.abits == 8 && arms[0].q.kvbits == 8)) {
        floe_qconfig q8 = j->q;
        q8.abits = 8, q8.kvbits = 8;
        floe_qconfig_clear_wbits(&q8);
        if (floe_sens_ptq_loss(j->teacher, &train, &val, &so, &q8, &ref_loss, err) != 0)
            goto done;
    }
    for (int a = 0; n_arms > 1 && a < n_arms; a++) {
        arms[a].pair_dloss = arms[a].s.base_loss - ref_loss;
        if (j->log)
            fprintf(j->log, "sensitivity: %s, all weights W%d: validation loss %.5f, %+.4g against A8 KV8\n",
                    pair_name(&arms[a], pn, sizeof pn), j->q.wbits, arms[a].s.base_loss, arms[a].pair_dloss);
    }
    r->seconds[0] = floe_now_s() - t0;
    /* the exact choice at each pair; the best pair's (the least total; a tie, the wider pair) */
    t0 = floe_now_s();
    for (int a = 0; a < n_arms; a++) {
        arm *A = &arms[a];
        A->choice = malloc(sizeof(int) * (size_t)mc.n_layers);
        if (!A->choice || problem_init(&A->p, &A->s, &A->lc, A->combo_cost, A->combo_cores, j->use_fisher, j->budget,
                                       max_chips) != 0) {
            floe_err_set(err, "design: out of memory");
            goto done;
        }
        if (j->log && per > 1)
            fprintf(j->log, "choice%s%s: %d of the %d combinations at most per layer are on some layer's front\n",
                    n_arms > 1 ? " at " : "", n_arms > 1 ? pair_name(A, pn, sizeof pn) : "", A->p.K, ncombo);
        A->solved = floe_mck_solve(&A->p.m, A->choice, &A->res, &A->why) == 0;
        if (!A->solved)
            continue;
        floe_qconfig qc;
        choice_qconfig(&A->q, &A->lc, &A->p, A->choice, &qc);
        choice_totals(&A->p, &A->lc, A->choice, A->tot);
        floe_err pe; /* a choice the plan cannot map (0 chips reported) */
        if (plan_chips(&mc, &qc, j->mach, &A->chips, &pe) != 0)
            A->chips = 0;
        if (max_chips > 0 && A->chips != A->res.chips) { /* the solver's placement is the plan's */
            floe_err_set(err,
                         "chips: the solver placed the choice at %s on %d chip(s), the compiler's plan on %d (%s): "
                         "the plan no longer places its groups as design/mck.h assumes",
                         pair_name(A, pn, sizeof pn), A->res.chips, A->chips, A->chips ? "planned" : pe.msg);
            goto done;
        }
        if (best < 0 || A->pair_dloss + A->res.value < arms[best].pair_dloss + arms[best].res.value)
            best = a;
    }
    if (best < 0) {
        if (n_arms == 1) {
            *err = arms[0].why;
            goto done;
        }
        char msg[FLOE_ERR_MSG_MAX];
        int o = snprintf(msg, sizeof msg, "no pair of activation and cache widths meets the budgets:");
        for (int a = 0; a < n_arms && o < (int)sizeof msg; a++)
            o += snprintf(msg + o, sizeof msg - (size_t)o, " %s: %s;", pair_name(&arms[a], pn, sizeof pn),
                          arms[a].why.msg);
        floe_err_set(err, "%s", msg);
        goto done;
    }
    arm *B = &arms[best];
    floe_qconfig qc;
    choice_qconfig(&B->q, &B->lc, &B->p, B->choice, &qc);
    r->n_layers = mc.n_layers;
    r->per_linear = per > 1;
    r->abits = B->q.abits, r->kvbits = B->q.kvbits;
    spec_of(&qc, mc.n_layers, ',', r->wbits_layer, sizeof r->wbits_layer);
    r->sensitivity = B->res.value;
    r->pair_dloss = B->pair_dloss;
    r->chips = B->chips;
    r->base_loss = B->s.base_loss;
    memcpy(r->predicted, B->tot, sizeof r->predicted);
    {
        double *x = malloc(sizeof(double) * (size_t)G * B->s.n_widths);
        double *y = malloc(sizeof(double) * (size_t)G * B->s.n_widths);
        int n = 0;
        for (int g = 0; x && y && g < G; g++)
            for (int w = 0; w < B->s.n_widths; w++)
                if (so.widths[w] != j->q.wbits) {
                    x[n] = B->s.measured[(size_t)g * B->s.n_widths + w];
                    y[n++] = B->s.fisher[(size_t)g * B->s.n_widths + w];
                }
        r->spearman = x && y ? floe_spearman(x, y, n) : 0;
        free(x), free(y);
    }
    r->n_pairs = n_arms;
    for (int a = 0; a < n_arms; a++) {
        floe_design_pair *P = &r->pair[a];
        const arm *A = &arms[a];
        P->abits = A->q.abits, P->kvbits = A->q.kvbits, P->solved = A->solved;
        P->base_loss = A->s.base_loss, P->pair_dloss = A->pair_dloss;
        if (A->solved) {
            P->sensitivity = A->res.value, P->total = A->pair_dloss + A->res.value, P->chips = A->chips;
            memcpy(P->predicted, A->tot, sizeof P->predicted);
        } else
            snprintf(P->why, sizeof P->why, "%s", A->why.msg);
    }
    if (write_design_csv(j->out, arms, n_arms, best, j->q.wbits, err) != 0 ||
        floe_gnuplot_optional(write_front(j, arms, n_arms, swept, err), err) != 0)
        goto done;
    r->seconds[2] = floe_now_s() - t0;
    if (j->log) {
        for (int a = 0; n_arms > 1 && a < n_arms; a++) {
            const floe_design_pair *P = &r->pair[a];
            if (P->solved)
                fprintf(j->log,
                        "choice at %s: weights %+.4g, pair %+.4g, total %+.4g (predicted %.4g us, %.4g uJ, %.0f "
                        "bytes, %d chip(s))%s\n",
                        pair_name(&arms[a], pn, sizeof pn), P->sensitivity, P->pair_dloss, P->total, P->predicted[0],
                        P->predicted[1], P->predicted[2], P->chips, a == best ? ": the best" : "");
            else
                fprintf(j->log, "choice at %s: none: %s\n", pair_name(&arms[a], pn, sizeof pn), P->why);
        }
        fprintf(j->log,
                "choice: --wbits-layer %s --abits %d --kvbits %d (total sensitivity %+.4g; predicted %.4g us, %.4g "
                "uJ, %.0f bytes, %d chip(s))\n",
                r->wbits_layer, r->abits, r->kvbits, r->pair_dloss + r->sensitivity, r->predicted[0], r->predicted[1],
                r->predicted[2], r->chips);
    }
    so.q = B->q;
    if (floe_sens_ptq_loss(j->teacher, &train, &val, &so, &qc, &r->ptq_loss, err) != 0)
        goto done;
    if (j->qat_steps > 0) {
        t0 = floe_now_s();
        if (qat_and_check(j, &qc, &val, &mc, &so, r, err) != 0)
            goto done;
        r->seconds[3] = floe_now_s() - t0;
    }
    if (j->deploy) {
        t0 = floe_now_s();
        if (deploy(j, &mc, &qc, r, err) != 0)
            goto done;
        r->seconds[4] = floe_now_s() - t0;
    }
    rc = 0;
done:
    for (int a = 0; a < n_arms; a++)
        arm_free(&arms[a]);
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return rc;
}
