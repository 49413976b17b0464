/* Hugging Face tokenizer.json tokenizers: every case of every fixture (tests/fixtures/hf/tok-*,
 * written by scripts/hf_fixtures.py with tokenizers 0.23.2) encodes and decodes exactly as the library
 * did; malformed and unsupported files are refused with the file and the JSON field. */
#include "tests/test_util.h"

#include <cjson/cJSON.h>

#include "common/file_read.h"
#include "models/split_pattern.h"
#include "models/tokenizer.h"

static const char *fixture(const char *name)
{
    static char path[4096];
    const char *src = getenv("FLOE_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/hf/%s", src ? src : ".", name);
    return path;
}

static int ids_equal(const cJSON *want, const int32_t *ids, size_t n)
{
    if ((size_t)cJSON_GetArraySize(want) != n)
        return 0;
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, want) if (it->valueint != ids[i++]) return 0;
    return 1;
}

static void print_ids(const char *what, const int32_t *ids, size_t n)
{
    fprintf(stderr, "%s:", what);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %d", (int)ids[i]);
    fprintf(stderr, "\n");
}

/* Checks every case of one fixture; returns the number of mismatches (each printed). */
static int check_dir(const char *dir, const char *name)
{
    char path[4200], *data;
    size_t len;
    floe_err err;
    snprintf(path, sizeof path, "%s/cases.json", dir);
    assert_int_equal(floe_read_file(path, 1 << 20, &data, &len, &err), 0);
    cJSON *root = cJSON_Parse(data);
    free(data);
    assert_non_null(root);
    const floe_tokenizer *tok = floe_tokenizer_load(dir, &err);
    if (!tok)
        fail_msg("%s", err.msg);
    int bad = 0, n_cases = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases"))
    {
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        size_t tn = strlen(text);
        for (int special = 0; special < 2; special++) {
            int32_t *ids;
            size_t n;
            assert_int_equal(floe_tokenizer_encode(tok, (const uint8_t *)text, tn, special, &ids, &n, &err), 0);
            const cJSON *want = cJSON_GetObjectItem(c, special ? "ids_special" : "ids");
            if (!ids_equal(want, ids, n)) {
                char *w = cJSON_PrintUnformatted(want);
                fprintf(stderr, "%s case %d (special %d) '%s'\n  want %s\n", name, n_cases, special, text, w);
                print_ids("  got ", ids, n);
                free(w);
                bad++;
            }
            /* decode the reference ids, so an encoding mismatch does not hide a decoding one */
            size_t nw = (size_t)cJSON_GetArraySize(want), k = 0;
            int32_t *ref = malloc((nw + 1) * sizeof *ref);
            const cJSON *it;
            cJSON_ArrayForEach(it, want) ref[k++] = it->valueint;
            uint8_t *back;
            size_t blen;
            assert_int_equal(floe_tokenizer_decode(tok, ref, nw, special, &back, &blen, &err), 0);
            const char *wd = cJSON_GetObjectItem(c, special ? "decoded_special_skipped" : "decoded")->valuestring;
            if (strlen(wd) != blen || memcmp(wd, back, blen) != 0) {
                fprintf(stderr, "%s case %d decode (skip %d)\n  want '%s'\n  got  '%s'\n", name, n_cases, special, wd,
                        (const char *)back);
                bad++;
            }
            free(back);
            free(ref);
            free(ids);
        }
        n_cases++;
    }
    assert_int_equal(n_cases, 22);
    floe_tokenizer_free(tok);
    cJSON_Delete(root);
    return bad;
}

static int check_fixture(const char *name) { return check_dir(fixture(name), name); }

/* The checker can fail: one id and one decoded character changed in a copy of the cases. */
static void test_checker_detects_mismatch(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("bpe_tokenizer_mismatch");
    char cmd[16384], out[256];
    /* the first case's first id (40, "Hello" in ids) and its decoded text */
    snprintf(
        cmd, sizeof cmd,
        "cp '%s'/*.json '%s'/ && sed -i -e '0,/^40,$/s//41,/' -e '0,/\"decoded\": \"Hello/s//\"decoded\": \"Jello/' "
        "'%s/cases.json'",
        fixture("tok-gpt2"), dir, dir);
    assert_int_equal(floe_test_run(out, sizeof out, "%s", cmd), 0);
    assert_int_equal(check_dir(dir, "tok-gpt2 (altered)"), 2);
}

static void test_gpt2(void **state)
{
    (void)state;
    assert_int_equal(check_fixture("tok-gpt2"), 0);
}

static void test_llama3(void **state)
{
    (void)state;
    assert_int_equal(check_fixture("tok-llama3"), 0);
}

static void test_smollm(void **state)
{
    (void)state;
    assert_int_equal(check_fixture("tok-smollm"), 0);
}

static void test_llama2(void **state)
{
    (void)state;
    assert_int_equal(check_fixture("tok-llama2"), 0);
}

static void test_mistral(void **state)
{
    (void)state;
    assert_int_equal(check_fixture("tok-mistral"), 0);
}

/* Writes text to DIR/name and returns the path (static buffer). */
static const char *write_file(const char *dir, const char *name, const char *text)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loading the JSON text must fail with exactly "PATH: want". */
static void refused(const char *json, const char *want)
{
    const char *dir = floe_test_tmpdir("bpe_tokenizer_bad");
    const char *path = write_file(dir, "tok.json", json);
    char full[8400];
    snprintf(full, sizeof full, "%s: %s", path, want);
    floe_err err;
    const floe_tokenizer *tok = floe_tokenizer_load(path, &err);
    if (tok)
        fail_msg("loaded, expected: %s", want);
    if (strcmp(err.msg, full) != 0)
        fail_msg("got  %s\nwant %s", err.msg, full);
}

#define VOCAB "\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2, \"<unk>\": 3, \" \": 4, \"x\": 5, \"y\": 6}"
#define MODEL "\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"a b\"], \"unk_token\": \"<unk>\"}"

static void test_malformed(void **state)
{
    (void)state;
    refused("{\"model\": ", "not valid JSON (near byte 9)");
    refused("[1, 2]", "expected a JSON object");
    refused("{}", "model: expected an object");
    refused("{\"model\": {\"type\": \"WordPiece\", " VOCAB "}}",
            "model.type 'WordPiece' is not supported (supported: BPE)");
    refused("{\"model\": {" VOCAB "}}", "model.type is missing");
    refused("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"a b\", \"a q\"]}}",
            "model.merges[1]: token 'q' is not in model.vocab");
    refused("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [[\"b\", \"a\"]]}}",
            "model.merges[0]: merged token 'ba' is not in model.vocab");
    refused("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"ab\"]}}",
            "model.merges[0]: expected 'left right', got 'ab'");
    refused("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [[\"a\"]]}}",
            "model.merges[0]: expected \"left right\" or [\"left\", \"right\"]");
    refused(
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 7}}}",
        "model.vocab['b']: id out of range (expected an integer in [0, 1]: the ids of 2 tokens and 0 added tokens)");
    /* hostile ids: huge, negative, fractional */
    refused(
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 2000000000}}}",
        "model.vocab['a']: id out of range (expected an integer in [0, 0]: the ids of 1 tokens and 0 added tokens)");
    refused(
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}}}",
        "model.vocab['a']: id out of range (expected an integer in [0, 0]: the ids of 1 tokens and 0 added tokens)");
    refused(
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0.5, \"b\": 1}}}",
        "model.vocab['a']: id out of range (expected an integer in [0, 1]: the ids of 2 tokens and 0 added tokens)");
    refused("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}}}",
            "model.vocab['b']: id 0 is also the id of 'a'");
    refused("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"a\": 1}}}",
            "model.vocab: token 'a' appears twice (ids 0 and 1)");
    refused("{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}", "model.vocab has 0 entries (expected 1 to 16777216)");
    refused("{\"model\": {\"type\": \"BPE\", \"vocab\": [1]}}", "model.vocab: expected an object (token -> id)");
    refused("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"unk_token\": \"<u>\"}}",
            "model.unk_token '<u>' is not in model.vocab");
    refused("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"continuing_subword_prefix\": \"##\"}}",
            "model.continuing_subword_prefix '##' is not supported (must be null)");
    refused("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"dropout\": 0.1}}",
            "model.dropout is not supported (must be null)");
    refused("{" MODEL ", \"truncation\": {\"max_length\": 8}}", "truncation is not supported (must be null)");
    refused("{" MODEL ", \"added_tokens\": [{\"id\": 9, \"content\": \"<s>\"}]}",
            "added_tokens[0].id: expected an integer in [0, 6]");
    refused("{" MODEL ", \"added_tokens\": [{\"id\": 7, \"content\": \"<s>\"}, {\"id\": 7, \"content\": \"</s>\"}]}",
            "added_tokens[1].id 7 is also the id of added_tokens[0]");
    refused("{" MODEL ", \"added_tokens\": [{\"id\": 7, \"content\": \"\"}]}", "added_tokens[0].content is empty");
    refused(
        "{" MODEL ", \"pre_tokenizer\": {\"type\": \"Whitespace\"}}",
        "pre_tokenizer.type 'Whitespace' is not supported (supported: Sequence, ByteLevel, Split, Digits, Metaspace)");
    refused("{" MODEL ", \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\"}, "
            "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\s+\"}, \"behavior\": \"Isolated\"}]}}",
            "pre_tokenizer.pretokenizers[1].pattern.Regex '\\s+' is not supported (supported: the GPT-2 pattern "
            "''s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+', the Llama-3 pattern "
            "'(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
            "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+' and the Qwen2 one with \\p{N} for \\p{N}{1,3})");
    refused("{" MODEL ", \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \" \"}, \"behavior\": "
            "\"Removed\"}}",
            "pre_tokenizer.behavior 'Removed' is not supported (supported: Isolated)");
    refused("{" MODEL ", \"normalizer\": {\"type\": \"NFKC\"}}",
            "normalizer.type 'NFKC' is not supported (supported: Sequence, Prepend, Replace, NFC)");
    refused("{" MODEL
            ", \"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"Regex\": \" +\"}, \"content\": \" \"}}",
            "normalizer.pattern: a Regex pattern is not supported here (supported: String)");
    refused(
        "{" MODEL ", \"post_processor\": {\"type\": \"BertProcessing\"}}",
        "post_processor.type 'BertProcessing' is not supported (supported: TemplateProcessing, ByteLevel, Sequence)");
    refused("{" MODEL ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": "
            "{\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {}}}",
            "post_processor.special_tokens['<s>'].ids: missing (named by post_processor.single[0].SpecialToken.id)");
    refused("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 2}}, \"added_tokens\": [{\"id\": 0, "
            "\"content\": \"<s>\"}], \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
            "[{\"SpecialToken\": "
            "{\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {\"<s>\": {\"ids\": [1]}}}}",
            "post_processor.special_tokens['<s>'].ids[0]: id 1 is neither in model.vocab nor in added_tokens");
    refused("{" MODEL ", \"decoder\": {\"type\": \"WordPiece\"}}",
            "decoder.type 'WordPiece' is not supported (supported: Sequence, ByteLevel, Metaspace, Replace, "
            "ByteFallback, Fuse, Strip)");
    refused("{" MODEL ", \"decoder\": {\"type\": \"Metaspace\", \"replacement\": \"ab\"}}",
            "decoder.replacement: expected one character, got 'ab'");
    refused("{" MODEL ", \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": 1}}",
            "pre_tokenizer.add_prefix_space: expected true or false");

    floe_err err;
    assert_null(floe_tokenizer_load("/nonexistent/tok.json", &err));
    assert_string_equal(err.msg, "tokenizer '/nonexistent/tok.json': no such file or folder (expected 'byte', a "
                                 "tokenizer.json or a folder holding one)");
    /* a folder whose tokenizer_config.json names an unknown BOS */
    const char *dir = floe_test_tmpdir("bpe_tokenizer_cfg");
    write_file(dir, "tokenizer.json", "{" MODEL "}");
    const char *cfg = write_file(dir, "tokenizer_config.json", "{\"bos_token\": {\"content\": \"<s>\"}}");
    char want[8400];
    snprintf(want, sizeof want, "%s: bos_token '<s>' is not a token of the tokenizer", cfg);
    assert_null(floe_tokenizer_load(dir, &err));
    assert_string_equal(err.msg, want);
}

static const floe_tokenizer *load_text(const char *json)
{
    const char *dir = floe_test_tmpdir("bpe_tokenizer_small");
    floe_err err;
    const floe_tokenizer *tok = floe_tokenizer_load(write_file(dir, "tok.json", json), &err);
    if (!tok)
        fail_msg("%s", err.msg);
    return tok;
}

static void expect_ids(const floe_tokenizer *tok, const char *text, int special, const int32_t *want, size_t n_want)
{
    int32_t *ids;
    size_t n;
    floe_err err;
    assert_int_equal(floe_tokenizer_encode(tok, (const uint8_t *)text, strlen(text), special, &ids, &n, &err), 0);
    if (n != n_want || (n && memcmp(ids, want, n * sizeof *ids) != 0)) {
        print_ids("got ", ids, n);
        fail_msg("'%s': ids differ", text);
    }
    free(ids);
}

/* The unknown token (fused or not), the merge table and decode's out-of-range check. */
static void test_unknown_and_merges(void **state)
{
    (void)state;
    const floe_tokenizer *tok = load_text("{" MODEL "}");
    assert_int_equal(tok->vocab_size, 7);
    assert_int_equal(tok->bos_id, -1);
    expect_ids(tok, "abqqab", 0, (const int32_t[]){2, 3, 3, 2}, 4);
    expect_ids(tok, "", 0, NULL, 0);
    floe_tokenizer_free(tok);
    tok = load_text("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [[\"a\", \"b\"]], \"unk_token\": "
                    "\"<unk>\", \"fuse_unk\": true}}");
    expect_ids(tok, "abqqab", 0, (const int32_t[]){2, 3, 2}, 3);
    /* no unknown token: unknown characters are dropped */
    floe_tokenizer_free(tok);
    tok = load_text("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"a b\"]}}");
    expect_ids(tok, "aqb", 0, (const int32_t[]){2}, 1);
    uint8_t *text;
    size_t len;
    floe_err err;
    assert_int_equal(floe_tokenizer_decode(tok, (const int32_t[]){0, 7}, 2, 0, &text, &len, &err), -1);
    assert_non_null(strstr(err.msg, "token 1 is id 7, not in the vocabulary (ids 0 to 6)"));
    /* no decoder: tokens joined by spaces */
    assert_int_equal(floe_tokenizer_decode(tok, (const int32_t[]){2, 5}, 2, 0, &text, &len, &err), 0);
    assert_string_equal((const char *)text, "ab x");
    free(text);
    floe_tokenizer_free(tok);
}

/* Added tokens: lstrip / rstrip take the white space beside them, single_word only between words. */
static void test_added_token_flags(void **state)
{
    (void)state;
    const char *fmt = "{" MODEL ", \"added_tokens\": [{\"id\": 7, \"content\": \"<m>\", \"special\": true, "
                      "\"lstrip\": %s, \"rstrip\": %s, \"single_word\": %s}]}";
    char json[2048];
    snprintf(json, sizeof json, fmt, "false", "false", "false");
    const floe_tokenizer *tok = load_text(json);
    expect_ids(tok, "x <m> y", 0, (const int32_t[]){5, 4, 7, 4, 6}, 5);
    expect_ids(tok, "x<m>y", 0, (const int32_t[]){5, 7, 6}, 3);
    floe_tokenizer_free(tok);
    snprintf(json, sizeof json, fmt, "true", "true", "false");
    tok = load_text(json);
    expect_ids(tok, "x  <m>  y", 0, (const int32_t[]){5, 7, 6}, 3);
    floe_tokenizer_free(tok);
    snprintf(json, sizeof json, fmt, "false", "false", "true");
    tok = load_text(json);
    expect_ids(tok, "x<m>y", 0, (const int32_t[]){5, 3, 3, 3, 6}, 5); /* not a word of its own: <, m, > unknown */
    expect_ids(tok, "x <m> y", 0, (const int32_t[]){5, 4, 7, 4, 6}, 5);
    floe_tokenizer_free(tok);
}

/* Added tokens sharing a prefix: the longest match at the leftmost position wins, whatever the file
 * order. */
static void test_added_longest_first(void **state)
{
    (void)state;
    const floe_tokenizer *tok = load_text("{" MODEL ", \"added_tokens\": [{\"id\": 7, \"content\": \"<m>\"}, "
                                          "{\"id\": 8, \"content\": \"<m>x\"}, {\"id\": 9, \"content\": \"m>xy\"}]}");
    expect_ids(tok, "y<m>xy", 0, (const int32_t[]){6, 8, 6}, 3);
    expect_ids(tok, "y<m>y<m>", 0, (const int32_t[]){6, 7, 6, 7}, 4);
    expect_ids(tok, "ym>xy", 0, (const int32_t[]){6, 9}, 2);
    floe_tokenizer_free(tok);
}

/* The GPT-2 byte-level fixture again with its merges written as "a b" strings: the same cases pass. */
static void test_string_merges(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("bpe_tokenizer_string_merges");
    char cmd[16384], out[256];
    snprintf(cmd, sizeof cmd,
             "cp '%s'/*.json '%s'/ && /usr/bin/python3 -c \"import json; p='%s/tokenizer.json'; j=json.load(open(p)); "
             "j['model']['merges']=[' '.join(m) for m in j['model']['merges']]; json.dump(j, open(p, 'w'))\"",
             fixture("tok-gpt2"), dir, dir);
    assert_int_equal(floe_test_run(out, sizeof out, "%s", cmd), 0);
    assert_int_equal(check_dir(dir, "tok-gpt2 (string merges)"), 0);
}

/* The textbook merge loop, for comparison: while some adjacent pair has a merge, merge the pair of
 * lowest rank (the leftmost of equals). Symbols are strings; merges "a\x01b" sorted for bsearch. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int naive_bpe(char **merges, size_t n_merges, const int *ranks, const char *word, char sym[][128], int n)
{
    for (int i = 0; i < n; i++) {
        sym[i][0] = word[i];
        sym[i][1] = 0;
    }
    for (;;) {
        int best = -1, best_rank = 0;
        for (int i = 0; i + 1 < n; i++) {
            char key[260], *kp = key, **hit;
            snprintf(key, sizeof key, "%.127s\x01%.127s", sym[i], sym[i + 1]);
            hit = bsearch(&kp, merges, n_merges, sizeof *merges, cmp_str);
            if (hit && (best < 0 || ranks[hit - merges] < best_rank)) {
                best = i;
                best_rank = ranks[hit - merges];
            }
        }
        if (best < 0)
            return n;
        size_t la = strlen(sym[best]), lb = strlen(sym[best + 1]);
        assert_true(la + lb < sizeof sym[0]);
        memcpy(sym[best] + la, sym[best + 1], lb + 1);
        memmove(sym[best + 1], sym[best + 2], (size_t)(n - best - 2) * sizeof sym[0]);
        n--;
    }
}

/* The heap merge equals the textbook loop on 400 random lower-case words of up to 60 letters, with
 * runs of one letter (the GPT-2 fixture: ByteLevel leaves ASCII letters as they are and keeps such a
 * word whole). */
static void test_merge_order(void **state)
{
    (void)state;
    char path[4200], *data;
    size_t len;
    floe_err err;
    snprintf(path, sizeof path, "%s/tokenizer.json", fixture("tok-gpt2"));
    assert_int_equal(floe_read_file(path, 1 << 20, &data, &len, &err), 0);
    cJSON *root = cJSON_Parse(data);
    free(data);
    const cJSON *model = cJSON_GetObjectItem(root, "model"), *vocab = cJSON_GetObjectItem(model, "vocab"), *m;
    size_t n_merges = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(model, "merges")), k = 0;
    char **merges = malloc(n_merges * sizeof *merges);
    int *ranks = malloc(n_merges * sizeof *ranks);
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(model, "merges"))
    {
        char buf[260];
        snprintf(buf, sizeof buf, "%.127s\x01%.127s", m->child->valuestring, m->child->next->valuestring);
        merges[k] = strdup(buf);
        ranks[k] = (int)k; /* rank = position in the file, before sorting */
        k++;
    }
    /* sort keys and ranks together */
    for (size_t i = 1; i < n_merges; i++)
        for (size_t j = i; j > 0 && strcmp(merges[j - 1], merges[j]) > 0; j--) {
            char *t = merges[j];
            merges[j] = merges[j - 1];
            merges[j - 1] = t;
            int r = ranks[j];
            ranks[j] = ranks[j - 1];
            ranks[j - 1] = r;
        }
    const floe_tokenizer *tok = floe_tokenizer_load(fixture("tok-gpt2"), &err);
    assert_non_null(tok);
    uint64_t x = 12345;
    int checked = 0;
    for (int w = 0; w < 400; w++) {
        char word[64];
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int n = 1 + (int)((x >> 33) % 60);
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            /* letters weighted towards frequent English ones, so that long merges happen */
            word[i] = "etaoinshrdlucmfwypvbgkqjxz"[((x >> 33) % 26) * ((x >> 45) % 26) / 26];
            if (i > 0 && (x >> 60) < 4) /* runs such as "sss", where equal ranks overlap */
                word[i] = word[i - 1];
        }
        word[n] = 0;
        static char sym[64][128];
        int ns = naive_bpe(merges, n_merges, ranks, word, sym, n);
        int32_t *ids;
        size_t n_ids;
        assert_int_equal(floe_tokenizer_encode(tok, (const uint8_t *)word, (size_t)n, 0, &ids, &n_ids, &err), 0);
        assert_int_equal(n_ids, ns);
        for (int i = 0; i < ns; i++) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(vocab, sym[i]);
            assert_non_null(id);
            if (ids[i] != id->valueint)
                fail_msg("'%s': symbol %d is '%s' (id %d), encode gave id %d", word, i, sym[i], id->valueint,
                         (int)ids[i]);
        }
        checked += ns > 1 && ns < n; /* some merging happened */
        free(ids);
    }
    assert_true(checked > 100);
    floe_tokenizer_free(tok);
    for (size_t i = 0; i < n_merges; i++)
        free(merges[i]);
    free(merges);
    free(ranks);
    cJSON_Delete(root);
}

static size_t match(floe_split_pattern p, const char *s, size_t i)
{
    return floe_split_pattern_match(p, (const uint8_t *)s, strlen(s), i);
}

/* The split patterns at chosen positions: contractions, optional prefixes, digit groups, and the
 * white space that leaves its last character to the next word. */
static void test_split_patterns(void **state)
{
    (void)state;
    assert_int_equal(floe_split_pattern_find("\\s+"), -1);
    const char *s = "it's  Hello 12345 ...\n\n x";
    assert_int_equal(match(FLOE_PAT_GPT2, s, 0), 2);  /* it */
    assert_int_equal(match(FLOE_PAT_GPT2, s, 2), 2);  /* 's */
    assert_int_equal(match(FLOE_PAT_GPT2, s, 4), 1);  /* ' ' (the next space goes with Hello) */
    assert_int_equal(match(FLOE_PAT_GPT2, s, 5), 6);  /* ' Hello' */
    assert_int_equal(match(FLOE_PAT_GPT2, s, 11), 6); /* ' 12345' */
    assert_int_equal(match(FLOE_PAT_GPT2, s, 17), 4); /* ' ...' */
    assert_int_equal(match(FLOE_PAT_GPT2, s, 21), 2); /* '\n\n' then ' x' */
    assert_int_equal(match(FLOE_PAT_GPT2, "'S", 0), 1);
    assert_int_equal(match(FLOE_PAT_LLAMA3, "'S", 0), 2);
    assert_int_equal(match(FLOE_PAT_LLAMA3, "'LL", 0), 3);
    assert_int_equal(match(FLOE_PAT_LLAMA3, s, 11), 1); /* ' ' */
    assert_int_equal(match(FLOE_PAT_LLAMA3, s, 12), 3); /* 123 */
    assert_int_equal(match(FLOE_PAT_QWEN2, s, 12), 1);  /* 1 */
    assert_int_equal(match(FLOE_PAT_LLAMA3, s, 17), 6); /* ' ...\n\n' */
    assert_int_equal(match(FLOE_PAT_LLAMA3, ",word", 0), 5);
    assert_int_equal(match(FLOE_PAT_LLAMA3, " \n \n  x", 0), 4); /* up to the last newline */
    assert_int_equal(match(FLOE_PAT_LLAMA3, "   x", 0), 2);
    assert_int_equal(match(FLOE_PAT_LLAMA3, "   ", 0), 3);
    /* U+3000 is white space: backing off one character is three bytes */
    assert_int_equal(match(FLOE_PAT_GPT2, "\xe3\x80\x80\xe3\x80\x80x", 0), 3);
}

/* A long word (no pre-tokenizer) and a long text: the merge loop is not quadratic, and decoding
 * gives the text back. */
static void test_long_word(void **state)
{
    (void)state;
    const floe_tokenizer *tok = load_text("{" MODEL ", \"decoder\": {\"type\": \"Fuse\"}}");
    size_t n = 1 << 20;
    char *text = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        text[i] = "abx"[i % 3];
    text[n] = 0;
    int32_t *ids;
    size_t m;
    floe_err err;
    assert_int_equal(floe_tokenizer_encode(tok, (const uint8_t *)text, n, 0, &ids, &m, &err), 0);
    assert_int_equal(m, 2 * (n / 3) + 1);
    uint8_t *back;
    size_t len;
    assert_int_equal(floe_tokenizer_decode(tok, ids, m, 0, &back, &len, &err), 0);
    assert_int_equal(len, n);
    assert_memory_equal(back, text, n);
    free(back);
    free(ids);
    free(text);
    floe_tokenizer_free(tok);
}

/* "byte" loads the byte tokenizer; a fixture folder reads tokenizer_config.json's BOS and EOS. */
static void test_load_names(void **state)
{
    (void)state;
    floe_err err;
    assert_ptr_equal(floe_tokenizer_load("byte", &err), floe_tokenizer_byte());
    floe_tokenizer_free(floe_tokenizer_byte());
    const floe_tokenizer *tok = floe_tokenizer_load(fixture("tok-llama3"), &err);
    assert_non_null(tok);
    assert_int_equal(tok->vocab_size, 701);
    assert_int_equal(tok->bos_id, 0);
    assert_int_equal(tok->eos_id, 1);
    assert_int_equal(tok->add_bos, 1);
    /* the table's plain encode agrees with floe_tokenizer_encode and sizes its buffer */
    const char *text = "Hello, world!";
    int32_t out[4];
    assert_int_equal(tok->encode(tok, (const uint8_t *)text, strlen(text), out, 4), 7);
    assert_int_equal(out[0], 41);
    floe_tokenizer_free(tok);
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", fixture("tok-llama2"));
    tok = floe_tokenizer_load(path, &err);
    assert_non_null(tok);
    assert_int_equal(tok->bos_id, 1);
    assert_int_equal(tok->eos_id, 2);
    floe_tokenizer_free(tok);
}

/* `floe tokenize`: ids with and without BOS, decoding back, and clear errors. */
static void test_cli(void **state)
{
    (void)state;
    char out[4096];
    const char *dir = fixture("tok-llama3");
    char d[4200];
    snprintf(d, sizeof d, "%s", dir);
    assert_int_equal(
        floe_test_run(out, sizeof out, "%s tokenize -t '%s' --special 'Hello, world!'", floe_test_exe(), d), 0);
    assert_string_equal(out, "0 41 520 80 13 422 335 2\n");
    assert_int_equal(floe_test_run(out, sizeof out, "%s tokenize -t '%s' 'Hello, world!'", floe_test_exe(), d), 0);
    assert_string_equal(out, "41 520 80 13 422 335 2\n");
    assert_int_equal(floe_test_run(out, sizeof out, "%s tokenize -t '%s' --decode '0 41,520'", floe_test_exe(), d), 0);
    assert_string_equal(out, "<|begin_of_text|>Hell\n");
    assert_int_equal(
        floe_test_run(out, sizeof out, "%s tokenize -t '%s' --decode --skip-special '0 41 520'", floe_test_exe(), d),
        0);
    assert_string_equal(out, "Hell\n");
    assert_int_equal(floe_test_run(out, sizeof out, "%s tokenize hi", floe_test_exe()), 0);
    assert_string_equal(out, "104 105\n");
    assert_int_equal(floe_test_run(out, sizeof out, "%s tokenize -t '%s' --decode '0 7000'", floe_test_exe(), d), 1);
    assert_non_null(strstr(out, "token 1 is id 7000, not in the vocabulary (ids 0 to 700)"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s tokenize -t '%s' --decode '0 x1'", floe_test_exe(), d), 1);
    assert_string_equal(out, "floe tokenize: error: --decode: 'x1' is not a token id\n");
    assert_int_equal(floe_test_run(out, sizeof out, "%s tokenize", floe_test_exe()), 1);
    assert_string_equal(out, "floe tokenize: error: no text: give it as the argument or with --file\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2),
        cmocka_unit_test(test_llama3),
        cmocka_unit_test(test_smollm),
        cmocka_unit_test(test_llama2),
        cmocka_unit_test(test_mistral),
        cmocka_unit_test(test_checker_detects_mismatch),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_unknown_and_merges),
        cmocka_unit_test(test_added_token_flags),
        cmocka_unit_test(test_added_longest_first),
        cmocka_unit_test(test_string_merges),
        cmocka_unit_test(test_split_patterns),
        cmocka_unit_test(test_merge_order),
        cmocka_unit_test(test_long_word),
        cmocka_unit_test(test_load_names),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
