/* Sweep files (explore/sweep.h): settings and axes, lists, ranges and tied keys, the point order,
 * and every refusal naming the line, the key and the value; the Pareto front against brute force. */
#include "tests/test_util.h"

#include <math.h>
#include <string.h>

#include "common/rng.h"
#include "explore/pareto.h"
#include "explore/point.h"
#include "explore/sweep.h"

static char machine_line[4300];

static int parse(const char *body, floe_sweep *s, floe_err *err)
{
    char text[8192];
    snprintf(text, sizeof text, "%s%s", machine_line, body);
    return floe_sweep_parse("t.sweep", text, strlen(text), s, err);
}

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("FLOE_SOURCE_DIR");
    snprintf(machine_line, sizeof machine_line, "machine = %s/configs/small.csv\n", src ? src : ".");
    return 0;
}

static void test_axes_and_points(void **state)
{
    (void)state;
    floe_sweep s;
    floe_err err;
    assert_int_equal(parse("model = tiny\n"
                           "precision = W4A8KV8, W2A8KV8H4   # two widths\n"
                           "core_mem_bytes = 65536 .. 262144 *2\n"
                           "cores_x:cores_y = 2:2, 4:4\n"
                           "users = max\n"
                           "constraint chips <= 4\n",
                           &s, &err),
                     0);
    assert_int_equal(s.n_axes, 5);
    assert_int_equal(s.n_points, 2 * 3 * 2);
    int mem = floe_sweep_find_axis(&s, "core_mem_bytes"), tied = floe_sweep_find_axis(&s, "cores_y");
    assert_int_equal(s.axes[mem].n_values, 3);
    assert_string_equal(s.axes[mem].values[2], "262144");
    assert_int_equal(tied, floe_sweep_find_axis(&s, "cores_x"));
    /* the last axis varies fastest */
    assert_int_equal(floe_sweep_value_index(&s, 1, tied), 1);
    assert_int_equal(floe_sweep_value_index(&s, 1, mem), 0);
    assert_int_equal(floe_sweep_value_index(&s, 2, mem), 1);
    floe_explore_point p, q;
    assert_int_equal(floe_explore_point_make(&s, 11, &p, &err), 0);
    assert_int_equal(p.q.wbits, 2);
    assert_int_equal(p.q.head_bits, 4);
    assert_int_equal(p.machine.core_mem_bytes, 262144);
    assert_int_equal(p.machine.cores_x, 4);
    assert_int_equal(p.machine.cores_y, 4);
    assert_int_equal(p.users, -1);
    assert_int_equal(p.context, p.model.context);
    assert_int_equal(floe_explore_point_make(&s, 10, &q, &err), 0);
    assert_true(p.digest != q.digest);
    assert_int_equal(floe_explore_point_make(&s, 11, &q, &err), 0);
    assert_true(p.digest == q.digest);
    floe_sweep_free(&s);
    /* arithmetic ranges of reals, energy keys need an energy table */
    assert_int_equal(parse("model = tiny\nclock_hz = 100000000 .. 400000000 +100000000\n", &s, &err), 0);
    assert_int_equal(s.n_points, 4);
    floe_sweep_free(&s);
}

static void expect_error(const char *body, const char *needle)
{
    floe_sweep s;
    floe_err err;
    assert_int_equal(parse(body, &s, &err), -1);
    if (!strstr(err.msg, needle))
        fail_msg("expected '%s' in: %s", needle, err.msg);
}

static void test_refusals_name_line_key_value(void **state)
{
    (void)state;
    expect_error("model = tiny\ncores_x = 4, x\n", "t.sweep:3: key 'cores_x': value 'x' is not a number");
    expect_error("model = tiny\ncores_x = 0\n", "t.sweep:3: key 'cores_x': value 0 is outside");
    expect_error("model = tiny\nbogus_key = 1\n", "t.sweep:3: key 'bogus_key' is not a sweep setting");
    expect_error("model = tiny\nprecision = W3A8KV8\n", "t.sweep:3: key 'precision': precision 'W3A8KV8'");
    expect_error("model = tiny\nprecision = W4A8\n", "expected W<weight bits>");
    expect_error("model = nosuchmodel\n", "t.sweep:2: key 'model': value 'nosuchmodel'");
    expect_error("model = tiny\ncores_x = 8 .. 2 +1\n", "is empty or never ends");
    expect_error("model = tiny\ncores_x = 2 .. 8 *1\n", "FACTOR > 1");
    expect_error("model = tiny\ncores_x:cores_y = 2:2, 4\n", "gives fewer than 2 parts");
    expect_error("model = tiny\ncores_x:cores_y = 2:2:2\n", "gives more than 2 parts");
    expect_error("model = tiny\nmodel = S\n", "t.sweep:3: key 'model' is given twice");
    expect_error("model = tiny\nconstraint chips =< 4\n", "expected NAME <=|<|>=|>|== NUMBER");
    expect_error("model = tiny\nconstraint speed <= 4\n", "constraint on 'speed': not a key");
    expect_error("model = tiny\nconstraint model <= 4\n", "only numeric keys and figures");
    expect_error("model = tiny\nusers = many\n", "key 'users': value 'many'");
    expect_error("model = tiny\nmac_w4a8_pj = 1\n", "energy key, but no 'energy = FILE'");
    expect_error("model = tiny\ntier = fast\n", "key 'tier': value 'fast'");
    expect_error("model = tiny\nobjectives = latency_us, beauty\n", "key 'objectives': 'beauty'");
    expect_error("model = tiny\njust words\n", "t.sweep:3: expected 'key = value'");
    expect_error("cores_x = 4\n", "no 'model = NAME'");
    expect_error("model = tiny\ncores_x = 1 .. 256 +1\ncores_y = 1 .. 256 +1\nvector_ops_per_cycle = 1 .. 200 +1\n",
                 "points: more than");
    floe_sweep s;
    floe_err err;
    assert_int_equal(floe_sweep_parse("t.sweep", "model = tiny\n", 13, &s, &err), -1);
    assert_non_null(strstr(err.msg, "no 'machine = FILE'"));
    /* a point the machine's own checks refuse names its values */
    assert_int_equal(parse("model = tiny\ncontext = 64, 100000\n", &s, &err), 0);
    floe_explore_point p;
    assert_int_equal(floe_explore_point_make(&s, 1, &p, &err), -1);
    assert_non_null(strstr(err.msg, "point 1 (context=100000)"));
    floe_sweep_free(&s);
}

/* The front of random points equals the brute-force definition; constraints remove points. */
static void test_front_is_the_nondominated_set(void **state)
{
    (void)state;
    floe_sweep s;
    floe_err err;
    assert_int_equal(
        parse("model = tiny\nobjectives = latency_us, tokens_per_s, chips\nconstraint chips <= 6\n", &s, &err), 0);
    enum { N = 400 };
    floe_explore_result r[N];
    floe_rng g;
    floe_rng_seed(&g, 9);
    for (int i = 0; i < N; i++) {
        r[i].figures = floe_explore_figures_none();
        r[i].figures.fits = 1;
        r[i].figures.latency_us = floor(floe_rng_uniform(&g) * 20);
        r[i].figures.tokens_per_s = floor(floe_rng_uniform(&g) * 20);
        r[i].figures.chips = 1 + (int)(floe_rng_uniform(&g) * 8);
        r[i].tier = 1;
        r[i].status = (char *)(i % 17 ? "ok" : "does not fit: x");
    }
    floe_explore_select(&s, r, N);
    int fronts = 0;
    for (int i = 0; i < N; i++) {
        int within = i % 17 && r[i].figures.chips <= 6;
        assert_int_equal(r[i].within, within);
        int dominated = 0;
        for (int j = 0; j < N && within && !dominated; j++) {
            if (j == i || !(j % 17 && r[j].figures.chips <= 6))
                continue;
            const floe_explore_figures *a = &r[j].figures, *b = &r[i].figures;
            int no_worse = a->latency_us <= b->latency_us && a->tokens_per_s >= b->tokens_per_s && a->chips <= b->chips;
            int better = a->latency_us < b->latency_us || a->tokens_per_s > b->tokens_per_s || a->chips < b->chips;
            dominated = no_worse && better;
        }
        assert_int_equal(r[i].front, within && !dominated);
        fronts += r[i].front;
    }
    assert_true(fronts > 3 && fronts < N / 4);
    floe_sweep_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_axes_and_points),
        cmocka_unit_test(test_refusals_name_line_key_value),
        cmocka_unit_test(test_front_is_the_nondominated_set),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
