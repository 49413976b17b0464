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
#include "verify/deploy_check.h"
#include "verify/qat_verify.h"

static const char *const RES_NAME[FLOE_DESIGN_RESOURCES] = {"latency_us", "energy_uj", "memory_bytes"};
static const char *const RES_KEY[FLOE_DESIGN_RESOURCES] = {"latency", "energy", "memory"};

int floe_design_parse_budget(const char *spec, double limit[FLOE_DESIGN_RESOURCES], floe_err *err)
{
    for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
        limit[r] = INFINITY;
    if (!spec || !*spec)
        return floe_err_set(err, "--budget: give latency=US, energy=UJ or memory=BYTES (comma-separated)");
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
        }
        if (r < 0)
            return floe_err_set(err, "--budget: item '%.*s': expected latency=US, energy=UJ or memory=BYTES", (int)n,
                                p);
        char *tail;
        double v = strtod(eq + 1, &tail);
        if (tail == eq + 1 || *tail || !(v > 0) || !isfinite(v))
            return floe_err_set(err, "--budget: %s=%s: need a positive number", item, eq + 1);
        if (!isinf(limit[r]))
            return floe_err_set(err, "--budget: %s is given twice", item);
        limit[r] = v;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* The choice problem over the layers: values from sens (measured or Fisher), costs from lc. */
typedef struct problem {
    int L, K;
    double *v, *c;
    floe_mck m;
} problem;

static int problem_init(problem *p, const floe_sens *s, const floe_layer_cost *lc, int fisher, const double *budget)
{
    p->L = s->n_layers, p->K = s->n_widths;
    p->v = malloc(sizeof(double) * (size_t)p->L * p->K);
    p->c = malloc(sizeof(double) * (size_t)p->L * p->K * FLOE_DESIGN_RESOURCES);
    if (!p->v || !p->c)
        return -1;
    for (int l = 0; l < p->L; l++)
        for (int w = 0; w < p->K; w++) {
            size_t i = (size_t)l * p->K + w;
            p->v[i] = fisher ? s->fisher[i] : s->measured[i];
            for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
                p->c[i * FLOE_DESIGN_RESOURCES + r] = lc->layer[w][r];
        }
    memset(&p->m, 0, sizeof p->m);
    p->m.n = p->L, p->m.k = p->K, p->m.R = FLOE_DESIGN_RESOURCES, p->m.v = p->v, p->m.c = p->c;
    for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++) {
        p->m.fixed[r] = lc->fixed[r];
        p->m.budget[r] = budget[r];
        p->m.names[r] = RES_NAME[r];
    }
    return 0;
}

static void format_choice(const floe_design_job *j, const floe_layer_cost *lc, const int *choice, int L,
                          floe_design_result *r)
{
    (void)j;
    int o = 0;
    r->wbits_layer[0] = '\0';
    for (int l = 0; l < L; l++) {
        r->wbits[l] = lc->widths[choice[l]];
        o += snprintf(r->wbits_layer + o, sizeof r->wbits_layer - (size_t)o, "%s%d=%d", l ? "," : "", l, r->wbits[l]);
        if (o >= (int)sizeof r->wbits_layer)
            o = (int)sizeof r->wbits_layer - 1;
    }
}

static int write_design_csv(const char *dir, const floe_sens *s, const floe_layer_cost *lc, const int *choice,
                            floe_err *err)
{
    char path[4300];
    floe_path_join(path, sizeof path, dir, "design.csv");
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    fprintf(af.fp, "layer,wbits,measured_dloss,fisher_dloss,latency_us,energy_uj,memory_bytes,chosen\n");
    for (int l = 0; l < s->n_layers; l++)
        for (int w = 0; w < s->n_widths; w++) {
            size_t i = (size_t)l * s->n_widths + w;
            fprintf(af.fp, "%d,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%d\n", l, lc->widths[w], s->measured[i], s->fisher[i],
                    lc->layer[w][FLOE_DESIGN_LATENCY], lc->layer[w][FLOE_DESIGN_ENERGY],
                    lc->layer[w][FLOE_DESIGN_MEMORY], choice[l] == w);
        }
    fprintf(af.fp, "fixed,,,,%.9g,%.9g,%.9g,\n", lc->fixed[FLOE_DESIGN_LATENCY], lc->fixed[FLOE_DESIGN_ENERGY],
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
    const int n = j->front_points > 1 ? j->front_points : 12;
    double lo = floe_mck_min_cost(&p->m, swept), hi = p->m.fixed[swept];
    for (int l = 0; l < p->L; l++) {
        double m = 0;
        for (int w = 0; w < p->K; w++)
            m = fmax(m, lc->layer[w][swept]);
        hi += m;
    }
    int *choice = malloc(sizeof(int) * (size_t)p->L);
    if (!choice)
        return floe_err_set(err, "front: out of memory");
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0) {
        free(choice);
        return -1;
    }
    fprintf(af.fp, "budget_%s,total_sensitivity,latency_us,energy_uj,memory_bytes,wbits_layer\n", RES_NAME[swept]);
    floe_mck m = p->m;
    double ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < n; i++) {
        m.budget[swept] = lo + (hi - lo) * i / (n - 1);
        floe_mck_result res;
        floe_err e2;
        if (floe_mck_solve(&m, choice, &res, &e2) != 0)
            continue; /* the other budgets exclude this point */
        fprintf(af.fp, "%.9g,%.9g,%.9g,%.9g,%.9g,", m.budget[swept], res.value, res.cost[0], res.cost[1], res.cost[2]);
        for (int l = 0; l < p->L; l++)
            fprintf(af.fp, "%s%d=%d", l ? " " : "", l, lc->widths[choice[l]]);
        fprintf(af.fp, "\n");
        ylo = fmin(ylo, res.value), yhi = fmax(yhi, res.value);
    }
    free(choice);
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

int floe_design_run(const floe_design_job *j, floe_design_result *r, floe_err *err)
{
    memset(r, 0, sizeof *r);
    if (!j->energy && !isinf(j->budget[FLOE_DESIGN_ENERGY]))
        return floe_err_set(err, "an energy budget needs the machine's energy table (--energy)");
    int swept = -1;
    for (int k = FLOE_DESIGN_RESOURCES - 1; k >= 0; k--)
        if (!isinf(j->budget[k]))
            swept = k;
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
    so.init.method = FLOE_QINIT_CALIB;
    so.init.batches = j->calib_batches > 0 ? j->calib_batches : 2;
    if (j->log)
        fprintf(j->log, "design: %s (%d layers) on %s, base width W%d, candidates W2 W4 W8\n", mc.name, mc.n_layers,
                j->machine_name ? j->machine_name : "the machine", j->q.wbits);
    /* the cost first: it takes milliseconds, and an impossible budget is refused before the
       measurements */
    double t0 = floe_now_s();
    if (floe_layer_cost_price(&mc, &j->q, j->q.wbits, so.widths, so.n_widths, j->mach, j->energy, &lc, err) != 0)
        goto done;
    r->seconds[1] = floe_now_s() - t0;
    if (j->log)
        for (int w = 0; w < lc.n_widths; w++)
            fprintf(
                j->log,
                "cost: a layer at W%d: %.4g us, %.4g uJ, %.0f bytes of weights (uniform W%d: %.4g us, %d chip(s))\n",
                lc.widths[w], lc.layer[w][0], lc.layer[w][1], lc.layer[w][2], lc.widths[w], lc.uniform[w][0],
                lc.chips[w]);
    for (int k = 0; k < FLOE_DESIGN_RESOURCES; k++) {
        double least = lc.fixed[k];
        for (int l = 0; l < mc.n_layers; l++) {
            double m = INFINITY;
            for (int w = 0; w < lc.n_widths; w++)
                m = fmin(m, lc.layer[w][k]);
            least += m;
        }
        if (!(least <= j->budget[k] * (1 + 1e-12))) {
            floe_err_set(err, "budget %s <= %g is impossible: the smallest achievable is %g", RES_NAME[k], j->budget[k],
                         least);
            goto done;
        }
    }
    t0 = floe_now_s();
    if (floe_sens_run(j->teacher, &train, &val, &so, &s, err) != 0)
        goto done;
    r->seconds[0] = floe_now_s() - t0;
    r->base_loss = s.base_loss;
    {
        double *x = malloc(sizeof(double) * (size_t)s.n_layers * s.n_widths);
        double *y = malloc(sizeof(double) * (size_t)s.n_layers * s.n_widths);
        int n = 0;
        for (int l = 0; x && y && l < s.n_layers; l++)
            for (int w = 0; w < s.n_widths; w++)
                if (so.widths[w] != j->q.wbits) {
                    x[n] = s.measured[(size_t)l * s.n_widths + w];
                    y[n++] = s.fisher[(size_t)l * s.n_widths + w];
                }
        r->spearman = x && y ? floe_spearman(x, y, n) : 0;
        free(x), free(y);
    }
    if (j->log)
        fprintf(j->log, "sensitivity: %.2f s measured, %.2f s Fisher; Spearman rank correlation %.3f\n",
                s.seconds_measured, s.seconds_fisher, r->spearman);
    t0 = floe_now_s();
    choice = malloc(sizeof(int) * (size_t)mc.n_layers);
    if (!choice || problem_init(&p, &s, &lc, j->use_fisher, j->budget) != 0) {
        floe_err_set(err, "design: out of memory");
        goto done;
    }
    floe_mck_result res;
    if (floe_mck_solve(&p.m, choice, &res, err) != 0)
        goto done;
    r->n_layers = mc.n_layers;
    format_choice(j, &lc, choice, mc.n_layers, r);
    r->sensitivity = res.value;
    for (int k = 0; k < FLOE_DESIGN_RESOURCES; k++)
        r->predicted[k] = res.cost[k];
    if (write_design_csv(j->out, &s, &lc, choice, err) != 0 || write_front(j, &p, &lc, swept, err) != 0)
        goto done;
    r->seconds[2] = floe_now_s() - t0;
    if (j->log)
        fprintf(j->log, "choice: --wbits-layer %s (total sensitivity %+.4g; predicted %.4g us, %.4g uJ, %.0f bytes)\n",
                r->wbits_layer, r->sensitivity, r->predicted[0], r->predicted[1], r->predicted[2]);
    floe_qconfig qc = j->q;
    for (int l = 0; l < mc.n_layers; l++)
        qc.layer_wbits[l] = (signed char)r->wbits[l];
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
    free(choice), free(p.v), free(p.c);
    floe_sens_free(&s);
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return rc;
}
