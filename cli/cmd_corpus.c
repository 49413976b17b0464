/* `floe corpus`: the training corpus and its train/validation split (docs/models.md). */
#include <stdio.h>

#include "cli/args.h"
#include "models/corpus.h"

int floe_cmd_corpus(int argc, char **argv)
{
    int stats = 0;
    const char *dir = NULL;
    long long generated = 0, seed = 1;
    const floe_opt opts[] = {
        {"stats", FLOE_ARG_FLAG, &stats, NULL, "print files, documents and bytes per split (the default)", 0, 0},
        {"dir", FLOE_ARG_STRING, &dir, "DIR", "fortune files to read (default " FLOE_FORTUNES_DIR ")", 0, 0},
        {"generated", FLOE_ARG_INT, &generated, "N", "use the generated test corpus of N documents instead", 1, 1e9},
        {"seed", FLOE_ARG_INT, &seed, "S", "seed of the generated corpus (default 1)", 0, 9.2e18},
        {NULL, 0, NULL, NULL, NULL, 0, 0},
    };
    const floe_cmd_spec spec = {
        "corpus", NULL, "The training corpus and its fixed train/validation split.",
        "The default corpus is the plain-text files of Debian's 'fortunes' package. Each fortune goes\n"
        "wholly to train or validation by a hash of its text (about 1 in 20 to validation).",
        opts, 0, 0};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    (void)stats; /* statistics are all this command prints so far */
    floe_corpus c;
    floe_err err;
    if (generated ? floe_corpus_generate(&c, (uint64_t)seed, (size_t)generated, &err)
                  : floe_corpus_load_fortunes(&c, dir, &err))
        return floe_cmd_fail("corpus", "%s", err.msg);
    size_t total = c.n_train + c.n_val;
    if (generated)
        printf("source       generated, seed %lld, %lld documents\n", seed, generated);
    else
        printf("source       %s (%zu files)\n", dir ? dir : FLOE_FORTUNES_DIR, c.n_files);
    printf("documents    %zu train, %zu validation\n", c.docs_train, c.docs_val);
    printf("train        %zu bytes\n", c.n_train);
    printf("validation   %zu bytes (%.2f%%)\n", c.n_val, total ? 100.0 * (double)c.n_val / (double)total : 0.0);
    printf("total        %zu bytes\n", total);
    printf("digest       train %016llx, validation %016llx\n", (unsigned long long)floe_fnv1a64(c.train, c.n_train),
           (unsigned long long)floe_fnv1a64(c.val, c.n_val));
    floe_corpus_free(&c);
    return 0;
}
