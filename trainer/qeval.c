#include "trainer/qeval.h"

#include <math.h>
#include <stdlib.h>

int floe_qmodel_evaluate(floe_qfwd *f, const floe_qmodel *m, const floe_tokens *val, size_t max_windows,
                         floe_eval_result *r, floe_err *err)
{
    const int B = f->maxB, T = f->maxT, V = m->cfg.vocab_size;
    r->loss = r->ppl = r->accuracy = 0;
    r->tokens = 0;
    floe_val_iter it;
    if (floe_val_iter_init(&it, val, B, T, err) != 0)
        return -1;
    int32_t *rows = malloc(sizeof(int32_t) * (size_t)B * (T + 1)), *inp = malloc(sizeof(int32_t) * (size_t)B * T);
    double *row_loss = malloc(sizeof(double) * (size_t)B * T);
    int *row_hit = malloc(sizeof(int) * (size_t)B * T);
    if (!rows || !inp || !row_loss || !row_hit) {
        free(rows), free(inp), free(row_loss), free(row_hit);
        return floe_err_set(err, "evaluation: out of memory");
    }
    double sum = 0.0;
    size_t hits = 0, n = 0, windows = 0;
    int got, rc = 0;
    const double sl = m->s_logit;
    while ((got = floe_val_iter_next(&it, rows)) > 0 && (max_windows == 0 || windows < max_windows)) {
        for (int b = 0; b < got; b++)
            for (int t = 0; t < T; t++) {
                int32_t id = rows[(size_t)b * (T + 1) + t];
                if (id < 0 || id >= V) {
                    rc = floe_err_set(err, "validation token %d outside the vocabulary of %d", id, V);
                    goto out;
                }
                inp[(size_t)b * T + t] = id;
            }
        if ((rc = floe_qfwd_forward(f, m, inp, got, T, err)) != 0)
            goto out;
#pragma omp parallel for schedule(static)
        for (int i = 0; i < got * T; i++) {
            const int16_t *z = f->logits + (size_t)i * V;
            int tgt = rows[(size_t)(i / T) * (T + 1) + i % T + 1];
            int best = 0, mx = z[0];
            for (int v = 1; v < V; v++)
                if (z[v] > mx)
                    mx = z[v], best = v;
            double s = 0.0;
            for (int v = 0; v < V; v++)
                s += exp((z[v] - mx) * sl);
            row_loss[i] = log(s) - (z[tgt] - mx) * sl;
            row_hit[i] = best == tgt;
        }
        for (int i = 0; i < got * T; i++) {
            sum += row_loss[i];
            hits += (size_t)row_hit[i];
        }
        n += (size_t)got * T;
        windows += (size_t)got;
    }
    if (n == 0)
        rc = floe_err_set(err, "the validation split holds no window of %d tokens", T + 1);
    else {
        r->tokens = n;
        r->loss = sum / (double)n;
        r->ppl = exp(r->loss);
        r->accuracy = (double)hits / (double)n;
    }
out:
    free(rows), free(inp), free(row_loss), free(row_hit);
    return rc;
}
