/* Accuracy of a sweep's quantized models (explore/accuracy.h). */
#include "explore/accuracy.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file_read.h"
#include "common/path.h"
#include "models/qmodel_io.h"
#include "trainer/qeval.h"

static uint64_t file_digest(const char *path, floe_err *err, int *ok)
{
    FILE *f = fopen(path, "rb");
    uint64_t h = 0xcbf29ce484222325ull;
    *ok = 0;
    if (!f) {
        floe_err_set(err, "%s: cannot open", path);
        return 0;
    }
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 0x100000001b3ull;
    *ok = !ferror(f);
    fclose(f);
    if (!*ok)
        floe_err_set(err, "%s: read error", path);
    return h;
}

/* A cached result: "digest,windows,corpus,ppl" with the corpus quoted-free (its spec has no comma). */
static int cache_find(const char *cache, uint64_t d, int windows, const char *corpus, double *ppl)
{
    FILE *f = fopen(cache, "r");
    if (!f)
        return 0;
    char line[2048], want[64];
    snprintf(want, sizeof want, "%016llx,%d,", (unsigned long long)d, windows);
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        size_t n = strlen(line), w = strlen(want);
        if (n < 2 || line[n - 1] != '\n' || strncmp(line, want, w) != 0)
            continue;
        char *c = line + w, *comma = strrchr(c, ',');
        if (!comma)
            continue;
        *comma = '\0';
        char *end;
        double v = strtod(comma + 1, &end);
        if (strcmp(c, corpus) == 0 && *end == '\n')
            *ppl = v, found = 1;
    }
    fclose(f);
    return found;
}

static int evaluate(const char *path, const floe_sweep *s, floe_qmodel *qm, double *ppl, floe_err *err)
{
    floe_tokens train, val;
    if (floe_train_data(s->eval_corpus[0] ? s->eval_corpus : NULL, &train, &val, err) != 0)
        return -1;
    floe_tokens_free(&train);
    floe_qfwd f;
    floe_eval_result r;
    int rc = floe_tokens_check_vocab(&val, qm->cfg.vocab_size, err);
    if (rc == 0 && (rc = floe_qfwd_init(&f, &qm->cfg, 4, qm->cfg.context, err)) == 0) {
        rc = floe_qmodel_evaluate(&f, qm, &val, (size_t)s->eval_windows, &r, err);
        floe_qfwd_free(&f);
    }
    floe_tokens_free(&val);
    if (rc != 0)
        return floe_err_prefix(err, "%s: ", path);
    *ppl = r.ppl;
    return 0;
}

int floe_explore_accuracy_run(const floe_sweep *s, const char *out_dir, FILE *log, floe_explore_accuracy *a,
                              floe_err *err)
{
    memset(a, 0, sizeof *a);
    char cache[4300];
    if (floe_path_join(cache, sizeof cache, out_dir, "accuracy.journal") != 0)
        return floe_err_set(err, "%s: the output folder's path is too long", out_dir);
    const char *corpus = s->eval_corpus[0] ? s->eval_corpus : "fortunes";
    for (int i = 0; i < s->n_qmodels; i++) {
        const char *path = s->qmodels[i];
        int ok;
        uint64_t d = file_digest(path, err, &ok);
        if (!ok)
            return -1;
        floe_qmodel qm;
        if (floe_qmodel_load(&qm, path, err) != 0)
            return -1;
        a->cfg[i] = qm.cfg;
        a->q[i] = qm.q;
        double ppl = NAN;
        if (cache_find(cache, d, s->eval_windows, corpus, &ppl)) {
            if (log)
                fprintf(log, "explore: %s: perplexity %.4f (cached)\n", path, ppl);
        } else {
            if (log)
                fprintf(log, "explore: %s: evaluating through the integer forward (%s, %d window(s))...\n", path,
                        corpus, s->eval_windows);
            if (evaluate(path, s, &qm, &ppl, err) != 0) {
                floe_qmodel_free(&qm);
                return -1;
            }
            char line[2048];
            int n = snprintf(line, sizeof line, "%016llx,%d,%s,%.17g\n", (unsigned long long)d, s->eval_windows, corpus,
                             ppl);
            int fd = open(cache, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
            if (fd >= 0) { /* a lost cache line costs an evaluation, not a result */
                ssize_t w = write(fd, line, (size_t)n);
                (void)w;
                close(fd);
            }
            if (log)
                fprintf(log, "explore: %s: perplexity %.4f\n", path, ppl);
        }
        floe_qmodel_free(&qm);
        a->ppl[i] = ppl;
        a->n = i + 1;
    }
    return 0;
}

static int same_widths(const floe_qconfig *a, const floe_qconfig *b)
{
    return a->wbits == b->wbits && a->abits == b->abits && a->kvbits == b->kvbits && a->head_bits == b->head_bits &&
           a->act_scaling == b->act_scaling && a->act_kmax == b->act_kmax &&
           memcmp(a->layer_wbits, b->layer_wbits, sizeof a->layer_wbits) == 0 &&
           memcmp(a->linear_wbits, b->linear_wbits, sizeof a->linear_wbits) == 0;
}

double floe_explore_accuracy_of(const floe_explore_accuracy *a, const floe_explore_point *pt)
{
    for (int i = 0; i < a->n; i++) {
        floe_model_config c = a->cfg[i];
        memcpy(c.name, pt->model.name, sizeof c.name); /* the shape, whatever it is called */
        char *x = floe_model_config_to_json(&c), *y = floe_model_config_to_json(&pt->model);
        int same = x && y && strcmp(x, y) == 0 && same_widths(&a->q[i], &pt->q);
        free(x);
        free(y);
        if (same)
            return a->ppl[i];
    }
    return NAN;
}
