/* Sweep points (explore/point.h). */
#include "explore/point.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bumped whenever a tier's figures change meaning: results of another version are not reused. */
#define FLOE_EXPLORE_DIGEST_DOMAIN "floe-explore-point-v2"

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return fnv(h, b, 8);
}

static void kv_set(void *obj, const floe_kv_key *k, const char *text)
{
    char *p = (char *)obj + k->offset;
    if (k->type == FLOE_KV_INT) {
        uint64_t v = (uint64_t)strtod(text, NULL); /* checked whole and in range when the sweep was read */
        memcpy(p, &v, sizeof v);
    } else {
        double d = strtod(text, NULL);
        memcpy(p, &d, sizeof d);
    }
}

/* "cores_x=16, precision=W4A8KV8" for the axes of more than one value. */
static void describe(const floe_sweep *s, uint64_t p, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (int a = 0; a < s->n_axes; a++) {
        const floe_sweep_axis *x = &s->axes[a];
        if (x->n_values < 2)
            continue;
        int v = floe_sweep_value_index(s, p, a);
        for (int k = 0; k < x->n_keys && len < n; k++)
            len += (size_t)snprintf(out + len, n - len, "%s%s=%s", len ? ", " : "", x->key[k],
                                    x->values[v * x->n_keys + k]);
    }
}

int floe_explore_point_make(const floe_sweep *s, uint64_t p, floe_explore_point *pt, floe_err *err)
{
    memset(pt, 0, sizeof *pt);
    pt->index = p;
    pt->machine = s->machine;
    pt->has_energy = s->energy_path[0] != '\0';
    if (pt->has_energy)
        pt->energy = s->energy;
    pt->q = floe_qconfig_default();
    pt->users = 1;
    const char *model = NULL;
    for (int a = 0; a < s->n_axes; a++) {
        const floe_sweep_axis *x = &s->axes[a];
        int v = floe_sweep_value_index(s, p, a);
        for (int k = 0; k < x->n_keys; k++) {
            const char *t = x->values[v * x->n_keys + k];
            switch (x->kind[k]) {
            case FLOE_AXIS_MACHINE: kv_set(&pt->machine, x->kv[k], t); break;
            case FLOE_AXIS_ENERGY: kv_set(&pt->energy, x->kv[k], t); break;
            case FLOE_AXIS_MODEL: model = t; break;
            case FLOE_AXIS_PRECISION:
                if (floe_precision_parse(t, &pt->q, err) != 0)
                    return -1;
                break;
            case FLOE_AXIS_CONTEXT: pt->context = atoi(t); break;
            case FLOE_AXIS_USERS: pt->users = strcmp(t, "max") == 0 ? -1 : atoi(t); break;
            case FLOE_AXIS_PROMPT: pt->prompt = atoi(t); break;
            case FLOE_AXIS_DECODE_STEPS: pt->decode_steps = atoi(t); break;
            }
        }
    }
    char where[2048];
    describe(s, p, where, sizeof where);
    if (floe_machine_validate(&pt->machine, err) != 0 ||
        (pt->has_energy && floe_energy_table_validate(&pt->energy, err) != 0) ||
        floe_model_config_load(model, &pt->model, err) != 0)
        return floe_err_prefix(err, "point %llu (%s): ", (unsigned long long)p, where[0] ? where : "the base");
    if (!pt->context)
        pt->context = pt->model.context;
    if (pt->context > pt->model.context)
        return floe_err_set(err, "point %llu (%s): context %d is longer than the model's %d positions",
                            (unsigned long long)p, where, pt->context, pt->model.context);
    uint64_t h = fnv(0xcbf29ce484222325ull, FLOE_EXPLORE_DIGEST_DOMAIN, sizeof FLOE_EXPLORE_DIGEST_DOMAIN);
    h = fnv_u64(h, floe_machine_fingerprint(&pt->machine));
    h = fnv_u64(h, pt->has_energy ? floe_energy_table_fingerprint(&pt->energy) : 0);
    char *json = floe_model_config_to_json(&pt->model);
    if (!json)
        return floe_err_set(err, "out of memory");
    h = fnv(h, json, strlen(json));
    free(json);
    const int ints[] = {pt->q.wbits, pt->q.abits, pt->q.kvbits, pt->q.head_bits,  pt->q.act_scaling, pt->q.act_kmax,
                        pt->context, pt->users,   pt->prompt,   pt->decode_steps, s->full_chips};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        h = fnv_u64(h, (uint64_t)(int64_t)ints[i]);
    h = fnv(h, pt->q.layer_wbits, sizeof pt->q.layer_wbits);
    if (floe_qconfig_has_linear_wbits(&pt->q)) /* only then: the digests of other points stay as they were */
        h = fnv(h, pt->q.linear_wbits, sizeof pt->q.linear_wbits);
    pt->digest = h;
    return 0;
}

floe_explore_figures floe_explore_figures_none(void)
{
    floe_explore_figures f;
    memset(&f, 0, sizeof f);
    f.latency_us = f.prefill_us_per_token = f.tokens_per_s = NAN;
    f.energy_uj_per_token = f.power_w = f.area_mm2 = f.ppl = NAN;
    return f;
}

static const struct {
    const char *name;
    size_t off;
    int kind; /* 0 double, 1 int, 2 uint64 */
} cols[] = {
    {"fits", offsetof(floe_explore_figures, fits), 1},
    {"chips", offsetof(floe_explore_figures, chips), 1},
    {"cards", offsetof(floe_explore_figures, cards), 1},
    {"users_served", offsetof(floe_explore_figures, users_served), 1},
    {"cores", offsetof(floe_explore_figures, cores), 2},
    {"mem_high_water", offsetof(floe_explore_figures, mem_high_water), 2},
    {"latency_us", offsetof(floe_explore_figures, latency_us), 0},
    {"prefill_us_per_token", offsetof(floe_explore_figures, prefill_us_per_token), 0},
    {"tokens_per_s", offsetof(floe_explore_figures, tokens_per_s), 0},
    {"energy_uj_per_token", offsetof(floe_explore_figures, energy_uj_per_token), 0},
    {"power_w", offsetof(floe_explore_figures, power_w), 0},
    {"area_mm2", offsetof(floe_explore_figures, area_mm2), 0},
    {"ppl", offsetof(floe_explore_figures, ppl), 0},
};

int floe_explore_figure_known(const char *name)
{
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        if (strcmp(cols[i].name, name) == 0)
            return 1;
    return 0;
}

const char *floe_explore_figure_name(int i)
{
    return i >= 0 && i < (int)(sizeof cols / sizeof cols[0]) ? cols[i].name : NULL;
}

void floe_explore_figure_set(floe_explore_figures *f, const char *name, double v)
{
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        if (strcmp(cols[i].name, name) != 0)
            continue;
        char *p = (char *)f + cols[i].off;
        if (cols[i].kind == 1) {
            int x = isnan(v) ? 0 : (int)fmax(fmin(v, 2147483647.0), -2147483648.0);
            memcpy(p, &x, sizeof x);
        } else if (cols[i].kind == 2) {
            uint64_t x = isnan(v) || v < 0 ? 0 : v >= 1.8e19 ? UINT64_MAX : (uint64_t)v;
            memcpy(p, &x, sizeof x);
        } else
            memcpy(p, &v, sizeof v);
        return;
    }
}

double floe_explore_figure(const floe_explore_figures *f, const char *name)
{
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        if (strcmp(cols[i].name, name) != 0)
            continue;
        const char *p = (const char *)f + cols[i].off;
        if (cols[i].kind == 1) {
            int v;
            memcpy(&v, p, sizeof v);
            return v;
        }
        if (cols[i].kind == 2) {
            uint64_t v;
            memcpy(&v, p, sizeof v);
            return (double)v;
        }
        double d;
        memcpy(&d, p, sizeof d);
        return d;
    }
    return NAN;
}
