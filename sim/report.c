#include "sim/report.h"

#include <string.h>

#include "common/atomic_file.h"
#include "isa/insn.h"
#include "sim/sim_state.h"

static uint64_t total_macs(const floe_actions *a)
{
    uint64_t m = 0;
    for (int p = 0; p < FLOE_PREC_COUNT; p++)
        m += a->macs[p];
    return m;
}

static uint64_t total_noc(const floe_actions *a)
{
    uint64_t n = 0;
    for (int i = 0; i < FLOE_NOC_COUNT; i++)
        n += a->noc_byte_hops[i];
    return n;
}

/* Dynamic energy only (static energy belongs to the whole run, not to a core or region). */
static void dynamic_energy(const floe_sim *s, const floe_actions *a, floe_energy_breakdown *e)
{
    if (s->have_energy)
        floe_energy_of(a, &s->cost, 0.0, 0, 0, e);
    else
        memset(e, 0, sizeof *e);
}

static size_t cores_with_code(const floe_sim *s)
{
    size_t n = 0, nc;
    const floe_core_stats *cs = floe_sim_core_stats(s, &nc);
    for (size_t i = 0; i < nc; i++)
        n += cs[i].insns > 0;
    return n;
}

double floe_sim_unit_utilisation(const floe_sim *s, floe_unit u)
{
    size_t nc;
    const floe_core_stats *cs = floe_sim_core_stats(s, &nc);
    uint64_t busy = 0;
    for (size_t i = 0; i < nc; i++)
        busy += cs[i].busy[u];
    double denom = (double)floe_sim_result_get(s)->cycles * (double)cores_with_code(s);
    return denom > 0 ? (double)busy / denom : 0.0;
}

void floe_sim_print_summary(const floe_sim *s, FILE *out)
{
    const floe_sim_result *R = floe_sim_result_get(s);
    const floe_machine *m = floe_sim_machine(s);
    uint64_t macs = total_macs(&R->actions);
    fprintf(out, "cycles          %llu (%.3f us at %.0f MHz; instruction loading %llu)\n",
            (unsigned long long)R->cycles, R->seconds * 1e6, (double)m->clock_hz / 1e6,
            (unsigned long long)R->load_cycles);
    fprintf(out, "instructions    %llu on %zu cores\n", (unsigned long long)R->instructions, cores_with_code(s));
    fprintf(out, "MACs            %llu (%.3g MAC/s achieved)\n", (unsigned long long)macs,
            R->seconds > 0 ? (double)macs / R->seconds : 0.0);
    fprintf(out, "utilisation    ");
    for (int u = 1; u < FLOE_UNIT_COUNT; u++)
        fprintf(out, " %s %.1f%%", floe_unit_name((floe_unit)u), 100.0 * floe_sim_unit_utilisation(s, (floe_unit)u));
    fprintf(out, "\nmemory          fullest core %llu of %llu bytes (%.1f%%)\n",
            (unsigned long long)R->mem_high_water_max, (unsigned long long)m->core_mem_bytes,
            100.0 * (double)R->mem_high_water_max / (double)m->core_mem_bytes);
    fprintf(out, "traffic         SRAM %llu B read, %llu B written; NoC %llu byte-hops; frame buffer %llu B\n",
            (unsigned long long)R->actions.sram_read_bytes, (unsigned long long)R->actions.sram_write_bytes,
            (unsigned long long)total_noc(&R->actions), (unsigned long long)R->actions.framebuffer_bytes);
    if (R->have_energy) {
        const floe_energy_breakdown *e = &R->energy;
        fprintf(out,
                "energy          %.6g J: MAC %.3g, vector %.3g, afu %.3g, SRAM %.3g, frame buffer %.3g, NoC %.3g, "
                "links %.3g, static %.3g\n",
                e->total_j, e->mac_j, e->vector_j, e->afu_j, e->sram_j, e->framebuffer_j, e->noc_j, e->link_j,
                e->static_j);
        fprintf(out, "power           %.3f W average\n", R->seconds > 0 ? e->total_j / R->seconds : 0.0);
    }
    if (R->uninit_reads)
        fprintf(out, "warning         %llu reads touched uninitialised memory (run with --strict to stop at the first)\n",
                (unsigned long long)R->uninit_reads);
    fprintf(out, "host            %.3f s: %.3g simulated cycles/s, %.3g simulated MACs/s\n", R->host_seconds,
            R->host_seconds > 0 ? (double)R->cycles / R->host_seconds : 0.0,
            R->host_seconds > 0 ? (double)macs / R->host_seconds : 0.0);
}

int floe_sim_write_core_csv(const floe_sim *s, const char *path, floe_err *err)
{
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    FILE *f = af.fp;
    const floe_sim_result *R = floe_sim_result_get(s);
    fprintf(f, "core,x,y,instructions,finish_cycle");
    for (int u = 1; u < FLOE_UNIT_COUNT; u++)
        fprintf(f, ",busy_%s", floe_unit_name((floe_unit)u));
    for (int u = 1; u < FLOE_UNIT_COUNT; u++)
        fprintf(f, ",util_%s", floe_unit_name((floe_unit)u));
    fprintf(f, ",macs,sram_read_bytes,sram_write_bytes,noc_byte_hops,framebuffer_bytes,mem_high_water_bytes,"
               "dynamic_energy_j");
    for (int u = 1; u < FLOE_UNIT_COUNT; u++)
        fprintf(f, ",sram_bytes_%s", floe_unit_name((floe_unit)u));
    fprintf(f, "\n");
    size_t nc;
    const floe_core_stats *cs = floe_sim_core_stats(s, &nc);
    for (size_t i = 0; i < nc; i++) {
        const floe_core_stats *c = &cs[i];
        fprintf(f, "%zu,%u,%u,%llu,%llu", i, c->x, c->y, (unsigned long long)c->insns,
                (unsigned long long)c->finish_cycle);
        for (int u = 1; u < FLOE_UNIT_COUNT; u++)
            fprintf(f, ",%llu", (unsigned long long)c->busy[u]);
        for (int u = 1; u < FLOE_UNIT_COUNT; u++)
            fprintf(f, ",%.6f", R->cycles ? (double)c->busy[u] / (double)R->cycles : 0.0);
        floe_energy_breakdown e;
        dynamic_energy(s, &c->actions, &e);
        fprintf(f, ",%llu,%llu,%llu,%llu,%llu,%llu,%.9g", (unsigned long long)total_macs(&c->actions),
                (unsigned long long)c->actions.sram_read_bytes, (unsigned long long)c->actions.sram_write_bytes,
                (unsigned long long)total_noc(&c->actions), (unsigned long long)c->actions.framebuffer_bytes,
                (unsigned long long)c->mem_high_water, e.total_j);
        for (int u = 1; u < FLOE_UNIT_COUNT; u++)
            fprintf(f, ",%llu", (unsigned long long)c->sram_bytes[u]);
        fprintf(f, "\n");
    }
    return floe_afile_commit(&af, err);
}

int floe_sim_write_region_csv(const floe_sim *s, const char *path, floe_err *err)
{
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    FILE *f = af.fp;
    fprintf(f, "region,cores,instructions,first_cycle,last_cycle,span_cycles");
    for (int u = 1; u < FLOE_UNIT_COUNT; u++)
        fprintf(f, ",busy_%s", floe_unit_name((floe_unit)u));
    fprintf(f, ",macs,energy_mac_j,energy_vector_j,energy_afu_j,energy_sram_j,energy_framebuffer_j,energy_noc_j,"
               "dynamic_energy_j\n");
    size_t nr;
    const floe_region_stats *rs = floe_sim_region_stats(s, &nr);
    for (size_t i = 0; i < nr; i++) {
        const floe_region_stats *r = &rs[i];
        int ran = r->insns > 0;
        uint64_t first = ran ? r->first_cycle : 0, last = ran ? r->last_cycle : 0;
        fprintf(f, "\"%s\",%llu,%llu,%llu,%llu,%llu", r->name, (unsigned long long)r->cores,
                (unsigned long long)r->insns, (unsigned long long)first, (unsigned long long)last,
                (unsigned long long)(last - first));
        for (int u = 1; u < FLOE_UNIT_COUNT; u++)
            fprintf(f, ",%llu", (unsigned long long)r->busy[u]);
        floe_energy_breakdown e;
        dynamic_energy(s, &r->actions, &e);
        fprintf(f, ",%llu,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", (unsigned long long)total_macs(&r->actions), e.mac_j,
                e.vector_j, e.afu_j, e.sram_j, e.framebuffer_j, e.noc_j, e.total_j);
    }
    return floe_afile_commit(&af, err);
}
