/* `floe corpus`: the training corpus and its train/validation split (docs/models.md); with --output,
 * text files, folders and JSONL tokenized once into a token file (docs/corpus.md). */
#include <stdio.h>

#include "cli/args.h"
#include "models/corpus.h"
#include "models/corpus_build.h"
#include "models/token_file.h"

static int build(const char *tokenizer, const floe_arg_list *in, const char *output)
{
    floe_corpus_build_stats st;
    floe_err err;
    if (floe_corpus_build(tokenizer, in->v, (size_t)in->n, output, stderr, &st, &err) != 0)
        return floe_cmd_fail("corpus", "%s", err.msg);
    uint64_t total = st.n_train + st.n_val;
    printf("token file   %s\n", output);
    printf("tokenizer    %s (vocabulary %d, digest %016llx, %d bytes per token)\n", tokenizer, st.vocab_size,
           (unsigned long long)st.tokenizer_digest, st.width);
    printf("inputs       %llu files, %llu bytes", (unsigned long long)st.files, (unsigned long long)st.bytes);
    if (st.skipped_binary)
        printf(" (%llu file(s) skipped: not text, a NUL byte)", (unsigned long long)st.skipped_binary);
    printf("\n");
    printf("documents    %llu train, %llu validation\n", (unsigned long long)st.docs_train,
           (unsigned long long)st.docs_val);
    printf("tokens       %llu train, %llu validation (%.2f%%)\n", (unsigned long long)st.n_train,
           (unsigned long long)st.n_val, total ? 100.0 * (double)st.n_val / (double)total : 0.0);
    if (st.docs_val == 0)
        fprintf(stderr,
                "floe corpus: note: no document went to validation (about 1 in %d does; a text file is one "
                "document, a JSONL line one): evaluation needs more documents\n",
                FLOE_CORPUS_VAL_MODULUS);
    return 0;
}

static int show_token_file(const char *path)
{
    floe_tokfile_info in;
    floe_tokens train, val;
    floe_err err;
    if (floe_tokfile_open(path, &in, &train, &val, &err) != 0)
        return floe_cmd_fail("corpus", "%s", err.msg);
    printf("token file   %s (version %u)\n", path, in.version);
    printf("tokenizer    vocabulary %u, digest %016llx, %u bytes per token\n", in.vocab_size,
           (unsigned long long)in.tokenizer_digest, in.width);
    printf("documents    %llu train, %llu validation\n", (unsigned long long)in.n_train_docs,
           (unsigned long long)(in.n_docs - in.n_train_docs));
    printf("tokens       %llu train, %llu validation\n", (unsigned long long)in.n_train, (unsigned long long)in.n_val);
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return 0;
}

int floe_cmd_corpus(int argc, char **argv)
{
    const char *spec = NULL, *tokenizer = "byte", *output = NULL;
    floe_arg_list inputs = {{0}, 0};
    const floe_opt opts[] = {
        {"corpus", FLOE_ARG_STRING, &spec, "SPEC",
         "fortunes (default), generated[:N[:SEED]], a folder of fortune-format files, or a token file", 0, 0, 0},
        {"input", FLOE_ARG_LIST, &inputs, "PATH",
         "with --output: a text file, a folder of them (recursive) or a .jsonl file ({\"text\": ...} a line); "
         "repeatable",
         0, 0, 'i'},
        {"tokenizer", FLOE_ARG_STRING, &tokenizer, "T",
         "with --output: byte (default), a tokenizer.json or a folder holding one", 0, 0, 't'},
        {"output", FLOE_ARG_STRING, &output, "FILE.tok", "tokenize the inputs once into this token file", 0, 0, 'o'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec cmd = {
        "corpus",
        NULL,
        "The training corpus and its fixed train/validation split; token files.",
        "The default corpus is the plain-text files of Debian's 'fortunes' package\n"
        "(" FLOE_FORTUNES_DIR "). Each fortune goes wholly to train or validation by a hash\n"
        "of its text (about 1 in 20 to validation); docs/models.md documents the rule and sizes.\n"
        "With --output, the inputs are tokenized once into a token file (docs/corpus.md) that\n"
        "train, qat, ptq and eval read with --corpus FILE.tok.",
        opts,
        0,
        0};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&cmd, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (output)
        return build(tokenizer, &inputs, output);
    if (inputs.n)
        return floe_cmd_fail("corpus", "--input needs --output FILE.tok");
    if (spec && floe_tokfile_is(spec))
        return show_token_file(spec);
    floe_corpus c;
    floe_err err;
    if (floe_corpus_open(&c, spec, &err))
        return floe_cmd_fail("corpus", "%s", err.msg);
    size_t total = c.n_train + c.n_val;
    printf("corpus       %s", spec ? spec : "fortunes");
    if (c.n_files)
        printf(" (%zu files)", c.n_files);
    printf("\ndocuments    %zu train, %zu validation\n", c.docs_train, c.docs_val);
    printf("train        %zu bytes\n", c.n_train);
    printf("validation   %zu bytes (%.2f%%)\n", c.n_val, total ? 100.0 * (double)c.n_val / (double)total : 0.0);
    printf("total        %zu bytes\n", total);
    printf("digest       train %016llx, validation %016llx\n", (unsigned long long)floe_fnv1a64(c.train, c.n_train),
           (unsigned long long)floe_fnv1a64(c.val, c.n_val));
    floe_corpus_free(&c);
    return 0;
}
