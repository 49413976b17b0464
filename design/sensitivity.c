#include "design/sensitivity.h"

#include <stdlib.h>
#include <string.h>

#include "trainer/block_ap.h"
#include "trainer/model.h"
#include "trainer/qat_model.h"
#include "trainer/qeval.h"
#include "trainer/run_log.h"
#include "trainer/train.h"

void floe_sens_free(floe_sens *s)
{
    free(s->measured), free(s->fisher);
    memset(s, 0, sizeof *s);
}

/* The empirical Fisher diagonal of the teacher: the mean over the calibration batches of the squared
 * gradient of the batch's mean loss, into F[table.total]. */
static int fisher_diag(floe_model *t, const floe_tokens *train, const floe_sens_opts *o, float *F, floe_err *err)
{
    const int B = o->batch, T = o->context;
    int32_t *rows = malloc(sizeof(int32_t) * (size_t)B * (T + 1));
    int32_t *inp = malloc(sizeof(int32_t) * (size_t)B * T), *tgt = malloc(sizeof(int32_t) * (size_t)B * T);
    int rc = -1;
    if (!rows || !inp || !tgt) {
        floe_err_set(err, "sensitivity: out of memory");
        goto done;
    }
    memset(F, 0, sizeof(float) * t->table.total);
    for (int b = 0; b < o->init.batches; b++) {
        /* the calibration's own stream (qat_init.c), so both estimates see the same data */
        if (floe_batch_sample(train, o->init.seed ^ 0xca11b7a7e5eedull, (uint64_t)b, B, T, rows, err) != 0 ||
            floe_model_check_ids(t, rows, (size_t)B * (T + 1), err) != 0)
            goto done;
        for (int r = 0; r < B; r++) {
            memcpy(inp + (size_t)r * T, rows + (size_t)r * (T + 1), sizeof(int32_t) * (size_t)T);
            memcpy(tgt + (size_t)r * T, rows + (size_t)r * (T + 1) + 1, sizeof(int32_t) * (size_t)T);
        }
        floe_model_zero_grad(t);
        floe_model_forward(t, inp, tgt, B, T);
        floe_model_backward(t, 1.0f);
        for (size_t i = 0; i < t->table.total; i++)
            F[i] += t->grads[i] * t->grads[i] / (float)o->init.batches;
    }
    rc = 0;
done:
    free(rows), free(inp), free(tgt);
    return rc;
}

/* 0.5 * sum F dW^2 over layer l's linears (j < 0) or its linear j (FLOE_LIN_*) of the calibrated
 * student s (dW in the teacher's coordinates: the folded gain divided back out). */
static double fisher_term(const floe_qat *s, const float *F, int l, int j)
{
    double sum = 0;
    for (int i = 0; i < s->n_lin; i++) {
        const floe_qat_linear *q = &s->lin[i];
        if (q->layer != l || (j >= 0 && q->kind != floe_blockap_kinds[j]))
            continue;
        const floe_param *w = floe_param_get(&s->table, q->kind, l);
        const float *g =
            q->gain == FLOE_P_KIND_COUNT ? NULL : s->params + floe_param_get(&s->table, q->gain, l)->offset;
        const float *W = s->params + w->offset;
        for (int o = 0; o < q->out; o++)
            for (int c = 0; c < q->in; c++) {
                size_t k = (size_t)o * q->in + c;
                double gc = g ? g[c] : 1.0;
                float what = (float)q->q->w[k] * q->q->s_w[o], wfold = g ? W[k] * g[c] : W[k];
                double d = gc != 0 ? ((double)what - wfold) / gc : 0;
                sum += (double)F[w->offset + k] * d * d;
            }
    }
    return 0.5 * sum;
}

/* Calibrates a student at widths q and scores it; fisher (not NULL) gets the term of layer l (j < 0)
 * or of its linear j. */
static int one(floe_model *t, const floe_tokens *train, const floe_tokens *val, const floe_sens_opts *o,
               const floe_qconfig *q, const float *F, int l, int j, double *loss, double *fisher, floe_err *err)
{
    floe_qat s;
    if (floe_qat_init(&s, &t->cfg, q, o->batch, o->context, err) != 0)
        return -1;
    floe_eval_result r;
    int rc = floe_qat_init_from_teacher(&s, t, train, &o->init, err);
    if (rc == 0)
        rc = floe_qmodel_evaluate(&s.fwd, &s.qm, val, o->val_windows, &r, err);
    if (rc == 0) {
        *loss = r.loss;
        if (fisher)
            *fisher = fisher_term(&s, F, l, j);
    }
    floe_qat_free(&s);
    return rc;
}

int floe_sens_run(const char *teacher_path, const floe_tokens *train, const floe_tokens *val, const floe_sens_opts *o,
                  floe_sens *out, floe_err *err)
{
    memset(out, 0, sizeof *out);
    int has_base = 0;
    for (int w = 0; w < o->n_widths; w++)
        has_base |= o->widths[w] == o->q.wbits;
    if (o->n_widths < 1 || o->n_widths > FLOE_DESIGN_MAX_WIDTHS || !has_base)
        return floe_err_set(err, "sensitivity: 1 to %d candidate widths, the base width W%d among them",
                            FLOE_DESIGN_MAX_WIDTHS, o->q.wbits);
    floe_model t;
    if (floe_model_load(&t, teacher_path, o->batch, o->context, err) != 0) {
        floe_err_prefix(err, "teacher %s", teacher_path);
        return -1;
    }
    const int L = t.cfg.n_layers, K = o->n_widths, per = o->per_linear ? FLOE_LAYER_LINEARS : 1, G = L * per;
    out->n_layers = L, out->n_groups = G, out->n_widths = K;
    out->measured = calloc((size_t)G * K, sizeof(double));
    out->fisher = calloc((size_t)G * K, sizeof(double));
    float *F = malloc(sizeof(float) * t.table.total);
    double *base_f = calloc((size_t)G, sizeof(double)); /* each group's Fisher term at the base width */
    int rc = -1;
    if (!out->measured || !out->fisher || !F || !base_f) {
        floe_err_set(err, "sensitivity: out of memory");
        goto done;
    }
    floe_qconfig q = o->q;
    floe_qconfig_clear_wbits(&q);
    double t0 = floe_now_s();
    if (fisher_diag(&t, train, o, F, err) != 0)
        goto done;
    out->seconds_fisher = floe_now_s() - t0;
    t0 = floe_now_s();
    double f_block = 0;
    if (one(&t, train, val, o, &q, NULL, -1, -1, &out->base_loss, NULL, err) != 0)
        goto done;
    if (o->log)
        fprintf(o->log, "sensitivity: all layers W%d: validation loss %.5f\n", q.wbits, out->base_loss);
    /* the base width's Fisher terms come from the base model (every layer there at the base width) */
    {
        floe_qat s;
        if (floe_qat_init(&s, &t.cfg, &q, o->batch, o->context, err) != 0)
            goto done;
        double f0 = floe_now_s();
        int r = floe_qat_init_from_teacher(&s, &t, train, &o->init, err);
        for (int g = 0; r == 0 && g < G; g++)
            base_f[g] = fisher_term(&s, F, g / per, o->per_linear ? g % per : -1);
        floe_qat_free(&s);
        f_block = floe_now_s() - f0;
        out->seconds_fisher += f_block;
        if (r != 0)
            goto done;
    }
    for (int g = 0; g < G; g++)
        for (int w = 0; w < K; w++) {
            if (o->widths[w] == q.wbits)
                continue;
            const int l = g / per, j = o->per_linear ? g % per : -1;
            floe_qconfig ql = q;
            if (j < 0)
                ql.layer_wbits[l] = (signed char)o->widths[w];
            else
                ql.linear_wbits[l][j] = (signed char)o->widths[w];
            char what[64];
            if (j < 0)
                snprintf(what, sizeof what, "layer %d", l);
            else
                snprintf(what, sizeof what, "layer %d's %s", l, floe_linear_name(j));
            double loss, f;
            if (one(&t, train, val, o, &ql, F, l, j, &loss, &f, err) != 0) {
                floe_err_prefix(err, "sensitivity of %s at W%d", what, o->widths[w]);
                goto done;
            }
            out->measured[(size_t)g * K + w] = loss - out->base_loss;
            out->fisher[(size_t)g * K + w] = f - base_f[g];
            if (o->log)
                fprintf(o->log, "sensitivity: %s W%d: loss %+.4g measured, %+.4g Fisher estimate\n", what, o->widths[w],
                        loss - out->base_loss, f - base_f[g]);
        }
    out->seconds_measured = floe_now_s() - t0 - f_block;
    rc = 0;
done:
    free(F), free(base_f);
    floe_model_free(&t);
    if (rc != 0)
        floe_sens_free(out);
    return rc;
}

int floe_sens_ptq_loss(const char *teacher_path, const floe_tokens *train, const floe_tokens *val,
                       const floe_sens_opts *o, const floe_qconfig *q, double *loss, floe_err *err)
{
    floe_model t; /* calibration and evaluation only: no Fisher, no gradients */
    if (floe_model_load_forward(&t, teacher_path, o->batch, o->context, err) != 0) {
        floe_err_prefix(err, "teacher %s", teacher_path);
        return -1;
    }
    int rc = one(&t, train, val, o, q, NULL, -1, -1, loss, NULL, err);
    floe_model_free(&t);
    return rc;
}
