/* `floe compile`: lower a quantized model onto a machine (docs/compiler.md). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/qmodel_arg.h"
#include "isa/container.h"
#include "models/compile.h"

int floe_cmd_compile(int argc, char **argv)
{
    floe_qmodel_args qa = FLOE_QMODEL_ARGS_INIT;
    const char *machine = NULL, *out = NULL;
    long long tokens = 16;
    const floe_opt opts[] = {
        FLOE_QMODEL_OPTS(qa),
        {"machine", FLOE_ARG_STRING, &machine, "CSV", "the machine description (required)", 0, 0, 'm'},
        {"tokens", FLOE_ARG_INT, &tokens, "T", "prefill length (default 16)", 1, 1 << 22, 0},
        {"output", FLOE_ARG_STRING, &out, "FLP", "the program to write (required)", 0, 0, 'o'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "compile", NULL, "Compile a quantized model into a program for a machine.",
        "The mapping (docs/compiler.md): one core per decoder layer and one for the LM head on one\n"
        "chip, weights resident in core memory. Region \"x\" of core (0, 0) takes the embedded tokens\n"
        "(int16 [T][d]); region \"logits\" of the head core holds the result. A model that does not fit\n"
        "gets the exact statement of what overflows, where, and by how much.",
        opts, 0, 0};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (!machine || !out) {
        fprintf(stderr, "floe compile: error: --machine and --output are required (see 'floe compile --help')\n");
        return 2;
    }
    floe_err err;
    floe_machine mach;
    if (floe_machine_load(machine, &mach, &err) != 0)
        return floe_cmd_fail("compile", "%s", err.msg);
    floe_qmodel m;
    if ((rc = floe_qmodel_from_args("compile", &qa, &m)) >= 0)
        return rc;
    floe_compile_opts o = {(int)tokens};
    floe_program *p;
    floe_compile_report rep;
    rc = 0;
    if (floe_compile_prefill(&m, &mach, &o, &p, &rep, &err) != 0) {
        rc = floe_cmd_fail("compile", "%s (machine %s)", err.msg, machine);
    } else {
        if (floe_program_save(p, out, &err) != 0)
            rc = floe_cmd_fail("compile", "%s", err.msg);
        else
            printf("wrote %s: %zu cores, %zu instructions; memory per core min %llu, max %llu of %llu bytes\n", out,
                   rep.ncores, floe_program_insn_count(p), (unsigned long long)rep.mem_min,
                   (unsigned long long)rep.mem_max, (unsigned long long)mach.core_mem_bytes);
        floe_program_free(p);
        floe_compile_report_free(&rep);
    }
    floe_qmodel_free(&m);
    return rc;
}
