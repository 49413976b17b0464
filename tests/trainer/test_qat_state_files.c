/* The QAT checkpoint (qat-<step>.safetensors) and the weight-only E2E-QP state
 * (e2eqp-<step>.safetensors) as hostile files: every tensor is checked against the file's own
 * floe.config before anything sized by it is allocated (under an address-space limit far below
 * what the config declares), integers out of int's range or of their own range and floats that are
 * not finite are refused, naming the file and the tensor or key; a well-formed file of each kind
 * still loads. */
#include "tests/trainer/trainer_test.h"

#include <limits.h>
#include <omp.h>

#include "common/rng.h"
#include "models/safetensors.h"
#include "tests/limit_util.h"
#include "tests/models/st_test_util.h"
#include "trainer/block_ap.h"
#include "trainer/e2e_qp.h"
#include "trainer/efficientqat.h"
#include "trainer/qat_run.h"

/* d_model 8, ffn 16: a group of 12 is per channel for the 8-input linears and two groups for down */
static floe_model_config mini(void)
{
    floe_model_config mc;
    memset(&mc, 0, sizeof mc);
    snprintf(mc.name, sizeof mc.name, "mini");
    mc.vocab_size = 16, mc.d_model = 8, mc.n_layers = 1, mc.n_heads = 2, mc.n_kv_heads = 2, mc.head_dim = 4;
    mc.ffn_dim = 16, mc.context = 8, mc.rope_theta = 10000.0, mc.rms_eps = 1e-5, mc.tied_embeddings = 1;
    return mc;
}

/* A config whose tensors would be 256 GiB (16M x 4096 embeddings), 4 layers */
static char *huge_config_json(void)
{
    floe_model_config h = mini();
    h.vocab_size = 1 << 24, h.d_model = 4096, h.head_dim = 2048, h.ffn_dim = 11008, h.n_layers = 4;
    char *js = floe_model_config_to_json(&h);
    assert_non_null(js);
    return js;
}

/* Copies src to dst with one more F32 tensor `name` of one value. */
static void st_copy_with_tensor(const char *src, const char *dst, const char *name)
{
    st_copy_edit(src, dst, NULL, NULL, name);
}

static void expect_refused(int rc, const char *msg, const char *what, const char *want)
{
    if (rc != -1)
        fail_msg("%s: accepted, expected an error saying '%s'", what, want);
    if (!strstr(msg, want))
        fail_msg("%s: error '%s' does not say '%s'", what, msg, want);
}

/* ---- the QAT checkpoint -------------------------------------------------------------------------- */

/* A QAT checkpoint of the mini model written by floe_qat_save: a student with random weights (no
 * teacher is needed to write one), steps 1. */
static void write_qat_ckpt(const char *path)
{
    floe_model_config mc = mini();
    floe_qconfig qc = floe_qconfig_default();
    floe_qat_trainer tr;
    floe_err err;
    memset(&tr, 0, sizeof tr);
    if (floe_qat_init(&tr.s, &mc, &qc, 1, 4, &err) != 0)
        fail_msg("%s", err.msg);
    floe_rng r;
    floe_rng_seed(&r, 7);
    rand_fill(tr.s.params, tr.s.table.total, &r, 0.1);
    tr.cfg = floe_qat_defaults(&mc);
    tr.cfg.context = 4;
    snprintf(tr.teacher_path, sizeof tr.teacher_path, "teacher.safetensors");
    tr.m = falloc(tr.s.table.total), tr.v = falloc(tr.s.table.total);
    tr.ms = falloc(tr.s.n_steps), tr.vs = falloc(tr.s.n_steps);
    tr.step = 3;
    size_t act_off, n_steps;
    floe_qat_step_layout(&mc, &act_off, &n_steps);
    assert_int_equal(act_off, tr.s.act_off); /* the layout from the config is the student's */
    assert_int_equal(n_steps, tr.s.n_steps);
    if (floe_qat_quantize(&tr.s, &err) != 0 || floe_qat_save(&tr, path, &err) != 0)
        fail_msg("%s", err.msg);
    floe_qat_free(&tr.s);
    free(tr.m), free(tr.v), free(tr.ms), free(tr.vs);
}

static int qat_info(void *arg, floe_err *err)
{
    char teacher[4096];
    floe_qconfig qc;
    floe_qat_cfg cfg;
    int step;
    return floe_qat_ckpt_info(arg, teacher, sizeof teacher, &qc, &cfg, &step, err);
}

static int qat_export(void *arg, floe_err *err)
{
    char out[4400];
    if (snprintf(out, sizeof out, "%s.qmodel", (const char *)arg) >= (int)sizeof out)
        return floe_err_set(err, "path too long");
    return floe_qat_export(arg, out, err);
}

static void test_qat_checkpoint(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("qat_state_files");
    char good[4300], bad[4300], msg[2048];
    snprintf(good, sizeof good, "%s/qat-000003.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    write_qat_ckpt(good);
    assert_int_equal(floe_test_run_limited(FLOE_TEST_AS_LIMIT, qat_info, good, msg, sizeof msg), 0);
    assert_int_equal(floe_test_run_limited(FLOE_TEST_AS_LIMIT, qat_export, good, msg, sizeof msg), 0);

    /* a config of 256 GiB over tensors of a few KB: refused naming the first tensor, before the
     * student is allocated (floe_qat_export allocated it from the config, then ran out of memory) */
    char *js = huge_config_json();
    st_copy_with_meta(good, bad, "floe.config", js);
    free(js);
    const char *want = "bad.safetensors: tensor 'model.embed_tokens.weight': wrong shape: expected [16777216, 4096], "
                       "got [16, 8]";
    expect_refused(floe_test_run_limited(FLOE_TEST_AS_LIMIT, qat_info, bad, msg, sizeof msg), msg, "info, huge config",
                   want);
    expect_refused(floe_test_run_limited(FLOE_TEST_AS_LIMIT, qat_export, bad, msg, sizeof msg), msg,
                   "export, huge config", want);

    /* a tensor the model does not have */
    st_copy_with_tensor(good, bad, "qat.extra");
    expect_refused(floe_test_run_limited(FLOE_TEST_AS_LIMIT, qat_info, bad, msg, sizeof msg), msg, "extra tensor",
                   "bad.safetensors: unexpected tensor 'qat.extra'");

    /* metadata: truncation to int, non-finite floats, sizes beyond the config, a wrapped seed */
    static const struct {
        const char *key, *value, *want;
    } meta[] = {
        {"floe.wbits", "4294967300", "metadata 'floe.wbits' = 4294967300 is outside"},
        {"floe.qat.steps", "4294967297", "metadata 'floe.qat.steps' = 4294967297 is outside [1, 2147483647]"},
        {"floe.qat.lr", "1e300", "metadata 'floe.qat.lr' = \"1e300\" is not a finite float"},
        {"floe.qat.tau", "nan", "metadata 'floe.qat.tau' = \"nan\" is not a finite float"},
        {"floe.qat.context", "9", "metadata 'floe.qat.context' = 9 is outside [1, 8]"},
        {"floe.qat.batch", "0", "metadata 'floe.qat.batch' = 0 is outside [1, 2147483647]"},
        {"floe.qat.batch", "1000000000", "tokens per step exceed"},
        {"floe.qat.seed", "-1", "metadata 'floe.qat.seed' missing or not an integer"},
        {"floe.step", "-2", "metadata 'floe.step' = -2 is outside"},
    };
    floe_err err;
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) {
        st_copy_with_meta(good, bad, meta[i].key, meta[i].value);
        expect_refused(qat_info(bad, &err), err.msg, meta[i].key, meta[i].want);
    }
}

/* ---- the weight-only E2E-QP state ---------------------------------------------------------------- */

/* The mini model with random weights, its E2E-QP state at 4 bits, group 12, asymmetric. */
static void e2e_setup(floe_model *m, floe_e2eqp *st)
{
    floe_model_config mc = mini();
    floe_err err;
    if (floe_model_init(m, &mc, 1, 4, &err) != 0)
        fail_msg("%s", err.msg);
    floe_rng r;
    floe_rng_seed(&r, 11);
    rand_fill(m->params, m->table.total, &r, 0.1);
    floe_wquant wq[FLOE_BLOCK_LINEARS];
    assert_int_equal(floe_wquants_init(wq, m, 4, NULL, 12, 1, &err), 0);
    for (int i = 0; i < FLOE_BLOCK_LINEARS; i++)
        floe_wquant_minmax(&wq[i], floe_blockap_weight(m, i));
    assert_int_equal(floe_e2eqp_init(st, m, wq, &err), 0);
    floe_wquants_free(wq, FLOE_BLOCK_LINEARS);
}

static int e2e_info(void *arg, floe_err *err)
{
    char teacher[4096];
    floe_blockap_cfg bap;
    floe_e2eqp_cfg cfg;
    int step;
    return floe_eqat_wonly_state_info(arg, teacher, sizeof teacher, &bap, &cfg, &step, err);
}

static void test_e2eqp_state(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("e2eqp_state_files");
    char good[4300], bad[4300], msg[2048];
    snprintf(good, sizeof good, "%s/e2eqp-000002.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    floe_model m;
    floe_e2eqp st;
    floe_err err;
    e2e_setup(&m, &st);
    st.step = 2;
    floe_e2eqp_cfg c = floe_e2eqp_defaults(4);
    c.steps = 5, c.batch = 2, c.context = 4;
    const char *extra[] = {"floe.teacher", "teacher.safetensors"};
    assert_int_equal(floe_e2eqp_save(&st, &m, &c, good, extra, 1, &err), 0);
    /* group 12 is recorded, though the first linear (8 inputs) has one group per channel */
    char teacher[4096];
    floe_blockap_cfg bap;
    floe_e2eqp_cfg rc;
    int step;
    if (floe_eqat_wonly_state_info(good, teacher, sizeof teacher, &bap, &rc, &step, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(bap.group, 12);
    assert_int_equal(step, 2);
    assert_int_equal(rc.steps, 5);
    assert_int_equal(rc.context, 4);
    floe_e2eqp st2;
    floe_model m2;
    e2e_setup(&m2, &st2);
    if (floe_e2eqp_load(&st2, &m2, good, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(st2.step, 2);
    assert_memory_equal(st2.codes[6], st.codes[6], 16 * 8 * sizeof(int16_t));
    floe_e2eqp_free(&st2);
    floe_model_free(&m2);

    /* a config of 256 GiB over a state of a few KB */
    char *js = huge_config_json();
    st_copy_with_meta(good, bad, "floe.config", js);
    free(js);
    expect_refused(floe_test_run_limited(FLOE_TEST_AS_LIMIT, e2e_info, bad, msg, sizeof msg), msg, "huge config",
                   "bad.safetensors: tensor 'model.layers.0.self_attn.q_proj.weight.codes': wrong shape: expected "
                   "[4096, 4096], got [8, 8]");
    /* a tensor of no linear; then the state of this config loaded into a model of another */
    st_copy_with_tensor(good, bad, "model.layers.0.mlp.down_proj.weight.extra");
    expect_refused(e2e_info(bad, &err), err.msg, "extra tensor",
                   "bad.safetensors: unexpected tensor 'model.layers.0.mlp.down_proj.weight.extra'");
    floe_model_config o = mini();
    o.ffn_dim = 24;
    floe_model mo;
    floe_e2eqp so;
    assert_int_equal(floe_model_init(&mo, &o, 1, 4, &err), 0);
    floe_wquant wq[FLOE_BLOCK_LINEARS];
    assert_int_equal(floe_wquants_init(wq, &mo, 4, NULL, 12, 1, &err), 0);
    assert_int_equal(floe_e2eqp_init(&so, &mo, wq, &err), 0);
    floe_wquants_free(wq, FLOE_BLOCK_LINEARS);
    expect_refused(floe_e2eqp_load(&so, &mo, good, &err), err.msg, "another model",
                   "tensor 'model.layers.0.mlp.gate_proj.weight.codes': wrong shape: expected [24, 8], got [16, 8]");
    floe_e2eqp_free(&so);
    floe_model_free(&mo);

    static const struct {
        const char *key, *value, *want;
    } meta[] = {
        /* was truncated to 1 step */
        {"floe.e2eqp.steps", "4294967297", "metadata 'floe.e2eqp.steps' = 4294967297 is outside [1, 2147483647]"},
        {"floe.e2eqp.step", "6", "metadata 'floe.e2eqp.step' = 6 is outside [0, 5]"},
        {"floe.e2eqp.context", "4096", "metadata 'floe.e2eqp.context' = 4096 is outside [0, 8]"},
        {"floe.e2eqp.batch", "1000000000", "tokens per step exceed"},
        {"floe.wbits", "4294967300", "metadata 'floe.wbits' = 4294967300 is outside [2, 8]"},
        {"floe.group", "-1", "metadata 'floe.group' = -1 is outside"},
        {"floe.e2eqp.lr", "nan", "metadata 'floe.e2eqp.lr' = \"nan\" is not a finite float"},
        {"floe.e2eqp.clip", "1e300", "metadata 'floe.e2eqp.clip' = \"1e300\" is not a finite float"},
        {"floe.e2eqp.seed", "-5", "metadata 'floe.e2eqp.seed' = -5 is negative"},
        {"floe.group", "4", "wrong shape"}, /* the tensors hold another grouping */
    };
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) {
        st_copy_with_meta(good, bad, meta[i].key, meta[i].value);
        expect_refused(e2e_info(bad, &err), err.msg, meta[i].key, meta[i].want);
    }
    floe_e2eqp_free(&st);
    floe_model_free(&m);
}

int main(void)
{
    omp_set_num_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qat_checkpoint),
        cmocka_unit_test(test_e2eqp_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
