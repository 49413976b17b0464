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
 * sensitivity and every cost the solver sees (per linear: floe_combo_count of them priced, the rest
 * dropped before the solver). The solver sees every resource per layer, and per linear the budgeted
 * ones (weight bytes too under a chips budget): a resource without a budget constrains nothing, and
 * fewer dimensions keep the partial solutions few. */
typedef struct problem {
    int G, K;           /* groups (layers), choices per group */
    int per_linear;     /* choices are combinations (combo[g * K + k]) rather than widths */
    int *combo;         /* per linear: [G * K] */
    const double *cost; /* per linear: the combinations' costs [count * FLOE_DESIGN_RESOURCES] (borrowed) */
    int slot[FLOE_DESIGN_RESOURCES]; /* the solver's index of each resource, or -1 */
    double *v, *c;
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

/* Does combination a beat b (no more value, no more of any solver resource; on a tie, a first)? */
static int combo_beats(const double *va, const double *ca, int ia, const double *vb, const double *cb, int ib,
                       const problem *p)
{
    int equal = *va == *vb;
    if (*va > *vb)
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

static int problem_init(problem *p, const floe_sens *s, const floe_layer_cost *lc, const double *combo_cost, int fisher,
                        const double *budget, int chips)
{
    memset(p, 0, sizeof *p);
    const double *sv = fisher ? s->fisher : s->measured;
    p->per_linear = combo_cost != NULL, p->cost = combo_cost, p->G = s->n_layers;
    int R = 0;
    for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++) {
        const int seen = !p->per_linear || !isinf(budget[r]) || (r == FLOE_DESIGN_MEMORY && chips > 0);
        p->slot[r] = seen ? R++ : -1;
    }
    if (R == 0)
        p->slot[FLOE_DESIGN_MEMORY] = R++;
    if (!p->per_linear) {
        p->K = lc->n_widths;
    } else { /* each layer's combinations that no other beats, padded to one count with its first */
        const int nc = floe_combo_count(s->n_widths);
        double *val = malloc(sizeof(double) * (size_t)nc);
        int *keep = malloc(sizeof(int) * (size_t)nc * p->G), *cnt = calloc((size_t)p->G, sizeof(int));
        if (!val || !keep || !cnt) {
            free(val), free(keep), free(cnt);
            return -1;
        }
        for (int l = 0; l < p->G; l++) {
            for (int c = 0; c < nc; c++)
                val[c] = combo_value(s, sv, l, c);
            for (int a = 0; a < nc; a++) {
                int beaten = 0;
                for (int b = 0; b < nc && !beaten; b++)
                    beaten = b != a && combo_beats(&val[b], combo_cost + (size_t)b * FLOE_DESIGN_RESOURCES, b, &val[a],
                                                   combo_cost + (size_t)a * FLOE_DESIGN_RESOURCES, a, p);
                if (!beaten)
                    keep[(size_t)l * nc + cnt[l]++] = a;
            }
            p->K = cnt[l] > p->K ? cnt[l] : p->K;
        }
        p->combo = malloc(sizeof(int) * (size_t)p->G * p->K);
        if (p->combo)
            for (int l = 0; l < p->G; l++)
                for (int k = 0; k < p->K; k++)
                    p->combo[(size_t)l * p->K + k] = keep[(size_t)l * nc + (k < cnt[l] ? k : 0)];
        free(val), free(keep), free(cnt);
        if (!p->combo)
            return -1;
    }
    p->v = malloc(sizeof(double) * (size_t)p->G * p->K);
    p->c = malloc(sizeof(double) * (size_t)p->G * p->K * R);
    if (!p->v || !p->c)
        return -1;
    for (int g = 0; g < p->G; g++)
        for (int k = 0; k < p->K; k++) {
            size_t i = (size_t)g * p->K + k;
            p->v[i] = p->per_linear ? combo_value(s, sv, g, p->combo[i]) : sv[i];
            for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
                if (p->slot[r] >= 0)
                    p->c[i * R + p->slot[r]] = choice_cost(p, lc, g, k)[r];
        }
    p->m.n = p->G, p->m.k = p->K, p->m.R = R, p->m.v = p->v, p->m.c = p->c;
    for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
        if (p->slot[r] >= 0) {
            p->m.fixed[p->slot[r]] = lc->fixed[r];
            p->m.budget[p->slot[r]] = budget[r];
            p->m.names[p->slot[r]] = RES_NAME[r];
        }
    return 0;
}

static void problem_free(problem *p) { free(p->v), free(p->c), free(p->combo); }

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

/* design.csv: a row per layer (per linear: per linear of each layer) and width, its sensitivities,
 * its costs (per linear: the change from the layer all at the base width to that linear alone at w,
 * a marginal, since a linear has no cost of its own) and whether the choice has it. */
static int write_design_csv(const char *dir, const floe_sens *s, const floe_layer_cost *lc, const problem *p,
                            const int *choice, int base_bits, floe_err *err)
{
    char path[4300];
    floe_path_join(path, sizeof path, dir, "design.csv");
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    const int per = s->n_groups / s->n_layers;
    int b0 = 0;
    for (int w = 0; w < lc->n_widths; w++)
        b0 = lc->widths[w] == base_bits ? w : b0;
    fprintf(af.fp, "layer,linear,wbits,measured_dloss,fisher_dloss,latency_us,energy_uj,memory_bytes,chosen\n");
    for (int g = 0; g < s->n_groups; g++)
        for (int w = 0; w < s->n_widths; w++) {
            const size_t i = (size_t)g * s->n_widths + w;
            const int l = g / per, jl = g % per;
            double c[FLOE_DESIGN_RESOURCES];
            int chosen = choice[l] == w;
            for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
                c[r] = per == 1 ? lc->layer[w][r]
                                : p->cost[(size_t)combo_of(b0, jl, w, lc->n_widths) * FLOE_DESIGN_RESOURCES + r] -
                                      p->cost[(size_t)combo_of(b0, -1, 0, lc->n_widths) * FLOE_DESIGN_RESOURCES + r];
            if (per > 1)
                chosen = floe_combo_digit(p->combo[(size_t)l * p->K + choice[l]], jl, lc->n_widths) == w;
            fprintf(af.fp, "%d,%s,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%d\n", l, per > 1 ? floe_linear_name(jl) : "all",
                    lc->widths[w], s->measured[i], s->fisher[i], c[FLOE_DESIGN_LATENCY], c[FLOE_DESIGN_ENERGY],
                    c[FLOE_DESIGN_MEMORY], chosen);
        }
    fprintf(af.fp, "fixed,,,,,%.9g,%.9g,%.9g,\n", lc->fixed[FLOE_DESIGN_LATENCY], lc->fixed[FLOE_DESIGN_ENERGY],
            lc->fixed[FLOE_DESIGN_MEMORY]);
    return floe_afile_commit(&af, err);
}

/* The front: the first budgeted resource swept from its smallest achievable total to the all-widest
 * model's, the other budgets held; each point the optimum. */
static int write_front(const floe_design_job *j, problem *p, const floe_layer_cost *lc, int swept, floe_err *err)
{
    char path[4300], png[4300], q[8700];
    floe_path_join(path, sizeof path, j->out, "front.csv");
    floe_path_join(png, sizeof png, j->out, "front.png");
    const int n = j->front_points > 1 ? j->front_points : 12, at = p->slot[swept];
    double lo = floe_mck_min_cost(&p->m, at), hi = p->m.fixed[at];
    for (int g = 0; g < p->G; g++) {
        double m = 0;
        for (int k = 0; k < p->K; k++)
            m = fmax(m, choice_cost(p, lc, g, k)[swept]);
        hi += m;
    }
    int *choice = malloc(sizeof(int) * (size_t)p->G);
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
    fprintf(af.fp, "budget_%s,total_sensitivity,latency_us,energy_uj,memory_bytes,wbits_layer\n", RES_NAME[swept]);
    floe_mck m = p->m;
    double ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < n; i++) {
        m.budget[at] = lo + (hi - lo) * i / (n - 1);
        floe_mck_result res;
        floe_err e2;
        if (floe_mck_solve(&m, choice, &res, &e2) != 0)
            continue; /* the other budgets exclude this point */
        floe_qconfig qc;
        double tot[FLOE_DESIGN_RESOURCES];
        choice_qconfig(&j->q, lc, p, choice, &qc);
        choice_totals(p, lc, choice, tot);
        spec_of(&qc, p->G, ' ', spec, 1 << 16);
        fprintf(af.fp, "%.9g,%.9g,%.9g,%.9g,%.9g,%s\n", m.budget[at], res.value, tot[0], tot[1], tot[2], spec);
        ylo = fmin(ylo, res.value), yhi = fmax(yhi, res.value);
    }
    free(choice), free(spec);
    if (floe_afile_commit(&af, err) != 0)
        return -1;
    char range[256], script[10000];
    floe_gnuplot_range(range, sizeof range, "y", ylo, yhi);
    floe_gnuplot_quote(q, sizeof q, path);
    snprintf(script, sizeof script,
             "set datafile separator ','\nset key off\nset grid\nset xlabel '%s (chosen model)'\n"
             "set ylabel 'total sensitivity (validation loss change, nats)'\nset title 'floe design: the best choice "
             "per budget'\n%splot %s using %d:2 with linespoints pt 7\n",
             RES_NAME[swept], range, q, 3 + swept);
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

/* The chips the compiler's plan needs for widths q: the plan floe_deploy_check makes with its
 * defaults (a T-token prefill, a cache for the prompt and up to 32 decode steps, at least T + N). */
static int plan_chips(const floe_model_config *mc, const floe_qconfig *q, const floe_machine *mach, int *chips,
                      floe_err *err)
{
    const floe_deploy_check_opts d = floe_deploy_check_defaults();
    const int room = mc->context - d.tokens, steps = room < 32 ? room : 32;
    const int cap = d.tokens + steps > d.tokens + d.decode ? d.tokens + steps : d.tokens + d.decode;
    floe_compile_opts co = {.tokens = d.tokens, .kv_tokens = cap};
    floe_plan_summary sum;
    if (floe_compile_plan(mc, q, mach, &co, &sum, err) != 0)
        return -1;
    *chips = sum.chips;
    return 0;
}

/* The optimum within the additive budgets; with a chips budget, while the optimum's plan needs more
 * chips, the weight-bytes budget is lowered below the optimum's and the problem solved again (chips
 * are not a sum over layers; fewer weight bytes need fewer or as many cores). qc gets the widths. */
static int solve_within_chips(const floe_design_job *j, const floe_model_config *mc, problem *p,
                              const floe_layer_cost *lc, int *choice, floe_mck_result *res, double *tot,
                              floe_qconfig *qc, floe_design_result *r, floe_err *err)
{
    floe_mck m = p->m;
    for (;;) {
        if (floe_mck_solve(&m, choice, res, err) != 0) {
            if (r->chips_rounds)
                floe_err_prefix(err, "within %d chip(s), after %d round(s) of lower weight bytes", j->chips,
                                r->chips_rounds);
            return -1;
        }
        choice_qconfig(&j->q, lc, p, choice, qc);
        choice_totals(p, lc, choice, tot);
        floe_err pe; /* a choice the plan cannot map (0 chips reported) is over any chips budget */
        const int mapped = plan_chips(mc, qc, j->mach, &r->chips, &pe) == 0;
        if (!mapped)
            r->chips = 0;
        if (j->chips <= 0 || (mapped && r->chips <= j->chips))
            return 0;
        r->chips_rounds++;
        if (j->log && mapped)
            fprintf(j->log,
                    "chips: the optimum at %.0f bytes of weights needs %d chip(s) > %d: below that many bytes\n",
                    tot[FLOE_DESIGN_MEMORY], r->chips, j->chips);
        else if (j->log)
            fprintf(j->log, "chips: the optimum at %.0f bytes of weights does not map (%s): below that many bytes\n",
                    tot[FLOE_DESIGN_MEMORY], pe.msg);
        /* weight bytes are elements times b / 8 with b even, multiples of a quarter byte: an eighth
           below excludes this total and no smaller one */
        m.budget[p->slot[FLOE_DESIGN_MEMORY]] = tot[FLOE_DESIGN_MEMORY] - 0.125;
    }
}

int floe_design_run(const floe_design_job *j, floe_design_result *r, floe_err *err)
{
    memset(r, 0, sizeof *r);
    if (!j->energy && !isinf(j->budget[FLOE_DESIGN_ENERGY]))
        return floe_err_set(err, "an energy budget needs the machine's energy table (--energy)");
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
    floe_sens s = {0};
    floe_layer_cost lc;
    problem p = {0};
    int *choice = NULL, rc = -1;
    double *combo_cost = NULL;
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
    if (j->log)
        fprintf(j->log, "design: %s (%d layers) on %s, base width W%d, candidates W2 W4 W8, per %s\n", mc.name,
                mc.n_layers, j->machine_name ? j->machine_name : "the machine", j->q.wbits,
                per > 1 ? "linear" : "layer");
    /* the cost first: it takes milliseconds (per linear: seconds), and an impossible budget is
       refused before the measurements */
    double t0 = floe_now_s();
    if (floe_layer_cost_price(&mc, &j->q, j->q.wbits, so.widths, so.n_widths, j->mach, j->energy, &lc, err) != 0)
        goto done;
    const int ncombo = floe_combo_count(so.n_widths);
    if (per > 1) {
        combo_cost = malloc(sizeof(double) * (size_t)ncombo * FLOE_DESIGN_RESOURCES);
        if (!combo_cost) {
            floe_err_set(err, "design: out of memory");
            goto done;
        }
        if (floe_combo_cost_price(&mc, &j->q, &lc, j->mach, j->energy, combo_cost, err) != 0)
            goto done;
    }
    r->seconds[1] = floe_now_s() - t0;
    double least[FLOE_DESIGN_RESOURCES], most[FLOE_DESIGN_RESOURCES]; /* one layer's cheapest and dearest */
    for (int k = 0; k < FLOE_DESIGN_RESOURCES; k++) {
        least[k] = INFINITY, most[k] = 0;
        for (int c = 0; c < (per > 1 ? ncombo : lc.n_widths); c++) {
            const double x = per > 1 ? combo_cost[(size_t)c * FLOE_DESIGN_RESOURCES + k] : lc.layer[c][k];
            least[k] = fmin(least[k], x), most[k] = fmax(most[k], x);
        }
    }
    if (j->log) {
        for (int w = 0; w < lc.n_widths; w++)
            fprintf(
                j->log,
                "cost: a layer at W%d: %.4g us, %.4g uJ, %.0f bytes of weights (uniform W%d: %.4g us, %d chip(s))\n",
                lc.widths[w], lc.layer[w][0], lc.layer[w][1], lc.layer[w][2], lc.widths[w], lc.uniform[w][0],
                lc.chips[w]);
        if (per > 1)
            fprintf(j->log,
                    "cost: %d combinations of a layer's seven widths, each priced on its own mapping: %.4g to %.4g "
                    "us, %.4g to %.4g uJ a layer (%.2f s)\n",
                    ncombo, least[0], most[0], least[1], most[1], r->seconds[1]);
    }
    for (int k = 0; k < FLOE_DESIGN_RESOURCES; k++) {
        const double smallest = lc.fixed[k] + mc.n_layers * least[k];
        if (!(smallest <= j->budget[k] * (1 + 1e-12))) {
            floe_err_set(err, "budget %s <= %g is impossible: the smallest achievable is %g", RES_NAME[k], j->budget[k],
                         smallest);
            goto done;
        }
    }
    if (j->chips > 0) { /* the narrowest weights need the fewest cores, so the fewest chips */
        floe_qconfig qn = j->q;
        floe_qconfig_clear_wbits(&qn);
        qn.wbits = lc.widths[0];
        int fewest;
        if (plan_chips(&mc, &qn, j->mach, &fewest, err) != 0) {
            floe_err_prefix(err, "planning the narrowest widths");
            goto done;
        }
        if (fewest > j->chips) {
            floe_err_set(err, "budget chips <= %d is impossible: the smallest achievable is %d (every weight at W%d)",
                         j->chips, fewest, lc.widths[0]);
            goto done;
        }
    }
    t0 = floe_now_s();
    if (floe_sens_run(j->teacher, &train, &val, &so, &s, err) != 0)
        goto done;
    r->seconds[0] = floe_now_s() - t0;
    r->base_loss = s.base_loss;
    {
        double *x = malloc(sizeof(double) * (size_t)G * s.n_widths);
        double *y = malloc(sizeof(double) * (size_t)G * s.n_widths);
        int n = 0;
        for (int g = 0; x && y && g < G; g++)
            for (int w = 0; w < s.n_widths; w++)
                if (so.widths[w] != j->q.wbits) {
                    x[n] = s.measured[(size_t)g * s.n_widths + w];
                    y[n++] = s.fisher[(size_t)g * s.n_widths + w];
                }
        r->spearman = x && y ? floe_spearman(x, y, n) : 0;
        free(x), free(y);
    }
    if (j->log)
        fprintf(j->log, "sensitivity: %.2f s measured, %.2f s Fisher; Spearman rank correlation %.3f\n",
                s.seconds_measured, s.seconds_fisher, r->spearman);
    t0 = floe_now_s();
    choice = malloc(sizeof(int) * (size_t)mc.n_layers);
    if (!choice || problem_init(&p, &s, &lc, combo_cost, j->use_fisher, j->budget, j->chips) != 0) {
        floe_err_set(err, "design: out of memory");
        goto done;
    }
    if (j->log && per > 1)
        fprintf(j->log, "choice: %d of the %d combinations at most per layer are on some layer's front\n", p.K, ncombo);
    floe_mck_result res;
    floe_qconfig qc;
    if (solve_within_chips(j, &mc, &p, &lc, choice, &res, r->predicted, &qc, r, err) != 0)
        goto done;
    r->n_layers = mc.n_layers;
    r->per_linear = per > 1;
    spec_of(&qc, mc.n_layers, ',', r->wbits_layer, sizeof r->wbits_layer);
    r->sensitivity = res.value;
    if (write_design_csv(j->out, &s, &lc, &p, choice, j->q.wbits, err) != 0 || write_front(j, &p, &lc, swept, err) != 0)
        goto done;
    r->seconds[2] = floe_now_s() - t0;
    if (j->log)
        fprintf(
            j->log,
            "choice: --wbits-layer %s (total sensitivity %+.4g; predicted %.4g us, %.4g uJ, %.0f bytes, %d chip(s))\n",
            r->wbits_layer, r->sensitivity, r->predicted[0], r->predicted[1], r->predicted[2], r->chips);
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
    free(choice), free(combo_cost);
    problem_free(&p);
    floe_sens_free(&s);
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return rc;
}
