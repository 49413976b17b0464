/* The stage times of a verified run (verify/verify.h, floe_stage_time): every chip's layer groups and
 * LM head in order with a link between chips; a step's gaps and busy times add up to its latency; a
 * link is busy for bytes / bandwidth and its latency delays the next group; a decode step deeper in
 * the cache and a longer prompt cost more. */
#include <math.h>

#include "tests/test_util.h"

#include "verify/verify.h"

static void load_machine(const char *name, floe_machine *m, floe_energy_table *e)
{
    char path[4200];
    floe_err err;
    snprintf(path, sizeof path, "%s/configs/%s.csv", getenv("FLOE_SOURCE_DIR"), name);
    if (floe_machine_load(path, m, &err) != 0)
        fail_msg("%s", err.msg);
    snprintf(path, sizeof path, "%s/configs/energy-%s.csv", getenv("FLOE_SOURCE_DIR"), name);
    if (floe_energy_table_load(path, e, &err) != 0)
        fail_msg("%s", err.msg);
}

/* Checks a step's stages and returns the sum of its groups' busy times. */
static double check_stages(const floe_step_cost *c, const floe_machine *mach, int n_layers, int chips, int rows, int d,
                           const char *what)
{
    assert_int_equal(c->stages, n_layers + 1 + chips - 1);
    double sum = 0, busy = 0;
    int layer = -1, chip = 0;
    for (int i = 0; i < c->stages; i++) {
        const floe_stage_time *s = &c->stage[i];
        print_message("%s stage %d: layer %d, chip %d, gap %.3f us, busy %.3f us\n", what, i, s->layer, s->chip,
                      s->gap_s * 1e6, s->busy_s * 1e6);
        assert_true(s->gap_s >= 0 && s->busy_s > 0);
        sum += s->gap_s + s->busy_s;
        if (s->layer < 0) { /* a link from this chip to the next: bytes / bandwidth */
            assert_int_equal(s->chip, chip);
            uint64_t wire = floe_links_wire_ps(mach, (uint64_t)chip, (uint64_t)chip + 1, 2ull * (uint64_t)rows * d, NULL);
            assert_true(fabs(s->busy_s - (double)wire * 1e-12) < 1e-15);
            /* the next group waits for the link's latency too */
            assert_true(c->stage[i + 1].gap_s >= (double)mach->pcie_latency_ns * 1e-9);
            chip++;
            continue;
        }
        assert_int_equal(s->layer, layer + 1);
        assert_int_equal(s->chip, chip);
        layer = s->layer;
        busy += s->busy_s;
    }
    assert_int_equal(layer, n_layers);
    assert_int_equal(chip, chips - 1);
    assert_true(fabs(sum - c->latency_s) < 1e-9 * c->latency_s);
    return busy;
}

static void test_stage_times(void **state)
{
    (void)state;
    const char *machines[2] = {"small", "northpole"};
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    int32_t tok[10];
    for (int t = 0; t < 10; t++)
        tok[t] = (int32_t)((t * 7 + 65) % c.vocab_size);
    for (int mi = 0; mi < 2; mi++) {
        floe_machine mach;
        floe_energy_table e;
        load_machine(machines[mi], &mach, &e);
        floe_qconfig q = floe_qconfig_default();
        floe_qmodel m;
        assert_int_equal(floe_qmodel_random(&m, &c, &q, 7, &err), 0);
        /* small: split layers of 3 cores, so the groups span 2 chips of 4 cores */
        floe_verify_opts vo = {8, 2, mi ? 0 : 26000, 16, 15, 1, 0, 0, 12};
        floe_verify_run_result res;
        if (floe_verify_run(&m, &mach, &e, tok, &vo, &res, &err) != 0)
            fail_msg("%s: %s", machines[mi], err.msg);
        if (!res.match)
            fail_msg("%s: %s", machines[mi], res.mismatch);
        assert_int_equal(res.chips, mi ? 1 : 2);
        assert_int_equal(res.priced_pos, 15);
        assert_int_equal(res.priced_prompt, 12);
        double pre = check_stages(&res.prefill, &mach, c.n_layers, res.chips, 8, c.d_model, "prefill (8)");
        double pre12 = check_stages(&res.prefill_at, &mach, c.n_layers, res.chips, 12, c.d_model, "prefill (12)");
        double dec = check_stages(&res.decode, &mach, c.n_layers, res.chips, 1, c.d_model, "decode at 9");
        double dec15 = check_stages(&res.decode_at, &mach, c.n_layers, res.chips, 1, c.d_model, "decode at 15");
        assert_true(pre12 > pre && res.prefill_at.latency_s > res.prefill.latency_s);
        assert_true(dec15 > dec && res.decode_at.latency_s > res.decode.latency_s);
        floe_verify_run_result_free(&res);
        assert_null(res.decode.stage);
        /* without the extra prices, those steps keep nothing */
        floe_verify_opts plain = {8, 1, 0, 0, 0, 1, 0, 0, 0};
        if (mi == 1) {
            assert_int_equal(floe_verify_run(&m, &mach, &e, tok, &plain, &res, &err), 0);
            assert_int_equal(res.decode.stages, c.n_layers + 1);
            assert_int_equal(res.decode_at.stages, 0);
            assert_int_equal(res.prefill_at.stages, 0);
            assert_null(res.prefill_at.stage);
            floe_verify_run_result_free(&res);
        }
        floe_qmodel_free(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_stage_times)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
