#include "tests/test_util.h"

#include "sim/memory.h"

static void test_bounds_and_errors(void **state)
{
    (void)state;
    floe_memory m;
    floe_err err;
    assert_int_equal(floe_memory_init(&m, "core 3 (x=3, y=0) memory", 1024, &err), 0);
    uint8_t buf[64] = {1, 2, 3};
    assert_int_equal(floe_memory_write(&m, 1000, buf, 24, &err), 0);
    assert_int_equal(floe_memory_write(&m, 1000, buf, 25, &err), -1);
    assert_non_null(strstr(err.msg, "core 3 (x=3, y=0) memory"));
    assert_non_null(strstr(err.msg, "1 bytes past the end"));
    assert_int_equal(floe_memory_read(&m, UINT64_MAX - 3, buf, 8, 0, &err), -1); /* no wrap-around */
    assert_int_equal(floe_memory_check(&m, 1024, 0, "read", &err), 0);           /* empty at the end: fine */
    assert_int_equal(m.high_water, 1024);
    floe_memory_free(&m);
}

static void test_uninitialised_reads(void **state)
{
    (void)state;
    floe_memory m;
    floe_err err;
    assert_int_equal(floe_memory_init(&m, "frame buffer", 4096, &err), 0);
    uint8_t src[300], dst[300];
    for (int i = 0; i < 300; i++)
        src[i] = (uint8_t)i;
    assert_int_equal(floe_memory_write(&m, 10, src, 300, &err), 0);
    assert_int_equal(floe_memory_read(&m, 10, dst, 300, 1, &err), 0);
    assert_memory_equal(src, dst, 300);
    assert_int_equal(m.uninit_reads, 0);
    /* one byte past what was written: counted, and an error when strict */
    assert_int_equal(floe_memory_read(&m, 200, dst, 111, 0, &err), 0);
    assert_int_equal(m.uninit_reads, 1);
    assert_int_equal(m.first_uninit_addr, 310);
    assert_int_equal(floe_memory_read(&m, 5, dst, 10, 1, &err), -1);
    assert_non_null(strstr(err.msg, "uninitialised byte 0x5"));
    assert_int_equal(m.bytes_read, 300 + 111 + 10);
    assert_int_equal(m.bytes_written, 300);
    /* every alignment of a fully written range reads clean */
    assert_int_equal(floe_memory_write(&m, 1000, src, 256, &err), 0);
    for (uint64_t a = 1000; a < 1100; a++)
        assert_int_equal(floe_memory_note_read(&m, a, 1256 - a, 1, &err), 0);
    assert_int_equal(floe_memory_note_read(&m, 999, 2, 1, &err), -1);
    floe_memory_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds_and_errors),
        cmocka_unit_test(test_uninitialised_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
