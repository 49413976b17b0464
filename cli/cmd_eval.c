/* `floe eval`: a checkpoint's validation loss, perplexity and next-token accuracy; sliding-window
 * perplexity of a text or token file; zero-shot multiple-choice tasks (docs/trainer.md). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "models/qmodel_io.h"
#include "trainer/lm_score.h"
#include "trainer/mc_task.h"
#include "trainer/qeval.h"
#include "trainer/train.h"

static void print_model(const char *ckpt, const char *qmodel)
{
    if (ckpt)
        printf("checkpoint   %s\n", ckpt);
    else
        printf("qmodel       %s (integer forward, bit-exact with the chip)\n", qmodel);
}

static int eval_task(const char *ckpt, const char *qmodel, const char *tokenizer, const char *task)
{
    floe_err err;
    floe_lm lm;
    if (!tokenizer)
        return floe_cmd_fail("eval", "--task needs --tokenizer T (the model's tokenizer.json or folder)");
    const floe_tokenizer *tok = floe_tokenizer_load(tokenizer, &err);
    if (!tok)
        return floe_cmd_fail("eval", "%s", err.msg);
    if (floe_lm_open(&lm, ckpt, qmodel, 0, &err) != 0) {
        floe_tokenizer_free(tok);
        return floe_cmd_fail("eval", "%s", err.msg);
    }
    floe_mc_result r;
    int rc = tok->vocab_size > lm.vocab
                 ? floe_err_set(&err, "%s: vocabulary of %d tokens exceeds the model's vocab_size %d", tokenizer,
                                tok->vocab_size, lm.vocab)
                 : floe_mc_evaluate(&lm, tok, task, &r, &err);
    floe_lm_close(&lm);
    floe_tokenizer_free(tok);
    if (rc != 0)
        return floe_cmd_fail("eval", "%s", err.msg);
    print_model(ckpt, qmodel);
    printf("task         %s (%zu items, zero-shot, log-likelihood)\n", task, r.n);
    printf("acc          %.4f +- %.4f\n", r.acc, r.acc_stderr);
    printf("acc_norm     %.4f +- %.4f (by the choice's length in bytes)\n", r.acc_norm, r.acc_norm_stderr);
    return 0;
}

static int eval_sliding(const char *ckpt, const char *qmodel, const char *corpus, const char *text,
                        const char *tokenizer, int context, int stride)
{
    floe_err err;
    floe_tokens s, unused = {0};
    int rc = text ? floe_lm_text_tokens(tokenizer ? tokenizer : "byte", text, &s, &err)
                  : floe_train_data(corpus, &unused, &s, &err);
    floe_tokens_free(&unused);
    if (rc != 0)
        return floe_cmd_fail("eval", "%s", err.msg);
    floe_lm lm;
    if (floe_lm_open(&lm, ckpt, qmodel, context > 0 ? context - 1 : 0, &err) != 0) {
        floe_tokens_free(&s);
        return floe_cmd_fail("eval", "%s", err.msg);
    }
    if (context <= 0)
        context = lm.maxT;
    floe_ppl_result r;
    rc = floe_tokens_check_vocab(&s, lm.vocab, &err) != 0 || (ckpt && floe_ckpt_check_tokenizer(ckpt, &s, &err) != 0)
             ? -1
             : floe_lm_perplexity(&lm, &s, context, stride > 0 ? stride : context, &r, &err);
    floe_lm_close(&lm);
    floe_tokens_free(&s);
    if (rc != 0)
        return floe_cmd_fail("eval", "%s", err.msg);
    print_model(ckpt, qmodel);
    if (text)
        printf("text         %s (tokenizer %s)\n", text, tokenizer ? tokenizer : "byte");
    else
        printf("corpus       %s (validation split)\n", corpus ? corpus : "fortunes");
    printf("windows      %zu of %d tokens, stride %d\n", r.windows, context, stride > 0 ? stride : context);
    printf("tokens       %zu scored\n", r.tokens);
    printf("loss         %.4f nats/token\n", r.loss);
    printf("perplexity   %.3f\n", r.ppl);
    printf("accuracy     %.4f (next token)\n", r.accuracy);
    return 0;
}

int floe_cmd_eval(int argc, char **argv)
{
    const char *ckpt = NULL, *qmodel = NULL, *corpus = NULL, *model = NULL, *text = NULL, *tokenizer = NULL,
               *task = NULL;
    long long batch = 8, context = 0, threads = 0, stride = 0;
    const floe_opt opts[] = {
        {"ckpt", FLOE_ARG_STRING, &ckpt, "FILE", "model checkpoint (.safetensors, required)", 0, 0, 'c'},
        {"model", FLOE_ARG_STRING, &model, "DIR",
         "or: a Hugging Face model folder, Llama or Granite (docs/hf-models.md), as a float model", 0, 0, 'm'},
        {"qmodel", FLOE_ARG_STRING, &qmodel, "FILE",
         "or: a quantized model (floe qat / ptq / export), scored through the integer forward", 0, 0, 'q'},
        {"corpus", FLOE_ARG_STRING, &corpus, "SPEC",
         "fortunes (default), generated[:N[:SEED]], a folder or a token file (docs/corpus.md)", 0, 0, 0},
        {"context", FLOE_ARG_INT, &context, "T",
         "window length (default: the model's context); with --stride, tokens per window", 1, 1 << 22, 0},
        {"stride", FLOE_ARG_INT, &stride, "S",
         "sliding-window perplexity: windows start every S tokens, each scoring only new tokens", 1, 1 << 22, 0},
        {"text", FLOE_ARG_STRING, &text, "FILE", "sliding-window perplexity of this text file (with --tokenizer)", 0, 0,
         0},
        {"tokenizer", FLOE_ARG_STRING, &tokenizer, "T",
         "for --text and --task: byte, a tokenizer.json or a folder holding one", 0, 0, 't'},
        {"task", FLOE_ARG_STRING, &task, "FILE.jsonl",
         "zero-shot multiple choice: acc and acc_norm (lm-evaluation-harness's definitions)", 0, 0, 0},
        {"batch", FLOE_ARG_INT, &batch, "B", "windows per forward pass (default 8; no effect on the result)", 1, 65536,
         'b'},
        {"threads", FLOE_ARG_INT, &threads, "N", "OpenMP threads (default: OMP_NUM_THREADS or all cores)", 1, 1024,
         'j'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "eval",
        NULL,
        "Validation loss (nats per token = per byte), perplexity and next-token accuracy.",
        "Every window of T+1 tokens starting at 0, T, 2T, ... of the validation split is scored, so every\n"
        "validation token but the first is predicted exactly once (docs/models.md, floe_val_iter).\n"
        "--stride S (with --text FILE or the corpus' validation split): the Hugging Face sliding window.\n"
        "--task FILE.jsonl --tokenizer T: zero-shot multiple choice (docs/trainer.md).",
        opts,
        0,
        0};
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
    if (task)
        return eval_task(ckpt, qmodel, tokenizer, task);
    if (text && !stride)
        stride = context; /* a text file is always scored with the sliding window (disjoint by default) */
    if (text || stride)
        return eval_sliding(ckpt, qmodel, corpus, text, tokenizer, (int)context, (int)stride);
    floe_err err;
    floe_tokens train, val;
    if (floe_train_data(corpus, &train, &val, &err) != 0)
        return floe_cmd_fail("eval", "%s", err.msg);
    floe_tokens_free(&train);
    floe_eval_result r;
    uint64_t khist[5][FLOE_QFWD_KHIST] = {{0}};
    int kmax = 0;
    if (ckpt) {
        floe_model m;
        if ((rc = floe_model_load_forward(&m, ckpt, (int)batch, (int)context, &err)) == 0) {
            if ((rc = floe_tokens_check_vocab(&val, m.cfg.vocab_size, &err)) == 0 &&
                (rc = floe_ckpt_check_tokenizer(ckpt, &val, &err)) == 0)
                rc = floe_model_evaluate(&m, &val, m.maxT, &r, &err);
            floe_model_free(&m);
        }
    } else {
        floe_qmodel qm;
        floe_qfwd f;
        memset(khist, 0, sizeof khist);
        if ((rc = floe_qmodel_load(&qm, qmodel, &err)) == 0) {
            int T = context > 0 ? (int)context : qm.cfg.context;
            if ((rc = floe_tokens_check_vocab(&val, qm.cfg.vocab_size, &err)) == 0 &&
                (rc = floe_qfwd_init(&f, &qm.cfg, (int)batch, T, &err)) == 0) {
                rc = floe_qmodel_evaluate(&f, &qm, &val, 0, &r, &err);
                kmax = qm.q.act_kmax;
                memcpy(khist, f.khist, sizeof khist);
                floe_qfwd_free(&f);
            }
            floe_qmodel_free(&qm);
        }
    }
    const char *unit = val.vocab ? "token" : "byte"; /* a token file's ids are tokens, the byte corpora's bytes */
    floe_tokens_free(&val);
    if (rc != 0)
        return floe_cmd_fail("eval", "%s: %s", ckpt ? ckpt : qmodel, err.msg);
    print_model(ckpt, qmodel);
    printf("corpus       %s (validation split)\n", corpus ? corpus : "fortunes");
    printf("tokens       %zu predicted\n", r.tokens);
    printf("loss         %.4f nats/%s (%.4f bits/%s)\n", r.loss, unit, r.loss / log(2.0), unit);
    printf("perplexity   %.3f\n", r.ppl);
    printf("accuracy     %.4f (next %s)\n", r.accuracy, unit);
    if (!ckpt) { /* per-token models: how the rows' shifts fell */
        floe_qfwd kf;
        memset(&kf, 0, sizeof kf);
        memcpy(kf.khist, khist, sizeof khist);
        floe_qfwd_khist_print(&kf, kmax);
    }
    return 0;
}
