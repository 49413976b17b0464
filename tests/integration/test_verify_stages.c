/* The stage times of a verified run (verify/verify.h, floe_stage_time): every chip's layer groups and
 * LM head in order with a link between chips; a step's gaps and busy times add up to its latency; a
 * link is busy for bytes / bandwidth and its latency delays the next group; a decode step deeper in
 * the cache and a longer prompt cost more. The serving model's pipeline from such runs, whole or
 * composed from runs with 1 and 2 layers (whole layers, layers in halves, an LM head in slices). */
#include <math.h>

#include "tests/integration/machine_util.h"

#include "verify/serving_pipeline.h"
#include "verify/verify.h"

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
        load_config(machines[mi], &mach, &e);
        floe_qconfig q = floe_qconfig_default();
        floe_qmodel m;
        assert_int_equal(floe_qmodel_random(&m, &c, &q, 7, &err), 0);
        /* small: split layers of 3 cores, so the groups span 2 chips of 4 cores */
        floe_verify_opts vo = {.tokens = 8, .decode = 2, .core_weight_bytes = mi ? 0 : 26000, .kv_tokens = 16,
                               .price_pos = 15, .users = 1, .price_prompt = 12};
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
        floe_verify_opts plain = {.tokens = 8, .decode = 1, .users = 1};
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

static void run_model(const floe_model_config *c, const floe_machine *mach, const floe_energy_table *e,
                      const floe_verify_opts *vo, floe_verify_run_result *res)
{
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel m;
    floe_err err;
    int32_t tok[16];
    for (int t = 0; t < 16; t++)
        tok[t] = (int32_t)((t * 7 + 65) % c->vocab_size);
    assert_int_equal(floe_qmodel_random(&m, c, &q, 11, &err), 0);
    if (floe_verify_run(&m, mach, e, tok, vo, res, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(res->match);
    floe_qmodel_free(&m);
}

/* The pipeline of a 2-layer model from its own run, and composed from the runs with 1 and 2 layers:
 * the same stages; then served. Machines: northpole (one chip), small with split layers (a
 * group per chip, the head beside the second), and small cut to one core per chip in two servers
 * (three chips: a PCIe link, then an Ethernet link). */
static void test_serving_pipeline_whole_and_composed(void **state)
{
    (void)state;
    const char *machines[5] = {"northpole", "small", "small, one core per chip", "small, layers in halves",
                               "small, layers in halves, head in slices"};
    for (int mi = 0; mi < 5; mi++) {
        floe_machine mach;
        floe_energy_table e;
        if (mi >= 3) /* chips of 3 x 2 cores: a layer of 9 cores is two halves of 3 and 6, on 5 chips */
            load_small_six(&mach, &e);
        else
            load_config(mi ? "small" : "northpole", &mach, &e);
        if (mi == 2) {
            mach.cores_x = mach.cores_y = 1;
            mach.servers_per_system = 2; /* chips 0, 1 in server 0; chip 2 in server 1 */
        }
        floe_model_config c, c1;
        floe_err err;
        assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
        assert_int_equal(c.n_layers, 2);
        if (mi == 4) /* a vocabulary of 1024: the 8-bit head in slices on chips of their own */
            c.vocab_size = 1024;
        c1 = c;
        c1.n_layers = 1;
        floe_verify_opts vo = {.tokens = 8, .decode = 2, .core_weight_bytes = mi == 1 ? 26000 : mi >= 3 ? 5000 : 0,
                               .kv_tokens = 16, .price_pos = 15, .users = 1, .price_prompt = 12};
        floe_verify_run_result r[2];
        run_model(&c1, &mach, &e, &vo, &r[0]);
        run_model(&c, &mach, &e, &vo, &r[1]);
        floe_qconfig q = floe_qconfig_default();
        floe_compile_opts co = {.tokens = 8, .kv_tokens = 16, .core_weight_bytes = vo.core_weight_bytes, .users = 1};
        floe_plan_summary ps;
        assert_int_equal(floe_compile_plan(&c, &q, &mach, &co, &ps, &err), 0);
        floe_verify_serving vw, vc;
        if (floe_verify_serving_pipeline(&r[1], 1, &vo, &c, &ps, &mach, &e, &vw, &err) != 0 ||
            floe_verify_serving_pipeline(r, 2, &vo, &c, &ps, &mach, &e, &vc, &err) != 0)
            fail_msg("%s", err.msg);
        const floe_serving_pipeline whole = vw.pipeline, comp = vc.pipeline;
        const floe_serving_stage *sw = vw.stage, *sc = vc.stage;
        assert_int_equal(vw.links, ps.chips - 1);
        assert_int_equal(vc.links, vw.links);
        assert_int_equal(ps.chips, mi >= 3 ? 5 + ps.head_slices - 1 : 1 + mi);
        if (mi == 4)
            assert_true(ps.head_slices >= 3);
        for (int i = 0; i < whole.stages; i++)
            assert_int_equal(vw.part[i], vc.part[i]);
        if (mi >= 3)
            assert_int_equal(vw.part[0], 1); /* layer 0's attention half first */
        for (int i = 0; i < whole.stages; i++)
            assert_int_equal(vw.layer[i], vc.layer[i]);
        assert_int_equal(vw.layer[whole.stages - 1], c.n_layers);
        assert_int_equal(whole.stages, (mi >= 3 ? 4 : 2) + ps.head_slices + vw.links); /* groups and links */
        assert_int_equal(comp.stages, whole.stages);
        assert_int_equal(whole.pos[0], 9);
        assert_int_equal(whole.pos[1], 15);
        assert_true(comp.pos[0] == 9 && comp.pos[1] == 15);
        assert_int_equal(whole.cards, ps.chips);
        assert_true(whole.static_w > 0 && whole.static_w == comp.static_w);
        for (int k = 0; k < 2; k++) {
            assert_true(whole.decode_j[k] > 0);
            assert_true(fabs(comp.decode_j[k] - whole.decode_j[k]) < 1e-9 * whole.decode_j[k]);
        }
        assert_true(whole.decode_j[1] > whole.decode_j[0]);
        for (int i = 0; i < whole.stages; i++) {
            const floe_serving_time *a[3] = {&sw[i].prefill, &sw[i].decode[0], &sw[i].decode[1]},
                                    *b[3] = {&sc[i].prefill, &sc[i].decode[0], &sc[i].decode[1]};
            for (int k = 0; k < 3; k++) {
                if (!(fabs(a[k]->busy_s - b[k]->busy_s) <= 1e-12 * a[k]->busy_s))
                    fail_msg("%s, stage %d (layer %d, part %d), step %d: busy %.17g s whole, %.17g s composed",
                             machines[mi], i, vw.layer[i], vw.part[i], k, a[k]->busy_s, b[k]->busy_s);
                if (!(fabs(a[k]->gap_s - b[k]->gap_s) < 1e-15))
                    fail_msg("%s, stage %d (layer %d, part %d), step %d: gap %g s whole, %g s composed", machines[mi], i,
                             vw.layer[i], vw.part[i], k, a[k]->gap_s, b[k]->gap_s);
            }
        }
        /* the prefill of the priced 12-token prompt, the decode at two positions */
        assert_true(sw[0].prefill.busy_s == r[1].prefill_at.stage[0].busy_s);
        assert_true(sw[0].decode[1].busy_s > sw[0].decode[0].busy_s);
        floe_serving_load l = {3, 12, 4, 0};
        floe_serving_result sr;
        assert_int_equal(floe_serving_run(&whole, &l, &sr, &err), 0);
        print_message("%s: %d stages; 3 users: %.1f tokens/s, inter-token %.2f us (alone %.2f us), first token %.2f us, "
                      "%.3g J per token, %.2f W per card\n",
                      machines[mi], whole.stages, sr.tokens_per_s, sr.itl_mean_s * 1e6, sr.token_latency_s * 1e6,
                      sr.ttft_max_s * 1e6, sr.energy_per_token_j, sr.power_per_card_w);
        /* alone, a token takes what the measured decode step took, at its position */
        floe_serving_load one = {1, 12, 4, 0};
        assert_int_equal(floe_serving_run(&whole, &one, &sr, &err), 0);
        double lat[2] = {r[1].decode.latency_s, r[1].decode_at.latency_s};
        double want = 0;
        for (int i = 0; i < 4; i++) /* positions 12..15, linear through 9 and 15 */
            want += lat[0] + (lat[1] - lat[0]) * (12 + i - 9) / 6.0;
        assert_true(fabs(sr.token_latency_s - want / 4) < 1e-3 * want / 4);
        floe_verify_serving_free(&vw);
        floe_verify_serving_free(&vc);
        floe_verify_run_result_free(&r[0]);
        floe_verify_run_result_free(&r[1]);
    }
}

/* `caches`: the run compiles the memory plan of that many users' caches (here a larger mapping than
 * one user's), and checks `users` of them. */
static void test_caches_set_the_mapping(void **state)
{
    (void)state;
    floe_machine mach;
    floe_energy_table e;
    load_config("small", &mach, &e);
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    floe_qconfig q = floe_qconfig_default();
    floe_plan_summary one, many;
    floe_compile_opts co = {.tokens = 4, .kv_tokens = 16, .users = 1};
    assert_int_equal(floe_compile_plan(&c, &q, &mach, &co, &one, &err), 0);
    co.users = 50;
    assert_int_equal(floe_compile_plan(&c, &q, &mach, &co, &many, &err), 0);
    assert_true(many.cores > one.cores); /* more caches: the layers spread over more cores */
    floe_verify_opts vo = {.tokens = 4, .decode = 2, .kv_tokens = 16, .users = 2, .caches = 50};
    floe_verify_run_result res;
    run_model(&c, &mach, &e, &vo, &res);
    assert_int_equal(res.users, 2);
    assert_int_equal(res.cores, many.cores);
    assert_int_equal(res.chips, many.chips);
    assert_int_equal(res.decode.stages, c.n_layers + 1 + many.chips - 1);
    floe_verify_run_result_free(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_stage_times),
                                       cmocka_unit_test(test_serving_pipeline_whole_and_composed),
                                       cmocka_unit_test(test_caches_set_the_mapping)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
