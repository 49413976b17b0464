/* `floe rtl-check`: co-simulation of the RTL core (rtl/core.sv) against the simulator, per unit:
 * results compared bit for bit and cycles compared with the simulator's timing model
 * (docs/rtl.md, "Co-simulation of the core").
 *
 * The co-simulation is C++ (Verilator), so it is its own executable, floe-rtl-check, built next to
 * floe when Verilator is found. This command checks its options, finds floe-rtl-check in the
 * directory of the running floe (/proc/self/exe; $FLOE_RTL_CHECK overrides) and execs it with the
 * same options: its output and exit status are this command's. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"

/* floe-rtl-check beside the running executable, in buf. Returns 0 or -1 (errno set). */
static int find_harness(char *buf, size_t size)
{
    const char *env = getenv("FLOE_RTL_CHECK");
    if (env && *env) {
        if (strlen(env) >= size)
            return errno = ENAMETOOLONG, -1;
        strcpy(buf, env);
        return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        slash[1] = '\0';
    else
        self[0] = '\0';
    if ((size_t)snprintf(buf, size, "%sfloe-rtl-check", self) >= size)
        return errno = ENAMETOOLONG, -1;
    return 0;
}

int floe_cmd_rtl_check(int argc, char **argv)
{
    const char *machine = NULL, *wave = NULL, *csv = NULL, *variant = NULL, *model = NULL, *act = NULL;
    long long tiles = 500, model_tiles = -1, seed = 1;
    int verbose = 0;
    const floe_opt opts[] = {
        {"machine", FLOE_ARG_STRING, &machine, "FILE",
         "machine description; must be the one the core was generated for (default: the build's, configs/small.csv)", 0, 0,
         'm'},
        {"tiles", FLOE_ARG_INT, &tiles, "N", "random tiles, the six kinds in turn (vmm, requant, vector, afu, divider, composites) (default 500)", 0, 1e9, 0},
        {"model", FLOE_ARG_STRING, &model, "NAME", "built-in model compiled for the model tiles (default tiny)", 0, 0, 0},
        {"model-tiles", FLOE_ARG_INT, &model_tiles, "N",
         "tiles from the compiled model (default -1: every modelled instruction; 0: none)", -1, 1e9, 0},
        {"act-scaling", FLOE_ARG_STRING, &act, "NAME",
         "the model's activation scaling: per-tensor (default) or per-token (rmsnormt, vrequantt, requantk)", 0, 0, 0},
        {"seed", FLOE_ARG_INT, &seed, "S", "seed of the random tiles and the model's weights (default 1)", 0, 9e18, 0},
        {"wave", FLOE_ARG_STRING, &wave, "FILE", "write an FST waveform of the whole run", 0, 0, 0},
        {"csv", FLOE_ARG_STRING, &csv, "FILE", "write the per-unit table as CSV", 0, 0, 0},
        {"variant", FLOE_ARG_STRING, &variant, "NAME", "core (default) or flip: the wrong rounding variant", 0, 0, 0},
        {"verbose", FLOE_ARG_FLAG, &verbose, NULL, "print every tile's cycles", 0, 0, 'v'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "rtl-check", NULL, "Co-simulate the RTL core against the simulator: results bit for bit, cycles per unit.",
        "Tiles are ISA instructions (vmm, requant, vrequant, vadd, vmax, vmul, vshift, vsat, exp2,\n"
        "lut8, lut16, recip, rsqrt, vsum, vsumsq, vmaxr, rmsnorm, softmax, rope, rmsnormt, vrequantt,\n"
        "requantk), random and from a compiled model; each runs on the simulator and\n"
        "on the verilated core (rtl/core.sv). Per unit it prints tiles, elements compared, mismatches, RTL and simulator\n"
        "cycles and their error. Runs the floe-rtl-check executable beside floe (built when Verilator is\n"
        "found); exit 1 on any mismatch. See docs/rtl.md.",
        opts, 0, 0};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (variant && strcmp(variant, "core") && strcmp(variant, "flip")) {
        fprintf(stderr, "floe rtl-check: error: option --variant: expected core or flip, got '%s'\n", variant);
        return 2;
    }
    char path[PATH_MAX];
    if (find_harness(path, sizeof path) != 0)
        return floe_cmd_fail("rtl-check", "cannot locate floe-rtl-check: %s", strerror(errno));
    if (access(path, X_OK) != 0)
        return floe_cmd_fail("rtl-check",
                             "%s: %s (it is built with the RTL when Verilator >= 5.0 is found; docs/rtl.md)", path,
                             strerror(errno));
    char num[3][32];
    snprintf(num[0], sizeof num[0], "%lld", tiles);
    snprintf(num[1], sizeof num[1], "%lld", model_tiles);
    snprintf(num[2], sizeof num[2], "%lld", seed);
    const char *args[24];
    int n = 0;
    args[n++] = path;
    args[n++] = "--tiles";
    args[n++] = num[0];
    args[n++] = "--model-tiles";
    args[n++] = num[1];
    args[n++] = "--seed";
    args[n++] = num[2];
    if (machine) {
        args[n++] = "--machine";
        args[n++] = machine;
    }
    if (model) {
        args[n++] = "--model";
        args[n++] = model;
    }
    if (act) {
        args[n++] = "--act-scaling";
        args[n++] = act;
    }
    if (wave) {
        args[n++] = "--wave";
        args[n++] = wave;
    }
    if (csv) {
        args[n++] = "--csv";
        args[n++] = csv;
    }
    if (variant) {
        args[n++] = "--variant";
        args[n++] = variant;
    }
    if (verbose)
        args[n++] = "--verbose";
    args[n] = NULL;
    fflush(stdout);
    execv(path, (char *const *)args);
    return floe_cmd_fail("rtl-check", "%s: cannot run: %s", path, strerror(errno));
}
