/* The multiple-choice knapsack solver (design/mck.h) against brute force on random instances; budgets
 * that no choice meets refused with the smallest achievable cost named; Spearman's correlation. */
#include "tests/test_util.h"

#include <math.h>
#include <string.h>

#include <stdlib.h>

#include "common/rng.h"
#include "compiler/compile.h"
#include "design/layer_cost.h"
#include "design/mck.h"
#include "design/spearman.h"

static double uni(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* the optimum by enumerating every choice; INFINITY when none is feasible */
static double brute(const floe_mck *p)
{
    int c[16] = {0};
    double best = INFINITY;
    for (;;) {
        double v = 0, cost[FLOE_MCK_MAX_RES];
        for (int r = 0; r < p->R; r++)
            cost[r] = p->fixed[r];
        for (int i = 0; i < p->n; i++) {
            v += p->v[i * p->k + c[i]];
            for (int r = 0; r < p->R; r++)
                cost[r] += p->c[(i * p->k + c[i]) * p->R + r];
        }
        int ok = 1;
        for (int r = 0; r < p->R; r++)
            ok &= isinf(p->budget[r]) || cost[r] <= p->budget[r] + 1e-12 * fabs(p->budget[r]);
        if (ok && v < best)
            best = v;
        int i = 0;
        while (i < p->n && ++c[i] == p->k)
            c[i++] = 0;
        if (i == p->n)
            return best;
    }
}

static void test_against_brute_force(void **state)
{
    (void)state;
    uint64_t s = 12345;
    double v[64], c[64 * FLOE_MCK_MAX_RES];
    int choice[16], solved = 0, refused = 0;
    for (int t = 0; t < 400; t++) {
        floe_mck p = {0};
        p.n = 1 + (int)(uni(&s) * 6), p.k = 1 + (int)(uni(&s) * 3), p.R = 1 + (int)(uni(&s) * 3);
        p.v = v, p.c = c;
        /* integer-valued costs make ties (and the dominance rules) common */
        int integral = t % 2;
        for (int i = 0; i < p.n * p.k; i++) {
            v[i] = uni(&s) * 2 - 0.5;
            for (int r = 0; r < p.R; r++)
                c[i * p.R + r] = integral ? floor(uni(&s) * 4) : uni(&s) * 10;
        }
        double lo[FLOE_MCK_MAX_RES], hi[FLOE_MCK_MAX_RES];
        for (int r = 0; r < p.R; r++) {
            p.fixed[r] = uni(&s) * 3;
            p.budget[r] = INFINITY;
            lo[r] = floe_mck_min_cost(&p, r);
            hi[r] = lo[r] + 10 * p.n;
            p.budget[r] = (t % 5 == 0 && r == 0) ? INFINITY : lo[r] + (hi[r] - lo[r]) * uni(&s) * 0.4 - 1;
        }
        double want = brute(&p);
        floe_mck_result res;
        floe_err err;
        int rc = floe_mck_solve(&p, choice, &res, &err);
        if (isinf(want)) {
            assert_int_equal(rc, -1);
            refused++;
            continue;
        }
        assert_int_equal(rc, 0);
        solved++;
        assert_true(fabs(res.value - want) < 1e-9);
        /* the choice is what it claims */
        double vv = 0, cc[FLOE_MCK_MAX_RES];
        for (int r = 0; r < p.R; r++)
            cc[r] = p.fixed[r];
        for (int i = 0; i < p.n; i++) {
            assert_true(choice[i] >= 0 && choice[i] < p.k);
            vv += v[i * p.k + choice[i]];
            for (int r = 0; r < p.R; r++)
                cc[r] += c[(i * p.k + choice[i]) * p.R + r];
        }
        assert_true(fabs(vv - res.value) < 1e-9);
        for (int r = 0; r < p.R; r++) {
            assert_true(fabs(cc[r] - res.cost[r]) < 1e-9);
            assert_true(isinf(p.budget[r]) || cc[r] <= p.budget[r] + 1e-9);
        }
    }
    /* both outcomes were exercised */
    assert_true(solved > 100);
    assert_true(refused > 20);
}

/* One and two resources are pruned by sorted sweeps, three pairwise: the same instance with its
 * missing resources at zero cost and no budget goes through the pairwise rule, and must give the same
 * choice, value and state counts (ties included: integer costs and values). */
static void test_sweeps_match_pairwise(void **state)
{
    (void)state;
    uint64_t s = 777;
    enum { N = 10, K = 12 };
    static double v[N * K], c[N * K * 2], c3[N * K * 3];
    int a[N], b[N], checked = 0;
    for (int t = 0; t < 300; t++) {
        floe_mck p = {0};
        p.n = 1 + (int)(uni(&s) * N), p.k = 1 + (int)(uni(&s) * K), p.R = 1 + t % 2;
        p.v = v, p.c = c;
        for (int i = 0; i < p.n * p.k; i++) {
            v[i] = t % 3 ? floor(uni(&s) * 5) : uni(&s);
            for (int r = 0; r < 3; r++) {
                double x = t % 3 ? floor(uni(&s) * 6) : uni(&s) * 6;
                if (r < p.R)
                    c[i * p.R + r] = x;
                c3[i * 3 + r] = r < p.R ? x : 0;
            }
        }
        for (int r = 0; r < FLOE_MCK_MAX_RES; r++)
            p.budget[r] = INFINITY;
        p.budget[0] = floe_mck_min_cost(&p, 0) + uni(&s) * 3 * p.n;
        floe_mck q = p;
        q.R = 3, q.c = c3;
        for (int r = p.R; r < 3; r++)
            q.budget[r] = INFINITY;
        floe_mck_result ra, rb;
        floe_err err;
        int sa = floe_mck_solve(&p, a, &ra, &err), sb = floe_mck_solve(&q, b, &rb, &err);
        assert_int_equal(sa, sb);
        if (sa != 0)
            continue;
        assert_memory_equal(a, b, sizeof(int) * (size_t)p.n);
        assert_true(ra.value == rb.value);
        assert_int_equal(ra.states, rb.states);
        checked++;
    }
    assert_true(checked > 200);
}

static void test_impossible_budget_named(void **state)
{
    (void)state;
    /* two layers: widths cost 1, 2, 4 us; fixed 3 us; so at least 5 us */
    double v[6] = {3, 1, 0, 2, 1, 0}, c[6] = {1, 2, 4, 1, 2, 4};
    floe_mck p = {.n = 2, .k = 3, .R = 1, .v = v, .c = c, .fixed = {3}, .budget = {4.5}, .names = {"latency_us"}};
    int choice[2];
    floe_mck_result res;
    floe_err err;
    assert_int_equal(floe_mck_solve(&p, choice, &res, &err), -1);
    assert_non_null(strstr(err.msg, "budget latency_us <= 4.5 is impossible: the smallest achievable is 5"));
    p.budget[0] = 5;
    assert_int_equal(floe_mck_solve(&p, choice, &res, &err), 0);
    assert_int_equal(choice[0], 0);
    assert_int_equal(choice[1], 0);
    assert_true(res.value == 5);
    p.budget[0] = 6; /* one layer can move up one width: the more sensitive one (layer 0: 3 -> 1) */
    assert_int_equal(floe_mck_solve(&p, choice, &res, &err), 0);
    assert_int_equal(choice[0], 1);
    assert_int_equal(choice[1], 0);
    /* contradictory: memory wants the narrow widths, latency here the wide ones */
    double c2[12] = {4, 1, 2, 2, 1, 4, 4, 1, 2, 2, 1, 4};
    floe_mck q = {.n = 2, .k = 3, .R = 2, .v = v, .c = c2, .budget = {3, 3}, .names = {"latency_us", "memory_bytes"}};
    assert_int_equal(floe_mck_solve(&q, choice, &res, &err), -1);
    assert_non_null(strstr(err.msg, "the budgets contradict each other"));
    assert_non_null(strstr(err.msg, "latency_us 2 memory_bytes 2"));
    /* a cost that is not a number is refused, naming it */
    c[3] = NAN;
    p.budget[0] = 100;
    assert_int_equal(floe_mck_solve(&p, choice, &res, &err), -1);
    assert_non_null(strstr(err.msg, "group 1 choice 0 has latency_us"));
}

/* Next fit written out independently of the solver: the chips of a choice (0: a part that cannot
   be placed). */
static int brute_chips(const floe_mck *p, const int *c)
{
    const floe_mck_place *pl = p->place;
    int chip = 0, used = 0;
    for (int i = 0; i <= p->n; i++) {
        const int *parts = i < p->n ? pl->cores + (i * p->k + c[i]) * FLOE_MCK_MAX_PARTS : pl->tail;
        const int np = i < p->n ? FLOE_MCK_MAX_PARTS : pl->n_tail;
        if (i < p->n && parts[0] < 0)
            return 0;
        for (int q = 0; q < np; q++) {
            if (parts[q] <= 0)
                continue;
            if (used + parts[q] > pl->per_chip)
                chip++, used = 0;
            used += parts[q];
        }
    }
    return chip + 1;
}

/* The optimum with chips by enumerating every choice; INFINITY when none is feasible. */
static double brute_chips_opt(const floe_mck *p, int *fewest)
{
    int c[16] = {0};
    double best = INFINITY;
    *fewest = 0;
    for (;;) {
        double v = 0, cost[FLOE_MCK_MAX_RES];
        for (int r = 0; r < p->R; r++)
            cost[r] = p->fixed[r];
        for (int i = 0; i < p->n; i++) {
            v += p->v[i * p->k + c[i]];
            for (int r = 0; r < p->R; r++)
                cost[r] += p->c[(i * p->k + c[i]) * p->R + r];
        }
        const int chips = brute_chips(p, c);
        if (chips > 0 && (*fewest == 0 || chips < *fewest))
            *fewest = chips;
        int ok = chips > 0 && (p->place->max_chips <= 0 || chips <= p->place->max_chips);
        for (int r = 0; r < p->R; r++)
            ok &= isinf(p->budget[r]) || cost[r] <= p->budget[r] + 1e-12 * fabs(p->budget[r]);
        if (ok && v < best)
            best = v;
        int i = 0;
        while (i < p->n && ++c[i] == p->k)
            c[i++] = 0;
        if (i == p->n)
            return best;
    }
}

/* Chips inside the solver: random instances (parts of random cores, one or two per choice, some that
   cannot be placed, a tail, a random chip size and chips budget, with and without additive budgets)
   against brute force over every choice; the fewest chips named when the budget is below them. */
static void test_chips_against_brute_force(void **state)
{
    (void)state;
    uint64_t s = 4242;
    double v[64], c[64 * FLOE_MCK_MAX_RES];
    int cores[64 * FLOE_MCK_MAX_PARTS], tail[3], choice[16], solved = 0, refused = 0, bound = 0;
    for (int t = 0; t < 1500; t++) {
        floe_mck_place pl = {.per_chip = 1 + (int)(uni(&s) * 8), .cores = cores, .tail = tail};
        floe_mck p = {0};
        p.n = 1 + (int)(uni(&s) * 6), p.k = 1 + (int)(uni(&s) * 3), p.R = 1 + (int)(uni(&s) * 3);
        p.v = v, p.c = c, p.place = &pl;
        for (int i = 0; i < p.n * p.k; i++) {
            v[i] = t % 2 ? floor(uni(&s) * 4) : uni(&s) * 2 - 0.5;
            for (int r = 0; r < p.R; r++)
                c[i * p.R + r] = floor(uni(&s) * 4);
            const int two = uni(&s) < 0.3;
            for (int q = 0; q < FLOE_MCK_MAX_PARTS; q++)
                cores[i * FLOE_MCK_MAX_PARTS + q] = q == 0 || two ? 1 + (int)(uni(&s) * pl.per_chip) : 0;
            if (uni(&s) < 0.08)
                cores[i * FLOE_MCK_MAX_PARTS] = -1;
        }
        pl.n_tail = (int)(uni(&s) * 3);
        for (int q = 0; q < pl.n_tail; q++)
            tail[q] = 1 + (int)(uni(&s) * pl.per_chip);
        for (int r = 0; r < FLOE_MCK_MAX_RES; r++)
            p.budget[r] = INFINITY;
        const int least = floe_mck_min_chips(&p);
        pl.max_chips = least + (int)(uni(&s) * 4) - 1; /* sometimes one below the fewest */
        if (t % 3 == 0)
            p.budget[0] = floe_mck_min_cost(&p, 0) + floor(uni(&s) * 2 * p.n);
        int fewest;
        const double want = brute_chips_opt(&p, &fewest);
        assert_int_equal(least, fewest);
        floe_mck_result res;
        floe_err err;
        const int rc = floe_mck_solve(&p, choice, &res, &err);
        if (isinf(want)) {
            assert_int_equal(rc, -1);
            refused++;
            if (fewest > 0 && pl.max_chips > 0 && pl.max_chips < fewest) {
                char msg[128];
                snprintf(msg, sizeof msg, "budget chips <= %d is impossible: the smallest achievable is %d",
                         pl.max_chips, fewest);
                assert_non_null(strstr(err.msg, msg));
            }
            continue;
        }
        if (rc != 0)
            fail_msg("instance %d: %s", t, err.msg);
        solved++;
        assert_true(fabs(res.value - want) < 1e-9);
        const int chips = brute_chips(&p, choice);
        assert_int_equal(res.chips, chips);
        assert_int_equal(floe_mck_chips_of(&pl, p.n, p.k, choice), chips);
        assert_true(chips > 0 && (pl.max_chips <= 0 || chips <= pl.max_chips));
        /* the chips budget binds: without it the optimum is better (or reaches more chips) */
        pl.max_chips = 0;
        floe_mck_result free_res;
        int free_choice[16];
        assert_int_equal(floe_mck_solve(&p, free_choice, &free_res, &err), 0);
        bound += free_res.value < res.value;
    }
    assert_true(solved > 500);
    assert_true(refused > 100);
    assert_true(bound > 50);
}

/* Chips inside the solver against the compiler itself: tiny and S on shrunk machines (cores per chip
   and memory per core cut until layers take weight cores, halves and more chips; on some W2 takes
   more cores than W4, where fewer weight bytes do not mean fewer chips), random values per
   layer and width, every chips budget from 1 to the most any choice needs (and a memory budget on
   some): the solver's optimum equals brute force over all 3^n per-layer choices, each planned by
   floe_compile_plan, and its chips are the plan's. */
static void test_chips_match_the_plan(void **state)
{
    (void)state;
    const char *src = getenv("FLOE_SOURCE_DIR");
    static const struct {
        const char *model, *machine;
        unsigned cx, cy;
        uint64_t mem;
    } cases[] = {
        {"tiny", "small.csv", 2, 2, 32768},   {"tiny", "small.csv", 2, 2, 24576},
        {"tiny", "small.csv", 3, 2, 20000},   {"tiny", "small.csv", 2, 2, 65536},
        {"S", "northpole.csv", 4, 4, 98304},  {"S", "northpole.csv", 3, 3, 131072},
        {"S", "northpole.csv", 8, 4, 65536},  {"S", "northpole.csv", 5, 5, 196608},
        {"S", "northpole.csv", 4, 4, 65536},  {"S", "northpole.csv", 3, 3, 98304},
        {"S", "northpole.csv", 4, 3, 65536},  {"S", "northpole.csv", 4, 4, 49152},
        {"S", "northpole.csv", 2, 4, 131072},
    };
    const int widths[3] = {2, 4, 8};
    uint64_t s = 99;
    int checked = 0, binding = 0, halves = 0, narrower_more = 0;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        floe_model_config cfg;
        floe_machine mach;
        floe_err err;
        char path[4096];
        snprintf(path, sizeof path, "%s/configs/%s", src, cases[t].machine);
        assert_int_equal(floe_model_config_builtin(cases[t].model, &cfg, &err), 0);
        if (floe_machine_load(path, &mach, &err) != 0)
            fail_msg("%s", err.msg);
        mach.cores_x = cases[t].cx, mach.cores_y = cases[t].cy, mach.core_mem_bytes = cases[t].mem;
        mach.servers_per_system = 64; /* room for every plan: the chips budget is what binds */
        floe_qconfig q = floe_qconfig_default();
        floe_layer_cost lc;
        if (floe_layer_cost_price(&cfg, &q, 8, widths, 3, &mach, NULL, &lc, &err) != 0)
            fail_msg("%s %s %ux%u %llu: %s", cases[t].model, cases[t].machine, cases[t].cx, cases[t].cy,
                     (unsigned long long)cases[t].mem, err.msg);
        const int n = cfg.n_layers, k = 3;
        double v[3 * 8], c[3 * 8];
        int cores[3 * 8 * FLOE_MCK_MAX_PARTS], choice[8];
        for (int i = 0; i < n; i++)
            for (int w = 0; w < k; w++) {
                v[i * k + w] = w == 2 ? 0 : uni(&s) * (3 - w);
                c[i * k + w] = lc.layer[w][FLOE_DESIGN_MEMORY];
                memcpy(cores + (i * k + w) * FLOE_MCK_MAX_PARTS, lc.cores[w], sizeof lc.cores[w]);
            }
        halves += lc.cores[2][1] > 0;                     /* W8 in an attention and an MLP half */
        narrower_more += lc.cores[0][0] > lc.cores[1][0]; /* W2 on more cores than W4 */
        /* every choice planned by the compiler */
        int total = 1, most = 0;
        for (int i = 0; i < n; i++)
            total *= k;
        int *plan = malloc(sizeof(int) * (size_t)total);
        assert_non_null(plan);
        const floe_compile_opts co = floe_design_plan_opts(&cfg);
        for (int x = 0; x < total; x++) {
            floe_qconfig u = q;
            floe_qconfig_clear_wbits(&u);
            for (int i = 0, y = x; i < n; i++, y /= k)
                u.layer_wbits[i] = (signed char)widths[y % k];
            floe_plan_summary sum;
            floe_err pe;
            plan[x] = floe_compile_plan(&cfg, &u, &mach, &co, &sum, &pe) == 0 ? sum.chips : 0;
            most = plan[x] > most ? plan[x] : most;
        }
        assert_true(most > 0);
        for (int budget = 1; budget <= most; budget++)
            for (int mem = 0; mem < 2; mem++) {
                floe_mck_place pl = {lc.per_chip, cores, lc.head_cores, lc.n_head, budget};
                floe_mck p = {.n = n, .k = k, .R = 1, .v = v, .c = c, .place = &pl};
                p.fixed[0] = lc.fixed[FLOE_DESIGN_MEMORY];
                p.budget[0] = mem ? floe_mck_min_cost(&p, 0) + uni(&s) * n * lc.layer[2][FLOE_DESIGN_MEMORY] : INFINITY;
                double want = INFINITY, unconstrained = INFINITY;
                for (int x = 0; x < total; x++) {
                    double val = 0, bytes = p.fixed[0];
                    for (int i = 0, y = x; i < n; i++, y /= k)
                        val += v[i * k + y % k], bytes += c[i * k + y % k];
                    if (bytes > p.budget[0] + 1e-12 * fabs(p.budget[0]))
                        continue;
                    unconstrained = fmin(unconstrained, val);
                    if (plan[x] > 0 && plan[x] <= budget)
                        want = fmin(want, val);
                }
                floe_mck_result res;
                const int rc = floe_mck_solve(&p, choice, &res, &err);
                if (isinf(want)) {
                    assert_int_equal(rc, -1);
                    continue;
                }
                if (rc != 0)
                    fail_msg("%s, %d chips: %s", cases[t].model, budget, err.msg);
                assert_true(fabs(res.value - want) < 1e-12);
                int x = 0;
                for (int i = n - 1; i >= 0; i--)
                    x = x * k + choice[i];
                assert_int_equal(res.chips, plan[x]); /* the solver's chips are the plan's */
                checked++;
                binding += want > unconstrained;
            }
        free(plan);
    }
    assert_true(checked > 20);
    assert_true(binding > 20);
    assert_true(halves > 0 && narrower_more > 0);
}

static void test_spearman(void **state)
{
    (void)state;
    double x[5] = {1, 2, 3, 4, 5}, y[5] = {10, 20, 30, 40, 1000}, z[5] = {5, 4, 3, 2, 1}, t[5] = {1, 1, 2, 2, 3};
    assert_true(fabs(floe_spearman(x, y, 5) - 1) < 1e-12);
    assert_true(fabs(floe_spearman(x, z, 5) + 1) < 1e-12);
    assert_true(floe_spearman(x, t, 5) > 0.9 && floe_spearman(x, t, 5) < 1);
    double k[3] = {2, 2, 2};
    assert_true(floe_spearman(x, k, 3) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_brute_force),     cmocka_unit_test(test_sweeps_match_pairwise),
        cmocka_unit_test(test_impossible_budget_named), cmocka_unit_test(test_chips_against_brute_force),
        cmocka_unit_test(test_chips_match_the_plan),    cmocka_unit_test(test_spearman),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
