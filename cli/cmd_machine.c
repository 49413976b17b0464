/* `floe machine show <machine.csv> [--energy FILE] [--csv FILE]`: a machine description's parameters,
 * derived figures (peak rates, memory, bisection bandwidth) and fingerprint; with --energy, the energy
 * table's per-action costs at the target process and the static and peak power they imply. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "common/atomic_file.h"
#include "isa/energy_table.h"
#include "isa/machine.h"

static void machine_usage(FILE *out)
{
    fprintf(out, "usage: floe machine <subcommand> [options]\n\n"
                 "The machine description (configs/*.csv, docs/machine.md): the one source of every\n"
                 "figure the simulator, compiler, energy model and RTL use.\n\n"
                 "subcommands:\n"
                 "  show <machine.csv>   parameters, derived figures and fingerprint\n"
                 "                       (--energy FILE adds an energy table; --csv FILE writes it all as CSV)\n\n"
                 "'floe machine show --help' shows its options.\n");
}

/* One output row: printed, and kept for the CSV. */
typedef struct row_sink {
    FILE *csv; /* NULL when no --csv */
} row_sink;

static void row(row_sink *s, const char *kind, const char *name, const char *value, const char *unit,
                const char *what)
{
    printf("  %-34s %22s  %-16s %s\n", name, value, unit, what);
    if (s->csv)
        fprintf(s->csv, "%s,%s,%s,%s,\"%s\"\n", kind, name, value, unit, what);
}

static void rowf(row_sink *s, const char *kind, const char *name, double v, const char *unit, const char *what)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.6g", v);
    row(s, kind, name, buf, unit, what);
}

static void rowu(row_sink *s, const char *kind, const char *name, uint64_t v, const char *unit, const char *what)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    row(s, kind, name, buf, unit, what);
}

static void params(row_sink *s, const char *kind, const floe_kv_key *keys, size_t n, const void *obj)
{
    for (size_t i = 0; i < n; i++) {
        char v[64];
        floe_kv_format(v, sizeof v, obj, &keys[i]);
        row(s, kind, keys[i].name, v, keys[i].unit, keys[i].help);
    }
}

static void derived(row_sink *s, const floe_machine *m)
{
    floe_machine_derived d;
    floe_machine_derive(m, &d);
    char name[64], what[128];
    rowu(s, "derived", "cores", d.cores, "cores", "per chip");
    rowu(s, "derived", "chips", d.chips, "chips", "in the system");
    rowf(s, "derived", "cycle_ns", d.cycle_ns, "ns", "one clock cycle");
    for (int p = 0; p < FLOE_PREC_COUNT; p++) {
        snprintf(name, sizeof name, "peak_%s_tops", floe_prec_name((floe_prec)p));
        snprintf(what, sizeof what, "chip peak vmm %s, 1 MAC = 2 ops", floe_prec_name((floe_prec)p));
        rowf(s, "derived", name, d.peak_ops_per_s[p] * 1e-12, "T-ops/s", what);
    }
    for (int p = 0; p < FLOE_PREC_COUNT; p++) {
        snprintf(name, sizeof name, "system_peak_%s_pops", floe_prec_name((floe_prec)p));
        snprintf(what, sizeof what, "all chips, vmm %s", floe_prec_name((floe_prec)p));
        rowf(s, "derived", name, d.system_peak_ops_per_s[p] * 1e-15, "P-ops/s", what);
    }
    rowf(s, "derived", "vector_gops", d.vector_ops_per_s * 1e-9, "G-ops/s", "chip vector unit peak");
    rowf(s, "derived", "afu_gops", d.afu_ops_per_s * 1e-9, "G-ops/s", "chip activation-function unit peak");
    rowf(s, "derived", "core_mem_kib", (double)m->core_mem_bytes / 1024.0, "KiB", "memory per core");
    rowf(s, "derived", "core_mem_total_mib", (double)d.core_mem_total_bytes / 1048576.0, "MiB",
         "all core memory of a chip");
    rowf(s, "derived", "chip_mem_mib", (double)d.chip_mem_bytes / 1048576.0, "MiB", "core memory + frame buffer");
    rowf(s, "derived", "system_mem_gib", d.system_mem_bytes / 1073741824.0, "GiB", "all chips");
    rowf(s, "derived", "sram_tbytes_per_s", d.sram_bytes_per_s * 1e-12, "TB/s", "chip core-memory bandwidth");
    rowf(s, "derived", "system_sram_pbytes_per_s", d.system_sram_bytes_per_s * 1e-15, "PB/s", "all chips");
    rowu(s, "derived", "mesh_diameter_hops", d.mesh_diameter_hops, "hops", "corner to corner");
    rowu(s, "derived", "bisection_links", d.bisection_links, "links", "cut by the narrowest halving of the mesh");
    for (int n = 0; n < FLOE_NOC_COUNT; n++) {
        snprintf(name, sizeof name, "noc_%s_bisection_bytes_per_cycle", floe_noc_name((floe_noc_id)n));
        rowu(s, "derived", name, d.noc_bisection_bytes_per_cycle[n], "bytes/cycle", "both directions");
        snprintf(name, sizeof name, "noc_%s_bisection_gbytes_per_s", floe_noc_name((floe_noc_id)n));
        rowf(s, "derived", name, d.noc_bisection_bytes_per_s[n] * 1e-9, "GB/s", "both directions");
        snprintf(name, sizeof name, "noc_%s_diameter_cycles", floe_noc_name((floe_noc_id)n));
        rowu(s, "derived", name, d.noc_diameter_cycles[n], "cycles", "corner to corner, no contention");
    }
}

static void energy(row_sink *s, const floe_energy_table *e, const floe_machine *m)
{
    floe_energy_cost c;
    floe_energy_costs(e, &c);
    floe_machine_derived d;
    floe_machine_derive(m, &d);
    char name[64], what[128];
    for (int p = 0; p < FLOE_PREC_COUNT; p++) {
        snprintf(name, sizeof name, "mac_%s_pj_target", floe_prec_name((floe_prec)p));
        rowf(s, "energy", name, c.mac_pj[p], "pJ", "one MAC at the target process");
    }
    rowf(s, "energy", "vector_op_pj_target", c.vector_op_pj, "pJ", "at the target process");
    rowf(s, "energy", "lut_op_pj_target", c.afu_op_pj, "pJ", "at the target process");
    rowf(s, "energy", "sram_read_pj_per_byte_target", c.sram_read_pj_per_byte, "pJ/byte", "at the target process");
    rowf(s, "energy", "sram_write_pj_per_byte_target", c.sram_write_pj_per_byte, "pJ/byte", "at the target process");
    rowf(s, "energy", "framebuffer_pj_per_byte_target", c.framebuffer_pj_per_byte, "pJ/byte",
         "at the target process");
    for (int n = 0; n < FLOE_NOC_COUNT; n++) {
        snprintf(name, sizeof name, "noc_%s_pj_per_byte_hop_target", floe_noc_name((floe_noc_id)n));
        rowf(s, "energy", name, c.noc_pj_per_byte_hop[n], "pJ/byte/hop", "at the target process");
    }
    double st = floe_energy_static_w(&c, m);
    rowf(s, "energy", "chip_static_w", st, "W", "cores + rest of chip");
    for (int p = 0; p < FLOE_PREC_COUNT; p++) {
        double w = floe_energy_peak_vmm_w(&c, m, (floe_prec)p) + st;
        snprintf(name, sizeof name, "chip_peak_%s_w", floe_prec_name((floe_prec)p));
        snprintf(what, sizeof what, "vmm %s at peak + SRAM at full bandwidth + static", floe_prec_name((floe_prec)p));
        rowf(s, "energy", name, w, "W", what);
        snprintf(name, sizeof name, "chip_peak_%s_tops_per_w", floe_prec_name((floe_prec)p));
        rowf(s, "energy", name, d.peak_ops_per_s[p] * 1e-12 / w, "T-ops/s/W", "at that power");
    }
}

static int show(int argc, char **argv)
{
    const char *energy_path = NULL, *csv = NULL;
    const floe_opt opts[] = {
        {"energy", FLOE_ARG_STRING, &energy_path, "FILE", "also load an energy table (configs/energy-*.csv)", 0, 0, 0},
        {"csv", FLOE_ARG_STRING, &csv, "FILE", "also write every figure as CSV (kind,name,value,unit,meaning)", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "machine show", "<machine.csv>", "Show a machine description: parameters, derived figures, fingerprint.",
        "The file is validated first; an error names its file, line and field. Derived figures count\n"
        "1 MAC as 2 ops (multiply + add). The fingerprint is the value programs store to refuse a\n"
        "machine they were not built for; it depends on the values only, not on comments or layout.\n"
        "Keys, units and the northpole figures' basis: docs/machine.md.",
        opts, 1, 1};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    floe_err err;
    floe_machine m;
    if (floe_machine_load(pos[0], &m, &err) != 0)
        return floe_cmd_fail("machine show", "%s", err.msg);
    floe_energy_table e;
    if (energy_path && floe_energy_table_load(energy_path, &e, &err) != 0)
        return floe_cmd_fail("machine show", "%s", err.msg);
    floe_afile af = {0};
    row_sink sink = {NULL};
    if (csv) {
        if (floe_afile_open(&af, csv, &err) != 0)
            return floe_cmd_fail("machine show", "%s", err.msg);
        sink.csv = af.fp;
        fprintf(af.fp, "kind,name,value,unit,meaning\n");
    }
    char fp[32];
    snprintf(fp, sizeof fp, "%016" PRIx64, floe_machine_fingerprint(&m));
    printf("machine %s\n", pos[0]);
    row(&sink, "fingerprint", "machine_fingerprint", fp, "", "FNV-1a 64 of every value (docs/machine.md)");
    size_t n;
    const floe_kv_key *keys = floe_machine_keys(&n);
    printf("\nparameters:\n");
    params(&sink, "param", keys, n, &m);
    printf("\nderived:\n");
    derived(&sink, &m);
    if (energy_path) {
        printf("\nenergy table %s\n", energy_path);
        snprintf(fp, sizeof fp, "%016" PRIx64, floe_energy_table_fingerprint(&e));
        row(&sink, "fingerprint", "energy_fingerprint", fp, "", "FNV-1a 64 of every value");
        keys = floe_energy_table_keys(&n);
        printf("\nenergy parameters (dynamic figures at the reference process):\n");
        params(&sink, "energy_param", keys, n, &e);
        printf("\nenergy at the target process:\n");
        energy(&sink, &e, &m);
    }
    if (csv && floe_afile_commit(&af, &err) != 0)
        return floe_cmd_fail("machine show", "%s", err.msg);
    return 0;
}

int floe_cmd_machine(int argc, char **argv)
{
    if (argc < 2) {
        machine_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        machine_usage(stdout);
        return 0;
    }
    if (strcmp(sub, "show") == 0)
        return show(argc - 1, argv + 1);
    fprintf(stderr, "floe machine: error: unknown subcommand '%s' (see 'floe machine --help')\n", sub);
    return 2;
}
