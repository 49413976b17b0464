/* The training and QAT log plots (trainer/log_plot.c) of logs whose series are constant (one step, a
 * loss or KL that does not move, one validation, zero latency): gnuplot draws them without a word on
 * stderr, where it would otherwise warn about each empty range. */
#include "tests/test_util.h"

#include <sys/stat.h>

#include "trainer/log_plot.h"

#define QAT_HEADER                                                                                                     \
    "step,tokens,loss,kl,ce,val_loss,val_ppl,lr,grad_norm,tokens_per_s,seconds,verified,sim_cycles,"                   \
    "latency_us_per_token,energy_uj_per_token,mem_high_water,verify_seconds\n"

typedef int (*plot_fn)(const char *csv, const char *png, floe_err *err);

/* Writes `rows` under `header` to DIR/name.csv, plots it to DIR/name.png, and checks the PNG is there
 * and gnuplot said nothing. */
static void plot_quietly(const char *dir, const char *name, plot_fn plot, const char *header, const char *rows)
{
    char csv[4200], png[4200], log[4200], text[2048];
    snprintf(csv, sizeof csv, "%s/%s.csv", dir, name);
    snprintf(png, sizeof png, "%s/%s.png", dir, name);
    snprintf(log, sizeof log, "%s/%s.stderr", dir, name);
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fprintf(f, "%s%s", header, rows);
    fclose(f);
    floe_err err;
    int saved = floe_test_stderr_begin(log);
    int rc = plot(csv, png, &err);
    long n = floe_test_stderr_end(saved, log, text, sizeof text);
    if (rc != 0)
        fail_msg("%s: %s", name, err.msg);
    if (n != 0)
        fail_msg("%s: gnuplot wrote to stderr: %s", name, text);
    struct stat st;
    assert_int_equal(stat(png, &st), 0);
    assert_true(st.st_size > 0);
}

static void test_train_log_constant(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("log_plot_train");
    /* one step (empty x range) with a validation loss equal to the loss (empty y range) */
    plot_quietly(dir, "one_step", floe_plot_train_log, FLOE_TRAIN_LOG_HEADER, "1,100,1.5,1.5,0.001,1,1,1\n");
    /* a loss that does not move, no validation */
    plot_quietly(dir, "flat", floe_plot_train_log, FLOE_TRAIN_LOG_HEADER,
                 "1,100,2,,0.001,1,1,1\n2,200,2,,0.001,1,1,1\n3,300,2,,0.001,1,1,1\n");
}

static void test_qat_log_constant(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("log_plot_qat");
    /* constant KL, validation perplexity (the y2 axis), latency and energy, every step verified */
    plot_quietly(dir, "flat", floe_plot_qat_log, QAT_HEADER,
                 "0,100,1.5,0.25,1.2,1.6,5,0.001,1,100,1,1,1000,12.5,3.5,1000,0.5\n"
                 "1,200,1.5,0.25,1.2,1.6,5,0.001,1,100,1,1,1000,12.5,3.5,1000,0.5\n"
                 "2,300,1.5,0.25,1.2,1.6,5,0.001,1,100,1,1,1000,12.5,3.5,1000,0.5\n");
    /* no validation (no y2 data) and nothing verified */
    plot_quietly(dir, "unevaluated", floe_plot_qat_log, QAT_HEADER,
                 "0,100,1.5,0.21,1.2,,,0.001,1,100,1,0,,,,,\n1,200,1.5,0.2,1.2,,,0.001,1,100,1,0,,,,,\n");
    /* a single step, verified, with zero latency and energy */
    plot_quietly(dir, "one_step", floe_plot_qat_log, QAT_HEADER,
                 "5,100,1.5,0.3,1.2,1.6,5,0.001,1,100,1,1,1000,0,0,1000,0.5\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_log_constant),
        cmocka_unit_test(test_qat_log_constant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
