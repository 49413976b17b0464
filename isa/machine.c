#include "isa/machine.h"

#include "isa/opcodes.h"

#include <string.h>

#define F(field) offsetof(floe_machine, field)
#define VMM(p) (offsetof(floe_machine, vmm_macs_per_cycle) + (size_t)(p) * sizeof(uint64_t))
#define NOC(n, field) (offsetof(floe_machine, noc) + (size_t)(n) * sizeof(floe_noc) + offsetof(floe_noc, field))
#define INT FLOE_KV_INT

/* Order is part of the fingerprint: append new keys at the end of a group only with a format bump. */
static const floe_kv_key machine_keys[] = {
    {"cores_x", INT, F(cores_x), 1, 256, "cores", "columns of the core grid"},
    {"cores_y", INT, F(cores_y), 1, 256, "cores", "rows of the core grid"},
    {"clock_hz", INT, F(clock_hz), 1e6, 1e10, "Hz", "core clock"},
    {"threads_per_core", INT, F(threads_per_core), 1, 64, "threads", "hardware threads per core"},
    {"vmm_w8a8_macs_per_cycle", INT, VMM(FLOE_PREC_W8A8), 1, 1 << 20, "MACs/cycle/core", "vmm rate, int8 x int8"},
    {"vmm_w4a8_macs_per_cycle", INT, VMM(FLOE_PREC_W4A8), 1, 1 << 20, "MACs/cycle/core", "vmm rate, int4 x int8"},
    {"vmm_w2a8_macs_per_cycle", INT, VMM(FLOE_PREC_W2A8), 1, 1 << 20, "MACs/cycle/core", "vmm rate, int2 x int8"},
    {"vmm_w4a4_macs_per_cycle", INT, VMM(FLOE_PREC_W4A4), 1, 1 << 20, "MACs/cycle/core", "vmm rate, int4 x int4"},
    {"vmm_w2a2_macs_per_cycle", INT, VMM(FLOE_PREC_W2A2), 1, 1 << 20, "MACs/cycle/core", "vmm rate, int2 x int2"},
    {"vmm_w8a16_macs_per_cycle", INT, VMM(FLOE_PREC_W8A16), 1, 1 << 20, "MACs/cycle/core", "vmm rate, int8 x int16"},
    {"vmm_w4a16_macs_per_cycle", INT, VMM(FLOE_PREC_W4A16), 1, 1 << 20, "MACs/cycle/core", "vmm rate, int4 x int16"},
    {"vector_ops_per_cycle", INT, F(vector_ops_per_cycle), 1, 1 << 16, "ops/cycle/core",
     "vector unit: 16-bit integer elementwise ops"},
    {"afu_ops_per_cycle", INT, F(afu_ops_per_cycle), 1, 1 << 16, "ops/cycle/core",
     "activation-function (lookup table) unit"},
    {"core_mem_bytes", INT, F(core_mem_bytes), 1024, 4294967296.0, "bytes", "SRAM per core"},
    {"sram_bytes_per_cycle", INT, F(sram_bytes_per_cycle), 1, 1 << 16, "bytes/cycle/core",
     "core SRAM bandwidth, reads + writes"},
    {"framebuffer_bytes", INT, F(framebuffer_bytes), 0, 1099511627776.0, "bytes", "chip frame buffer"},
    {"framebuffer_bytes_per_cycle", INT, F(framebuffer_bytes_per_cycle), 1, 1 << 20, "bytes/cycle",
     "frame buffer bandwidth, chip-wide"},
    {"vmm_latency_cycles", INT, F(vmm_latency_cycles), 1, 1000, "cycles", "vmm pipeline depth"},
    {"vector_latency_cycles", INT, F(vector_latency_cycles), 1, 1000, "cycles", "vector unit pipeline depth"},
    {"afu_latency_cycles", INT, F(afu_latency_cycles), 1, 1000, "cycles", "activation-function unit pipeline depth"},
    {"sram_latency_cycles", INT, F(sram_latency_cycles), 1, 1000, "cycles", "core SRAM read latency"},
    {"recip_latency_cycles", INT, F(recip_latency_cycles), 1, 1000, "cycles",
     "recip pipeline depth (afu divider, one result per lane per cycle)"},
    {"rsqrt_latency_cycles", INT, F(rsqrt_latency_cycles), 1, 1000, "cycles",
     "rsqrt pipeline depth (afu divider and root, one result per lane per cycle)"},
    {"noc_act_link_bytes_per_cycle", INT, NOC(FLOE_NOC_ACT, link_bytes_per_cycle), 1, 4096, "bytes/cycle",
     "activation NoC link width, per direction"},
    {"noc_act_hop_cycles", INT, NOC(FLOE_NOC_ACT, hop_cycles), 1, 1000, "cycles", "activation NoC latency per hop"},
    {"noc_psum_link_bytes_per_cycle", INT, NOC(FLOE_NOC_PSUM, link_bytes_per_cycle), 1, 4096, "bytes/cycle",
     "partial-sum NoC link width, per direction"},
    {"noc_psum_hop_cycles", INT, NOC(FLOE_NOC_PSUM, hop_cycles), 1, 1000, "cycles", "partial-sum NoC latency per hop"},
    {"noc_weight_link_bytes_per_cycle", INT, NOC(FLOE_NOC_WEIGHT, link_bytes_per_cycle), 1, 4096, "bytes/cycle",
     "weight-streaming NoC link width, per direction"},
    {"noc_weight_hop_cycles", INT, NOC(FLOE_NOC_WEIGHT, hop_cycles), 1, 1000, "cycles",
     "weight-streaming NoC latency per hop"},
    {"noc_instr_link_bytes_per_cycle", INT, NOC(FLOE_NOC_INSTR, link_bytes_per_cycle), 1, 4096, "bytes/cycle",
     "instruction NoC link width, per direction"},
    {"noc_instr_hop_cycles", INT, NOC(FLOE_NOC_INSTR, hop_cycles), 1, 1000, "cycles",
     "instruction NoC latency per hop"},
    {"chips_per_card", INT, F(chips_per_card), 1, 64, "chips", "chips on one card"},
    {"cards_per_server", INT, F(cards_per_server), 1, 1024, "cards", "cards in one server (PCIe)"},
    {"servers_per_system", INT, F(servers_per_system), 1, 65536, "servers", "servers in the system (Ethernet)"},
    {"pcie_bytes_per_s", INT, F(pcie_bytes_per_s), 1e6, 1e13, "bytes/s",
     "chip-to-chip bandwidth within a server, per direction"},
    {"pcie_latency_ns", INT, F(pcie_latency_ns), 0, 1e9, "ns", "chip-to-chip latency within a server"},
    {"eth_bytes_per_s", INT, F(eth_bytes_per_s), 1e6, 1e13, "bytes/s",
     "card-to-card bandwidth between servers, per direction"},
    {"eth_latency_ns", INT, F(eth_latency_ns), 0, 1e9, "ns", "card-to-card latency between servers"},
};

#define NKEYS (sizeof machine_keys / sizeof machine_keys[0])

const floe_kv_key *floe_machine_keys(size_t *n)
{
    *n = NKEYS;
    return machine_keys;
}

int floe_machine_parse(const char *name, const char *text, size_t len, floe_machine *m, floe_err *err)
{
    memset(m, 0, sizeof *m);
    return floe_kv_parse(name, text, len, machine_keys, NKEYS, m, err);
}

int floe_machine_load(const char *path, floe_machine *m, floe_err *err)
{
    memset(m, 0, sizeof *m);
    return floe_kv_load(path, machine_keys, NKEYS, m, err);
}

int floe_machine_write(const char *path, const floe_machine *m, const char *comment, floe_err *err)
{
    return floe_kv_write(path, comment, machine_keys, NKEYS, m, err);
}

int floe_machine_validate(const floe_machine *m, floe_err *err)
{
    return floe_kv_check("machine", machine_keys, NKEYS, m, err);
}

uint64_t floe_machine_fingerprint(const floe_machine *m)
{
    return floe_kv_fingerprint("floe-machine-v1", machine_keys, NKEYS, m);
}

void floe_machine_derive(const floe_machine *m, floe_machine_derived *d)
{
    memset(d, 0, sizeof *d);
    double hz = (double)m->clock_hz;
    d->cores = m->cores_x * m->cores_y;
    d->chips = m->chips_per_card * m->cards_per_server * m->servers_per_system;
    d->cycle_ns = 1e9 / hz;
    for (int p = 0; p < FLOE_PREC_COUNT; p++) {
        d->peak_macs_per_s[p] = (double)d->cores * (double)m->vmm_macs_per_cycle[p] * hz;
        d->peak_ops_per_s[p] = 2.0 * d->peak_macs_per_s[p];
        d->system_peak_ops_per_s[p] = d->peak_ops_per_s[p] * (double)d->chips;
    }
    d->vector_ops_per_s = (double)d->cores * (double)m->vector_ops_per_cycle * hz;
    d->afu_ops_per_s = (double)d->cores * (double)m->afu_ops_per_cycle * hz;
    d->core_mem_total_bytes = d->cores * m->core_mem_bytes;
    d->chip_mem_bytes = d->core_mem_total_bytes + m->framebuffer_bytes;
    d->system_mem_bytes = (double)d->chip_mem_bytes * (double)d->chips;
    d->sram_bytes_per_s = (double)d->cores * (double)m->sram_bytes_per_cycle * hz;
    d->system_sram_bytes_per_s = d->sram_bytes_per_s * (double)d->chips;
    d->mesh_diameter_hops = (m->cores_x - 1) + (m->cores_y - 1);
    /* Halving across the longer side cuts one link per row (or column) of the shorter side. */
    uint64_t lo = m->cores_x < m->cores_y ? m->cores_x : m->cores_y;
    uint64_t hi = m->cores_x < m->cores_y ? m->cores_y : m->cores_x;
    d->bisection_links = hi > 1 ? lo : 0;
    for (int n = 0; n < FLOE_NOC_COUNT; n++) {
        d->noc_bisection_bytes_per_cycle[n] = 2 * d->bisection_links * m->noc[n].link_bytes_per_cycle;
        d->noc_bisection_bytes_per_s[n] = (double)d->noc_bisection_bytes_per_cycle[n] * hz;
        d->noc_diameter_cycles[n] = d->mesh_diameter_hops * m->noc[n].hop_cycles;
    }
}

const char *floe_prec_name(floe_prec p)
{
    static const char *const names[FLOE_PREC_COUNT] = {"w8a8", "w4a8", "w2a8", "w4a4", "w2a2", "w8a16", "w4a16"};
    return (unsigned)p < FLOE_PREC_COUNT ? names[p] : "?";
}

floe_prec floe_prec_of(int xp, int wp)
{
    if (xp == FLOE_XP_I16)
        return wp == FLOE_WP_I8 ? FLOE_PREC_W8A16 : FLOE_PREC_W4A16;
    if (xp == FLOE_XP_I4)
        return wp == FLOE_WP_I8 ? FLOE_PREC_W8A8 : FLOE_PREC_W4A4;
    return wp == FLOE_WP_I8 ? FLOE_PREC_W8A8 : wp == FLOE_WP_I4 ? FLOE_PREC_W4A8 : FLOE_PREC_W2A8;
}

const char *floe_noc_name(floe_noc_id n)
{
    static const char *const names[FLOE_NOC_COUNT] = {"act", "psum", "weight", "instr"};
    return (unsigned)n < FLOE_NOC_COUNT ? names[n] : "?";
}
