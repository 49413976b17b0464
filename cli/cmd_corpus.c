/* `floe corpus`: the training corpus and its train/validation split (docs/models.md). */
#include <stdio.h>

#include "cli/args.h"
#include "models/corpus.h"

int floe_cmd_corpus(int argc, char **argv)
{
    const char *spec = NULL;
    const floe_opt opts[] = {
        {"corpus", FLOE_ARG_STRING, &spec, "SPEC",
         "fortunes (default), generated[:N[:SEED]], or a folder of fortune-format files", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec cmd = {
        "corpus", NULL, "The training corpus and its fixed train/validation split.",
        "The default corpus is the plain-text files of Debian's 'fortunes' package\n"
        "(" FLOE_FORTUNES_DIR "). Each fortune goes wholly to train or validation by a hash\n"
        "of its text (about 1 in 20 to validation); docs/models.md documents the rule and sizes.",
        opts, 0, 0};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&cmd, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
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
