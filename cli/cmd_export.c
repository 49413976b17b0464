/* `floe export`: the quantized model of a QAT checkpoint (docs/quantized-model.md). */
#include <stdio.h>

#include "cli/args.h"
#include "trainer/qat_run.h"

int floe_cmd_export(int argc, char **argv)
{
    const char *out = NULL;
    const floe_opt opts[] = {
        {"out", FLOE_ARG_STRING, &out, "FILE", "the quantized model (.safetensors, required)", 0, 0, 'o'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "export", "<qat-checkpoint>", "Write a QAT checkpoint's quantized model: codes, steps, multipliers, tables.",
        "The file is what floe compile, verify, deploy-check and eval --qmodel read; loading it checks\n"
        "every derived constant against the steps (docs/quantized-model.md).",
        opts, 1, 1};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (!out)
        return floe_cmd_fail("export", "--out FILE is required");
    floe_err err;
    if (floe_qat_export(pos[0], out, &err) != 0)
        return floe_cmd_fail("export", "%s", err.msg);
    printf("exported %s -> %s\n", pos[0], out);
    return 0;
}
