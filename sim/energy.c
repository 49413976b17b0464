#include "sim/energy.h"

#include <string.h>

void floe_actions_add(floe_actions *dst, const floe_actions *src)
{
    for (int p = 0; p < FLOE_PREC_COUNT; p++)
        dst->macs[p] += src->macs[p];
    dst->vector_ops += src->vector_ops;
    dst->lut_ops += src->lut_ops;
    dst->sram_read_bytes += src->sram_read_bytes;
    dst->sram_write_bytes += src->sram_write_bytes;
    dst->framebuffer_bytes += src->framebuffer_bytes;
    for (int n = 0; n < FLOE_NOC_COUNT; n++)
        dst->noc_byte_hops[n] += src->noc_byte_hops[n];
    dst->pcie_bytes += src->pcie_bytes;
    dst->eth_bytes += src->eth_bytes;
}

void floe_energy_of(const floe_actions *a, const floe_energy_cost *c, double seconds, uint64_t cores,
                    uint64_t chips, floe_energy_breakdown *out)
{
    const double pj = 1e-12;
    memset(out, 0, sizeof *out);
    for (int p = 0; p < FLOE_PREC_COUNT; p++)
        out->mac_j += (double)a->macs[p] * c->mac_pj[p] * pj;
    out->vector_j = (double)a->vector_ops * c->vector_op_pj * pj;
    out->lut_j = (double)a->lut_ops * c->lut_op_pj * pj;
    out->sram_j = ((double)a->sram_read_bytes * c->sram_read_pj_per_byte +
                   (double)a->sram_write_bytes * c->sram_write_pj_per_byte) * pj;
    out->framebuffer_j = (double)a->framebuffer_bytes * c->framebuffer_pj_per_byte * pj;
    for (int n = 0; n < FLOE_NOC_COUNT; n++)
        out->noc_j += (double)a->noc_byte_hops[n] * c->noc_pj_per_byte_hop[n] * pj;
    out->link_j = ((double)a->pcie_bytes * c->pcie_pj_per_byte + (double)a->eth_bytes * c->eth_pj_per_byte) * pj;
    out->static_j = seconds * ((double)cores * (double)chips * c->static_w_per_core + (double)chips * c->static_w_per_chip);
    out->total_j = out->mac_j + out->vector_j + out->lut_j + out->sram_j + out->framebuffer_j + out->noc_j +
                   out->link_j + out->static_j;
}
