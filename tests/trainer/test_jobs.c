/* `floe train` and `floe qat` as library calls (trainer/train_job.h, trainer/qat_job.h): a run writes
 * its files and narrative, a resume that disagrees with its checkpoint is refused naming the setting,
 * a stopped QAT job resumes to the same model as a straight one, and missing inputs are refused. */
#include "tests/test_util.h"

#include <stdio.h>
#include <string.h>

#include "common/file_read.h"
#include "common/path.h"
#include "trainer/qat_job.h"
#include "trainer/train_job.h"

static char teacher[4300];

static floe_train_job tiny_train(const char *out)
{
    floe_train_settings s = FLOE_TRAIN_SETTINGS_UNSET;
    s.steps = 3, s.batch = 2, s.context = 16, s.warmup = 1, s.seed = 5;
    floe_train_job j = {"tiny", "generated:300:3", out, NULL, NULL, s, 0, 0, 0, NULL, 0};
    return j;
}

static int setup(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("jobs_teacher");
    floe_train_job j = tiny_train(dir);
    floe_err err;
    if (floe_train_job_run(&j, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return floe_path_join(teacher, sizeof teacher, dir, "ckpt-000003.safetensors");
}

static void test_train_job_logs_and_refuses_other_settings(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("jobs_train");
    char log_path[4300], text[8192];
    assert_int_equal(floe_path_join(log_path, sizeof log_path, dir, "log.txt"), 0);
    FILE *log = fopen(log_path, "w");
    assert_non_null(log);
    floe_train_job j = tiny_train(dir);
    j.stop_after = 2, j.log = log;
    floe_err err;
    assert_int_equal(floe_train_job_run(&j, &err), 0);
    fclose(log);
    char *data;
    size_t len;
    assert_int_equal(floe_read_file(log_path, 1 << 20, &data, &len, &err), 0);
    snprintf(text, sizeof text, "%.*s", (int)len, data);
    free(data);
    assert_non_null(strstr(text, "step 2/3"));
    assert_null(strstr(text, "step 3/3"));
    char ck[4300];
    assert_int_equal(floe_path_join(ck, sizeof ck, dir, "ckpt-000002.safetensors"), 0);
    floe_train_job r = tiny_train(dir);
    r.resume = ck, r.model = NULL, r.set.batch = 4;
    assert_int_equal(floe_train_job_run(&r, &err), -1);
    assert_non_null(strstr(err.msg, "--batch 4 differs from the checkpoint's 2"));
    r.set.batch = -1, r.model = "S";
    assert_int_equal(floe_train_job_run(&r, &err), -1);
    assert_non_null(strstr(err.msg, "holds another model config"));
    r.model = NULL;
    assert_int_equal(floe_train_job_run(&r, &err), 0);
}

static floe_qat_job tiny_qat(const char *out)
{
    floe_qat_settings s = FLOE_QAT_SETTINGS_UNSET;
    s.steps = 4, s.batch = 2, s.context = 16, s.warmup = 1;
    floe_qat_job j = {.method = FLOE_QAT_SILQ, .teacher = teacher, .out = out, .set = s, .eval_windows = 2};
    j.qc = floe_qconfig_default();
    j.init = floe_qinit_defaults();
    return j;
}

static size_t read_whole(const char *dir, const char *name, char **data)
{
    char p[4300];
    size_t len;
    floe_err err;
    assert_int_equal(floe_path_join(p, sizeof p, dir, name), 0);
    assert_int_equal(floe_read_file(p, 1 << 28, data, &len, &err), 0);
    return len;
}

static void test_qat_job_stop_and_resume_equal_straight(void **state)
{
    (void)state;
    const char *a = floe_test_tmpdir("jobs_qat_straight");
    floe_qat_job j = tiny_qat(a);
    floe_err err;
    assert_int_equal(floe_qat_job_run(&j, &err), 0);
    const char *b = floe_test_tmpdir("jobs_qat_resumed");
    j = tiny_qat(b);
    j.stop_after = 2;
    assert_int_equal(floe_qat_job_run(&j, &err), 0);
    char ck[4300];
    assert_int_equal(floe_path_join(ck, sizeof ck, b, "qat-000002.safetensors"), 0);
    floe_qat_job r = tiny_qat(b);
    r.teacher = NULL, r.resume = ck;
    assert_int_equal(floe_qat_job_run(&r, &err), 0);
    char *x, *y;
    size_t nx = read_whole(a, "qmodel.safetensors", &x), ny = read_whole(b, "qmodel.safetensors", &y);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    free(x);
    free(y);
    r.set.accum = 3;
    assert_int_equal(floe_qat_job_run(&r, &err), -1);
    assert_non_null(strstr(err.msg, "--grad-accum 3, but the run was started with 1"));
}

static void test_qat_job_refusals(void **state)
{
    (void)state;
    floe_qat_job j = tiny_qat(floe_test_tmpdir("jobs_qat_refused"));
    floe_err err;
    j.teacher = NULL;
    assert_int_equal(floe_qat_job_run(&j, &err), -1);
    assert_non_null(strstr(err.msg, "--teacher"));
    assert_int_equal(floe_qat_weight_only_run(&j, &err), -1);
    assert_non_null(strstr(err.msg, "--teacher"));
    j.teacher = "/nonexistent/teacher.safetensors";
    assert_int_equal(floe_qat_job_run(&j, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/teacher.safetensors"));
    assert_int_equal(floe_eqat_wonly_is_state(teacher), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_job_logs_and_refuses_other_settings),
        cmocka_unit_test(test_qat_job_stop_and_resume_equal_straight),
        cmocka_unit_test(test_qat_job_refusals),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
