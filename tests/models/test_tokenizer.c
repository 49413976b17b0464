/* The byte-level tokenizer: every byte string round-trips; bad ids are clear errors. */
#include "tests/test_util.h"

#include "models/tokenizer.h"

static void test_byte_round_trip(void **state)
{
    (void)state;
    const floe_tokenizer *tok = floe_tokenizer_byte();
    assert_string_equal(tok->name, "byte");
    assert_int_equal(tok->vocab_size, 256);
    uint8_t text[512];
    for (int i = 0; i < 512; i++)
        text[i] = (uint8_t)(i * 37 + 11); /* every byte value, twice */
    int32_t *ids;
    size_t n;
    floe_err err;
    assert_int_equal(floe_tokenizer_encode_alloc(tok, text, sizeof text, &ids, &n, &err), 0);
    assert_int_equal(n, 512);
    for (int i = 0; i < 512; i++)
        assert_int_equal(ids[i], text[i]);
    uint8_t back[512];
    size_t len = 0;
    assert_int_equal(tok->decode(tok, ids, n, back, sizeof back, &len, &err), 0);
    assert_int_equal(len, 512);
    assert_memory_equal(back, text, 512);
    /* a short buffer: the size needed is still reported */
    assert_int_equal(tok->encode(tok, text, 512, ids, 10), 512);
    assert_int_equal(tok->decode(tok, ids, n, back, 3, &len, &err), 0);
    assert_int_equal(len, 512);
    ids[7] = 256;
    assert_int_equal(tok->decode(tok, ids, n, back, sizeof back, &len, &err), -1);
    assert_non_null(strstr(err.msg, "token 7 is id 256"));
    ids[7] = -1;
    assert_int_equal(tok->decode(tok, ids, n, back, sizeof back, &len, &err), -1);
    free(ids);
    /* empty text */
    assert_int_equal(floe_tokenizer_encode_alloc(tok, text, 0, &ids, &n, &err), 0);
    assert_int_equal(n, 0);
    free(ids);
}

static void test_find(void **state)
{
    (void)state;
    floe_err err;
    assert_ptr_equal(floe_tokenizer_find("byte", &err), floe_tokenizer_byte());
    assert_null(floe_tokenizer_find("bpe", &err));
    assert_non_null(strstr(err.msg, "'bpe'"));
}

/* A second tokenizer plugs in through the same table: lower-case letters only, one id per letter,
 * every other byte dropped (vocabulary 26). */
static size_t letters_encode(const floe_tokenizer *tok, const uint8_t *text, size_t n, int32_t *out, size_t cap)
{
    (void)tok;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (text[i] >= 'a' && text[i] <= 'z') {
            if (m < cap)
                out[m] = text[i] - 'a';
            m++;
        }
    return m;
}

static int letters_decode(const floe_tokenizer *tok, const int32_t *ids, size_t n, uint8_t *out, size_t cap,
                          size_t *len, floe_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok->vocab_size)
            return floe_err_set(err, "letters: bad id %d", (int)ids[i]);
        if (i < cap)
            out[i] = (uint8_t)('a' + ids[i]);
    }
    *len = n;
    return 0;
}

static void test_pluggable(void **state)
{
    (void)state;
    const floe_tokenizer letters = {.name = "letters",
                                    .vocab_size = 26,
                                    .encode = letters_encode,
                                    .decode = letters_decode,
                                    .bos_id = -1,
                                    .eos_id = -1};
    const char *text = "Hello, world";
    int32_t *ids;
    size_t n;
    floe_err err;
    assert_int_equal(floe_tokenizer_encode_alloc(&letters, (const uint8_t *)text, strlen(text), &ids, &n, &err), 0);
    assert_int_equal(n, 9);
    uint8_t back[16];
    size_t len;
    assert_int_equal(letters.decode(&letters, ids, n, back, sizeof back, &len, &err), 0);
    assert_memory_equal(back, "elloworld", 9);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byte_round_trip),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_pluggable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
