#include "trainer/lm_score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/file_read.h"
#include "models/qmodel_io.h"
#include "models/token_file.h"
#include "trainer/train.h"

typedef struct lm_owned {
    floe_model fp;
    floe_qmodel qm;
    floe_qfwd qf;
    int have_fp, have_qm, have_qf;
} lm_owned;

floe_lm floe_lm_float(floe_model *m) { return (floe_lm){m, NULL, NULL, m->cfg.vocab_size, m->maxT, NULL}; }

floe_lm floe_lm_integer(floe_qfwd *f, const floe_qmodel *qm)
{
    return (floe_lm){NULL, f, qm, qm->cfg.vocab_size, f->maxT, NULL};
}

void floe_lm_close(floe_lm *lm)
{
    lm_owned *o = lm->owned;
    if (o) {
        if (o->have_fp)
            floe_model_free(&o->fp);
        if (o->have_qf)
            floe_qfwd_free(&o->qf);
        if (o->have_qm)
            floe_qmodel_free(&o->qm);
        free(o);
    }
    memset(lm, 0, sizeof *lm);
}

int floe_lm_open(floe_lm *lm, const char *ckpt, const char *qmodel, int maxT, floe_err *err)
{
    memset(lm, 0, sizeof *lm);
    lm_owned *o = calloc(1, sizeof *o);
    if (!o)
        return floe_err_set(err, "out of memory");
    lm->owned = o;
    if (ckpt) {
        if (floe_model_load_forward(&o->fp, ckpt, 1, maxT, err) != 0) {
            floe_lm_close(lm);
            return -1;
        }
        o->have_fp = 1;
        *lm = floe_lm_float(&o->fp);
    } else {
        if (floe_qmodel_load(&o->qm, qmodel, err) != 0) {
            floe_lm_close(lm);
            return -1;
        }
        o->have_qm = 1;
        if (floe_qfwd_init(&o->qf, &o->qm.cfg, 1, maxT > 0 ? maxT : o->qm.cfg.context, err) != 0) {
            floe_err_prefix(err, "%s", qmodel);
            floe_lm_close(lm);
            return -1;
        }
        o->have_qf = 1;
        *lm = floe_lm_integer(&o->qf, &o->qm);
    }
    lm->owned = o;
    return 0;
}

/* log-softmax at the target and whether it is the (first) argmax, in double. */
#define LOGP_ROW(z, V, tgt, scale, logp, hit)                                                                          \
    do {                                                                                                               \
        int best_ = 0;                                                                                                 \
        for (int v_ = 1; v_ < (V); v_++)                                                                               \
            if ((z)[v_] > (z)[best_])                                                                                  \
                best_ = v_;                                                                                            \
        double mx_ = (double)(z)[best_] * (scale), s_ = 0.0;                                                           \
        for (int v_ = 0; v_ < (V); v_++)                                                                               \
            s_ += exp((double)(z)[v_] * (scale)-mx_);                                                                  \
        (logp) = (double)(z)[(tgt)] * (scale)-mx_ - log(s_);                                                           \
        (hit) = best_ == (tgt);                                                                                        \
    } while (0)

int floe_lm_logprobs(floe_lm *lm, const int32_t *ids, size_t n, double *logp, int *hit, floe_err *err)
{
    if (n < 2 || n > (size_t)lm->maxT + 1)
        return floe_err_set(err, "scoring: a sequence of %zu tokens, outside 2 .. %d", n, lm->maxT + 1);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= lm->vocab)
            return floe_err_set(err, "scoring: token %zu is %d, outside the model's vocabulary of %d", i, ids[i],
                                lm->vocab);
    const int T = (int)(n - 1), V = lm->vocab;
    if (lm->fp) {
        floe_model_forward(lm->fp, ids, NULL, 1, T);
        const float *z = floe_model_logits(lm->fp);
#pragma omp parallel for schedule(static)
        for (int t = 0; t < T; t++) {
            int h;
            LOGP_ROW(z + (size_t)t * V, V, ids[t + 1], 1.0, logp[t], h);
            if (hit)
                hit[t] = h;
        }
    } else {
        if (floe_qfwd_forward(lm->qf, lm->qm, ids, 1, T, err) != 0)
            return -1;
        const int16_t *z = lm->qf->logits;
        const double sl = lm->qm->s_logit;
#pragma omp parallel for schedule(static)
        for (int t = 0; t < T; t++) {
            int h;
            LOGP_ROW(z + (size_t)t * V, V, ids[t + 1], sl, logp[t], h);
            if (hit)
                hit[t] = h;
        }
    }
    return 0;
}

int floe_lm_perplexity(floe_lm *lm, const floe_tokens *s, int context, int stride, floe_ppl_result *r, floe_err *err)
{
    memset(r, 0, sizeof *r);
    if (context < 2 || context > lm->maxT + 1)
        return floe_err_set(err, "perplexity: context %d outside 2 .. %d (the model reads context - 1 tokens)", context,
                            lm->maxT + 1);
    if (stride < 1 || stride > context)
        return floe_err_set(err, "perplexity: stride %d outside 1 .. context %d", stride, context);
    if (s->n < 2)
        return floe_err_set(err, "perplexity: %zu tokens, at least 2 needed", s->n);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)context);
    double *logp = malloc(sizeof(double) * (size_t)context);
    int *hit = malloc(sizeof(int) * (size_t)context);
    int rc = 0;
    if (!ids || !logp || !hit)
        rc = floe_err_set(err, "perplexity: out of memory");
    double nll = 0.0;
    size_t hits = 0, prev_end = 0;
    for (size_t begin = 0; rc == 0; begin += (size_t)stride) {
        size_t end = begin + (size_t)context < s->n ? begin + (size_t)context : s->n;
        floe_tokens_copy(s, begin, end - begin, ids);
        if ((rc = floe_lm_logprobs(lm, ids, end - begin, logp, hit, err)) != 0)
            break;
        size_t first = prev_end > begin + 1 ? prev_end : begin + 1;
        for (size_t k = first; k < end; k++) { /* token k is logp[k - begin - 1] */
            nll -= logp[k - begin - 1];
            hits += (size_t)hit[k - begin - 1];
        }
        r->tokens += end - first;
        r->windows++;
        prev_end = end;
        if (end == s->n)
            break;
    }
    free(ids), free(logp), free(hit);
    if (rc != 0)
        return -1;
    r->nll = nll;
    r->loss = nll / (double)r->tokens;
    r->ppl = exp(r->loss);
    r->accuracy = (double)hits / (double)r->tokens;
    return 0;
}

int floe_lm_text_tokens(const char *tokenizer, const char *path, floe_tokens *out, floe_err *err)
{
    memset(out, 0, sizeof *out);
    const floe_tokenizer *tok = floe_tokenizer_load(tokenizer, err);
    if (!tok)
        return -1;
    char *text;
    size_t len;
    int rc = floe_read_file(path, (size_t)1 << 34, &text, &len, err);
    if (rc == 0) {
        rc = floe_tokenizer_encode(tok, (const uint8_t *)text, len, 1, &out->ids, &out->n, err);
        if (rc != 0)
            floe_err_prefix(err, "%s", path);
        out->vocab = tok->vocab_size;
        if (rc == 0)
            rc = floe_tokenizer_digest(tokenizer, &out->tokenizer_digest, err);
        free(text);
    }
    floe_tokenizer_free(tok);
    return rc;
}
