/* `floe eval`: a checkpoint's validation loss, perplexity and next-token accuracy (docs/trainer.md). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "models/qmodel_io.h"
#include "trainer/qeval.h"
#include "trainer/train.h"

int floe_cmd_eval(int argc, char **argv)
{
    const char *ckpt = NULL, *qmodel = NULL, *corpus = NULL, *model = NULL;
    long long batch = 8, context = 0, threads = 0;
    const floe_opt opts[] = {
        {"ckpt", FLOE_ARG_STRING, &ckpt, "FILE", "model checkpoint (.safetensors, required)", 0, 0, 'c'},
        {"model", FLOE_ARG_STRING, &model, "DIR",
         "or: a Hugging Face model folder, Llama or Granite (docs/hf-models.md), as a float model", 0, 0, 'm'},
        {"qmodel", FLOE_ARG_STRING, &qmodel, "FILE",
         "or: a quantized model (floe qat / ptq / export), scored through the integer forward", 0, 0, 'q'},
        {"corpus", FLOE_ARG_STRING, &corpus, "SPEC", "fortunes (default), generated[:N[:SEED]] or a folder", 0, 0, 0},
        {"context", FLOE_ARG_INT, &context, "T", "window length (default: the model's context)", 1, 1 << 22, 0},
        {"batch", FLOE_ARG_INT, &batch, "B", "windows per forward pass (default 8; no effect on the result)", 1, 65536,
         'b'},
        {"threads", FLOE_ARG_INT, &threads, "N", "OpenMP threads (default: OMP_NUM_THREADS or all cores)", 1, 1024,
         'j'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "eval", NULL, "Validation loss (nats per token = per byte), perplexity and next-token accuracy.",
        "Every window of T+1 tokens starting at 0, T, 2T, ... of the validation split is scored, so every\n"
        "validation token but the first is predicted exactly once (docs/models.md, floe_val_iter).",
        opts, 0, 0};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if ((ckpt != NULL) + (model != NULL) + (qmodel != NULL) != 1)
        return floe_cmd_fail("eval", "give one of --ckpt FILE or --model DIR (float model) or --qmodel FILE "
                                     "(quantized model)");
    if (model)
        ckpt = model; /* floe_model_load reads a folder as well as a checkpoint */
    if (threads > 0)
        omp_set_num_threads((int)threads);
    floe_err err;
    floe_corpus c;
    floe_tokens val;
    if (floe_corpus_open(&c, corpus, &err) != 0)
        return floe_cmd_fail("eval", "%s", err.msg);
    rc = floe_tokens_encode(&val, floe_tokenizer_byte(), c.val, c.n_val, &err);
    floe_corpus_free(&c);
    if (rc != 0)
        return floe_cmd_fail("eval", "%s", err.msg);
    floe_eval_result r;
    uint64_t khist[5][FLOE_QFWD_KHIST] = {{0}};
    int kmax = 0;
    if (ckpt) {
        floe_model m;
        if ((rc = floe_model_load(&m, ckpt, (int)batch, (int)context, &err)) == 0) {
            rc = floe_model_evaluate(&m, &val, m.maxT, &r, &err);
            floe_model_free(&m);
        }
    } else {
        floe_qmodel qm;
        floe_qfwd f;
        memset(khist, 0, sizeof khist);
        if ((rc = floe_qmodel_load(&qm, qmodel, &err)) == 0) {
            int T = context > 0 ? (int)context : qm.cfg.context;
            if ((rc = floe_qfwd_init(&f, &qm.cfg, (int)batch, T, &err)) == 0) {
                rc = floe_qmodel_evaluate(&f, &qm, &val, 0, &r, &err);
                kmax = qm.q.act_kmax;
                memcpy(khist, f.khist, sizeof khist);
                floe_qfwd_free(&f);
            }
            floe_qmodel_free(&qm);
        }
    }
    floe_tokens_free(&val);
    if (rc != 0)
        return floe_cmd_fail("eval", "%s: %s", ckpt ? ckpt : qmodel, err.msg);
    if (ckpt)
        printf("checkpoint   %s\n", ckpt);
    else
        printf("qmodel       %s (integer forward, bit-exact with the chip)\n", qmodel);
    printf("corpus       %s (validation split)\n", corpus ? corpus : "fortunes");
    printf("tokens       %zu predicted\n", r.tokens);
    printf("loss         %.4f nats/byte (%.4f bits/byte)\n", r.loss, r.loss / log(2.0));
    printf("perplexity   %.3f\n", r.ppl);
    printf("accuracy     %.4f (next byte)\n", r.accuracy);
    if (!ckpt) { /* per-token models: how the rows' shifts fell */
        floe_qfwd kf;
        memset(&kf, 0, sizeof kf);
        memcpy(kf.khist, khist, sizeof khist);
        floe_qfwd_khist_print(&kf, kmax);
    }
    return 0;
}
