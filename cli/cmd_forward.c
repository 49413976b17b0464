/* `floe forward`: a prompt through the reference integer forward of a quantized model, every
 * intermediate tensor and the logits written to a file (docs/quantized-model.md, "Dump"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/qmodel_arg.h"
#include "models/qref_dump.h"

int floe_cmd_forward(int argc, char **argv)
{
    floe_qmodel_args qa = FLOE_QMODEL_ARGS_INIT;
    const char *prompt = "The quick brown fox jumps over the lazy dog.", *out = "forward.safetensors";
    long long tokens = 0;
    const floe_opt opts[] = {
        FLOE_QMODEL_OPTS(qa),
        {"prompt", FLOE_ARG_STRING, &prompt, "TEXT", "the tokens (bytes) to run (default: a pangram)", 0, 0, 0},
        {"tokens", FLOE_ARG_INT, &tokens, "T", "use the first T tokens of the prompt (default: all of it)", 1, 1 << 22,
         0},
        {"out", FLOE_ARG_STRING, &out, "FILE", "the dump, safetensors (default forward.safetensors)", 0, 0, 'o'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "forward",
        NULL,
        "Run a prompt through the reference integer forward and write every tensor it "
        "produces, and the logits.",
        "The file holds tokens I32 [T], model.layers.<l>.<tensor> I32 [T][width] for attn_in, q,\n"
        "k, v, kc, attn_out, attn_res, mlp_in, gate, up, act, down_in and out of every layer,\n"
        "model.head_in I32 [T][d] and logits I16 [T][vocab] (docs/quantized-model.md, \"Dump\").",
        opts,
        0,
        0};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    floe_qmodel m;
    if ((rc = floe_qmodel_from_args("forward", &qa, &m)) >= 0)
        return rc;
    size_t len = strlen(prompt);
    int T = tokens > 0 ? (int)tokens : (int)len;
    if (T < 1 || (size_t)T > len) {
        floe_qmodel_free(&m);
        return floe_cmd_fail("forward", "--tokens %d: the prompt has %zu bytes", T, len);
    }
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)T);
    if (!tok) {
        floe_qmodel_free(&m);
        return floe_cmd_fail("forward", "out of memory");
    }
    for (int t = 0; t < T; t++) /* byte tokens, folded into a smaller vocabulary if need be */
        tok[t] = (int32_t)((unsigned char)prompt[t] % (unsigned)m.cfg.vocab_size);
    floe_err err;
    floe_qref_dump_summary sum;
    if (floe_qref_dump(&m, tok, T, out, &sum, &err) != 0)
        rc = floe_cmd_fail("forward", "%s", err.msg);
    else
        printf("wrote %s: %zu tensors, %llu values (%d tokens through %d layers); the last position's most likely "
               "next token: %d\n",
               out, sum.tensors, (unsigned long long)sum.values, T, m.cfg.n_layers, sum.last_argmax);
    free(tok);
    floe_qmodel_free(&m);
    return rc < 0 ? 0 : rc;
}
