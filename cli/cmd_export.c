/* `floe export`: the quantized model of a QAT checkpoint (docs/quantized-model.md), or any model as a
 * Hugging Face folder (--hf, docs/hf-models.md). */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "trainer/export_hf.h"
#include "trainer/qat_run.h"

int floe_cmd_export(int argc, char **argv)
{
    const char *out = NULL, *hf = NULL, *tokenizer = NULL, *dtype = "f32";
    const floe_opt opts[] = {
        {"out", FLOE_ARG_STRING, &out, "FILE", "the quantized model (.safetensors) of a QAT checkpoint", 0, 0, 'o'},
        {"hf", FLOE_ARG_STRING, &hf, "DIR", "or: a Hugging Face folder of the model (a quantized model: dequantized)",
         0, 0, 0},
        {"tokenizer", FLOE_ARG_STRING, &tokenizer, "T",
         "with --hf: the tokenizer to put beside it (tokenizer.json or "
         "its folder)",
         0, 0, 't'},
        {"dtype", FLOE_ARG_STRING, &dtype, "D", "with --hf: the weights' dtype, f32 (default) or bf16", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "export",
        "<model>",
        "Write a QAT checkpoint's quantized model, or a model as a Hugging Face folder.",
        "--out FILE: the quantized model (codes, steps, multipliers, tables) of a QAT checkpoint: what\n"
        "floe compile, verify, deploy-check and eval --qmodel read; loading it checks every derived\n"
        "constant against the steps (docs/quantized-model.md).\n"
        "--hf DIR: config.json, model.safetensors (F32, or BF16 with --dtype bf16: rounded to nearest\n"
        "even, as Hugging Face ships most models) and the tokenizer, as transformers loads them.\n"
        "<model> is then a quantized model file (written dequantized: codes times steps, the norms' gains\n"
        "folded, an untied head), a float checkpoint of floe train, or a Hugging Face folder.",
        opts,
        1,
        1};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (!out == !hf)
        return floe_cmd_fail("export", "give one of --out FILE (a quantized model) and --hf DIR (a Hugging Face "
                                       "folder)");
    if (tokenizer && !hf)
        return floe_cmd_fail("export", "--tokenizer goes with --hf");
    const int bf16 = strcmp(dtype, "bf16") == 0;
    if (!bf16 && strcmp(dtype, "f32") != 0)
        return floe_cmd_fail("export", "--dtype %s: expected f32 or bf16", dtype);
    if (bf16 && !hf)
        return floe_cmd_fail("export", "--dtype goes with --hf");
    floe_err err;
    if (hf) {
        floe_export_hf_info info;
        if (floe_export_hf(pos[0], hf, tokenizer, bf16, &info, &err) != 0)
            return floe_cmd_fail("export", "%s", err.msg);
        printf("exported %s (%s, %llu parameters%s) -> %s (config.json, model.safetensors %s%s)\n", pos[0], info.name,
               (unsigned long long)info.params, info.quantized ? ", dequantized" : "", hf, bf16 ? "BF16" : "F32",
               tokenizer ? ", tokenizer" : "");
        return 0;
    }
    if (floe_qat_export(pos[0], out, &err) != 0)
        return floe_cmd_fail("export", "%s", err.msg);
    printf("exported %s -> %s\n", pos[0], out);
    return 0;
}
