/* `floe sim`: run a program on the simulated chip; print what it cost; write profiles and a trace. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "common/atomic_file.h"
#include "common/file_read.h"
#include "isa/container.h"
#include "sim/report.h"
#include "sim/sim.h"

/* "X,Y:REGION=FILE" or "fb:REGION=FILE" -> place and region symbol. */
static int bind_region(const floe_program *p, const char *spec, const char *opt, unsigned *x, unsigned *y,
                       const floe_symbol **sym, const char **file)
{
    const char *colon = strchr(spec, ':'), *eq = colon ? strchr(colon, '=') : NULL;
    if (!colon || !eq || eq == colon + 1 || !eq[1]) {
        fprintf(stderr, "floe sim: error: option --%s: expected X,Y:REGION=FILE or fb:REGION=FILE, got '%s'\n", opt, spec);
        return 2;
    }
    if (strncmp(spec, "fb:", 3) == 0) {
        *x = *y = FLOE_FB;
    } else {
        char *end;
        unsigned long a = strtoul(spec, &end, 10);
        unsigned long b = *end == ',' ? strtoul(end + 1, &end, 10) : 256;
        if (end != colon || a > 255 || b > 255) {
            fprintf(stderr, "floe sim: error: option --%s: bad core '%.*s' in '%s' (expected X,Y)\n", opt,
                    (int)(colon - spec), spec, spec);
            return 2;
        }
        *x = (unsigned)a;
        *y = (unsigned)b;
    }
    *sym = floe_program_symbol(p, *x, *y, colon + 1, (size_t)(eq - colon - 1));
    if (!*sym || (*sym)->kind != FLOE_SYM_REGION) {
        fprintf(stderr, "floe sim: error: option --%s: the program has no region '%.*s' at %.*s\n", opt,
                (int)(eq - colon - 1), colon + 1, (int)(colon - spec), spec);
        return 1;
    }
    *file = eq + 1;
    return 0;
}

/* configs/NAME.csv -> configs/energy-NAME.csv, if that exists. */
static const char *default_energy(const char *machine, char *buf, size_t n)
{
    const char *slash = strrchr(machine, '/');
    size_t dir = slash ? (size_t)(slash - machine + 1) : 0;
    if (snprintf(buf, n, "%.*senergy-%s", (int)dir, machine, machine + dir) >= (int)n)
        return NULL;
    FILE *f = fopen(buf, "r");
    if (!f)
        return NULL;
    fclose(f);
    return buf;
}

int floe_cmd_sim(int argc, char **argv)
{
    const char *machine_path = NULL, *energy_path = NULL, *profile = NULL, *regions = NULL, *trace = NULL;
    floe_arg_list inputs = {0}, outputs = {0};
    long long trace_max = 1000000, max_cycles = 0;
    int strict = 0, quiet = 0;
    const floe_opt opts[] = {
        {"machine", FLOE_ARG_STRING, &machine_path, "CSV", "machine description (required)", 0, 0, 'm'},
        {"energy", FLOE_ARG_STRING, &energy_path, "CSV", "energy table (default: energy-<machine>.csv beside it)", 0, 0, 0},
        {"input", FLOE_ARG_LIST, &inputs, "X,Y:REGION=FILE", "load FILE into a region before the run (fb:REGION for the frame buffer); repeatable", 0, 0, 0},
        {"output", FLOE_ARG_LIST, &outputs, "X,Y:REGION=FILE", "write a region to FILE after the run; repeatable", 0, 0, 0},
        {"profile", FLOE_ARG_STRING, &profile, "CSV", "per-core profile", 0, 0, 0},
        {"regions", FLOE_ARG_STRING, &regions, "CSV", "per-region (code label, e.g. layer) profile", 0, 0, 0},
        {"trace", FLOE_ARG_STRING, &trace, "JSON", "Chrome trace-event timeline (opens in Perfetto)", 0, 0, 0},
        {"trace-max", FLOE_ARG_INT, &trace_max, "N", "at most N trace events (default 1000000; 0 = no limit)", 0, 1e12, 0},
        {"max-cycles", FLOE_ARG_INT, &max_cycles, "N", "stop with an error past N simulated cycles", 0, 1e18, 0},
        {"strict", FLOE_ARG_FLAG, &strict, NULL, "reads of uninitialised memory are errors", 0, 0, 0},
        {"quiet", FLOE_ARG_FLAG, &quiet, NULL, "print nothing but errors", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "sim", "<program.flp>", "Run a program on the simulated chip and report its cycles, energy and utilisation.",
        "The program must have been built for the machine (its fingerprint). Inputs and outputs are\n"
        "named regions of the program (.region in assembly). Faults and deadlocks stop the run with\n"
        "an error naming the cores and threads involved. docs/sim.md explains the model.",
        opts, 1, 1};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    const char *prog_path = npos ? pos[0] : NULL;
    if (rc >= 0)
        return rc;
    char ebuf[4200];
    if (!energy_path && machine_path)
        energy_path = default_energy(machine_path, ebuf, sizeof ebuf);
    floe_err err;
    floe_machine m;
    floe_energy_table e;
    if ((rc = floe_cli_load_machine("sim", machine_path, energy_path, &m, &e)) >= 0)
        return rc;
    floe_program *p;
    uint64_t fp = floe_machine_fingerprint(&m);
    if (floe_program_load(prog_path, &fp, &p, &err) != 0)
        return floe_cmd_fail("sim", "%s (machine %s)", err.msg, machine_path);
    floe_sim *s;
    if (floe_sim_new(&s, &m, energy_path ? &e : NULL, &err) != 0) {
        floe_program_free(p);
        return floe_cmd_fail("sim", "%s", err.msg);
    }
    rc = 0;
    if (floe_sim_load(s, p, &err) != 0)
        rc = floe_cmd_fail("sim", "%s: %s", prog_path, err.msg);
    for (int i = 0; rc == 0 && i < inputs.n; i++) {
        unsigned x, y;
        const floe_symbol *sym;
        const char *file;
        if ((rc = bind_region(p, inputs.v[i], "input", &x, &y, &sym, &file)) != 0)
            break;
        char *data;
        size_t len;
        if (floe_read_file(file, sym->size, &data, &len, &err) != 0) {
            rc = floe_cmd_fail("sim", "%s (region '%s' holds %u bytes)", err.msg, sym->name, sym->size);
            break;
        }
        floe_memory *mem = floe_sim_memory(s, x, y);
        if (!mem)
            rc = floe_cmd_fail("sim", "option --input: core (%u, %u) is outside this machine's grid", x, y);
        else if (floe_memory_write(mem, sym->value, data, len, &err) != 0)
            rc = floe_cmd_fail("sim", "%s: %s", file, err.msg);
        free(data);
    }
    floe_sim_options o = {strict, trace, (uint64_t)trace_max, (uint64_t)max_cycles};
    if (rc == 0 && floe_sim_run(s, &o, &err) != 0)
        rc = floe_cmd_fail("sim", "%s: %s", prog_path, err.msg);
    for (int i = 0; rc == 0 && i < outputs.n; i++) {
        unsigned x, y;
        const floe_symbol *sym;
        const char *file;
        if ((rc = bind_region(p, outputs.v[i], "output", &x, &y, &sym, &file)) != 0)
            break;
        floe_memory *mem = floe_sim_memory(s, x, y);
        if (!mem)
            rc = floe_cmd_fail("sim", "option --output: core (%u, %u) is outside this machine's grid", x, y);
        else if (floe_memory_check(mem, sym->value, sym->size, "output", &err) != 0 ||
                 floe_write_file_atomic(file, mem->bytes + sym->value, sym->size, &err) != 0)
            rc = floe_cmd_fail("sim", "%s", err.msg);
    }
    if (rc == 0 && profile && floe_sim_write_core_csv(s, profile, &err) != 0)
        rc = floe_cmd_fail("sim", "%s", err.msg);
    if (rc == 0 && regions && floe_sim_write_region_csv(s, regions, &err) != 0)
        rc = floe_cmd_fail("sim", "%s", err.msg);
    if (rc == 0 && !quiet)
        floe_sim_print_summary(s, stdout);
    floe_sim_free(s);
    floe_program_free(p);
    return rc;
}
