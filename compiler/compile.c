/* The compiler's public entry points (compiler/compile.h): one chip, a multi-chip pipeline, reports.
 * The passes live beside it: plan.c, buffers.c, emit.c, attention.c, plan_only.c (compiler/mapping.h). */
#include "compiler/mapping.h"

void floe_compile_report_free(floe_compile_report *rep)
{
    free(rep->cores);
    memset(rep, 0, sizeof *rep);
}

const floe_core_use *floe_compile_report_main(const floe_compile_report *rep, int layer)
{
    for (size_t i = 0; i < rep->ncores; i++)
        if (rep->cores[i].is_main && rep->cores[i].layer == layer && rep->cores[i].part != PART_ATTN)
            return &rep->cores[i];
    return NULL;
}

/* Groups first..last-1 on one chip. */
static int compile_chip(const mplan *P, const floe_qmodel *m, const floe_compile_opts *o, int first, int last,
                        floe_program **out, floe_compile_report *rep, floe_err *err)
{
    int ncores = 0;
    for (int s = first; s < last; s++)
        ncores += P->g[s].ncores;
    floe_program *p = floe_program_new(floe_machine_fingerprint(P->mach));
    rep->cores = calloc((size_t)ncores, sizeof *rep->cores);
    if (!p || !rep->cores) {
        floe_program_free(p);
        return floe_err_set(err, "compiler: out of memory");
    }
    int rows = o->decode ? (o->rows > 1 ? o->rows : 1) : P->T, pos0 = o->decode ? o->pos : 0, k = 0;
    for (int s = first; s < last; s++) {
        unsigned px = 0, py = 0, nx = 0, ny = 0;
        if (s > first)
            serp(P->mach, P->first_core[s - 1], &px, &py);
        if (s + 1 < last)
            serp(P->mach, P->first_core[s + 1], &nx, &ny);
        if (fc_emit_group(P, m, &P->g[s], p, P->first_core[s], !o->decode && !o->images_loaded, rows, pos0, s > first, px, py, s + 1 < last, nx,
                       ny, rep->cores + k, err) != 0) {
            floe_program_free(p);
            return -1;
        }
        k += P->g[s].ncores;
    }
    rep->ncores = (size_t)ncores;
    rep->reuse_rows = P->B;
    serp(P->mach, P->first_core[first], &rep->in_x, &rep->in_y);
    serp(P->mach, P->first_core[last - 1], &rep->out_x, &rep->out_y);
    rep->mem_min = UINT64_MAX;
    for (int i = 0; i < ncores; i++) {
        rep->mem_min = rep->cores[i].bytes < rep->mem_min ? rep->cores[i].bytes : rep->mem_min;
        rep->mem_max = rep->cores[i].bytes > rep->mem_max ? rep->cores[i].bytes : rep->mem_max;
        rep->mem_total += rep->cores[i].bytes;
    }
    *out = p;
    return 0;
}

static int check_model(const floe_qmodel *m, const floe_compile_opts *o, floe_err *err)
{
    if (!m->derived)
        return floe_err_set(err, "compiler: the quantized model's constants are not derived");
    return fc_check_opts(&m->cfg, o, err);
}

/* floe_compile_prefill's refusal of a plan that needs more than one chip */
static int refuse_chips(const mplan *P, const floe_model_config *cfg, const floe_machine *mach, floe_err *err)
{
    if (P->chips <= 1)
        return 0;
    uint64_t need = 0;
    for (int s = 0; s < P->ngroups; s++)
        need += (uint64_t)P->g[s].ncores;
    return floe_err_set(err,
                        "the model needs %llu cores in this mapping (%d layers and the LM head, %d cores at the "
                        "fullest); the machine has %llu per chip: use a multi-chip pipeline (floe_compile_pipeline)",
                        (unsigned long long)need, cfg->n_layers, P->g[0].ncores,
                        (unsigned long long)(mach->cores_x * mach->cores_y));
}

int floe_compile_check_one_chip(const floe_model_config *cfg, const floe_qconfig *q, const floe_machine *mach,
                                const floe_compile_opts *o, floe_err *err)
{
    if (fc_check_opts(cfg, o, err) != 0)
        return -1;
    mplan P;
    fc_plan_init(&P, cfg, q, NULL, mach, o);
    int rc = fc_plan_model(&P, err) == 0 ? refuse_chips(&P, cfg, mach, err) : -1;
    fc_plan_free(&P);
    return rc;
}

int floe_compile_prefill(const floe_qmodel *m, const floe_machine *mach, const floe_compile_opts *o,
                         floe_program **out, floe_compile_report *rep, floe_err *err)
{
    *out = NULL;
    memset(rep, 0, sizeof *rep);
    if (check_model(m, o, err) != 0)
        return -1;
    mplan P;
    fc_plan_init(&P, &m->cfg, &m->q, m, mach, o);
    int rc = -1;
    if (fc_plan_model(&P, err) != 0)
        goto out;
    if (refuse_chips(&P, &m->cfg, mach, err) != 0)
        goto out;
    if (compile_chip(&P, m, o, 0, P.ngroups, out, rep, err) != 0) {
        floe_compile_report_free(rep);
        goto out;
    }
    rc = 0;
out:
    fc_plan_free(&P);
    return rc;
}

struct floe_pipeline_plan {
    const floe_qmodel *m;
    floe_compile_opts o;
    mplan P;
};

int floe_compile_pipeline_plan(const floe_qmodel *m, const floe_machine *mach, const floe_compile_opts *o,
                               floe_pipeline_plan **plan, floe_err *err)
{
    *plan = NULL;
    if (check_model(m, o, err) != 0)
        return -1;
    floe_pipeline_plan *pl = calloc(1, sizeof *pl);
    if (!pl)
        return floe_err_set(err, "compiler: out of memory");
    pl->m = m;
    pl->o = *o;
    fc_plan_init(&pl->P, &m->cfg, &m->q, m, mach, &pl->o);
    if (fc_plan_model(&pl->P, err) != 0 || fc_system_chips_check(&pl->P, err) != 0) {
        floe_pipeline_plan_free(pl);
        return -1;
    }
    *plan = pl;
    return 0;
}

int floe_pipeline_plan_chips(const floe_pipeline_plan *plan) { return plan->P.chips; }

int floe_pipeline_plan_groups(const floe_pipeline_plan *plan) { return plan->P.ngroups; }

int floe_compile_pipeline_chip(const floe_pipeline_plan *plan, int k, floe_chip_program *chip, floe_err *err)
{
    const mplan *P = &plan->P;
    memset(chip, 0, sizeof *chip);
    if (k < 0 || k >= P->chips)
        return floe_err_set(err, "compiler: chip %d of a pipeline of %d", k, P->chips);
    int first = 0;
    while (first < P->ngroups && P->chip_of[first] < k)
        first++;
    int last = first;
    while (last < P->ngroups && P->chip_of[last] == k)
        last++;
    chip->first_slot = first;
    chip->last_slot = last;
    if (compile_chip(P, plan->m, &plan->o, first, last, &chip->prog, &chip->report, err) != 0) {
        floe_compile_report_free(&chip->report);
        return floe_err_prefix(err, "chip %d", k);
    }
    return 0;
}

void floe_chip_program_release(floe_chip_program *chip)
{
    floe_program_free(chip->prog);
    floe_compile_report_free(&chip->report);
    chip->prog = NULL;
}

void floe_pipeline_plan_free(floe_pipeline_plan *plan)
{
    if (!plan)
        return;
    fc_plan_free(&plan->P);
    free(plan);
}

int floe_compile_pipeline(const floe_qmodel *m, const floe_machine *mach, const floe_compile_opts *o,
                          floe_chip_program **chips, int *n_chips, floe_err *err)
{
    *chips = NULL;
    *n_chips = 0;
    floe_pipeline_plan *pl;
    if (floe_compile_pipeline_plan(m, mach, o, &pl, err) != 0)
        return -1;
    int n = pl->P.chips, rc = -1;
    floe_chip_program *cp = calloc((size_t)n, sizeof *cp);
    if (!cp) {
        floe_err_set(err, "compiler: out of memory");
        goto out;
    }
    for (int k = 0; k < n; k++)
        if (floe_compile_pipeline_chip(pl, k, &cp[k], err) != 0) {
            floe_chip_programs_free(cp, k + 1);
            cp = NULL;
            goto out;
        }
    *chips = cp;
    *n_chips = n;
    rc = 0;
out:
    floe_pipeline_plan_free(pl);
    return rc;
}

void floe_chip_programs_free(floe_chip_program *chips, int n)
{
    for (int k = 0; chips && k < n; k++) {
        floe_program_free(chips[k].prog);
        floe_compile_report_free(&chips[k].report);
    }
    free(chips);
}
