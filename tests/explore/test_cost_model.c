/* The analytical cost tier (explore/cost_model.h) against the simulator tier (floe_deploy_check, random
 * weights): decode latency and energy per token within TOL on a few small points (one core per layer,
 * split layers with attention cores, two chips, per-token scaling), tokens/s within TOL_SERVED; with
 * many users and prompts longer than the programs' rows (prefilled in chunks), tokens/s within
 * TOL_MANY; and the same refusals as the plan's (a model that does not fit, more users than fit). */
#include "tests/integration/machine_util.h"

#include <math.h>
#include <string.h>

#include "explore/cost_model.h"
#include "verify/deploy_check.h"

#define TOL 0.04        /* decode latency and energy per token: 2.3% at worst measured (docs/explore.md) */
#define TOL_SERVED 0.04 /* tokens/s served: 1.9% at worst measured */
#define TOL_MANY 0.10   /* tokens/s with many users: 1.7% at worst measured (docs/explore.md) */

typedef struct pt {
    const char *model, *machine;
    int wbits, kv, users; /* users -1: every cache that fits */
    uint64_t cwb;
    int per_token;
    int tokens, prompt, steps; /* 0: half the cache, at most 16; the tokens; 32 or what the cache holds */
} pt;

static void check_point(const pt *p, double tol_served)
{
    floe_machine m;
    floe_energy_table e;
    floe_model_config cf;
    floe_err err;
    if (strcmp(p->machine, "small-six") == 0) /* chips of 3 x 2 cores, 4 cards a server, 2 servers */
        load_small_six(&m, &e);
    else
        load_config(p->machine, &m, &e);
    assert_int_equal(floe_model_config_builtin(p->model, &cf, &err), 0);
    floe_qconfig q = floe_qconfig_default();
    q.wbits = p->wbits;
    if (p->per_token) {
        q.act_scaling = FLOE_ACT_PER_TOKEN;
        q.act_kmax = 4;
    }
    int T = p->tokens ? p->tokens : p->kv / 2 < 16 ? p->kv / 2 : 16;
    floe_cost_opts co = {.kv_tokens = p->kv,
                         .users = p->users,
                         .core_weight_bytes = p->cwb,
                         .tokens = T,
                         .prompt = p->prompt,
                         .decode_steps = p->steps};
    floe_cost_result cr;
    if (floe_cost_estimate(&cf, &q, &m, &e, &co, &cr, &err) != 0)
        fail_msg("%s", err.msg);
    floe_deploy_check_opts o = floe_deploy_check_defaults();
    o.tokens = T;
    o.kv_tokens = p->kv;
    o.users = p->users;
    o.core_weight_bytes = p->cwb;
    o.prompt = p->prompt;
    o.decode_steps = p->steps;
    floe_deploy_report rep;
    if (floe_deploy_check(&cf, &q, &m, &e, &o, &rep, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(cr.fits, 1);
    assert_int_equal(cr.chips, rep.users_plan.chips);
    assert_int_equal(cr.users, rep.users);
    assert_int_equal(cr.max_users, rep.max_users);
    assert_int_equal(cr.stages, rep.stages);
    double el = cr.decode_s / rep.decode_s - 1, ee = cr.energy_j_per_token / rep.decode_j - 1,
           et = cr.tokens_per_s / rep.serving.tokens_per_s - 1;
    print_message("%s on %s W%d kv %d users %d prompt %d cwb %llu: decode %+.1f%%, energy %+.1f%%, tokens/s %+.1f%%\n",
                  p->model, p->machine, p->wbits, p->kv, rep.users, rep.prompt, (unsigned long long)p->cwb, 100 * el,
                  100 * ee, 100 * et);
    if (fabs(el) > TOL || fabs(ee) > TOL || fabs(et) > tol_served)
        fail_msg("%s on %s: decode %+.1f%%, energy %+.1f%%, tokens/s %+.1f%% past the tolerance", p->model, p->machine,
                 100 * el, 100 * ee, 100 * et);
}

static void test_against_simulator(void **state)
{
    (void)state;
    static const pt pts[] = {
        {"tiny", "small", 4, 16, 1, 0, 0, 0, 0, 0},        /* a core per layer */
        {"tiny", "small", 4, 16, 2, 26000, 0, 0, 0, 0},    /* split layers over two chips */
        {"tiny", "small", 2, 32, 1, 26000, 0, 0, 0, 0},    /* W2 */
        {"S", "northpole", 4, 128, 4, 16384, 0, 0, 0, 0},  /* weight cores, attention cores, partial-sum chains */
        {"S", "northpole", 4, 100, 1, 0, 0, 0, 0, 0},      /* a position inside a V block */
        {"tiny", "small", 4, 16, 2, 26000, 1, 0, 0, 0},    /* per-token scaling: int32 rows to the main core */
        {"tiny", "small-six", 4, 16, 2, 5000, 0, 0, 0, 0}, /* layers in halves on chips of their own, Ethernet */
    };
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++)
        check_point(&pts[i], TOL_SERVED);
}

/* Many users, each prompt longer than the programs' rows: the check prefills it as several programs,
 * which the serving model pipelines as chunks (tokens/s was 15 to 40% low when the analytical tier
 * priced a prompt as one program, one job: docs/explore.md, "Many users"). */
static void test_many_users(void **state)
{
    (void)state;
    static const pt pts[] = {
        {"S", "northpole", 4, 128, 16, 0, 0, 16, 32, 32}, /* 16 users, a prompt in 2 chunks */
        {"S", "northpole", 4, 128, -1, 0, 0, 16, 32, 32}, /* every cache (2,034 users), 8 stages */
        {"tiny", "small", 4, 32, -1, 0, 0, 8, 24, 8},     /* every cache (29 users) on two chips, 3 chunks */
        {"tiny", "small", 4, 64, -1, 0, 0, 16, 40, 16},   /* 14 users, chunks of 16, 16 and 8 rows */
    };
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++)
        check_point(&pts[i], TOL_MANY);
}

/* A model that does not fit gets the plan's own statement, not an error; more users than fit are an
 * error naming both counts, as the deployment check's. */
static void test_refusals_agree(void **state)
{
    (void)state;
    floe_machine m;
    floe_energy_table e;
    floe_model_config cf;
    floe_err err, perr;
    load_config("small", &m, &e);
    assert_int_equal(floe_model_config_builtin("S", &cf, &err), 0);
    floe_qconfig q = floe_qconfig_default();
    floe_cost_opts co = {.kv_tokens = 128, .users = 1, .tokens = 64};
    floe_cost_result cr;
    assert_int_equal(floe_cost_estimate(&cf, &q, &m, &e, &co, &cr, &err), 0);
    assert_int_equal(cr.fits, 0);
    floe_compile_opts po = {.tokens = 64, .kv_tokens = 128};
    floe_plan_summary ps;
    assert_int_equal(floe_compile_plan(&cf, &q, &m, &po, &ps, &perr), -1);
    assert_string_equal(cr.unfit, perr.msg);
    floe_deploy_check_opts o = floe_deploy_check_defaults();
    o.tokens = 64;
    o.kv_tokens = 128;
    o.plan_only = 1;
    floe_deploy_report rep;
    assert_int_equal(floe_deploy_check(&cf, &q, &m, &e, &o, &rep, &err), 0);
    assert_int_equal(rep.fits, 0);
    assert_string_equal(cr.unfit, rep.unfit);
    /* more users than fit */
    assert_int_equal(floe_model_config_builtin("tiny", &cf, &err), 0);
    co = (floe_cost_opts){.kv_tokens = 16, .users = 1, .tokens = 8};
    assert_int_equal(floe_cost_estimate(&cf, &q, &m, &e, &co, &cr, &err), 0);
    co.users = cr.max_users + 1;
    assert_int_equal(floe_cost_estimate(&cf, &q, &m, &e, &co, &cr, &err), -1);
    char want[64];
    snprintf(want, sizeof want, "--users %d: the KV caches of %d user(s)", co.users, co.users - 1);
    assert_non_null(strstr(err.msg, want));
    /* lengths past the context */
    co = (floe_cost_opts){.kv_tokens = cf.context + 1, .users = 1};
    assert_int_equal(floe_cost_estimate(&cf, &q, &m, &e, &co, &cr, &err), -1);
    assert_non_null(strstr(err.msg, "context"));
}

/* Without an energy table the energy figures are 0 and the timing is the same. */
static void test_no_energy(void **state)
{
    (void)state;
    floe_machine m;
    floe_energy_table e;
    floe_model_config cf;
    floe_err err;
    load_config("small", &m, &e);
    assert_int_equal(floe_model_config_builtin("tiny", &cf, &err), 0);
    floe_qconfig q = floe_qconfig_default();
    floe_cost_opts co = {.kv_tokens = 16, .users = 1, .tokens = 8};
    floe_cost_result a, b;
    assert_int_equal(floe_cost_estimate(&cf, &q, &m, &e, &co, &a, &err), 0);
    assert_int_equal(floe_cost_estimate(&cf, &q, &m, NULL, &co, &b, &err), 0);
    assert_true(a.energy_j_per_token > 0 && a.static_w > 0);
    assert_true(b.energy_j_per_token == 0.0);
    assert_true(a.decode_s == b.decode_s && a.tokens_per_s == b.tokens_per_s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_simulator),
        cmocka_unit_test(test_many_users),
        cmocka_unit_test(test_refusals_agree),
        cmocka_unit_test(test_no_energy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
