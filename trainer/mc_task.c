#include "trainer/mc_task.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/file_read.h"
#include "models/jsonl.h"

#define TASK_FILE_MAX ((size_t)1 << 30)

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* ctx + cont ids of one (context, continuation) pair into *seq (malloc'ed); *n_cont: cont's length. */
static int encode_pair(const floe_tokenizer *tok, const char *context, const char *choice, int32_t **seq, size_t *n,
                       size_t *n_cont, floe_err *err)
{
    size_t lc = strlen(context), sp = 0, lk = strlen(choice);
    while (sp < lc && is_space(context[lc - 1 - sp]))
        sp++;
    size_t lctx = lc - sp;
    *seq = NULL, *n = *n_cont = 0;
    char *whole = malloc(lc + lk + 1); /* context without its trailing spaces, then spaces + choice */
    if (!whole)
        return floe_err_set(err, "out of memory");
    memcpy(whole, context, lc);
    memcpy(whole + lc, choice, lk + 1);
    int32_t *ce = NULL, *we = NULL;
    size_t nce = 0, nwe = 0;
    int rc = 0;
    if (lctx == 0) { /* the harness's prefix token, then the continuation alone */
        int32_t p = tok->bos_id >= 0 ? tok->bos_id : tok->eos_id;
        if (p < 0)
            rc = floe_err_set(err, "an empty context needs a BOS or EOS token; the tokenizer has neither");
        else if ((rc = floe_tokenizer_encode(tok, (const uint8_t *)whole, lc + lk, 0, &we, &nwe, err)) == 0) {
            if (!(ce = malloc(sizeof *ce)))
                rc = floe_err_set(err, "out of memory");
            else
                ce[0] = p, nce = 1;
        }
        /* the continuation is all of `whole`: nothing to cut */
        if (rc == 0) {
            int32_t *s = malloc(sizeof *s * (nce + nwe));
            if (!s)
                rc = floe_err_set(err, "out of memory");
            else {
                memcpy(s, ce, nce * sizeof *s);
                memcpy(s + nce, we, nwe * sizeof *s);
                *seq = s, *n = nce + nwe, *n_cont = nwe;
            }
        }
    } else if ((rc = floe_tokenizer_encode(tok, (const uint8_t *)whole, lctx, 0, &ce, &nce, err)) == 0 &&
               (rc = floe_tokenizer_encode(tok, (const uint8_t *)whole, lc + lk, 0, &we, &nwe, err)) == 0) {
        size_t nk = nwe > nce ? nwe - nce : 0;
        int32_t *s = malloc(sizeof *s * (nce + nk + 1));
        if (!s)
            rc = floe_err_set(err, "out of memory");
        else {
            memcpy(s, ce, nce * sizeof *s);
            memcpy(s + nce, we + (nwe - nk), nk * sizeof *s);
            *seq = s, *n = nce + nk, *n_cont = nk;
        }
    }
    free(whole), free(ce), free(we);
    if (rc == 0 && *n_cont == 0) {
        free(*seq);
        rc = floe_err_set(err, "the choice encodes to no token");
    }
    return rc;
}

int floe_mc_score_item(floe_lm *lm, const floe_tokenizer *tok, const char *context, const char *const *choices,
                       int n_choices, double *ll, floe_err *err)
{
    const size_t cap = (size_t)lm->maxT + 1;
    double *logp = malloc(sizeof(double) * cap);
    if (!logp)
        return floe_err_set(err, "out of memory");
    int rc = 0;
    for (int c = 0; c < n_choices && rc == 0; c++) {
        int32_t *seq = NULL;
        size_t n = 0, nk = 0;
        if ((rc = encode_pair(tok, context, choices[c], &seq, &n, &nk, err)) != 0) {
            floe_err_prefix(err, "choice %d", c);
            break;
        }
        if (nk > cap - 1)
            rc = floe_err_set(err, "choice %d: %zu continuation tokens, more than the model's %d positions", c, nk,
                              lm->maxT);
        const int32_t *s = n > cap ? seq + (n - cap) : seq; /* left truncation, as the harness */
        size_t m = n > cap ? cap : n;
        if (rc == 0 && (rc = floe_lm_logprobs(lm, s, m, logp, NULL, err)) == 0) {
            double sum = 0.0;
            for (size_t j = m - 1 - nk; j < m - 1; j++) /* logp[j] scores s[j + 1] */
                sum += logp[j];
            ll[c] = sum;
        }
        free(seq);
    }
    free(logp);
    return rc;
}

int floe_mc_argmax(const double *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* Checks one parsed line; returns the number of choices or -1. */
static int check_item(const cJSON *o, const char *path, size_t line, floe_err *err)
{
    if (!cJSON_IsObject(o))
        return floe_err_set(err, "%s:%zu: not a JSON object", path, line);
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(o, "context");
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "choices");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "gold");
    if (!cJSON_IsString(ctx))
        return floe_err_set(err, "%s:%zu: field 'context': missing or not a string", path, line);
    if (!cJSON_IsArray(ch) || cJSON_GetArraySize(ch) < 1)
        return floe_err_set(err, "%s:%zu: field 'choices': missing or not a non-empty array", path, line);
    int n = cJSON_GetArraySize(ch), i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, ch)
    {
        if (!cJSON_IsString(c) || !c->valuestring[0])
            return floe_err_set(err, "%s:%zu: field 'choices': element %d is not a non-empty string", path, line, i);
        i++;
    }
    if (!cJSON_IsNumber(g) || g->valuedouble != floor(g->valuedouble) || g->valuedouble < 0 || g->valuedouble >= n)
        return floe_err_set(err, "%s:%zu: field 'gold': expected an integer in [0, %d)", path, line, n);
    return n;
}

static double stderr01(double p, size_t n) { return n < 2 ? NAN : sqrt(p * (1.0 - p) / (double)(n - 1)); }

int floe_mc_evaluate(floe_lm *lm, const floe_tokenizer *tok, const char *path, floe_mc_result *r, floe_err *err)
{
    memset(r, 0, sizeof *r);
    char *data;
    size_t len;
    if (floe_read_file(path, TASK_FILE_MAX, &data, &len, err) != 0)
        return -1;
    cJSON **items = NULL;
    size_t *lines = NULL, n = 0, cap = 0, line = 0;
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0;) { /* every line checked before any is scored */
        size_t eol = i;
        while (eol < len && data[eol] != '\n')
            eol++;
        line++;
        size_t k = i;
        while (k < eol && is_space(data[k]))
            k++;
        if (k < eol) {
            cJSON *o = floe_jsonl_parse_line(data + i, eol - i);
            if (!o)
                rc = floe_err_set(err, "%s:%zu: not a JSON object", path, line);
            else if (check_item(o, path, line, err) < 0)
                rc = -1;
            else if (n == cap) {
                cap = cap ? 2 * cap : 64;
                cJSON **ni = realloc(items, cap * sizeof *ni);
                size_t *nl = realloc(lines, cap * sizeof *nl);
                if (ni)
                    items = ni;
                if (nl)
                    lines = nl;
                if (!ni || !nl)
                    rc = floe_err_set(err, "out of memory");
            }
            if (rc == 0)
                items[n] = o, lines[n++] = line;
            else
                cJSON_Delete(o);
        }
        i = eol + 1;
    }
    if (rc == 0 && n == 0)
        rc = floe_err_set(err, "%s: no items", path);
    size_t hits = 0, hits_norm = 0;
    for (size_t it = 0; it < n && rc == 0; it++) {
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(items[it], "choices");
        int nc = cJSON_GetArraySize(ch), gold = (int)cJSON_GetObjectItemCaseSensitive(items[it], "gold")->valuedouble;
        const char **choices = malloc(sizeof *choices * (size_t)nc);
        double *ll = malloc(sizeof *ll * (size_t)nc * 2);
        if (!choices || !ll)
            rc = floe_err_set(err, "out of memory");
        else {
            for (int c = 0; c < nc; c++)
                choices[c] = cJSON_GetArrayItem(ch, c)->valuestring;
            const char *ctx = cJSON_GetObjectItemCaseSensitive(items[it], "context")->valuestring;
            if (floe_mc_score_item(lm, tok, ctx, choices, nc, ll, err) != 0)
                rc = floe_err_prefix(err, "%s:%zu", path, lines[it]);
            else {
                for (int c = 0; c < nc; c++)
                    ll[nc + c] = ll[c] / (double)strlen(choices[c]);
                hits += floe_mc_argmax(ll, nc) == gold;
                hits_norm += floe_mc_argmax(ll + nc, nc) == gold;
            }
        }
        free(choices), free(ll);
    }
    for (size_t it = 0; it < n; it++)
        cJSON_Delete(items[it]);
    free(items), free(lines), free(data);
    if (rc != 0)
        return -1;
    r->n = n;
    r->acc = (double)hits / (double)n;
    r->acc_norm = (double)hits_norm / (double)n;
    r->acc_stderr = stderr01(r->acc, n);
    r->acc_norm_stderr = stderr01(r->acc_norm, n);
    return 0;
}
