#include "isa/energy_table.h"

#include <string.h>

#define F(field) offsetof(floe_energy_table, field)
#define MAC(p) (offsetof(floe_energy_table, mac_pj) + (size_t)(p) * sizeof(double))
#define NOC(n) (offsetof(floe_energy_table, noc_pj_per_byte_hop) + (size_t)(n) * sizeof(double))
#define R FLOE_KV_REAL
#define PJ_MAX 1e6

/* Order is part of the fingerprint. */
static const floe_kv_key energy_keys[] = {
    {"logic_scale", R, F(logic_scale), 1e-6, 100, "", "reference -> target process factor for logic and SRAM"},
    {"wire_scale", R, F(wire_scale), 1e-6, 100, "", "reference -> target process factor for NoC wires"},
    {"mac_w8a8_pj", R, MAC(FLOE_PREC_W8A8), 0, PJ_MAX, "pJ", "one int8 x int8 MAC (reference process)"},
    {"mac_w4a8_pj", R, MAC(FLOE_PREC_W4A8), 0, PJ_MAX, "pJ", "one int4 x int8 MAC (reference process)"},
    {"mac_w2a8_pj", R, MAC(FLOE_PREC_W2A8), 0, PJ_MAX, "pJ", "one int2 x int8 MAC (reference process)"},
    {"mac_w4a4_pj", R, MAC(FLOE_PREC_W4A4), 0, PJ_MAX, "pJ", "one int4 x int4 MAC (reference process)"},
    {"mac_w2a2_pj", R, MAC(FLOE_PREC_W2A2), 0, PJ_MAX, "pJ", "one int2 x int2 MAC (reference process)"},
    {"mac_w8a16_pj", R, MAC(FLOE_PREC_W8A16), 0, PJ_MAX, "pJ", "one int8 x int16 MAC (reference process)"},
    {"mac_w4a16_pj", R, MAC(FLOE_PREC_W4A16), 0, PJ_MAX, "pJ", "one int4 x int16 MAC (reference process)"},
    {"vector_op_pj", R, F(vector_op_pj), 0, PJ_MAX, "pJ", "one 16-bit vector-unit op (reference process)"},
    {"afu_op_pj", R, F(afu_op_pj), 0, PJ_MAX, "pJ", "one lookup-table op (reference process)"},
    {"sram_read_pj_per_byte", R, F(sram_read_pj_per_byte), 0, PJ_MAX, "pJ/byte", "core SRAM read"},
    {"sram_write_pj_per_byte", R, F(sram_write_pj_per_byte), 0, PJ_MAX, "pJ/byte", "core SRAM write"},
    {"framebuffer_pj_per_byte", R, F(framebuffer_pj_per_byte), 0, PJ_MAX, "pJ/byte", "frame buffer access"},
    {"noc_act_pj_per_byte_hop", R, NOC(FLOE_NOC_ACT), 0, PJ_MAX, "pJ/byte/hop", "activation NoC"},
    {"noc_psum_pj_per_byte_hop", R, NOC(FLOE_NOC_PSUM), 0, PJ_MAX, "pJ/byte/hop", "partial-sum NoC"},
    {"noc_weight_pj_per_byte_hop", R, NOC(FLOE_NOC_WEIGHT), 0, PJ_MAX, "pJ/byte/hop", "weight-streaming NoC"},
    {"noc_instr_pj_per_byte_hop", R, NOC(FLOE_NOC_INSTR), 0, PJ_MAX, "pJ/byte/hop", "instruction NoC"},
    {"pcie_pj_per_byte", R, F(pcie_pj_per_byte), 0, PJ_MAX, "pJ/byte", "chip to chip within a server (target)"},
    {"eth_pj_per_byte", R, F(eth_pj_per_byte), 0, PJ_MAX, "pJ/byte", "card to card between servers (target)"},
    {"static_mw_per_core", R, F(static_mw_per_core), 0, 1e6, "mW", "static power of one core (target)"},
    {"static_mw_per_chip", R, F(static_mw_per_chip), 0, 1e7, "mW",
     "static power of the rest of a chip: frame buffer, I/O, clocking (target)"},
};

#define NKEYS (sizeof energy_keys / sizeof energy_keys[0])

const floe_kv_key *floe_energy_table_keys(size_t *n)
{
    *n = NKEYS;
    return energy_keys;
}

int floe_energy_table_parse(const char *name, const char *text, size_t len, floe_energy_table *e, floe_err *err)
{
    memset(e, 0, sizeof *e);
    return floe_kv_parse(name, text, len, energy_keys, NKEYS, e, err);
}

int floe_energy_table_load(const char *path, floe_energy_table *e, floe_err *err)
{
    memset(e, 0, sizeof *e);
    return floe_kv_load(path, energy_keys, NKEYS, e, err);
}

int floe_energy_table_write(const char *path, const floe_energy_table *e, const char *comment, floe_err *err)
{
    return floe_kv_write(path, comment, energy_keys, NKEYS, e, err);
}

int floe_energy_table_validate(const floe_energy_table *e, floe_err *err)
{
    return floe_kv_check("energy table", energy_keys, NKEYS, e, err);
}

uint64_t floe_energy_table_fingerprint(const floe_energy_table *e)
{
    return floe_kv_fingerprint("floe-energy-v1", energy_keys, NKEYS, e);
}

void floe_energy_costs(const floe_energy_table *e, floe_energy_cost *c)
{
    memset(c, 0, sizeof *c);
    for (int p = 0; p < FLOE_PREC_COUNT; p++)
        c->mac_pj[p] = e->mac_pj[p] * e->logic_scale;
    c->vector_op_pj = e->vector_op_pj * e->logic_scale;
    c->afu_op_pj = e->afu_op_pj * e->logic_scale;
    c->sram_read_pj_per_byte = e->sram_read_pj_per_byte * e->logic_scale;
    c->sram_write_pj_per_byte = e->sram_write_pj_per_byte * e->logic_scale;
    c->framebuffer_pj_per_byte = e->framebuffer_pj_per_byte * e->logic_scale;
    for (int n = 0; n < FLOE_NOC_COUNT; n++)
        c->noc_pj_per_byte_hop[n] = e->noc_pj_per_byte_hop[n] * e->wire_scale;
    c->pcie_pj_per_byte = e->pcie_pj_per_byte;
    c->eth_pj_per_byte = e->eth_pj_per_byte;
    c->static_w_per_core = e->static_mw_per_core * 1e-3;
    c->static_w_per_chip = e->static_mw_per_chip * 1e-3;
}

double floe_energy_static_w(const floe_energy_cost *c, const floe_machine *m)
{
    return (double)(m->cores_x * m->cores_y) * c->static_w_per_core + c->static_w_per_chip;
}

double floe_energy_peak_vmm_w(const floe_energy_cost *c, const floe_machine *m, floe_prec p)
{
    double cores = (double)(m->cores_x * m->cores_y), hz = (double)m->clock_hz;
    double mac_pj = cores * (double)m->vmm_macs_per_cycle[p] * c->mac_pj[p];
    double sram_pj = cores * (double)m->sram_bytes_per_cycle * c->sram_read_pj_per_byte;
    return (mac_pj + sram_pj) * hz * 1e-12;
}
