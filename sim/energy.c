#include "sim/energy.h"

#include <string.h>

void floe_actions_add(floe_actions *dst, const floe_actions *src)
{
    for (int p = 0; p < FLOE_PREC_COUNT; p++)
        dst->macs[p] += src->macs[p];
    dst->vector_ops += src->vector_ops;
    dst->afu_ops += src->afu_ops;
    dst->sram_read_bytes += src->sram_read_bytes;
    dst->sram_write_bytes += src->sram_write_bytes;
    dst->framebuffer_bytes += src->framebuffer_bytes;
    for (int n = 0; n < FLOE_NOC_COUNT; n++)
        dst->noc_byte_hops[n] += src->noc_byte_hops[n];
    dst->pcie_bytes += src->pcie_bytes;
    dst->eth_bytes += src->eth_bytes;
}

/* counts stay far below 2^62, so the signed arithmetic is exact */
static uint64_t compose1(uint64_t a1, uint64_t a2, int n)
{
    int64_t v = (int64_t)a1 + (int64_t)(n - 1) * ((int64_t)a2 - (int64_t)a1);
    return v > 0 ? (uint64_t)v : 0;
}

void floe_actions_compose(floe_actions *dst, const floe_actions *a1, const floe_actions *a2, int n)
{
    for (int p = 0; p < FLOE_PREC_COUNT; p++)
        dst->macs[p] = compose1(a1->macs[p], a2->macs[p], n);
    dst->vector_ops = compose1(a1->vector_ops, a2->vector_ops, n);
    dst->afu_ops = compose1(a1->afu_ops, a2->afu_ops, n);
    dst->sram_read_bytes = compose1(a1->sram_read_bytes, a2->sram_read_bytes, n);
    dst->sram_write_bytes = compose1(a1->sram_write_bytes, a2->sram_write_bytes, n);
    dst->framebuffer_bytes = compose1(a1->framebuffer_bytes, a2->framebuffer_bytes, n);
    for (int k = 0; k < FLOE_NOC_COUNT; k++)
        dst->noc_byte_hops[k] = compose1(a1->noc_byte_hops[k], a2->noc_byte_hops[k], n);
    dst->pcie_bytes = compose1(a1->pcie_bytes, a2->pcie_bytes, n);
    dst->eth_bytes = compose1(a1->eth_bytes, a2->eth_bytes, n);
}

static void row(FILE *f, const char *label, const char *action, const char *suffix, const char *unit, uint64_t count,
                double pj)
{
    fprintf(f, "%s,%s%s,%s,%llu,%.9g,%.9g\n", label, action, suffix, unit, (unsigned long long)count, pj,
            (double)count * pj * 1e-12);
}

void floe_actions_csv_rows(FILE *f, const char *label, const floe_actions *a, const floe_energy_cost *c)
{
    for (int p = 0; p < FLOE_PREC_COUNT; p++) {
        char name[32];
        snprintf(name, sizeof name, "mac_%s", floe_prec_name((floe_prec)p));
        row(f, label, name, "", "MAC", a->macs[p], c->mac_pj[p]);
    }
    row(f, label, "vector_op", "", "op", a->vector_ops, c->vector_op_pj);
    row(f, label, "afu_op", "", "op", a->afu_ops, c->afu_op_pj);
    row(f, label, "sram_read", "", "byte", a->sram_read_bytes, c->sram_read_pj_per_byte);
    row(f, label, "sram_write", "", "byte", a->sram_write_bytes, c->sram_write_pj_per_byte);
    row(f, label, "framebuffer", "", "byte", a->framebuffer_bytes, c->framebuffer_pj_per_byte);
    for (int k = 0; k < FLOE_NOC_COUNT; k++)
        row(f, label, "noc_", floe_noc_name((floe_noc_id)k), "byte-hop", a->noc_byte_hops[k], c->noc_pj_per_byte_hop[k]);
    row(f, label, "pcie", "", "byte", a->pcie_bytes, c->pcie_pj_per_byte);
    row(f, label, "eth", "", "byte", a->eth_bytes, c->eth_pj_per_byte);
}

void floe_energy_of(const floe_actions *a, const floe_energy_cost *c, double seconds, uint64_t cores,
                    uint64_t chips, floe_energy_breakdown *out)
{
    const double pj = 1e-12;
    memset(out, 0, sizeof *out);
    for (int p = 0; p < FLOE_PREC_COUNT; p++)
        out->mac_j += (double)a->macs[p] * c->mac_pj[p] * pj;
    out->vector_j = (double)a->vector_ops * c->vector_op_pj * pj;
    out->afu_j = (double)a->afu_ops * c->afu_op_pj * pj;
    out->sram_j = ((double)a->sram_read_bytes * c->sram_read_pj_per_byte +
                   (double)a->sram_write_bytes * c->sram_write_pj_per_byte) * pj;
    out->framebuffer_j = (double)a->framebuffer_bytes * c->framebuffer_pj_per_byte * pj;
    for (int n = 0; n < FLOE_NOC_COUNT; n++)
        out->noc_j += (double)a->noc_byte_hops[n] * c->noc_pj_per_byte_hop[n] * pj;
    out->link_j = ((double)a->pcie_bytes * c->pcie_pj_per_byte + (double)a->eth_bytes * c->eth_pj_per_byte) * pj;
    out->static_j = seconds * ((double)cores * (double)chips * c->static_w_per_core + (double)chips * c->static_w_per_chip);
    out->total_j = out->mac_j + out->vector_j + out->afu_j + out->sram_j + out->framebuffer_j + out->noc_j +
                   out->link_j + out->static_j;
}
