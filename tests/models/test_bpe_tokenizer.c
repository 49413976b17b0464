/* Hugging Face tokenizer.json tokenizers: every case of every fixture (tests/fixtures/hf/tok-*,
 * written by scripts/hf_fixtures.py with tokenizers 0.23.2) encodes and decodes exactly as the library
 * did; malformed and unsupported files are refused with the file and the JSON field. */
#include "tests/test_util.h"

#include <cjson/cJSON.h>

#include "common/file_read.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2),   cmocka_unit_test(test_llama3),  cmocka_unit_test(test_smollm),
        cmocka_unit_test(test_llama2), cmocka_unit_test(test_mistral), cmocka_unit_test(test_checker_detects_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
