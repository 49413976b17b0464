#include "verify/verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic_file.h"
#include "isa/elem.h"
#include "models/qref.h"

typedef struct capture {
    int n_layers;
    int32_t **out; /* [n_layers] the "out" tensor of each layer; owned */
    int32_t *logits;
    int failed;
} capture;

static void keep(void *ctx, const char *name, int layer, const int32_t *data, size_t rows, size_t width)
{
    capture *c = ctx;
    int32_t **dst = strcmp(name, "out") == 0 && layer >= 0 ? &c->out[layer] : strcmp(name, "logits") == 0 ? &c->logits : NULL;
    if (!dst)
        return;
    *dst = malloc(sizeof(int32_t) * rows * width);
    if (!*dst) {
        c->failed = 1;
        return;
    }
    memcpy(*dst, data, sizeof(int32_t) * rows * width);
}

static void capture_free(capture *c)
{
    for (int l = 0; c->out && l < c->n_layers; l++)
        free(c->out[l]);
    free(c->out);
    free(c->logits);
    c->out = NULL;
    c->logits = NULL;
}

/* Keeps the whole tensor that differed (chip and reference) for the dump. */
/* ref: row r of the reference starts at ref + r * stride (stride >= width: a slice of wider rows). */
static void keep_dump(floe_verify_dump *d, const floe_memory *mem, uint32_t addr, const int32_t *ref, int stride,
                      int rows, int pos0, int width, const char *what)
{
    if (d->chip)
        return;
    size_t n = (size_t)rows * width;
    d->chip = malloc(sizeof(int32_t) * n);
    d->ref = malloc(sizeof(int32_t) * n);
    if (!d->chip || !d->ref) {
        free(d->chip), free(d->ref);
        d->chip = d->ref = NULL;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        d->chip[i] = floe_elem_load(mem->bytes + addr, FLOE_DT_I16, i);
        d->ref[i] = ref[(size_t)(pos0 + (int)(i / (size_t)width)) * (size_t)stride + i % (size_t)width];
    }
    snprintf(d->what, sizeof d->what, "%s", what);
    d->rows = rows;
    d->width = width;
    d->pos0 = pos0;
}

void floe_verify_dump_free(floe_verify_dump *d)
{
    free(d->chip);
    free(d->ref);
    d->chip = d->ref = NULL;
}

int floe_verify_dump_write(const floe_verify_dump *d, const char *path, floe_err *err)
{
    if (!d->chip)
        return floe_err_set(err, "%s: nothing differed, no dump", path);
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    fprintf(af.fp, "# %s: chip vs reference\nposition,index,chip,reference,differs\n", d->what);
    for (int t = 0; t < d->rows; t++)
        for (int i = 0; i < d->width; i++) {
            size_t k = (size_t)t * d->width + i;
            fprintf(af.fp, "%d,%d,%d,%d,%d\n", d->pos0 + t, i, d->chip[k], d->ref[k], d->chip[k] != d->ref[k]);
        }
    return floe_afile_commit(&af, err);
}

/* The chip's [rows][width] int16 region at addr against ref's rows pos0.. (stride elements apart),
 * each element counted into *compared. On the first difference: 0, the mismatch line (after `mode`,
 * when not NULL) and the dump kept. */
static int compare_region(uint64_t *compared, char *mismatch, size_t n, floe_verify_dump *dump, const floe_memory *mem,
                          uint32_t addr, const int32_t *ref, int stride, int rows, int pos0, int width,
                          const char *mode, const char *what, unsigned x, unsigned y)
{
    for (int t = 0; t < rows; t++)
        for (int i = 0; i < width; i++) {
            int32_t got = floe_elem_load(mem->bytes + addr, FLOE_DT_I16, (size_t)t * width + i);
            int32_t want = ref[(size_t)(pos0 + t) * stride + i];
            (*compared)++;
            if (got != want) {
                snprintf(mismatch, n, "%s%s%s differs at position %d, index %d: chip (core %u, %u) %d, reference %d",
                         mode ? mode : "", mode ? " " : "", what, pos0 + t, i, x, y, got, want);
                keep_dump(dump, mem, addr, ref, stride, rows, pos0, width, what);
                return 0;
            }
        }
    return 1;
}

/* What a head main core's region "logits" holds: all the logits, or a slice's rows v0.. (w of V). */
static void logits_name(char *out, size_t n, int v0, int w, int V)
{
    if (w == V)
        snprintf(out, n, "logits");
    else
        snprintf(out, n, "logits of vocabulary rows %d..%d", v0, v0 + w - 1);
}

/* Compares int16 values in simulated memory with the reference; fills res on the first difference. */
static int compare(floe_verify_result *res, const floe_memory *mem, uint32_t addr, const int32_t *ref, int T, int width,
                   int stride, const char *what, unsigned x, unsigned y)
{
    return compare_region(&res->compared, res->mismatch, sizeof res->mismatch, &res->dump, mem, addr, ref, stride, T, 0,
                          width, NULL, what, x, y);
}

int floe_verify_prefill(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e,
                        const int32_t *tokens, int T, floe_verify_result *res, floe_err *err)
{
    memset(res, 0, sizeof *res);
    floe_compile_opts o = {.tokens = T};
    floe_program *p = NULL;
    floe_compile_report rep;
    if (floe_compile_prefill(m, mach, &o, &p, &rep, err) != 0)
        return -1;
    int rc = floe_verify_program(m, mach, e, tokens, T, p, &rep, res, err);
    res->compile = rep;
    floe_program_free(p);
    return rc;
}

int floe_verify_program(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e,
                        const int32_t *tokens, int T, const floe_program *p, const floe_compile_report *rep,
                        floe_verify_result *res, floe_err *err)
{
    floe_compile_report keep_rep = res->compile;
    floe_verify_dump_free(&res->dump); /* an earlier call's */
    memset(res, 0, sizeof *res);
    res->compile = keep_rep;
    const floe_model_config *cf = &m->cfg;
    capture cap = {cf->n_layers, calloc((size_t)cf->n_layers, sizeof(int32_t *)), NULL, 0};
    int16_t *logits = malloc(sizeof(int16_t) * (size_t)T * cf->vocab_size);
    floe_sim *s = NULL;
    int rc = -1;
    if (!cap.out || !logits) {
        floe_err_set(err, "verify: out of memory");
        goto out;
    }
    if (floe_qref_forward(m, tokens, T, logits, keep, &cap, err) != 0)
        goto out;
    if (cap.failed) {
        floe_err_set(err, "verify: out of memory");
        goto out;
    }
    if (floe_sim_new(&s, mach, e, err) != 0 || floe_sim_load(s, p, err) != 0)
        goto out;
    /* the host's embedding lookup, into region "x" of the first core */
    const floe_symbol *xs = floe_program_symbol(p, rep->in_x, rep->in_y, "x", 1);
    floe_memory *in = floe_sim_memory(s, rep->in_x, rep->in_y);
    if (!xs || !in) {
        floe_err_set(err, "verify: the program has no input region 'x'");
        goto out;
    }
    int16_t *emb = malloc(sizeof(int16_t) * (size_t)T * cf->d_model);
    if (!emb) {
        floe_err_set(err, "verify: out of memory");
        goto out;
    }
    for (int t = 0; t < T; t++)
        memcpy(emb + (size_t)t * cf->d_model, m->embed + (size_t)tokens[t] * cf->d_model, sizeof(int16_t) * cf->d_model);
    int wrc = floe_memory_write(in, xs->value, emb, sizeof(int16_t) * (size_t)T * cf->d_model, err);
    free(emb);
    if (wrc != 0)
        goto out;
    floe_sim_options so = {1, NULL, 0, 0}; /* strict: a read of uninitialised memory is a compiler bug */
    if (floe_sim_run(s, &so, err) != 0)
        goto out;
    res->sim = *floe_sim_result_get(s);
    res->match = 1;
    for (int l = 0; l < cf->n_layers && res->match; l++) {
        const floe_core_use *cu = floe_compile_report_main(rep, l);
        const floe_symbol *sym = floe_program_symbol(p, cu->x, cu->y, "x", 1);
        char what[64];
        snprintf(what, sizeof what, "layer %d output (residual stream)", l);
        res->match = compare(res, floe_sim_memory(s, cu->x, cu->y), sym->value, cap.out[l], T, cf->d_model, cf->d_model,
                             what, cu->x, cu->y);
    }
    /* the logits on every main core of the head: all the vocabulary rows, or a slice of them when the
     * head is cut into slices (each with its own main core, on this chip too) */
    for (size_t i = 0; i < rep->ncores && res->match; i++) {
        const floe_core_use *cu = &rep->cores[i];
        if (!cu->is_main || cu->layer >= 0)
            continue;
        const floe_symbol *sym = floe_program_symbol(p, cu->x, cu->y, "logits", 6);
        const int v0 = cu->vocab0, w = cu->vocab1 - cu->vocab0;
        char what[64];
        logits_name(what, sizeof what, v0, w, cf->vocab_size);
        res->match = compare(res, floe_sim_memory(s, cu->x, cu->y), sym->value, cap.logits + v0, T, w, cf->vocab_size,
                             what, cu->x, cu->y);
    }
    rc = 0;
out:
    floe_sim_free(s);
    capture_free(&cap);
    free(logits);
    return rc;
}

void floe_verify_result_free(floe_verify_result *res)
{
    floe_compile_report_free(&res->compile);
    floe_verify_dump_free(&res->dump);
}

static void free_stages(floe_verify_run_result *res)
{
    floe_step_cost *c[4] = {&res->prefill, &res->decode, &res->decode_at, &res->prefill_at};
    for (int i = 0; i < 4; i++) {
        free(c[i]->stage);
        c[i]->stage = NULL;
        c[i]->stages = 0;
    }
}

void floe_verify_run_result_free(floe_verify_run_result *res)
{
    floe_verify_dump_free(&res->dump);
    free_stages(res);
}

/* ---- multi-chip ---------------------------------------------------------------------------- */

/* The layer whose output a chip hands on (its last group's), or -1: the chip ends with the head or
 * with a layer's attention half. */
static int chip_out_layer(const floe_compile_report *rep)
{
    const floe_core_use *last = NULL;
    for (size_t i = 0; i < rep->ncores; i++)
        if (rep->cores[i].is_main)
            last = &rep->cores[i];
    return last && last->part != 1 ? last->layer : -1;
}

typedef struct stage_check {
    const floe_chip_program *chips;
    const capture *cap;
    int T, d;
    floe_verify_system_result *res;
} stage_check;

static void check_stage(void *ctx, int s, const uint8_t *out, size_t n)
{
    stage_check *sc = ctx;
    const floe_chip_program *cp = &sc->chips[s];
    /* a chip without the head ends with a layer's residual stream, or with the attention half of one */
    int last_layer = chip_out_layer(&cp->report);
    if (!sc->res->match || last_layer < 0 || n < (size_t)2 * sc->T * sc->d)
        return;
    for (int i = 0; i < sc->T * sc->d; i++) {
        int32_t got = floe_elem_load(out, FLOE_DT_I16, (size_t)i), want = sc->cap->out[last_layer][i];
        sc->res->compared++;
        if (got != want) {
            sc->res->match = 0;
            snprintf(sc->res->mismatch, sizeof sc->res->mismatch,
                     "chip %d hand-off (layer %d output) differs at position %d, index %d: chip %d, reference %d", s,
                     last_layer, i / sc->d, i % sc->d, got, want);
            return;
        }
    }
}

int floe_verify_pipeline(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e,
                         const int32_t *tokens, int T, int users, floe_verify_system_result *res, floe_err *err)
{
    memset(res, 0, sizeof *res);
    const floe_model_config *cf = &m->cfg;
    capture cap = {cf->n_layers, calloc((size_t)cf->n_layers, sizeof(int32_t *)), NULL, 0};
    int16_t *logits = malloc(sizeof(int16_t) * (size_t)T * cf->vocab_size),
            *chip_logits = malloc(sizeof(int16_t) * (size_t)T * cf->vocab_size),
            *emb = malloc(sizeof(int16_t) * (size_t)T * cf->d_model);
    floe_chip_program *chips = NULL;
    floe_stage *stages = NULL;
    int n = 0, rc = -1;
    if (!cap.out || !logits || !chip_logits || !emb) {
        floe_err_set(err, "verify: out of memory");
        goto out;
    }
    if (floe_qref_forward(m, tokens, T, logits, keep, &cap, err) != 0)
        goto out;
    floe_compile_opts o = {.tokens = T};
    if (floe_compile_pipeline(m, mach, &o, &chips, &n, err) != 0)
        goto out;
    for (int k = 0; k < n; k++) { /* one stage's output is the whole result */
        const floe_core_use *h = floe_compile_report_main(&chips[k].report, -1);
        if (h && h->vocab1 - h->vocab0 < cf->vocab_size) {
            floe_err_set(err, "verify: the LM head spans chips (vocabulary slices): the prefill pipeline returns one "
                              "chip's logits; check it with floe_verify_run (floe verify --decode N)");
            goto out;
        }
    }
    stages = calloc((size_t)n, sizeof *stages);
    if (!stages || cap.failed) {
        floe_err_set(err, "verify: out of memory");
        goto out;
    }
    for (int k = 0; k < n; k++) {
        const floe_compile_report *r = &chips[k].report;
        stages[k] = (floe_stage){chips[k].prog, r->in_x, r->in_y, r->out_x, r->out_y,
                                 floe_compile_report_main(r, -1) ? "logits" : "x"};
    }
    for (int t = 0; t < T; t++)
        memcpy(emb + (size_t)t * cf->d_model, m->embed + (size_t)tokens[t] * cf->d_model, sizeof(int16_t) * cf->d_model);
    res->chips = n;
    res->match = 1;
    stage_check sc = {chips, &cap, T, cf->d_model, res};
    if (floe_system_pipeline_cb(mach, e, stages, n, emb, sizeof(int16_t) * (size_t)T * cf->d_model, chip_logits,
                                sizeof(int16_t) * (size_t)T * cf->vocab_size, users, check_stage, &sc, &res->system,
                                err) != 0)
        goto out;
    for (int i = 0; res->match && i < T * cf->vocab_size; i++) {
        res->compared++;
        if (chip_logits[i] != logits[i]) {
            res->match = 0;
            snprintf(res->mismatch, sizeof res->mismatch, "logits differ at position %d, index %d: chip %d, reference %d",
                     i / cf->vocab_size, i % cf->vocab_size, chip_logits[i], logits[i]);
        }
    }
    rc = 0;
out:
    floe_chip_programs_free(chips, n);
    free(stages);
    capture_free(&cap);
    free(logits);
    free(chip_logits);
    free(emb);
    return rc;
}

void floe_verify_system_result_free(floe_verify_system_result *res) { floe_system_result_free(&res->system); }

/* ---- prefill and decode, one chip or several --------------------------------------------------- */

/* A chip between programs: the memories of the cores its programs used (bytes and written bits),
 * kept while the simulators that ran the programs are freed (a simulator's own state, its units,
 * accumulators and caches, lives only while it runs one program). */
typedef struct chip_memory {
    floe_memory *core; /* [cores_y * cores_x]; a core no program used has none (bytes NULL) */
} chip_memory;

static void chip_memory_free(chip_memory *cm, const floe_machine *mach)
{
    for (size_t i = 0; cm->core && i < mach->cores_x * mach->cores_y; i++)
        floe_memory_free(&cm->core[i]);
    free(cm->core);
    cm->core = NULL;
}

/* The new simulator takes over the chip's memories of the cores the program uses. */
static void take_memory(floe_sim *s, chip_memory *cm, const floe_compile_report *rep, const floe_machine *mach)
{
    for (size_t i = 0; cm->core && i < rep->ncores; i++) {
        floe_memory *kept = &cm->core[rep->cores[i].y * mach->cores_x + rep->cores[i].x],
                    *m = floe_sim_memory(s, rep->cores[i].x, rep->cores[i].y);
        if (kept->bytes && m)
            floe_memory_move(m, kept);
    }
}

/* The chip keeps the memories of the cores the program used, before its simulator is freed. */
static int keep_memory(chip_memory *cm, floe_sim *s, const floe_compile_report *rep, const floe_machine *mach,
                       floe_err *err)
{
    if (!cm->core && !(cm->core = calloc(mach->cores_x * mach->cores_y, sizeof *cm->core)))
        return floe_err_set(err, "verify: out of memory");
    for (size_t i = 0; i < rep->ncores; i++) {
        floe_memory *kept = &cm->core[rep->cores[i].y * mach->cores_x + rep->cores[i].x],
                    *m = floe_sim_memory(s, rep->cores[i].x, rep->cores[i].y);
        if (!m)
            continue;
        kept->capacity = m->capacity;
        floe_memory_move(kept, m);
    }
    return 0;
}

/* The busiest layer group's span (first start to last end of its main and weight cores' code). */
static uint64_t slowest_group(const floe_sim *s)
{
    size_t n;
    const floe_region_stats *r = floe_sim_region_stats(s, &n);
    uint64_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(r[i].name);
        if (len >= 2 && strcmp(r[i].name + len - 2, "_w") == 0)
            continue;
        uint64_t lo = r[i].first_cycle, hi = r[i].last_cycle;
        for (size_t j = 0; j < n; j++) /* its weight cores: "<name>_w" */
            if (strlen(r[j].name) == len + 2 && strncmp(r[j].name, r[i].name, len) == 0 &&
                strcmp(r[j].name + len, "_w") == 0) {
                lo = r[j].first_cycle < lo ? r[j].first_cycle : lo;
                hi = r[j].last_cycle > hi ? r[j].last_cycle : hi;
            }
        if (strcmp(r[i].name, "(none)") != 0 && hi - lo > worst)
            worst = hi - lo;
    }
    return worst;
}

/* A group's span on its chip: its regions' ("layer<L>", or for the head "lm_head", a slice of it
 * "lm_head_v<first row>", with "_a" and "_w" for its attention and weight cores; a chip has one group of a layer at most, as a layer's halves
 * have chips of their own) earliest start to latest end, in cycles. Returns 0 when it ran nothing. */
static int group_span(const floe_sim *s, const floe_core_use *cu, int vocab, uint64_t *lo, uint64_t *hi)
{
    char base[32];
    if (cu->layer >= 0)
        snprintf(base, sizeof base, "layer%d", cu->layer);
    else if (cu->vocab0 == 0 && cu->vocab1 == vocab)
        snprintf(base, sizeof base, "lm_head");
    else
        snprintf(base, sizeof base, "lm_head_v%d", cu->vocab0);
    size_t n, len = strlen(base);
    const floe_region_stats *r = floe_sim_region_stats(s, &n);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = r[i].name;
        if (strncmp(name, base, len) != 0 || (name[len] && strcmp(name + len, "_a") && strcmp(name + len, "_w")) ||
            !r[i].insns)
            continue;
        *lo = !found || r[i].first_cycle < *lo ? r[i].first_cycle : *lo;
        *hi = !found || r[i].last_cycle > *hi ? r[i].last_cycle : *hi;
        found = 1;
    }
    return found;
}

/* cycles at the machine's clock in picoseconds, rounded up */
static uint64_t cycles_ps(uint64_t cycles, uint64_t clock)
{
    __extension__ unsigned __int128 n = (unsigned __int128)cycles * 1000000000000ull;
    return (uint64_t)((n + clock - 1) / clock);
}

/* The stages of a step through the pipeline: every chip's groups (their main cores), then the link
 * to the next chip. */
static int count_stages(const floe_pipeline_plan *pl)
{
    return floe_pipeline_plan_groups(pl) + floe_pipeline_plan_chips(pl) - 1;
}

/* Keeps the stage times of the steps written into *c (its stage array, allocated once). */
static int keep_stages(floe_step_cost *c, const floe_pipeline_plan *pl, floe_err *err)
{
    c->stages = count_stages(pl);
    c->stage = calloc((size_t)c->stages, sizeof *c->stage);
    return c->stage ? 0 : floe_err_set(err, "verify: out of memory");
}

/* sum += one: a step made of programs run one after another (a prompt in chunks). Latencies, energy,
 * cycles and every stage's times add; the slowest stage is the slowest of any. */
static int add_step(floe_step_cost *sum, const floe_step_cost *one, floe_err *err)
{
    if (!sum->stage && one->stages) {
        sum->stage = calloc((size_t)one->stages, sizeof *sum->stage);
        if (!sum->stage)
            return floe_err_set(err, "verify: out of memory");
        sum->stages = one->stages;
        for (int i = 0; i < one->stages; i++) {
            sum->stage[i] = one->stage[i];
            sum->stage[i].gap_s = sum->stage[i].busy_s = 0;
        }
    }
    if (sum->stages != one->stages)
        return floe_err_set(err, "verify: the chunks of a prefill have different stages (%d, %d)", sum->stages,
                            one->stages);
    sum->programs = (sum->programs > 0 ? sum->programs : 0) + 1;
    sum->latency_s += one->latency_s;
    sum->interval_s = one->interval_s > sum->interval_s ? one->interval_s : sum->interval_s;
    sum->energy_j += one->energy_j;
    sum->static_j += one->static_j;
    sum->cycles += one->cycles;
    sum->macs += one->macs;
    floe_actions_add(&sum->actions, &one->actions);
    for (int i = 0; i < one->stages; i++) {
        sum->stage[i].gap_s += one->stage[i].gap_s;
        sum->stage[i].busy_s += one->stage[i].busy_s;
    }
    return 0;
}

typedef struct run_ctx {
    const floe_qmodel *m;
    const floe_machine *mach;
    const floe_energy_table *e;
    const capture *cap;
    chip_memory *mem; /* [chips]: the chips' memories so far */
    int chips;
    floe_verify_run_result *res;
} run_ctx;

/* The mapping's figures (cores, memory, users whose caches fit) from every chip's compile report. */
static void run_stats(floe_verify_run_result *res, const floe_compile_report *reports, int n, int caches,
                      const floe_machine *mach)
{
    res->mem_min = UINT64_MAX;
    res->users_by_kv = UINT64_MAX;
    for (int k = 0; k < n; k++) {
        const floe_compile_report *r = &reports[k];
        for (size_t i = 0; i < r->ncores; i++) {
            const floe_core_use *cu = &r->cores[i];
            res->cores++;
            res->weight_cores += !cu->is_main && !cu->kv_bytes;
            res->attn_cores += !cu->is_main && cu->kv_bytes;
            res->groups += (uint64_t)cu->is_main;
            res->mem_min = cu->bytes < res->mem_min ? cu->bytes : res->mem_min;
            res->mem_max = cu->bytes > res->mem_max ? cu->bytes : res->mem_max;
            res->mem_total += cu->bytes;
            if (cu->kv_bytes && (uint64_t)caches + (mach->core_mem_bytes - cu->bytes) / cu->kv_bytes < res->users_by_kv)
                res->users_by_kv = (uint64_t)caches + (mach->core_mem_bytes - cu->bytes) / cu->kv_bytes;
        }
    }
}

/* rows pos0.. of the chip's [rows][width] at addr against the reference's (row r at ref + r * stride). */
static int compare_rows(floe_verify_run_result *res, const floe_memory *mem, uint32_t addr, const int32_t *ref,
                        int stride, int rows, int pos0, int width, const char *what, unsigned x, unsigned y,
                        const char *mode)
{
    if (compare_region(&res->compared, res->mismatch, sizeof res->mismatch, &res->dump, mem, addr, ref, stride, rows,
                       pos0, width, mode, what, x, y))
        return 1;
    res->match = 0;
    return 0;
}

/* One program per chip (a prefill of `rows` rows, or one decode row at pos0), chip after chip: each
 * chip's program is compiled from the plan, run and checked, then freed (a prefill program holds
 * the chip's weights: they live on in the chip's memory, not twice). reports (NULL: none kept)
 * receives every chip's compile report. */
static int run_step(run_ctx *R, const floe_pipeline_plan *pl, floe_compile_report *reports, const int16_t *input,
                    int rows, int pos0, const char *mode, int check, floe_step_cost *cost, floe_err *err)
{
    const floe_model_config *cf = &R->m->cfg;
    const int n = floe_pipeline_plan_chips(pl);
    if (n != R->chips)
        return floe_err_set(err, "verify: a step over %d chips where the run has %d", n, R->chips);
    size_t in_bytes = sizeof(int16_t) * (size_t)rows * cf->d_model;
    uint8_t *buf = malloc(in_bytes);
    floe_links links;
    if (!buf)
        return floe_err_set(err, "verify: out of memory");
    if (floe_links_init(&links, R->mach, err) != 0) {
        free(buf);
        return -1;
    }
    memcpy(buf, input, in_bytes);
    floe_stage_time *st = cost->stage; /* the stages, when kept: as many as the programs have */
    int kept = cost->stages, nst = st ? count_stages(pl) : 0, si = 0;
    floe_chip_program chip = {0};
    floe_sim *s = NULL; /* chip k's, while it runs and is checked */
    if (nst != (st ? kept : 0)) {
        floe_links_free(&links);
        free(buf);
        return floe_err_set(err, "verify: a step of %d stages where %d are kept", nst, kept);
    }
    memset(cost, 0, sizeof *cost);
    cost->stage = st;
    cost->stages = st ? kept : 0;
    uint64_t prev_end = 0; /* ps: the previous stage's end */
    floe_energy_cost ec;
    if (R->e)
        floe_energy_costs(R->e, &ec);
    uint64_t t_ps = 0, clock = R->mach->clock_hz, worst_ps = 0;
    int rc = -1;
    for (int k = 0; k < n; k++) {
        floe_chip_program_release(&chip);
        if (floe_compile_pipeline_chip(pl, k, &chip, err) != 0)
            goto out;
        if (reports) { /* a copy of the report */
            floe_compile_report_free(&reports[k]);
            reports[k] = chip.report;
            reports[k].cores = malloc(sizeof *chip.report.cores * (chip.report.ncores ? chip.report.ncores : 1));
            if (!reports[k].cores) {
                memset(&reports[k], 0, sizeof reports[k]);
                floe_err_set(err, "verify: out of memory");
                goto out;
            }
            memcpy(reports[k].cores, chip.report.cores, sizeof *chip.report.cores * chip.report.ncores);
        }
        const floe_chip_program *cp = &chip;
        const floe_compile_report *rep = &cp->report;
        floe_sim_free(s);
        s = NULL;
        if (floe_sim_new(&s, R->mach, R->e, err) != 0)
            goto out;
        take_memory(s, &R->mem[k], rep, R->mach);
        const floe_symbol *xs = floe_program_symbol(cp->prog, rep->in_x, rep->in_y, "x", 1);
        floe_sim_options so = {check, NULL, 0, 0}; /* strict: a read of uninitialised memory is a compiler bug */
        if (!xs) {
            floe_err_set(err, "verify: chip %d's program has no input region 'x'", k);
            goto out;
        }
        if (floe_sim_load(s, cp->prog, err) != 0 ||
            floe_memory_write(floe_sim_memory(s, rep->in_x, rep->in_y), xs->value, buf, in_bytes, err) != 0 ||
            floe_sim_run(s, &so, err) != 0) {
            floe_err_prefix(err, "chip %d", k);
            goto out;
        }
        const floe_sim_result *sr = floe_sim_result_get(s);
        cost->cycles += sr->cycles;
        for (int i = 0; i < FLOE_PREC_COUNT; i++)
            cost->macs += sr->actions.macs[i];
        floe_actions_add(&cost->actions, &sr->actions);
        if (sr->have_energy) {
            cost->energy_j += sr->energy.total_j;
            cost->static_j += sr->energy.static_j;
        }
        for (size_t i = 0; i < rep->ncores && nst; i++) { /* the chip's groups in order: their main cores */
            const floe_core_use *cu = &rep->cores[i];
            if (!cu->is_main)
                continue;
            uint64_t lo = 0, hi = 0, a = prev_end, b = prev_end;
            if (group_span(s, cu, cf->vocab_size, &lo, &hi)) {
                a = t_ps + cycles_ps(lo, clock);
                b = t_ps + cycles_ps(hi, clock);
                a = a > prev_end ? a : prev_end;
                b = b > a ? b : a;
            }
            if (si < nst)
                st[si] = (floe_stage_time){cu->layer >= 0 ? cu->layer : cf->n_layers, cu->part, k,
                                           (double)(a - prev_end) * 1e-12, (double)(b - a) * 1e-12};
            si++;
            prev_end = b;
        }
        uint64_t stage_ps = (sr->cycles * 1000000000000ull + clock - 1) / clock;
        uint64_t group_ps = (slowest_group(s) * 1000000000000ull + clock - 1) / clock;
        worst_ps = group_ps > worst_ps ? group_ps : worst_ps;
        t_ps += stage_ps;
        /* every layer output and the logits on this chip */
        for (size_t i = 0; check && i < rep->ncores && R->res->match; i++) {
            const floe_core_use *cu = &rep->cores[i];
            if (!cu->is_main || cu->part == 1) /* a layer's attention half: no layer output yet */
                continue;
            int layer = cu->layer;
            const floe_symbol *sym = floe_program_symbol(cp->prog, cu->x, cu->y, layer >= 0 ? "x" : "logits",
                                                         layer >= 0 ? 1 : 6);
            char what[64];
            if (layer >= 0) {
                snprintf(what, sizeof what, "layer %d output (residual stream)", layer);
                compare_rows(R->res, floe_sim_memory(s, cu->x, cu->y), sym->value, R->cap->out[layer], cf->d_model, rows,
                             pos0, cf->d_model, what, cu->x, cu->y, mode);
                continue;
            }
            /* the logits of the head's vocabulary rows here (all of them, or a slice): the reference's
             * columns v0.. of its rows */
            const int v0 = cu->vocab0, w = cu->vocab1 - cu->vocab0;
            logits_name(what, sizeof what, v0, w, cf->vocab_size);
            compare_rows(R->res, floe_sim_memory(s, cu->x, cu->y), sym->value, R->cap->logits + v0, cf->vocab_size, rows,
                         pos0, w, what, cu->x, cu->y, mode);
        }
        if (k + 1 < n) { /* hand the residual stream to the next chip */
            const floe_symbol *os = floe_program_symbol(cp->prog, rep->out_x, rep->out_y, "x", 1);
            memcpy(buf, floe_sim_memory(s, rep->out_x, rep->out_y)->bytes + os->value, in_bytes);
            uint64_t arrive = floe_links_transfer(&links, (uint64_t)k, (uint64_t)k + 1, in_bytes, t_ps);
            worst_ps = arrive - t_ps > worst_ps ? arrive - t_ps : worst_ps;
            if (nst) { /* the link: occupied bytes / bandwidth; its latency is the next group's gap */
                uint64_t wire = floe_links_wire_ps(R->mach, (uint64_t)k, (uint64_t)k + 1, in_bytes, NULL);
                uint64_t a = t_ps > prev_end ? t_ps : prev_end;
                if (si < nst)
                    st[si] = (floe_stage_time){-1, 0, k, (double)(a - prev_end) * 1e-12, (double)wire * 1e-12};
                si++;
                prev_end = a + wire;
            }
            t_ps = arrive;
        }
        if (keep_memory(&R->mem[k], s, rep, R->mach, err) != 0)
            goto out;
    }
    if (nst && si != nst) { /* the plan's groups are the programs' main cores */
        floe_err_set(err, "verify: a step of %d stages where %d are kept", si, nst);
        goto out;
    }
    if (nst && si > 0 && t_ps > prev_end) /* the last stage ends with the step */
        st[si - 1].busy_s += (double)(t_ps - prev_end) * 1e-12;
    cost->latency_s = (double)t_ps * 1e-12;
    cost->interval_s = (double)worst_ps * 1e-12;
    cost->actions.pcie_bytes += links.pcie_bytes;
    cost->actions.eth_bytes += links.eth_bytes;
    if (R->e)
        cost->energy_j += ((double)links.pcie_bytes * ec.pcie_pj_per_byte + (double)links.eth_bytes * ec.eth_pj_per_byte) *
                          1e-12;
    rc = 0;
out:
    floe_sim_free(s);
    floe_chip_program_release(&chip);
    free(buf);
    floe_links_free(&links);
    return rc;
}

static void progress(const floe_verify_opts *o, const char *fmt, ...) FLOE_PRINTF(2, 3);
static void progress(const floe_verify_opts *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    char what[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    o->progress(o->progress_ctx, what);
}

int floe_verify_run(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e, const int32_t *tokens,
                    const floe_verify_opts *o, floe_verify_run_result *res, floe_err *err)
{
    memset(res, 0, sizeof *res);
    const floe_model_config *cf = &m->cfg;
    const int T = o->tokens, N = o->decode, all = T + N, d = cf->d_model, U = o->users > 1 ? o->users : 1;
    if (T < 1 || N < 0 || all > cf->context || o->kv_tokens > cf->context)
        return floe_err_set(err, "verify: a prefill of %d tokens and %d decode steps: the model's context is %d", T, N,
                            cf->context);
    capture *cap = calloc((size_t)U, sizeof *cap);
    int16_t *logits = malloc(sizeof(int16_t) * (size_t)all * cf->vocab_size),
            *emb = malloc(sizeof(int16_t) * (size_t)U * all * d);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)all);
    floe_pipeline_plan *plan = NULL;
    floe_compile_report *reports = NULL; /* [n]: user 0's prefill's, for the figures of the mapping */
    chip_memory *mem = NULL;
    int n = 0, rc = -1;
    if (!cap || !logits || !emb || !tok) {
        floe_err_set(err, "verify: out of memory");
        goto out;
    }
    /* user u's tokens: the given ones, shifted through the vocabulary for u > 0 */
    for (int u = 0; u < U; u++) {
        cap[u] = (capture){cf->n_layers, calloc((size_t)cf->n_layers, sizeof(int32_t *)), NULL, 0};
        for (int t = 0; t < all; t++)
            tok[t] = (int32_t)(((int64_t)tokens[t] + 37 * (int64_t)u) % cf->vocab_size);
        if (!cap[u].out) {
            floe_err_set(err, "verify: out of memory");
            goto out;
        }
        progress(o, "reference forward, user %d", u);
        if (floe_qref_forward(m, tok, all, logits, keep, &cap[u], err) != 0)
            goto out;
        if (cap[u].failed) {
            floe_err_set(err, "verify: out of memory");
            goto out;
        }
        for (int t = 0; t < all; t++)
            memcpy(emb + ((size_t)u * all + t) * d, m->embed + (size_t)tok[t] * d, sizeof(int16_t) * d);
    }
    int kvcap = o->kv_tokens > all ? o->kv_tokens : all;
    const int C = o->caches > U ? o->caches : U; /* KV caches compiled: the memory plan's users */
    /* the rows of one program (region "x"): the prefill whole, or in chunks */
    const int RT = o->prefill_chunk > 0 && o->prefill_chunk < T ? o->prefill_chunk : T;
    floe_compile_opts co = {.tokens = RT, .kv_tokens = kvcap, .core_weight_bytes = o->core_weight_bytes, .users = C,
                            .v_block = o->v_block, .attn_ranges = o->attn_ranges, .reuse_rows = o->reuse_rows};
    if (floe_compile_pipeline_plan(m, mach, &co, &plan, err) != 0)
        goto out;
    n = floe_pipeline_plan_chips(plan);
    mem = calloc((size_t)n, sizeof *mem);
    reports = calloc((size_t)n, sizeof *reports);
    if (!mem || !reports) {
        floe_err_set(err, "verify: out of memory");
        goto out;
    }
    if (keep_stages(&res->prefill, plan, err) != 0 || (N > 0 && keep_stages(&res->decode, plan, err) != 0) ||
        (o->price_pos > 0 && keep_stages(&res->decode_at, plan, err) != 0))
        goto out;
    res->chips = n;
    res->users = U;
    res->kv_tokens = kvcap;
    res->kv_bytes_per_layer = 2ull * (uint64_t)kvcap * (uint64_t)cf->n_kv_heads * (uint64_t)cf->head_dim;
    res->match = 1;
    run_ctx R = {m, mach, e, &cap[0], mem, n, res};
    /* every user's prefill into its own KV cache, then the decode steps taking the users in turn */
    for (int u = 0; u < U && res->match; u++) {
        floe_pipeline_plan *pu = plan;
        floe_compile_opts uco = co;
        uco.user = u;
        uco.images_loaded = u > 0; /* user 0's prefill loaded the weights and tables */
        if (u > 0 && floe_compile_pipeline_plan(m, mach, &uco, &pu, err) != 0)
            goto out;
        R.cap = &cap[u];
        progress(o, "prefill, user %d (%d chips)", u, n);
        floe_step_cost pre = {0}; /* user 0's is the result's */
        int prc = run_step(&R, pu, u == 0 ? reports : NULL, emb + (size_t)u * all * d, RT, 0, "prefill:", 1,
                           u == 0 ? &res->prefill : &pre, err);
        if (u > 0)
            floe_pipeline_plan_free(pu);
        if (prc != 0)
            goto out;
        if (u == 0) {
            res->prefill.programs = 1;
            res->reuse_rows = n > 0 && reports[0].reuse_rows > 0 ? reports[0].reuse_rows : 1;
            run_stats(res, reports, n, C, mach);
        }
        /* the prompt's other chunks: programs of up to RT rows against the cache the earlier ones wrote */
        for (int p0 = RT; p0 < T && prc == 0 && res->match; p0 += RT) {
            const int rows = T - p0 < RT ? T - p0 : RT;
            floe_compile_opts kco = co;
            kco.decode = 1;
            kco.pos = p0;
            kco.rows = rows;
            kco.user = u;
            floe_pipeline_plan *kp = NULL;
            floe_step_cost one = {0};
            prc = floe_compile_pipeline_plan(m, mach, &kco, &kp, err);
            if (prc == 0 && u == 0)
                prc = keep_stages(&one, kp, err);
            if (prc == 0)
                prc = run_step(&R, kp, NULL, emb + ((size_t)u * all + p0) * d, rows, p0, "prefill:", 1, &one, err);
            if (prc == 0 && u == 0)
                prc = add_step(&res->prefill, &one, err);
            free(one.stage);
            floe_pipeline_plan_free(kp);
        }
        if (prc != 0)
            goto out;
    }
    for (int i = 0; i < N && res->match; i++)
        for (int u = 0; u < U && res->match; u++) {
            floe_pipeline_plan *dp = NULL;
            floe_compile_opts dco = co; /* the same memory plan */
            dco.decode = 1;
            dco.pos = T + i;
            dco.user = u;
            if (floe_compile_pipeline_plan(m, mach, &dco, &dp, err) != 0)
                goto out;
            R.cap = &cap[u];
            progress(o, "decode step %d of %d, user %d", i + 1, N, u);
            int drc = run_step(&R, dp, NULL, emb + ((size_t)u * all + T + i) * d, 1, T + i, "decode:", 1,
                               &res->decode, err);
            floe_pipeline_plan_free(dp);
            if (drc != 0)
                goto out;
            if (u == 0)
                res->decoded++;
        }
    /* everything checked: the reference's tensors are done with */
    for (int u = 0; u < U; u++)
        capture_free(&cap[u]);
    R.cap = NULL;
    if (o->price_pos > 0 && res->match) { /* the price of a decode step deeper into the cache */
        floe_pipeline_plan *dp = NULL;
        floe_compile_opts dco = co;
        dco.decode = 1;
        dco.pos = o->price_pos;
        if (o->price_pos >= kvcap) {
            floe_err_set(err, "verify: decode position %d is outside the KV cache of %d positions", o->price_pos, kvcap);
            goto out;
        }
        if (floe_compile_pipeline_plan(m, mach, &dco, &dp, err) != 0)
            goto out;
        /* the chips as the checked steps left them; cache rows past them are unwritten (not strict):
         * only the timing and the action counts matter here, and neither depends on the data */
        progress(o, "pricing a decode step at position %d", o->price_pos);
        int drc = run_step(&R, dp, NULL, emb, 1, o->price_pos, "decode:", 0, &res->decode_at, err);
        floe_pipeline_plan_free(dp);
        if (drc != 0)
            goto out;
        res->priced_pos = o->price_pos;
    }
    if (o->price_prompt > 0 && o->price_prompt != T && res->match) { /* the price of another prompt length */
        /* up to T tokens: one prefill program of that many rows; more: chunks of T rows (region "x"
         * holds T), the first a prefill program, the others chunk programs against the cache the
         * earlier chunks wrote, one after another on the same chips; their costs and stage times add.
         * Not strict: any input will do, and neither the timing nor the action counts depend on the
         * data. Chunks of the checked programs' rows have their memory plan: they run on the checked
         * chips, which hold the weights and tables already (user 0's cache is overwritten); other
         * chunks on fresh chips (the first program carries the weights and tables), the checked ones
         * freed first (the host holds one set of chips at a time). */
        const int P = o->price_prompt, chunk = P <= RT ? P : RT, same = chunk == RT;
        chip_memory *fresh = same ? mem : NULL;
        int16_t *x = calloc((size_t)chunk * d, sizeof(int16_t));
        int pn = same ? n : 0, prc = x ? 0 : -1;
        if (!x)
            floe_err_set(err, "verify: out of memory");
        for (int k = 0; !same && k < n; k++)
            chip_memory_free(&mem[k], mach);
        for (int p0 = 0; p0 < P && prc == 0; p0 += chunk) {
            const int rows = P - p0 < chunk ? P - p0 : chunk;
            floe_compile_opts pco = co; /* the checked plan's options, programs of `chunk` rows */
            pco.tokens = chunk;
            pco.decode = p0 > 0;
            pco.pos = p0;
            pco.rows = p0 > 0 ? rows : 0;
            pco.images_loaded = same;
            floe_pipeline_plan *pp = NULL;
            progress(o, "pricing a %d-token prompt, rows %d..%d", P, p0, p0 + rows - 1);
            if (floe_compile_pipeline_plan(m, mach, &pco, &pp, err) != 0) {
                floe_err_prefix(err, "verify: pricing a prefill of %d tokens (rows %d..%d)", P, p0, p0 + rows - 1);
                prc = -1;
                break;
            }
            if (!fresh && !(fresh = calloc((size_t)(pn = floe_pipeline_plan_chips(pp)), sizeof *fresh))) {
                prc = floe_err_set(err, "verify: out of memory");
            } else {
                run_ctx F = R;
                F.mem = fresh;
                F.chips = pn;
                floe_step_cost one = {0};
                prc = keep_stages(&one, pp, err);
                if (prc == 0)
                    prc = run_step(&F, pp, NULL, x, rows, p0, "prefill:", 0, &one, err);
                if (prc == 0)
                    prc = add_step(&res->prefill_at, &one, err);
                free(one.stage);
            }
            floe_pipeline_plan_free(pp);
        }
        if (same)
            fresh = NULL; /* the checked chips: freed below */
        for (int k = 0; fresh && k < pn; k++)
            chip_memory_free(&fresh[k], mach);
        free(fresh);
        free(x);
        if (prc != 0)
            goto out;
        res->priced_prompt = o->price_prompt;
    }
    rc = 0;
out:
    if (rc != 0)
        free_stages(res);
    for (int k = 0; mem && k < n; k++)
        chip_memory_free(&mem[k], mach);
    free(mem);
    for (int k = 0; reports && k < n; k++)
        floe_compile_report_free(&reports[k]);
    free(reports);
    floe_pipeline_plan_free(plan);
    for (int u = 0; cap && u < U; u++)
        capture_free(&cap[u]);
    free(cap);
    free(logits);
    free(emb);
    free(tok);
    return rc;
}
