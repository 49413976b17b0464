/* The deployment check as a library (verify/deploy_check.h): the stages a report reaches, the fit
 * and its bisections, the whole model against the figures composed from 1- and 2-layer runs, serving,
 * and the energy CSV. */
#include "tests/integration/machine_util.h"

#include <stdio.h>
#include <string.h>

#include "verify/deploy_check.h"

static void tiny(floe_model_config *c, floe_qconfig *q)
{
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", c, &err), 0);
    *q = floe_qconfig_default();
}

static floe_deploy_check_opts small_opts(void)
{
    floe_deploy_check_opts o = {
        .tokens = 8, .decode = 2, .kv_tokens = 16, .decode_steps = 4, .full_chips = 128, .seed = 1};
    return o;
}

static void test_plan_only_and_limits(void **state)
{
    (void)state;
    floe_model_config c;
    floe_qconfig q;
    tiny(&c, &q);
    floe_machine m;
    floe_energy_table e;
    load_config("small", &m, &e);
    floe_deploy_check_opts o = small_opts();
    o.plan_only = 1;
    floe_deploy_report r;
    floe_err err;
    assert_int_equal(floe_deploy_check(&c, &q, &m, &e, &o, &r, &err), 0);
    assert_int_equal(r.stage, FLOE_DEPLOY_PLANNED);
    assert_int_equal(r.fits, 1);
    assert_int_equal(r.kv_tokens, 16);
    assert_true(r.max_context >= 16 && r.max_context <= c.context);
    assert_true(r.max_users >= 1);
    /* one position past the longest context does not fit, and says why */
    if (r.max_context < c.context)
        assert_true(strlen(r.context_limit) > 0);
    /* more users than fit: an error, with the plan still reported */
    o.users = r.max_users + 1;
    o.plan_only = 0;
    int max_users = r.max_users;
    assert_int_equal(floe_deploy_check(&c, &q, &m, &e, &o, &r, &err), -1);
    assert_int_equal(r.stage, FLOE_DEPLOY_PLANNED);
    char want[64];
    snprintf(want, sizeof want, "--users %d: the KV caches of %d user(s)", max_users + 1, max_users);
    assert_non_null(strstr(err.msg, want));
    /* lengths that do not fit the cache: refused before anything is planned */
    o = small_opts();
    o.tokens = 15;
    o.prompt = 8;
    assert_int_equal(floe_deploy_check(&c, &q, &m, &e, &o, &r, &err), -1);
    assert_int_equal(r.stage, FLOE_DEPLOY_NONE);
    assert_non_null(strstr(err.msg, "--tokens 15 and --decode 2 need 17 positions"));
}

static void test_unfit(void **state)
{
    (void)state;
    floe_model_config c;
    floe_qconfig q;
    tiny(&c, &q);
    floe_machine m;
    floe_energy_table e;
    load_config("small", &m, &e);
    m.core_mem_bytes = 4096; /* far too small for a layer */
    m.cores_x = m.cores_y = 1;
    m.cards_per_server = m.servers_per_system = m.chips_per_card = 1;
    floe_deploy_check_opts o = small_opts();
    floe_deploy_report r;
    floe_err err;
    assert_int_equal(floe_deploy_check(&c, &q, &m, &e, &o, &r, &err), 0);
    assert_int_equal(r.stage, FLOE_DEPLOY_PLANNED);
    assert_int_equal(r.fits, 0);
    assert_true(strlen(r.unfit) > 0);
}

/* The whole model, and the same figures composed from its 1- and 2-layer runs (tiny has 2 layers, so
 * a composed check of 2 layers is the 2-layer run itself: equal to the whole one). */
static void test_whole_and_served(void **state)
{
    (void)state;
    floe_model_config c;
    floe_qconfig q;
    tiny(&c, &q);
    floe_machine m;
    floe_energy_table e;
    load_config("small", &m, &e);
    floe_deploy_check_opts o = small_opts();
    floe_deploy_report r;
    floe_err err;
    assert_int_equal(floe_deploy_check(&c, &q, &m, &e, &o, &r, &err), 0);
    assert_int_equal(r.stage, FLOE_DEPLOY_SERVED);
    assert_int_equal(r.composed, 0);
    assert_true(r.compared > 0);
    assert_int_equal(r.users, r.max_users < c.n_layers + 1 ? r.max_users : c.n_layers + 1);
    assert_int_equal(r.priced_pos, 15); /* the cache's last position, deeper than the check's 9 */
    assert_int_equal(r.priced_past, 1);
    assert_true(r.decode_s > 0 && r.prefill_s > r.decode_s);
    assert_true(r.serving.tokens == (uint64_t)(r.users * r.decode_steps));
    assert_true(r.serving.tokens_per_s > 0 && r.stages >= r.layer_groups + r.head_stages);
    assert_int_equal(r.priced_energy, 1);
    assert_int_equal(r.n_token, 2);
    assert_int_equal(r.token[0].pos, 9);
    assert_int_equal(r.token[1].pos, 15);

    char path[] = "/tmp/floe-deploy-energy-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(floe_deploy_energy_csv(&r, &m, path, &err), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "position,action,unit,count,pj_each,energy_j\n");
    int statics = 0;
    while (fgets(line, sizeof line, f))
        statics += strstr(line, ",static,chip-s,") != NULL;
    fclose(f);
    remove(path);
    assert_int_equal(statics, 2);

    /* no energy table: no energy figures, and no CSV */
    assert_int_equal(floe_deploy_check(&c, &q, &m, NULL, &o, &r, &err), 0);
    assert_int_equal(r.priced_energy, 0);
    assert_int_equal(floe_deploy_energy_csv(&r, &m, path, &err), -1);
    assert_non_null(strstr(err.msg, "without an energy table"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_only_and_limits),
        cmocka_unit_test(test_unfit),
        cmocka_unit_test(test_whole_and_served),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
