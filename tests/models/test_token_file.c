/* Token files (models/token_file.h, models/corpus_build.h): text files, folders and JSONL tokenized
 * into a file whose documents carry BOS/EOS as the tokenizer says and fall on the documented split;
 * views of either width read back the same ids; hostile headers and bodies are refused naming the
 * field; bad JSONL lines are refused naming file:line. */
#include "tests/test_util.h"

#include <sys/stat.h>

#include "models/corpus_build.h"
#include "models/token_file.h"
#include "trainer/train.h"

static const char *fixture(const char *name)
{
    static char path[4096];
    const char *src = getenv("FLOE_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/hf/%s", src ? src : ".", name);
    return path;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Document i's text, for both the JSONL input and the expectation. */
static void doc_text(int i, char *out, size_t n) { snprintf(out, n, "Document number %d says hello to %d.", i, i * 7); }

static void test_build_and_read(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("token_file_build");
    char in_dir[4200], sub[4300], jsonl[4200], out[4200], path[4400];
    snprintf(in_dir, sizeof in_dir, "%s/in", dir);
    snprintf(sub, sizeof sub, "%s/in/sub", dir);
    assert_int_equal(mkdir(in_dir, 0777), 0);
    assert_int_equal(mkdir(sub, 0777), 0);
    snprintf(path, sizeof path, "%s/b.txt", sub);
    write_text(path, "The second text file.\n");
    snprintf(path, sizeof path, "%s/a.txt", in_dir);
    write_text(path, "The first text file.\n");
    snprintf(path, sizeof path, "%s/a.dat", in_dir); /* not text: skipped */
    FILE *bin = fopen(path, "wb");
    assert_non_null(bin);
    assert_int_equal(fwrite("\0\0\0\2index", 1, 9, bin), 9);
    fclose(bin);
    snprintf(jsonl, sizeof jsonl, "%s/docs.jsonl", dir);
    FILE *f = fopen(jsonl, "wb");
    assert_non_null(f);
    for (int i = 0; i < 80; i++) {
        char t[128];
        doc_text(i, t, sizeof t);
        fprintf(f, "{\"id\": %d, \"text\": \"%s\"}\n%s", i, t, i == 10 ? "\n" : "");
    }
    fclose(f);
    snprintf(out, sizeof out, "%s/c.tok", dir);
    const char *inputs[] = {in_dir, jsonl};
    floe_corpus_build_stats st;
    floe_err err;
    const char *tokp = fixture("tok-llama2");
    assert_int_equal(floe_corpus_build(tokp, inputs, 2, out, NULL, &st, &err), 0);
    assert_int_equal(st.files, 3);
    assert_int_equal(st.skipped_binary, 1);
    assert_int_equal(st.docs_train + st.docs_val, 82);
    assert_true(st.docs_val > 0);
    assert_int_equal(st.width, 2);

    /* The expectation: every document in input order (a.txt, sub/b.txt, then the JSONL lines). */
    const floe_tokenizer *tok = floe_tokenizer_load(tokp, &err);
    assert_non_null(tok);
    assert_true(tok->add_bos && tok->bos_id >= 0 && tok->eos_id >= 0);
    floe_tokens train, val;
    floe_tokfile_info in;
    assert_int_equal(floe_tokfile_open(out, &in, &train, &val, &err), 0);
    assert_int_equal(in.vocab_size, (uint32_t)tok->vocab_size);
    uint64_t dg;
    assert_int_equal(floe_tokenizer_digest(tokp, &dg, &err), 0);
    assert_true(in.tokenizer_digest == dg);
    assert_int_equal(train.n, st.n_train);
    assert_int_equal(val.n, st.n_val);
    assert_null(train.ids); /* a view of the mapping, not a copy */
    size_t at_train = 0, at_val = 0, docs_val = 0;
    int32_t got[256];
    for (int d = -2; d < 80; d++) {
        char t[128];
        if (d == -2)
            snprintf(t, sizeof t, "The first text file.\n");
        else if (d == -1)
            snprintf(t, sizeof t, "The second text file.\n");
        else
            doc_text(d, t, sizeof t);
        int32_t *ids;
        size_t n;
        assert_int_equal(floe_tokenizer_encode(tok, (const uint8_t *)t, strlen(t), 0, &ids, &n, &err), 0);
        int is_val = floe_corpus_is_validation((const uint8_t *)t, strlen(t));
        const floe_tokens *s = is_val ? &val : &train;
        size_t *at = is_val ? &at_val : &at_train;
        docs_val += (size_t)is_val;
        floe_tokens_copy(s, *at, n + 2, got);
        assert_int_equal(got[0], tok->bos_id);
        assert_memory_equal(got + 1, ids, n * sizeof *ids);
        assert_int_equal(got[n + 1], tok->eos_id);
        *at += n + 2;
        free(ids);
    }
    assert_int_equal(at_train, train.n);
    assert_int_equal(at_val, val.n);
    assert_int_equal(docs_val, in.n_docs - in.n_train_docs);
    /* floe_train_data takes the token file by its magic; the sampler reads the 2-byte view. */
    floe_tokens t2, v2;
    assert_int_equal(floe_train_data(out, &t2, &v2, &err), 0);
    int32_t rows[2 * 9];
    assert_int_equal(floe_batch_sample(&t2, 3, 0, 2, 8, rows, &err), 0);
    floe_tokens_free(&t2);
    floe_tokens_free(&v2);
    /* The model's vocabulary must hold the file's. */
    assert_int_equal(floe_tokens_check_vocab(&train, tok->vocab_size, &err), 0);
    assert_int_equal(floe_tokens_check_vocab(&train, 256, &err), -1);
    assert_non_null(strstr(err.msg, "vocab_size 256"));
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    floe_tokenizer_free(tok);
}

static void test_byte_tokenizer(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("token_file_byte");
    char in[4200], out[4200];
    snprintf(in, sizeof in, "%s/a.txt", dir);
    snprintf(out, sizeof out, "%s/a.tok", dir);
    write_text(in, "abc\xff");
    const char *inputs[] = {in};
    floe_err err;
    assert_int_equal(floe_corpus_build("byte", inputs, 1, out, NULL, NULL, &err), 0);
    floe_tokens train, val;
    floe_tokfile_info info;
    assert_int_equal(floe_tokfile_open(out, &info, &train, &val, &err), 0);
    assert_int_equal(info.vocab_size, 256);
    assert_int_equal(info.width, 2);
    assert_true(info.tokenizer_digest == floe_fnv1a64("byte", 4));
    const floe_tokens *s = floe_corpus_is_validation((const uint8_t *)"abc\xff", 4) ? &val : &train;
    assert_int_equal(s->n, 4); /* no BOS, no EOS: the byte tokenizer has neither */
    int32_t ids[4];
    floe_tokens_copy(s, 0, 4, ids);
    assert_int_equal(ids[0], 'a');
    assert_int_equal(ids[3], 0xff);
    floe_tokens_free(&train);
    floe_tokens_free(&val);
}

/* A hand-made file of width 4 (vocabulary over 65536): 3 train tokens in 2 documents, 1 validation. */
static void write_wide(const char *path, const floe_tokfile_info *in, const uint32_t *toks, const uint64_t *offs)
{
    uint8_t h[FLOE_TOKFILE_HEADER];
    floe_tokfile_write_header(in, h);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(h, 1, sizeof h, f);
    fwrite(toks, 4, (size_t)(in->n_train + in->n_val), f); /* the host is little-endian, as the format */
    uint64_t tok_bytes = (in->n_train + in->n_val) * 4;
    for (uint64_t i = FLOE_TOKFILE_HEADER + tok_bytes; i % 8; i++)
        fputc(0, f);
    fwrite(offs, 8, (size_t)in->n_docs + 1, f);
    fclose(f);
}

static floe_tokfile_info wide_info(void)
{
    floe_tokfile_info in;
    memset(&in, 0, sizeof in);
    in.version = 1;
    in.width = 4;
    in.vocab_size = 70000;
    in.n_docs = 3;
    in.n_train_docs = 2;
    in.n_train = 3;
    in.n_val = 1;
    return in;
}

static void expect_refused(const char *path, const char *needle)
{
    floe_tokens t, v;
    floe_err err;
    assert_int_equal(floe_tokfile_open(path, NULL, &t, &v, &err), -1);
    if (!strstr(err.msg, needle))
        fail_msg("expected '%s' in: %s", needle, err.msg);
}

static void test_wide_and_hostile(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("token_file_hostile");
    char path[4200];
    snprintf(path, sizeof path, "%s/w.tok", dir);
    const uint32_t toks[4] = {69999, 1, 65536, 7};
    const uint64_t offs[4] = {0, 1, 3, 4};
    floe_tokfile_info in = wide_info();
    write_wide(path, &in, toks, offs);
    floe_tokens t, v;
    floe_err err;
    assert_int_equal(floe_tokfile_open(path, NULL, &t, &v, &err), 0);
    int32_t ids[3];
    floe_tokens_copy(&t, 0, 3, ids);
    assert_int_equal(ids[0], 69999);
    assert_int_equal(ids[2], 65536);
    floe_tokens_copy(&v, 0, 1, ids);
    assert_int_equal(ids[0], 7);
    floe_tokens_free(&v); /* either order: the mapping lives until the last view goes */
    floe_tokens_copy(&t, 1, 1, ids);
    assert_int_equal(ids[0], 1);
    floe_tokens_free(&t);

    /* Each header field at fault is named, before anything is mapped. */
    in = wide_info(), in.version = 2, write_wide(path, &in, toks, offs), expect_refused(path, "'version'");
    in = wide_info(), in.width = 2, write_wide(path, &in, toks, offs), expect_refused(path, "'width'");
    in = wide_info(), in.vocab_size = 0, write_wide(path, &in, toks, offs), expect_refused(path, "'vocab_size'");
    in = wide_info(), in.n_train_docs = 4, write_wide(path, &in, toks, offs), expect_refused(path, "'n_train_docs'");
    in = wide_info(), in.n_docs = UINT64_MAX / 2;
    {
        uint8_t h[FLOE_TOKFILE_HEADER];
        floe_tokfile_write_header(&in, h);
        FILE *f = fopen(path, "wb");
        fwrite(h, 1, sizeof h, f);
        fclose(f);
    }
    expect_refused(path, "'n_docs'");
    in = wide_info(), in.n_train = UINT64_MAX / 4;
    {
        uint8_t h[FLOE_TOKFILE_HEADER];
        floe_tokfile_write_header(&in, h);
        FILE *f = fopen(path, "wb");
        fwrite(h, 1, sizeof h, f);
        fclose(f);
    }
    expect_refused(path, "'n_train'");
    in = wide_info(), write_wide(path, &in, toks, offs);
    in.n_val = 3; /* 8 bytes more of tokens than the file holds */
    {
        uint8_t h[FLOE_TOKFILE_HEADER];
        floe_tokfile_write_header(&in, h);
        FILE *f = fopen(path, "r+b");
        fwrite(h, 1, sizeof h, f);
        fclose(f);
    }
    expect_refused(path, "implies");
    write_text(path, "FLOETOK");
    expect_refused(path, "shorter than");
    write_text(path, "GGUF0000000000000000000000000000000000000000000000000000000000000000");
    expect_refused(path, "'magic'");
    /* The body: offsets out of order, off the split boundary, a token outside the vocabulary. */
    in = wide_info();
    const uint64_t bad_order[4] = {0, 2, 1, 4}, bad_split[4] = {0, 1, 2, 4}, bad_first[4] = {1, 1, 3, 4};
    write_wide(path, &in, toks, bad_order), expect_refused(path, "offsets[2]");
    write_wide(path, &in, toks, bad_split), expect_refused(path, "offsets[2]");
    write_wide(path, &in, toks, bad_first), expect_refused(path, "offsets[0]");
    const uint32_t big[4] = {70000, 1, 2, 3};
    write_wide(path, &in, big, offs), expect_refused(path, "token 0 is 70000");
}

static void test_bad_jsonl(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("token_file_jsonl");
    char in[4200], out[4200];
    snprintf(in, sizeof in, "%s/x.jsonl", dir);
    snprintf(out, sizeof out, "%s/x.tok", dir);
    const char *inputs[] = {in};
    floe_err err;
    const char *bad[] = {"{\"text\": \"ok\"}\n{\"text\": 3}\n", "{\"text\": \"ok\"}\n\n[1, 2]\n",
                         "{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n"};
    const char *want[] = {":2: field 'text'", ":3: not a JSON object", ":2: not a JSON object"};
    for (int i = 0; i < 3; i++) {
        write_text(in, bad[i]);
        assert_int_equal(floe_corpus_build("byte", inputs, 1, out, NULL, NULL, &err), -1);
        if (!strstr(err.msg, want[i]) || !strstr(err.msg, "x.jsonl"))
            fail_msg("case %d: %s", i, err.msg);
        struct stat st;
        assert_int_equal(stat(out, &st), -1); /* nothing written */
    }
}

/* The commands: floe corpus builds and shows a token file; floe train takes it by --corpus and
 * records its tokenizer; a model too small for its vocabulary, or evaluation on another tokenizer's
 * tokens, is refused. */
static void test_commands(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("token_file_cli");
    char d[4200], out[8192];
    snprintf(d, sizeof d, "%s", dir);
    char in[4300];
    snprintf(in, sizeof in, "%s/d.jsonl", d);
    FILE *f = fopen(in, "wb");
    assert_non_null(f);
    for (int i = 0; i < 60; i++)
        fprintf(f, "{\"text\": \"Line %d of a small corpus about cats and dogs, number %d.\"}\n", i, i * 13);
    fclose(f);
    const char *exe = floe_test_exe();
    assert_int_equal(
        floe_test_run(out, sizeof out, "%s corpus -t %s -i %s -o %s/l.tok", exe, fixture("tok-llama2"), in, d), 0);
    assert_non_null(strstr(out, "vocabulary 600"));
    assert_int_equal(
        floe_test_run(out, sizeof out, "%s corpus -t %s -i %s -o %s/g.tok", exe, fixture("tok-gpt2"), in, d), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s corpus --corpus %s/l.tok", exe, d), 0);
    assert_non_null(strstr(out, "vocabulary 600, digest"));
    assert_int_equal(
        floe_test_run(out, sizeof out, "%s train --model tiny --corpus %s/l.tok --steps 1 --out %s/t0", exe, d, d), 1);
    assert_non_null(strstr(out, "exceeds the model's vocab_size 256"));
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s train --model %s/config.json --corpus %s/l.tok --steps 1 --context 16 "
                                   "--batch 2 --threads 1 --out %s/t1",
                                   exe, fixture("llama-tiny"), d, d),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s eval --ckpt %s/t1/ckpt-000001.safetensors --corpus %s/l.tok "
                                   "--context 8",
                                   exe, d, d),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s eval --ckpt %s/t1/ckpt-000001.safetensors --corpus %s/g.tok "
                                   "--context 8",
                                   exe, d, d),
                     1);
    assert_non_null(strstr(out, "was trained with tokenizer fnv1a64:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_read),   cmocka_unit_test(test_byte_tokenizer),
        cmocka_unit_test(test_wide_and_hostile), cmocka_unit_test(test_bad_jsonl),
        cmocka_unit_test(test_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
