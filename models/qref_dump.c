#include "models/qref_dump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_config.h"
#include "models/qref.h"
#include "models/safetensors.h"

typedef struct traced {
    char name[64];
    int32_t *data; /* [rows][width]; owned */
    size_t rows, width;
} traced;

typedef struct collect {
    traced *t;
    size_t n, cap;
    int failed;
} collect;

static void on_tensor(void *ctx, const char *name, int layer, const int32_t *data, size_t rows, size_t width)
{
    collect *c = ctx;
    if (c->failed || (layer < 0 && strcmp(name, "logits") == 0)) /* the logits go in as int16, below */
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        traced *t = realloc(c->t, cap * sizeof *t);
        if (!t) {
            c->failed = 1;
            return;
        }
        c->t = t;
        c->cap = cap;
    }
    traced *t = &c->t[c->n];
    if (layer >= 0)
        snprintf(t->name, sizeof t->name, "model.layers.%d.%s", layer, name);
    else
        snprintf(t->name, sizeof t->name, "model.%s", name);
    t->rows = rows;
    t->width = width;
    t->data = malloc(sizeof(int32_t) * (rows * width > 0 ? rows * width : 1));
    if (!t->data) {
        c->failed = 1;
        return;
    }
    memcpy(t->data, data, sizeof(int32_t) * rows * width);
    c->n++;
}

int floe_qref_dump(const floe_qmodel *m, const int32_t *tokens, int T, const char *path, floe_qref_dump_summary *sum,
                   floe_err *err)
{
    memset(sum, 0, sizeof *sum);
    const int V = m->cfg.vocab_size;
    collect c = {0};
    int16_t *logits = malloc(sizeof(int16_t) * (size_t)(T > 0 ? T : 1) * (size_t)V);
    char *json = NULL;
    floe_st_entry *e = NULL;
    int rc = -1;
    if (!logits) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    if (floe_qref_forward(m, tokens, T, logits, on_tensor, &c, err) != 0)
        goto out;
    if (c.failed || !(e = calloc(c.n + 2, sizeof *e)) || !(json = floe_model_config_to_json(&m->cfg))) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    e[0] = (floe_st_entry){"tokens", FLOE_ST_I32, 1, {(uint64_t)T}, tokens};
    for (size_t i = 0; i < c.n; i++)
        e[1 + i] = (floe_st_entry){c.t[i].name, FLOE_ST_I32, 2, {c.t[i].rows, c.t[i].width}, c.t[i].data};
    e[1 + c.n] = (floe_st_entry){"logits", FLOE_ST_I16, 2, {(uint64_t)T, (uint64_t)V}, logits};
    char ntok[24];
    snprintf(ntok, sizeof ntok, "%d", T);
    const char *meta[6] = {"format", "floe-qref-dump", "floe.config", json, "floe.tokens", ntok};
    if (floe_st_write(path, e, c.n + 2, meta, 3, err) != 0)
        goto out;
    sum->tensors = c.n + 2;
    sum->values = (uint64_t)T + (uint64_t)T * (uint64_t)V;
    for (size_t i = 0; i < c.n; i++)
        sum->values += (uint64_t)c.t[i].rows * c.t[i].width;
    const int16_t *z = logits + (size_t)(T - 1) * V;
    for (int v = 1; v < V; v++)
        sum->last_argmax = z[v] > z[sum->last_argmax] ? v : sum->last_argmax;
    rc = 0;
out:
    for (size_t i = 0; i < c.n; i++)
        free(c.t[i].data);
    free(c.t);
    free(e);
    free(json);
    free(logits);
    return rc;
}
