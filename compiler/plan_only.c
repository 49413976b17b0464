/* The compiler's plan alone (compiler/compile.h, floe_compile_plan): chips, cores and memory per core
 * from the shapes and bit widths, no weights (compiler/mapping.h). */
#include "compiler/mapping.h"

/* Bytes on each core of a group, as the emitter will allocate them (a dry run without weights). */
static int group_core_bytes(const mplan *P, const gplan *g, uint64_t *bytes, floe_err *err)
{
    const floe_dtype C = dt_of_bits(P->q->kvbits);
    char what[64];
    fc_what_of(P, g->slot, what, sizeof what);
    for (int k = 0; k < g->ncores; k++)
        bytes[k] = 0;
    bytes[0] = g->main_base;
    int *maxrows = calloc((size_t)g->ncores, sizeof(int)), *in = calloc((size_t)g->ncores, sizeof(int));
    if (!maxrows || !in) {
        free(maxrows);
        free(in);
        return floe_err_set(err, "compiler: out of memory");
    }
    for (int i = 0; i < g->npieces; i++) {
        const piece *pc = &g->pieces[i];
        shape s = lin_shape(P, g->slot, pc->lin);
        int rows = pc->r1 - pc->r0;
        bytes[pc->core] = round8(bytes[pc->core]) + row_bytes(s.bits, pc->i1 - pc->i0) * (uint64_t)rows;
        if (pc->b == pc->ni - 1)
            bytes[pc->core] = round8(bytes[pc->core]) + 8 * (uint64_t)rows;
        if (pc->core) {
            maxrows[pc->core] = rows > maxrows[pc->core] ? rows : maxrows[pc->core];
            int need = pc->lin == LIN_DOWN ? P->cf->ffn_dim : P->cf->d_model; /* down: multicast whole */
            in[pc->core] = need > in[pc->core] ? need : in[pc->core];
        }
    }
    for (int k = 1; k <= g->attn; k++) { /* attention cores */
        ctx da = {NULL, P->mach, 0, 0, 0, 0, what, err, 0, 0, 0};
        attnbuf ab;
        fc_alloc_attn(&da, P, g->slot, g->ranges, g->rlen, (k - 1) % g->ranges, &ab);
        bytes[k] = da.next;
    }
    for (int k = 1 + g->attn; k < g->ncores; k++) {
        bytes[k] = round8(bytes[k]) + (uint64_t)P->B * row_stride(P, in[k]); /* B input rows */
        bytes[k] = round8(bytes[k]) + 2 * (uint64_t)maxrows[k];
        if (C != FLOE_DT_I8)
            bytes[k] = round8(bytes[k]) + (uint64_t)maxrows[k];
        for (int i = 0; g->fused && i < g->npieces; i++)
            if (g->pieces[i].core == k && g->pieces[i].lin == LIN_GATE) {
                ctx df = {NULL, P->mach, 0, 0, bytes[k], 0, what, err, 0, 0, 0};
                fusedbuf fb;
                fc_alloc_fused(&df, P, g->slot, g->pieces[i].r1 - g->pieces[i].r0, &fb);
                bytes[k] = df.next;
            }
    }
    free(maxrows);
    free(in);
    for (int k = 0; k < g->ncores; k++)
        if (bytes[k] > P->mach->core_mem_bytes)
            return floe_err_set(err, "%s needs %llu bytes on its core %d; the machine has %llu bytes per core: %llu "
                                     "bytes short",
                                what, (unsigned long long)bytes[k], k, (unsigned long long)P->mach->core_mem_bytes,
                                (unsigned long long)(bytes[k] - P->mach->core_mem_bytes));
    return 0;
}

int floe_compile_plan(const floe_model_config *cfg, const floe_qconfig *q, const floe_machine *mach,
                      const floe_compile_opts *o, floe_plan_summary *sum, floe_err *err)
{
    memset(sum, 0, sizeof *sum);
    if (fc_check_opts(cfg, o, err) != 0)
        return -1;
    mplan P;
    fc_plan_init(&P, cfg, q, NULL, mach, o);
    int rc = -1;
    if (fc_plan_model(&P, err) != 0)
        goto out;
    sum->chips = P.chips;
    sum->reuse_rows = P.B;
    sum->mem_min = UINT64_MAX;
    uint64_t *bytes = NULL;
    for (int s = 0; s < P.ngroups; s++) {
        const gplan *g = P.g[s].copy_of >= 0 ? &P.g[P.g[s].copy_of] : &P.g[s]; /* layers alike share layer 1's */
        uint64_t *nb = realloc(bytes, sizeof *bytes * (size_t)g->ncores);
        if (!nb) {
            floe_err_set(err, "compiler: out of memory");
            free(bytes);
            goto out;
        }
        bytes = nb;
        if (group_core_bytes(&P, g, bytes, err) != 0) {
            free(bytes);
            goto out;
        }
        for (int k = 0; k < g->ncores; k++) {
            sum->mem_min = bytes[k] < sum->mem_min ? bytes[k] : sum->mem_min;
            sum->mem_max = bytes[k] > sum->mem_max ? bytes[k] : sum->mem_max;
            sum->mem_total += bytes[k];
        }
        sum->cores += (uint64_t)g->ncores;
        sum->weight_cores += (uint64_t)(g->ncores - 1 - g->attn);
        if (P.chip_of[s] == 0 && g->slot < cfg->n_layers && g->part != PART_ATTN)
            sum->layers_per_chip++;
        if (g->slot == 0) { /* layer 0's group, or both its halves */
            sum->layer_cores += g->ncores;
            sum->layer_attn_cores += g->attn;
            sum->layer_halves += g->part != PART_ALL;
            if (g->part != PART_ALL)
                sum->half_cores[g->part - PART_ATTN] = g->ncores;
        }
    }
    free(bytes);
    for (int k = 0; k < P.ngroups; k++) /* the head: its cores, in all its slices */
        if (P.g[k].slot == cfg->n_layers) {
            sum->head_cores += P.g[k].ncores;
            sum->head_slices++;
        }
    if (fc_system_chips_check(&P, err) != 0)
        goto out;
    rc = 0;
out:
    fc_plan_free(&P);
    return rc;
}

int floe_compile_plan_groups(const floe_model_config *cfg, const floe_qconfig *q, const floe_machine *mach,
                             const floe_compile_opts *o, floe_plan_group **groups, int *n, int *per_chip, floe_err *err)
{
    *groups = NULL;
    *n = 0;
    *per_chip = (int)(mach->cores_x * mach->cores_y);
    if (fc_check_opts(cfg, o, err) != 0)
        return -1;
    floe_compile_opts one = *o;
    if (one.reuse_rows == 0) /* the layout that fixes the chips (fc_plan_model) */
        one.reuse_rows = 1;
    mplan P;
    fc_plan_init(&P, cfg, q, NULL, mach, &one);
    int rc = -1;
    uint64_t *bytes = NULL;
    if (fc_plan_model(&P, err) != 0)
        goto out;
    *groups = malloc(sizeof **groups * (size_t)P.ngroups);
    if (!*groups) {
        floe_err_set(err, "compiler: out of memory");
        goto out;
    }
    for (int s = 0; s < P.ngroups; s++) {
        const gplan *g = P.g[s].copy_of >= 0 ? &P.g[P.g[s].copy_of] : &P.g[s];
        uint64_t *nb = realloc(bytes, sizeof *bytes * (size_t)g->ncores);
        if (!nb) {
            floe_err_set(err, "compiler: out of memory");
            goto out;
        }
        bytes = nb;
        if (group_core_bytes(&P, g, bytes, err) != 0)
            goto out;
        (*groups)[s] = (floe_plan_group){P.g[s].slot < cfg->n_layers ? P.g[s].slot : -1, P.g[s].part, g->ncores};
    }
    *n = P.ngroups;
    rc = 0;
out:
    if (rc != 0) {
        free(*groups);
        *groups = NULL;
    }
    free(bytes);
    fc_plan_free(&P);
    return rc;
}
