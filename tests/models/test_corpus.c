/* Corpora: the generated test corpus (deterministic, pinned by digest), the split rule, fortune-file
 * parsing on hand-made files, the batch sampler and validation iterator, and the real fortunes
 * corpus with its documented split sizes (skipped, saying so, when the package is absent). */
#include "tests/test_util.h"

#include <sys/stat.h>

#include "common/atomic_file.h"
#include "models/corpus.h"

/* Splits a stream at its "%\n" separator lines and checks each document against the rule. */
static size_t check_stream(const uint8_t *s, size_t n, int want_val)
{
    size_t docs = 0, start = 0;
    for (size_t i = 0; i + 1 < n + 1; i++) {
        int at_sep = (i == 0 || s[i - 1] == '\n') && i + 1 < n && s[i] == '%' && s[i + 1] == '\n';
        if (at_sep) {
            assert_int_equal(floe_corpus_is_validation(s + start, i - start), want_val);
            docs++;
            start = i + 2;
            i++;
        }
    }
    assert_int_equal(start, n); /* every stream ends with a separator */
    return docs;
}

static void test_generated_deterministic(void **state)
{
    (void)state;
    floe_corpus a, b;
    floe_err err;
    assert_int_equal(floe_corpus_generate(&a, 1, 2000, &err), 0);
    assert_int_equal(floe_corpus_generate(&b, 1, 2000, &err), 0);
    assert_int_equal(a.n_train, b.n_train);
    assert_int_equal(a.n_val, b.n_val);
    assert_memory_equal(a.train, b.train, a.n_train);
    assert_memory_equal(a.val, b.val, a.n_val);
    /* Pinned: the same bytes on every compiler and machine. */
    assert_int_equal(a.docs_train, 1905);
    assert_int_equal(a.docs_val, 95);
    assert_int_equal(a.n_train, 189261);
    assert_int_equal(a.n_val, 10146);
    assert_true(floe_fnv1a64(a.train, a.n_train) == 0x266a8a54dc450b6eull);
    assert_true(floe_fnv1a64(a.val, a.n_val) == 0x840869dc0d4a0bdcull);
    assert_int_equal(check_stream(a.train, a.n_train, 0), a.docs_train);
    assert_int_equal(check_stream(a.val, a.n_val, 1), a.docs_val);
    floe_corpus_free(&b);
    assert_int_equal(floe_corpus_generate(&b, 2, 2000, &err), 0);
    assert_true(b.n_train != a.n_train || memcmp(a.train, b.train, a.n_train) != 0);
    /* a longer corpus from the same seed extends the shorter one (documents are independent) */
    floe_corpus c;
    assert_int_equal(floe_corpus_generate(&c, 1, 2500, &err), 0);
    assert_memory_equal(c.train, a.train, a.n_train);
    assert_memory_equal(c.val, a.val, a.n_val);
    floe_corpus_free(&a);
    floe_corpus_free(&b);
    floe_corpus_free(&c);
}

static void test_split_rule(void **state)
{
    (void)state;
    /* about 1 in 20, and a function of the text only */
    int val = 0;
    char doc[64];
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(doc, sizeof doc, "fortune number %d\n", i);
        val += floe_corpus_is_validation((const uint8_t *)doc, (size_t)n);
    }
    assert_in_range(val, 850, 1150);
    floe_corpus c;
    floe_corpus_init(&c);
    floe_err err;
    const char *d = "Same text.\n";
    for (int i = 0; i < 3; i++)
        assert_int_equal(floe_corpus_add_doc(&c, (const uint8_t *)d, strlen(d), &err), 0);
    assert_true(c.docs_train == 3 || c.docs_val == 3); /* duplicates never straddle the split */
    floe_corpus_free(&c);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    floe_err err;
    if (floe_write_file_atomic(path, text, strlen(text), &err))
        fail_msg("%s", err.msg);
}

static void test_fortune_parsing(void **state)
{
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", floe_test_tmpdir("fortunes"));
    write_text(dir, "b", "First.\n%\nSecond\nhas two lines.\n%\n   \n%\nB_\bo_\bl_\bd and X\bX.\n%\nNo newline");
    write_text(dir, "a", "Alpha.\n%\n%\n");
    write_text(dir, "c", "u\b"); /* a fortune erased by its backspace: nothing (was read before its buffer) */
    write_text(dir, "a.dat", "binary index, skipped");
    write_text(dir, "b.u8", "utf-8 copy, skipped\n%\n");
    write_text(dir, ".hidden", "skipped\n%\n");
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/off", dir);
    mkdir(sub, 0777);
    write_text(sub, "rude", "Offensive, skipped.\n%\n");
    floe_corpus c;
    floe_err err;
    assert_int_equal(floe_corpus_load_fortunes(&c, dir, &err), 0);
    assert_int_equal(c.n_files, 3);
    assert_int_equal(c.docs_train + c.docs_val, 5); /* blank fortunes dropped */
    const char *docs[] = {"Alpha.\n", "First.\n", "Second\nhas two lines.\n", "Bold and X.\n", "No newline\n"};
    /* Rebuild the expected streams: files in name order, documents in file order, split by rule. */
    floe_corpus want;
    floe_corpus_init(&want);
    for (int i = 0; i < 5; i++)
        assert_int_equal(floe_corpus_add_doc(&want, (const uint8_t *)docs[i], strlen(docs[i]), &err), 0);
    assert_int_equal(c.n_train, want.n_train);
    assert_int_equal(c.n_val, want.n_val);
    assert_memory_equal(c.train, want.train, want.n_train);
    if (want.n_val)
        assert_memory_equal(c.val, want.val, want.n_val);
    floe_corpus_free(&want);
    floe_corpus_free(&c);

    assert_int_equal(floe_corpus_load_fortunes(&c, "/nonexistent/fortunes", &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/fortunes"));
    assert_non_null(strstr(err.msg, "scripts/setup.sh"));
    assert_int_equal(floe_corpus_load_fortunes(&c, sub, &err), 0);
    floe_corpus_free(&c);
    snprintf(sub, sizeof sub, "%s", floe_test_tmpdir("fortunes_empty"));
    assert_int_equal(floe_corpus_load_fortunes(&c, sub, &err), -1);
    assert_non_null(strstr(err.msg, "no fortune files"));
}

static void test_batches(void **state)
{
    (void)state;
    floe_corpus c;
    floe_err err;
    assert_int_equal(floe_corpus_generate(&c, 3, 300, &err), 0);
    floe_tokens s;
    assert_int_equal(floe_tokens_encode(&s, floe_tokenizer_byte(), c.train, c.n_train, &err), 0);
    assert_int_equal(s.n, c.n_train);
    enum { B = 4, T = 32 };
    int32_t x[B * (T + 1)], y[B * (T + 1)];
    assert_int_equal(floe_batch_sample(&s, 9, 5, B, T, x, &err), 0);
    assert_int_equal(floe_batch_sample(&s, 9, 5, B, T, y, &err), 0);
    assert_memory_equal(x, y, sizeof x); /* same (seed, step): same batch */
    assert_int_equal(floe_batch_sample(&s, 9, 6, B, T, y, &err), 0);
    assert_memory_not_equal(x, y, sizeof x);
    assert_int_equal(floe_batch_sample(&s, 10, 5, B, T, y, &err), 0);
    assert_memory_not_equal(x, y, sizeof x);
    /* every row is a window of the stream */
    for (int b = 0; b < B; b++) {
        const int32_t *row = x + b * (T + 1);
        int found = 0;
        for (size_t at = 0; at + T + 1 <= s.n && !found; at++)
            found = memcmp(s.ids + at, row, (T + 1) * sizeof *row) == 0;
        assert_true(found);
    }
    /* the smallest stream: exactly T+1 tokens, every draw starts at 0 */
    floe_tokens tiny = {.ids = s.ids, .n = T + 1};
    assert_int_equal(floe_batch_sample(&tiny, 1, 1, B, T, x, &err), 0);
    assert_memory_equal(x + T + 1, s.ids, (T + 1) * sizeof *x);
    tiny.n = T;
    assert_int_equal(floe_batch_sample(&tiny, 1, 1, B, T, x, &err), -1);
    assert_non_null(strstr(err.msg, "fewer than T+1"));
    assert_int_equal(floe_batch_sample(&s, 1, 1, 0, T, x, &err), -1);

    /* validation: windows at 0, T, 2T, ...; every target once; last batch partial */
    floe_val_iter it;
    floe_tokens v;
    assert_int_equal(floe_tokens_encode(&v, floe_tokenizer_byte(), c.val, c.n_val, &err), 0);
    assert_int_equal(floe_val_iter_init(&it, &v, B, T, &err), 0);
    assert_int_equal(it.n_windows, (v.n - 1) / T);
    size_t windows = 0;
    int rows;
    while ((rows = floe_val_iter_next(&it, x)) > 0) {
        for (int r = 0; r < rows; r++)
            assert_memory_equal(x + r * (T + 1), v.ids + (windows + (size_t)r) * T, (T + 1) * sizeof *x);
        windows += (size_t)rows;
        assert_true(rows == B || windows == it.n_windows);
    }
    assert_int_equal(windows, it.n_windows);
    floe_val_iter_reset(&it);
    assert_int_equal(floe_val_iter_next(&it, y), B);
    assert_memory_equal(y, v.ids, (T + 1) * sizeof *y);
    v.n = 3;
    assert_int_equal(floe_val_iter_init(&it, &v, B, T, &err), -1);
    floe_tokens_free(&v);
    floe_tokens_free(&s);
    floe_corpus_free(&c);
}

static void test_open_spec(void **state)
{
    (void)state;
    floe_corpus a, b;
    floe_err err;
    assert_int_equal(floe_corpus_open(&a, "generated", &err), 0);
    assert_int_equal(floe_corpus_generate(&b, 1, 2000, &err), 0);
    assert_int_equal(a.n_train, b.n_train);
    assert_memory_equal(a.train, b.train, a.n_train);
    floe_corpus_free(&a);
    floe_corpus_free(&b);
    assert_int_equal(floe_corpus_open(&a, "generated:50:9", &err), 0);
    assert_int_equal(floe_corpus_generate(&b, 9, 50, &err), 0);
    assert_int_equal(a.docs_train + a.docs_val, 50);
    assert_memory_equal(a.train, b.train, a.n_train);
    floe_corpus_free(&a);
    floe_corpus_free(&b);
    assert_int_equal(floe_corpus_open(&a, "generated:30", &err), 0);
    assert_int_equal(a.docs_train + a.docs_val, 30);
    floe_corpus_free(&a);
    const char *bad[] = {"generated:", "generated:0", "generated:x", "generated:5:", "generated:5:1:2", "generated:5x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(floe_corpus_open(&a, bad[i], &err), -1);
        assert_non_null(strstr(err.msg, bad[i]));
    }
    assert_int_equal(floe_corpus_open(&a, "/nonexistent/dir", &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/dir"));
}

/* The documented split of Debian bookworm's fortunes (docs/models.md). */
static void test_real_fortunes(void **state)
{
    (void)state;
    struct stat st;
    if (stat(FLOE_FORTUNES_DIR, &st) != 0) {
        print_message("SKIPPED: %s not found; install Debian's 'fortunes' package (scripts/setup.sh does)\n",
                      FLOE_FORTUNES_DIR);
        skip();
    }
    floe_corpus c;
    floe_err err;
    if (floe_corpus_load_fortunes(&c, NULL, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(c.n_files, 43);
    assert_int_equal(c.docs_train, 14467);
    assert_int_equal(c.docs_val, 750);
    assert_int_equal(c.n_train, 2452688);
    assert_int_equal(c.n_val, 123366);
    assert_true(floe_fnv1a64(c.train, c.n_train) == 0xc83a962714c7af4cull);
    assert_true(floe_fnv1a64(c.val, c.n_val) == 0x51a6bff63180a134ull);
    assert_null(memchr(c.train, '\b', c.n_train)); /* overstrikes resolved */
    assert_int_equal(check_stream(c.val, c.n_val, 1), c.docs_val);
    floe_corpus_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_deterministic),
        cmocka_unit_test(test_split_rule),
        cmocka_unit_test(test_fortune_parsing),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_open_spec),
        cmocka_unit_test(test_real_fortunes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
