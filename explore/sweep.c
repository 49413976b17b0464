/* Sweep files (explore/sweep.h). */
#include "explore/sweep.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file_read.h"
#include "explore/point.h"

const char *floe_sweep_tier_name(floe_sweep_tier t) { return t == FLOE_TIER_SIM ? "sim" : "analytic"; }

const char *floe_cmp_name(floe_cmp_op op)
{
    static const char *const n[] = {"<=", "<", ">=", ">", "=="};
    return n[op];
}

int floe_cmp_holds(floe_cmp_op op, double x, double v)
{
    switch (op) {
    case FLOE_CMP_LE: return x <= v;
    case FLOE_CMP_LT: return x < v;
    case FLOE_CMP_GE: return x >= v;
    case FLOE_CMP_GT: return x > v;
    case FLOE_CMP_EQ: return x == v;
    }
    return 0;
}

int floe_precision_parse(const char *text, floe_qconfig *q, floe_err *err)
{
    *q = floe_qconfig_default();
    int w, a, kv, h = 8, n = 0;
    if (sscanf(text, "W%dA%dKV%d%n", &w, &a, &kv, &n) != 3 || n <= 0)
        return floe_err_set(err,
                            "precision '%s': expected W<weight bits>A<activation bits>KV<cache bits>[H<head "
                            "bits>], e.g. W4A8KV8",
                            text);
    if (text[n] == 'H') {
        int m = 0;
        if (sscanf(text + n, "H%d%n", &h, &m) != 1 || text[n + m])
            return floe_err_set(err, "precision '%s': expected H<head bits> after KV%d", text, kv);
    } else if (text[n])
        return floe_err_set(err, "precision '%s': unexpected '%s' after KV%d", text, text + n, kv);
    q->wbits = w, q->abits = a, q->kvbits = kv, q->head_bits = h;
    if (floe_qconfig_validate(q, err) != 0)
        return floe_err_prefix(err, "precision '%s': ", text);
    return 0;
}

void floe_sweep_free(floe_sweep *s)
{
    for (int a = 0; a < s->n_axes; a++) {
        floe_sweep_axis *x = &s->axes[a];
        for (int i = 0; i < x->n_values * x->n_keys; i++)
            free(x->values[i]);
        free(x->values);
        x->values = NULL;
        x->n_values = 0;
    }
    s->n_axes = 0;
}

int floe_sweep_find_axis(const floe_sweep *s, const char *key)
{
    for (int a = 0; a < s->n_axes; a++)
        for (int k = 0; k < s->axes[a].n_keys; k++)
            if (strcmp(s->axes[a].key[k], key) == 0)
                return a;
    return -1;
}

int floe_sweep_value_index(const floe_sweep *s, uint64_t p, int a)
{
    for (int b = s->n_axes - 1; b > a; b--)
        p /= (uint64_t)s->axes[b].n_values;
    return (int)(p % (uint64_t)s->axes[a].n_values);
}

/* ---- parsing ------------------------------------------------------------------------------------ */

typedef struct {
    const char *path;
    char dir[4096];
    int line;
    floe_err *err;
} ctx;

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* A path as the sweep file gives it: relative to the file's folder when it exists there. */
static void resolve(const ctx *c, const char *p, char *out, size_t n)
{
    struct stat st;
    if (p[0] != '/' && c->dir[0] && strlen(c->dir) + strlen(p) + 2 <= n) {
        memcpy(out, c->dir, strlen(c->dir));
        out[strlen(c->dir)] = '/';
        memcpy(out + strlen(c->dir) + 1, p, strlen(p) + 1);
        if (stat(out, &st) == 0)
            return;
    }
    snprintf(out, n, "%s", p);
}

static int fail(const ctx *c, const char *fmt, ...) FLOE_PRINTF(2, 3);
static int fail(const ctx *c, const char *fmt, ...)
{
    char m[FLOE_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return floe_err_set(c->err, "%s:%d: %s", c->path, c->line, m);
}

static const floe_kv_key *find_kv(const floe_kv_key *keys, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

/* Classifies a key: returns 0 and sets kind (and kv for machine and energy keys), or -1. */
static int key_kind(const char *key, floe_axis_kind *kind, const floe_kv_key **kv)
{
    static const struct {
        const char *name;
        floe_axis_kind kind;
    } named[] = {{"model", FLOE_AXIS_MODEL},     {"precision", FLOE_AXIS_PRECISION},
                 {"context", FLOE_AXIS_CONTEXT}, {"users", FLOE_AXIS_USERS},
                 {"prompt", FLOE_AXIS_PROMPT},   {"decode_steps", FLOE_AXIS_DECODE_STEPS}};
    *kv = NULL;
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strcmp(key, named[i].name) == 0) {
            *kind = named[i].kind;
            return 0;
        }
    size_t n;
    const floe_kv_key *keys = floe_machine_keys(&n);
    if ((*kv = find_kv(keys, n, key))) {
        *kind = FLOE_AXIS_MACHINE;
        return 0;
    }
    const char *e = strncmp(key, "energy.", 7) == 0 ? key + 7 : key;
    keys = floe_energy_table_keys(&n);
    if ((*kv = find_kv(keys, n, e))) {
        *kind = FLOE_AXIS_ENERGY;
        return 0;
    }
    return -1;
}

static int parse_number(const char *t, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(t, &end);
    return end != t && !*end && errno != ERANGE && isfinite(*v) ? 0 : -1;
}

static void format_number(char *buf, size_t n, double d, int integer)
{
    if (integer) {
        snprintf(buf, n, "%.0f", d);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
}

/* Checks one value of one key, returning its canonical text in out. */
static int check_value(const ctx *c, const char *key, floe_axis_kind kind, const floe_kv_key *kv, const char *t,
                       char *out, size_t n)
{
    double v;
    switch (kind) {
    case FLOE_AXIS_MACHINE:
    case FLOE_AXIS_ENERGY:
        if (parse_number(t, &v) != 0)
            return fail(c, "key '%s': value '%s' is not a number", key, t);
        if (kv->type == FLOE_KV_INT && (v != floor(v) || v < 0))
            return fail(c, "key '%s': value '%s' is not a whole number", key, t);
        if (v < kv->min || v > kv->max)
            return fail(c, "key '%s': value %s is outside %g .. %g %s", key, t, kv->min, kv->max, kv->unit);
        format_number(out, n, v, kv->type == FLOE_KV_INT);
        return 0;
    case FLOE_AXIS_MODEL: {
        floe_model_config mc;
        char p[4096];
        resolve(c, t, p, sizeof p);
        if (floe_model_config_load(p, &mc, c->err) != 0) {
            char m[FLOE_ERR_MSG_MAX];
            snprintf(m, sizeof m, "%s", c->err->msg);
            return fail(c, "key 'model': value '%s': %s", t, m);
        }
        snprintf(out, n, "%s", p);
        return 0;
    }
    case FLOE_AXIS_PRECISION: {
        floe_qconfig q;
        if (floe_precision_parse(t, &q, c->err) != 0) {
            char m[FLOE_ERR_MSG_MAX];
            snprintf(m, sizeof m, "%s", c->err->msg);
            return fail(c, "key 'precision': %s", m);
        }
        snprintf(out, n, "%s", t);
        return 0;
    }
    case FLOE_AXIS_USERS:
        if (strcmp(t, "max") == 0) {
            snprintf(out, n, "max");
            return 0;
        }
        /* fall through */
    case FLOE_AXIS_CONTEXT:
    case FLOE_AXIS_PROMPT:
    case FLOE_AXIS_DECODE_STEPS: {
        double lo = kind == FLOE_AXIS_PROMPT || kind == FLOE_AXIS_DECODE_STEPS ? 0 : 1;
        double hi = kind == FLOE_AXIS_USERS ? 1 << 20 : 1 << 24;
        if (parse_number(t, &v) != 0 || v != floor(v) || v < lo || v > hi)
            return fail(c, "key '%s': value '%s': expected a whole number from %.0f to %.0f%s", key, t, lo, hi,
                        kind == FLOE_AXIS_USERS ? " or max" : "");
        format_number(out, n, v, 1);
        return 0;
    }
    }
    return fail(c, "key '%s': unknown", key);
}

typedef struct {
    char **v;
    int n, cap;
} strlist;

static int push(const ctx *c, strlist *l, const char *t)
{
    if (l->n >= FLOE_SWEEP_MAX_VALUES * FLOE_SWEEP_MAX_TIED)
        return fail(c, "more than %d values", FLOE_SWEEP_MAX_VALUES);
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return fail(c, "out of memory");
        l->v = v, l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(t)))
        return fail(c, "out of memory");
    l->n++;
    return 0;
}

static void strlist_free(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* "A .. B +S" or "A .. B *F" (A <= B, S > 0, F > 1): the values A, A+S, ... up to B. */
static int expand_range(const ctx *c, const char *key, floe_axis_kind kind, const floe_kv_key *kv, char *item,
                        strlist *out)
{
    char *dots = strstr(item, "..");
    *dots = '\0';
    char *a_t = trim(item), *rest = trim(dots + 2), *op = rest;
    while (*op && *op != '+' && *op != '*')
        op++;
    if (!*op)
        return fail(c, "key '%s': range '%s .. %s': expected A .. B +STEP or A .. B *FACTOR", key, a_t, rest);
    char opc = *op;
    *op = '\0';
    char *b_t = trim(rest), *s_t = trim(op + 1);
    double a, b, s;
    if (parse_number(a_t, &a) || parse_number(b_t, &b) || parse_number(s_t, &s))
        return fail(c, "key '%s': range '%s .. %s %c%s': its bounds and step must be numbers", key, a_t, b_t, opc, s_t);
    if (kind == FLOE_AXIS_MODEL || kind == FLOE_AXIS_PRECISION)
        return fail(c, "key '%s': takes a list, not a range", key);
    if (a > b || (opc == '+' && !(s > 0)) || (opc == '*' && !(s > 1)))
        return fail(c, "key '%s': range '%s .. %s %c%s' is empty or never ends (need A <= B and %s)", key, a_t, b_t,
                    opc, s_t, opc == '+' ? "STEP > 0" : "FACTOR > 1");
    int integer = kind != FLOE_AXIS_MACHINE && kind != FLOE_AXIS_ENERGY ? 1 : kv->type == FLOE_KV_INT;
    for (int i = 0;; i++) {
        double v = opc == '+' ? a + i * s : a * pow(s, i);
        if (integer)
            v = round(v);
        if (v > b * (1 + 1e-12) + (b == 0 ? 1e-300 : 0))
            break;
        if (i >= FLOE_SWEEP_MAX_VALUES)
            return fail(c, "key '%s': range '%s .. %s %c%s' has more than %d values", key, a_t, b_t, opc, s_t,
                        FLOE_SWEEP_MAX_VALUES);
        char t[64], canon[4096];
        format_number(t, sizeof t, v, integer);
        if (check_value(c, key, kind, kv, t, canon, sizeof canon) != 0 || push(c, out, canon) != 0)
            return -1;
    }
    return 0;
}

static int parse_axis(const ctx *c, floe_sweep *s, char *keys, char *vals)
{
    if (s->n_axes >= FLOE_SWEEP_MAX_AXES)
        return fail(c, "more than %d keys", FLOE_SWEEP_MAX_AXES);
    floe_sweep_axis *x = &s->axes[s->n_axes];
    memset(x, 0, sizeof *x);
    x->line = c->line;
    for (char *k = keys, *next; k; k = next) {
        next = strchr(k, ':');
        if (next)
            *next++ = '\0';
        k = trim(k);
        if (x->n_keys >= FLOE_SWEEP_MAX_TIED)
            return fail(c, "more than %d tied keys", FLOE_SWEEP_MAX_TIED);
        if (!*k || strlen(k) >= FLOE_SWEEP_KEY_MAX)
            return fail(c, "key '%s': empty or too long", k);
        if (key_kind(k, &x->kind[x->n_keys], &x->kv[x->n_keys]) != 0)
            return fail(c,
                        "key '%s' is not a sweep setting, a machine key or an energy key (docs/explore.md, "
                        "docs/machine.md)",
                        k);
        if (floe_sweep_find_axis(s, k) >= 0)
            return fail(c, "key '%s' is given twice", k);
        for (int j = 0; j < x->n_keys; j++)
            if (strcmp(x->key[j], k) == 0)
                return fail(c, "key '%s' is tied to itself", k);
        snprintf(x->key[x->n_keys++], FLOE_SWEEP_KEY_MAX, "%s", k);
    }
    strlist l = {0};
    for (char *item = vals, *next; item; item = next) {
        next = strchr(item, ',');
        if (next)
            *next++ = '\0';
        item = trim(item);
        if (!*item) {
            strlist_free(&l);
            return fail(c, "key '%s': an empty value", x->key[0]);
        }
        int rc = 0;
        if (x->n_keys == 1 && strstr(item, ".."))
            rc = expand_range(c, x->key[0], x->kind[0], x->kv[0], item, &l);
        else {
            char *part = item;
            for (int k = 0; k < x->n_keys && rc == 0; k++) {
                char *end = k + 1 < x->n_keys ? strchr(part, ':') : NULL;
                if (k + 1 < x->n_keys && !end) {
                    rc = fail(c, "keys '%s': value '%s' gives fewer than %d parts (A:B:...)", keys, item, x->n_keys);
                    break;
                }
                if (end)
                    *end = '\0';
                else if (x->n_keys > 1 && strchr(part, ':')) {
                    rc = fail(c, "tied keys: value '%s' gives more than %d parts", item, x->n_keys);
                    break;
                }
                char canon[4096];
                rc = check_value(c, x->key[k], x->kind[k], x->kv[k], trim(part), canon, sizeof canon);
                if (rc == 0)
                    rc = push(c, &l, canon);
                part = end ? end + 1 : NULL;
            }
        }
        if (rc != 0) {
            strlist_free(&l);
            return -1;
        }
    }
    x->values = l.v;
    x->n_values = l.n / x->n_keys;
    s->n_axes++;
    return 0;
}

static int parse_constraint(const ctx *c, floe_sweep *s, char *text)
{
    if (s->n_constraints >= FLOE_SWEEP_MAX_CONSTRAINTS)
        return fail(c, "more than %d constraints", FLOE_SWEEP_MAX_CONSTRAINTS);
    floe_sweep_constraint *k = &s->constraints[s->n_constraints];
    char *op = text;
    while (*op && !strchr("<>=", *op))
        op++;
    static const struct {
        const char *t;
        floe_cmp_op op;
    } ops[] = {{"<=", FLOE_CMP_LE}, {">=", FLOE_CMP_GE}, {"==", FLOE_CMP_EQ}, {"<", FLOE_CMP_LT}, {">", FLOE_CMP_GT}};
    size_t i = 0;
    for (; *op && i < sizeof ops / sizeof ops[0]; i++)
        if (strncmp(op, ops[i].t, strlen(ops[i].t)) == 0)
            break;
    if (!*op || i == sizeof ops / sizeof ops[0])
        return fail(c, "constraint '%s': expected NAME <=|<|>=|>|== NUMBER", text);
    char *value = op + strlen(ops[i].t);
    *op = '\0';
    char *name = trim(text);
    value = trim(value);
    int axis = floe_sweep_find_axis(s, name), known = axis >= 0;
    if (axis >= 0) {
        const floe_sweep_axis *x = &s->axes[axis];
        int k = 0;
        while (strcmp(x->key[k], name) != 0)
            k++;
        if (x->kind[k] == FLOE_AXIS_MODEL || x->kind[k] == FLOE_AXIS_PRECISION)
            return fail(c, "constraint on '%s': only numeric keys and figures can be constrained", name);
    }
    known = known || floe_explore_figure_known(name);
    if (!known || strlen(name) >= FLOE_SWEEP_KEY_MAX)
        return fail(c, "constraint on '%s': not a key given above nor a figure (docs/explore.md lists them)", name);
    if (parse_number(value, &k->value) != 0)
        return fail(c, "constraint on '%s': '%s' is not a number", name, value);
    snprintf(k->name, sizeof k->name, "%s", name);
    k->op = ops[i].op;
    k->line = c->line;
    s->n_constraints++;
    return 0;
}

static int parse_line(ctx *c, floe_sweep *s, char *line, int *have_machine)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    line = trim(line);
    if (!*line)
        return 0;
    if (strncmp(line, "constraint", 10) == 0 && isspace((unsigned char)line[10]))
        return parse_constraint(c, s, line + 11);
    char *eq = strchr(line, '=');
    if (!eq)
        return fail(c, "expected 'key = value', got '%s'", line);
    *eq = '\0';
    char *key = trim(line), *val = trim(eq + 1);
    if (!*val)
        return fail(c, "key '%s': no value", key);
    if (strcmp(key, "machine") == 0 || strcmp(key, "energy") == 0 || strcmp(key, "area") == 0) {
        char *dst = key[0] == 'm' ? s->machine_path : key[0] == 'e' ? s->energy_path : s->area_path;
        if (dst[0])
            return fail(c, "key '%s' is given twice", key);
        resolve(c, val, dst, 4096);
        int rc = key[0] == 'm'   ? floe_machine_load(dst, &s->machine, c->err)
                 : key[0] == 'e' ? floe_energy_table_load(dst, &s->energy, c->err)
                                 : floe_area_table_load(dst, &s->area, c->err);
        if (key[0] == 'a')
            s->has_area = rc == 0;
        if (rc != 0) {
            char m[FLOE_ERR_MSG_MAX];
            snprintf(m, sizeof m, "%s", c->err->msg);
            return fail(c, "key '%s': %s", key, m);
        }
        if (key[0] == 'm')
            *have_machine = 1;
        return 0;
    }
    if (strcmp(key, "tier") == 0) {
        if (strcmp(val, "analytic") == 0)
            s->tier = FLOE_TIER_ANALYTIC;
        else if (strcmp(val, "sim") == 0)
            s->tier = FLOE_TIER_SIM;
        else
            return fail(c, "key 'tier': value '%s': expected analytic or sim", val);
        return 0;
    }
    if (strcmp(key, "reprice") == 0) {
        if (strcmp(val, "front") == 0)
            s->reprice = FLOE_REPRICE_FRONT;
        else if (strcmp(val, "none") == 0)
            s->reprice = FLOE_REPRICE_NONE;
        else if (strcmp(val, "all") == 0)
            s->reprice = FLOE_REPRICE_ALL;
        else
            return fail(c, "key 'reprice': value '%s': expected front, none or all", val);
        return 0;
    }
    if (strcmp(key, "qmodel") == 0) {
        if (s->n_qmodels)
            return fail(c, "key 'qmodel' is given twice (list the files on one line)");
        for (char *o = val, *next; o; o = next) {
            next = strchr(o, ',');
            if (next)
                *next++ = '\0';
            o = trim(o);
            struct stat st;
            if (s->n_qmodels == FLOE_SWEEP_MAX_QMODELS)
                return fail(c, "key 'qmodel': more than %d files", FLOE_SWEEP_MAX_QMODELS);
            resolve(c, o, s->qmodels[s->n_qmodels], sizeof s->qmodels[0]);
            if (stat(s->qmodels[s->n_qmodels], &st) != 0 || !S_ISREG(st.st_mode))
                return fail(c, "key 'qmodel': '%s' is not a file", o);
            s->n_qmodels++;
        }
        return 0;
    }
    if (strcmp(key, "eval_corpus") == 0) {
        snprintf(s->eval_corpus, sizeof s->eval_corpus, "%s", val);
        return 0;
    }
    if (strcmp(key, "eval_windows") == 0) {
        double v;
        if (parse_number(val, &v) != 0 || v != floor(v) || v < 0 || v > 1e9)
            return fail(c, "key 'eval_windows': value '%s': expected a whole number (0: every window)", val);
        s->eval_windows = (int)v;
        return 0;
    }
    if (strcmp(key, "objectives") == 0) {
        if (s->n_objectives)
            return fail(c, "key 'objectives' is given twice");
        for (char *o = val, *next; o; o = next) {
            next = strchr(o, ',');
            if (next)
                *next++ = '\0';
            o = trim(o);
            if (!floe_explore_figure_known(o) || strcmp(o, "fits") == 0)
                return fail(c, "key 'objectives': '%s' is not a figure (docs/explore.md lists them)", o);
            if (s->n_objectives == 8)
                return fail(c, "key 'objectives': more than 8");
            snprintf(s->objectives[s->n_objectives++], FLOE_SWEEP_KEY_MAX, "%s", o);
        }
        return 0;
    }
    if (strcmp(key, "full_chips") == 0) {
        double v;
        if (parse_number(val, &v) != 0 || v != floor(v) || v < 1 || v > 4096)
            return fail(c, "key 'full_chips': value '%s': expected a whole number from 1 to 4096", val);
        s->full_chips = (int)v;
        return 0;
    }
    return parse_axis(c, s, key, val);
}

int floe_sweep_parse(const char *path, const char *text, size_t len, floe_sweep *s, floe_err *err)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    s->full_chips = 8;
    s->eval_windows = 32;
    ctx c = {path, "", 0, err};
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(c.dir, sizeof c.dir, "%.*s", (int)(slash - path), path);
    int have_machine = 0, rc = 0;
    const char *p = text, *end = text + len;
    char line[8192];
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        c.line++;
        if (n >= sizeof line)
            rc = fail(&c, "line longer than %zu bytes", sizeof line - 1);
        else if (memchr(p, '\0', n))
            rc = fail(&c, "a NUL byte: not a text file");
        else {
            memcpy(line, p, n);
            line[n] = '\0';
            rc = parse_line(&c, s, line, &have_machine);
        }
        p += n + 1;
    }
    c.line = 0;
    if (rc == 0 && !have_machine)
        rc = floe_err_set(err, "%s: no 'machine = FILE' (the base machine)", path);
    if (rc == 0 && floe_sweep_find_axis(s, "model") < 0)
        rc = floe_err_set(err, "%s: no 'model = NAME' (a built-in shape or a config.json)", path);
    for (int a = 0; rc == 0 && a < s->n_axes; a++)
        if (s->axes[a].kind[0] == FLOE_AXIS_ENERGY && !s->energy_path[0])
            rc = floe_err_set(err, "%s:%d: key '%s' is an energy key, but no 'energy = FILE' is given", path,
                              s->axes[a].line, s->axes[a].key[0]);
    double points = 1;
    for (int a = 0; rc == 0 && a < s->n_axes; a++)
        points *= s->axes[a].n_values;
    if (rc == 0 && points > FLOE_SWEEP_MAX_POINTS)
        rc = floe_err_set(err, "%s: %.0f points: more than %d (split the sweep)", path, points, FLOE_SWEEP_MAX_POINTS);
    if (rc != 0) {
        floe_sweep_free(s);
        return -1;
    }
    s->n_points = (uint64_t)points;
    return 0;
}

int floe_sweep_load(const char *path, floe_sweep *s, floe_err *err)
{
    char *text;
    size_t len;
    memset(s, 0, sizeof *s);
    if (floe_read_file(path, 1 << 20, &text, &len, err) != 0)
        return -1;
    int rc = floe_sweep_parse(path, text, len, s, err);
    free(text);
    return rc;
}
