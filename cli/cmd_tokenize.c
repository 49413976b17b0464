/* `floe tokenize`: text -> token ids, or ids -> text, with any tokenizer (docs/tokenizers.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "common/file_read.h"
#include "models/tokenizer.h"

/* Ids separated by white space or commas. Returns -1 with a message naming the bad word. */
static int parse_ids(const char *s, int32_t **ids, size_t *n)
{
    size_t cap = 64, m = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v)
        return floe_cmd_fail("tokenize", "out of memory");
    while (*s) {
        if (strchr(" \t\r\n,", *s)) {
            s++;
            continue;
        }
        char *end;
        errno = 0;
        long x = strtol(s, &end, 10);
        if (end == s || errno || x < 0 || x > INT32_MAX || (*end && !strchr(" \t\r\n,", *end))) {
            free(v);
            return floe_cmd_fail("tokenize", "--decode: '%.*s' is not a token id", (int)strcspn(s, " \t\r\n,"), s);
        }
        if (m == cap) {
            int32_t *p = realloc(v, 2 * cap * sizeof *v);
            if (!p) {
                free(v);
                return floe_cmd_fail("tokenize", "out of memory");
            }
            v = p;
            cap *= 2;
        }
        v[m++] = (int32_t)x;
        s = end;
    }
    *ids = v;
    *n = m;
    return 0;
}

int floe_cmd_tokenize(int argc, char **argv)
{
    const char *name = "byte", *file = NULL;
    int special = 0, decode = 0, skip = 0;
    const floe_opt opts[] = {
        {"tokenizer", FLOE_ARG_STRING, &name, "PATH",
         "byte (default), a Hugging Face tokenizer.json, or a folder holding one", 0, 0, 't'},
        {"special", FLOE_ARG_FLAG, &special, NULL, "add the post-processor's special tokens (BOS for Llama)", 0, 0, 0},
        {"decode", FLOE_ARG_FLAG, &decode, NULL, "read token ids (white space or commas between) and print the text", 0,
         0, 'd'},
        {"skip-special", FLOE_ARG_FLAG, &skip, NULL, "with --decode: leave special tokens out", 0, 0, 0},
        {"file", FLOE_ARG_STRING, &file, "FILE", "read the text (or ids) from FILE instead of the argument", 0, 0, 'f'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "tokenize",
        "[TEXT | IDS]",
        "Encode text into token ids, or decode ids into text.",
        "Prints the ids on one line, separated by spaces, or the decoded text. Encoding and decoding\n"
        "give exactly what the Hugging Face `tokenizers` library gives (docs/tokenizers.md).",
        opts,
        0,
        1};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (npos == 1 && file)
        return floe_cmd_fail("tokenize", "give the text (or ids) as the argument or with --file, not both");
    if (npos == 0 && !file)
        return floe_cmd_fail("tokenize", "no text: give it as the argument or with --file");
    char *data = NULL;
    size_t len;
    floe_err err;
    if (file) {
        if (floe_read_file(file, (size_t)1 << 31, &data, &len, &err))
            return floe_cmd_fail("tokenize", "%s", err.msg);
    }
    const char *input = file ? data : pos[0];
    len = file ? len : strlen(input);
    const floe_tokenizer *tok = floe_tokenizer_load(name, &err);
    if (!tok) {
        free(data);
        return floe_cmd_fail("tokenize", "%s", err.msg);
    }
    int32_t *ids = NULL;
    size_t n = 0;
    rc = 0;
    if (decode) {
        uint8_t *text;
        size_t tlen;
        if (parse_ids(input, &ids, &n))
            rc = 1;
        else if (floe_tokenizer_decode(tok, ids, n, skip, &text, &tlen, &err))
            rc = floe_cmd_fail("tokenize", "%s", err.msg);
        else {
            fwrite(text, 1, tlen, stdout);
            putchar('\n');
            free(text);
        }
    } else if (floe_tokenizer_encode(tok, (const uint8_t *)input, len, special, &ids, &n, &err)) {
        rc = floe_cmd_fail("tokenize", "%s", err.msg);
    } else {
        for (size_t i = 0; i < n; i++)
            printf(i ? " %d" : "%d", (int)ids[i]);
        putchar('\n');
    }
    free(ids);
    free(data);
    floe_tokenizer_free(tok);
    return rc;
}
