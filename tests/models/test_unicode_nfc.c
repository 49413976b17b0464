/* NFC (models/unicode_nfc.h) against Python's unicodedata.normalize on 7,424 strings
 * (tests/fixtures/unicode/nfc_cases.txt: every canonically decomposable character decomposed, with
 * marks out of order, Hangul as jamo, random mixes), and the tokenizer's NFC normalizer. */
#include "tests/test_util.h"

#include "common/file_read.h"
#include "models/tokenizer.h"
#include "models/unicode_class.h"
#include "models/unicode_nfc.h"

/* Hex code points separated by spaces -> UTF-8; returns the byte length. */
static size_t utf8_of(const char *hex, const char *end, uint8_t *out)
{
    size_t m = 0;
    while (hex < end) {
        char *e;
        unsigned long cp = strtoul(hex, &e, 16);
        if (e == hex)
            break;
        m += (size_t)floe_utf8_encode((uint32_t)cp, out + m);
        hex = e;
    }
    return m;
}

static void test_python_cases(void **state)
{
    (void)state;
    char path[4200], *data;
    size_t len;
    floe_err err;
    snprintf(path, sizeof path, "%s/tests/fixtures/unicode/nfc_cases.txt", getenv("FLOE_SOURCE_DIR"));
    assert_int_equal(floe_read_file(path, 1 << 24, &data, &len, &err), 0);
    int cases = 0, bad = 0;
    for (char *line = data; *line;) {
        char *nl = strchr(line, '\n'), *semi = strchr(line, ';');
        if (!nl)
            nl = line + strlen(line);
        if (line[0] != '#') {
            assert_true(semi && semi < nl);
            uint8_t in[256], want[256];
            size_t n_in = utf8_of(line, semi, in), n_want = utf8_of(semi + 1, nl, want), n_got;
            uint8_t *got = floe_nfc(in, n_in, &n_got);
            assert_non_null(got);
            if (n_got != n_want || memcmp(got, want, n_want) != 0) {
                if (bad < 10)
                    fprintf(stderr, "NFC differs: %.*s\n", (int)(nl - line), line);
                bad++;
            }
            free(got);
            cases++;
        }
        line = *nl ? nl + 1 : nl;
    }
    free(data);
    assert_int_equal(cases, 7424);
    assert_int_equal(bad, 0);
}

/* A tokenizer with an NFC normalizer sees "e" + U+0301 as the one character U+00E9. */
static void test_nfc_normalizer(void **state)
{
    (void)state;
    static const char json[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"e\": 0, \"\xc3\xa9\": 1, \"<unk>\": 2}, "
                               "\"unk_token\": \"<unk>\"}, \"normalizer\": {\"type\": \"NFC\"}}";
    floe_err err;
    const floe_tokenizer *tok = floe_tokenizer_from_json("nfc.json", json, sizeof json - 1, &err);
    assert_non_null(tok);
    int32_t *ids;
    size_t n;
    const char *text = "e\xcc\x81"
                       "e";
    assert_int_equal(floe_tokenizer_encode(tok, (const uint8_t *)text, strlen(text), 0, &ids, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 0);
    free(ids);
    floe_tokenizer_free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_cases),
        cmocka_unit_test(test_nfc_normalizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
