/* Run logs (trainer/run_log.h): a resumed run keeps the rows up to its step and continues the elapsed
 * seconds from the column the header names (qat.csv has verification columns after it). */
#include "tests/test_util.h"

#include <stdio.h>
#include <string.h>

#include "trainer/run_log.h"

static void load(const char *text, int upto, double *seconds, size_t *rows)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/log.csv", floe_test_tmpdir("run_log"));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    floe_run_log l = {0};
    floe_err err;
    *seconds = -1;
    assert_int_equal(floe_run_log_load(&l, path, upto, seconds, &err), 0);
    *rows = l.n;
    floe_run_log_free(&l);
}

static void test_seconds_by_header(void **state)
{
    (void)state;
    double s;
    size_t n;
    /* qat.csv with verification: seconds is not the last column */
    load("step,tokens,loss,seconds,verified,verify_seconds\n1,8,2.5,1.50,1,0.25\n2,16,2.4,3.00,1,0.50\n"
         "3,24,2.3,4.50,1,0.75\n",
         2, &s, &n);
    assert_int_equal(n, 2);
    assert_true(s == 3.0);
    /* no header naming it: the last field */
    load("1,8,2.5,1.5\n2,16,2.4,3.25\n", 5, &s, &n);
    assert_int_equal(n, 2);
    assert_true(s == 3.25);
    /* train.csv: seconds last */
    load("step,tokens,loss,val_loss,lr,grad_norm,tokens_per_s,seconds\n1,8,2.5,,0.1,1,100,0.7\n", 1, &s, &n);
    assert_true(s == 0.7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_seconds_by_header)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
