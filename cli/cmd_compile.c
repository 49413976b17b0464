/* `floe compile`: lower a quantized model onto a machine (docs/compiler.md). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/mapping_args.h"
#include "cli/qmodel_arg.h"
#include "common/atomic_file.h"
#include "isa/container.h"
#include "compiler/compile.h"

int floe_cmd_compile(int argc, char **argv)
{
    floe_mapping_args ma = FLOE_MAPPING_ARGS_INIT;
    floe_qmodel_args qa = FLOE_QMODEL_ARGS_INIT;
    const char *machine = NULL, *out = NULL, *placement = NULL;
    long long tokens = 16, kv = 0, dpos = -1, split_bytes = 0;
    const floe_opt opts[] = {
        FLOE_QMODEL_OPTS(qa),
        {"machine", FLOE_ARG_STRING, &machine, "CSV", "the machine description (required)", 0, 0, 'm'},
        {"tokens", FLOE_ARG_INT, &tokens, "T", "prefill length (default 16)", 1, 1 << 22, 0},
        {"kv-tokens", FLOE_ARG_INT, &kv, "N", "KV-cache capacity in positions (default: T)", 0, 1 << 22, 0},
        {"decode-pos", FLOE_ARG_INT, &dpos, "P", "write the decode program for position P instead of the prefill", 0, 1 << 22, 0},
        {"core-weight-bytes", FLOE_ARG_INT, &split_bytes, "B", "split layers so no core holds more than B bytes of weights (default: only what does not fit)", 0, 1ll << 40, 0},
        {"output", FLOE_ARG_STRING, &out, "FLP", "the program to write (required)", 0, 0, 'o'},
        {"placement", FLOE_ARG_STRING, &placement, "CSV", "also write every core's role and memory (x, y, layer, role, bytes)", 0, 0, 0},
        FLOE_MAPPING_OPTS(ma),
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "compile", NULL, "Compile a quantized model into a program for a machine.",
        "The mapping (docs/compiler.md): a group of cores per decoder layer and one for the LM head on\n"
        "one chip, weights resident in core memory: a main core (residual stream, KV cache, attention)\n"
        "and, when the layer does not fit one core, weight cores holding slices of its linear layers.\n"
        "Region \"x\" of core (0, 0) takes the embedded tokens (int16 [T][d]); region \"logits\" of the\n"
        "head's main core holds the result. --decode-pos P writes the decode program for the token at\n"
        "position P (row 0 of \"x\" and \"logits\"), which runs against the KV cache a prefill left in core\n"
        "memory and carries no memory images. A model that does not fit gets the exact statement of what\n"
        "overflows, where, and by how much.",
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
    if ((rc = floe_cli_load_machine("compile", machine, NULL, &mach, NULL)) >= 0)
        return rc;
    floe_compile_opts o = {.tokens = (int)tokens,
                           .kv_tokens = (int)kv,
                           .decode = dpos >= 0,
                           .pos = dpos >= 0 ? (int)dpos : 0,
                           .core_weight_bytes = (uint64_t)split_bytes,
                           .v_block = (int)ma.v_block,
                           .attn_ranges = (int)ma.attn_cores,
                           .reuse_rows = (int)ma.reuse_rows};
    if (qa.model) { /* random weights: the mapping from the config before the weights are built */
        floe_model_config cfg;
        floe_qconfig q;
        if ((rc = floe_qshape_from_args("compile", &qa, &cfg, &q)) >= 0)
            return rc;
        if (floe_compile_check_one_chip(&cfg, &q, &mach, &o, &err) != 0)
            return floe_cmd_fail("compile", "%s (machine %s)", err.msg, machine);
    }
    floe_qmodel m;
    if ((rc = floe_qmodel_from_args("compile", &qa, &m)) >= 0)
        return rc;
    floe_program *p;
    floe_compile_report rep;
    rc = 0;
    if (floe_compile_prefill(&m, &mach, &o, &p, &rep, &err) != 0) {
        rc = floe_cmd_fail("compile", "%s (machine %s)", err.msg, machine);
    } else {
        if (floe_program_save(p, out, &err) != 0)
            rc = floe_cmd_fail("compile", "%s", err.msg);
        else if (placement) {
            size_t cap = 128 + 96 * rep.ncores, n = 0;
            char *buf = malloc(cap);
            if (!buf) {
                rc = floe_cmd_fail("compile", "out of memory");
            } else {
                n += (size_t)snprintf(buf + n, cap - n, "x,y,layer,role,bytes,weight_bytes,kv_bytes\n");
                for (size_t i = 0; i < rep.ncores; i++) {
                    const floe_core_use *u = &rep.cores[i];
                    n += (size_t)snprintf(buf + n, cap - n, "%u,%u,%d,%s,%llu,%llu,%llu\n", u->x, u->y, u->layer,
                                          u->is_main ? "main" : u->kv_bytes ? "attention" : "weight",
                                          (unsigned long long)u->bytes, (unsigned long long)u->weight_bytes,
                                          (unsigned long long)u->kv_bytes);
                }
                if (floe_write_file_atomic(placement, buf, n, &err) != 0)
                    rc = floe_cmd_fail("compile", "%s", err.msg);
                free(buf);
            }
        }
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
