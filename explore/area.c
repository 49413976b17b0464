/* The area proxy (explore/area.h): the table's keys and the sum over a machine's units. */
#include "explore/area.h"

#include <string.h>

#define F(field) offsetof(floe_area_table, field)
#define R FLOE_KV_REAL

static const floe_kv_key area_keys[] = {
    {"sram_mm2_per_mib", R, F(sram_mm2_per_mib), 1e-3, 1e3, "mm^2/MiB", "core memory and frame buffer"},
    {"sram_port_mm2_per_byte", R, F(sram_port_mm2_per_byte), 0, 10, "mm^2/(byte/cycle)",
     "a core's SRAM port width: banks, sense amplifiers, muxes"},
    {"mac_mm2", R, F(mac_mm2), 0, 1, "mm^2", "one int8 x int8 MAC with its accumulator"},
    {"vector_lane_mm2", R, F(vector_lane_mm2), 0, 1, "mm^2", "one 16-bit vector op per cycle"},
    {"afu_lane_mm2", R, F(afu_lane_mm2), 0, 1, "mm^2", "one lookup op per cycle"},
    {"noc_mm2_per_link_bit", R, F(noc_mm2_per_link_bit), 0, 1, "mm^2/bit",
     "per core and bit of one network's link width: router, buffers, wires"},
    {"core_overhead_mm2", R, F(core_overhead_mm2), 0, 1e3, "mm^2",
     "per core: control, instruction buffer, threads, clock and power grid"},
    {"chip_overhead_mm2", R, F(chip_overhead_mm2), 0, 1e5, "mm^2", "per chip: PCIe, I/O ring, clocking"},
};

#define NKEYS (sizeof area_keys / sizeof area_keys[0])

const floe_kv_key *floe_area_table_keys(size_t *n)
{
    *n = NKEYS;
    return area_keys;
}

int floe_area_table_load(const char *path, floe_area_table *t, floe_err *err)
{
    memset(t, 0, sizeof *t);
    return floe_kv_load(path, area_keys, NKEYS, t, err);
}

int floe_area_table_parse(const char *name, const char *text, size_t len, floe_area_table *t, floe_err *err)
{
    memset(t, 0, sizeof *t);
    return floe_kv_parse(name, text, len, area_keys, NKEYS, t, err);
}

/* bits of the weight and activation operands of each precision pair (isa/machine.h, floe_prec) */
static const int prec_bits[FLOE_PREC_COUNT][2] = {{8, 8}, {4, 8}, {2, 8}, {4, 4}, {2, 2}, {8, 16}, {4, 16}};

void floe_area_of(const floe_machine *m, const floe_area_table *t, floe_area *a)
{
    memset(a, 0, sizeof *a);
    const double cores = (double)(m->cores_x * m->cores_y), mib = 1024.0 * 1024.0;
    for (int p = 0; p < FLOE_PREC_COUNT; p++) {
        double eq = (double)m->vmm_macs_per_cycle[p] * prec_bits[p][0] * prec_bits[p][1] / 64.0;
        a->macs_int8 = eq > a->macs_int8 ? eq : a->macs_int8;
    }
    double link_bits = 0;
    for (int n = 0; n < FLOE_NOC_COUNT; n++)
        link_bits += 8.0 * (double)m->noc[n].link_bytes_per_cycle;
    a->sram_mm2 = t->sram_mm2_per_mib * (cores * (double)m->core_mem_bytes + (double)m->framebuffer_bytes) / mib;
    a->sram_port_mm2 = t->sram_port_mm2_per_byte * cores * (double)m->sram_bytes_per_cycle;
    a->mac_mm2 = t->mac_mm2 * cores * a->macs_int8;
    a->vector_mm2 = t->vector_lane_mm2 * cores * (double)m->vector_ops_per_cycle;
    a->afu_mm2 = t->afu_lane_mm2 * cores * (double)m->afu_ops_per_cycle;
    a->noc_mm2 = t->noc_mm2_per_link_bit * cores * link_bits;
    a->core_overhead_mm2 = t->core_overhead_mm2 * cores;
    a->chip_overhead_mm2 = t->chip_overhead_mm2;
    a->chip_mm2 = a->sram_mm2 + a->sram_port_mm2 + a->mac_mm2 + a->vector_mm2 + a->afu_mm2 + a->noc_mm2 +
                  a->core_overhead_mm2 + a->chip_overhead_mm2;
}
