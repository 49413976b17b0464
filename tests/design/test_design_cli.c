/* `floe design` end to end on a tiny teacher trained here: the choice within the budget, QAT of it
 * verified on the chip, the deployment check, the CSVs and the front plot; an impossible budget and a
 * malformed one refused with the reason. */
#include "tests/test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file_read.h"
#include "models/qmodel.h"
#include "models/qmodel_io.h"

static char out[1 << 16];

/* Rows of design.csv that are a layer (or linear) at a width, and of those how many the chosen
   design has (its last column). */
static void count_rows(const char *csv, int *rows, int *chosen)
{
    *rows = *chosen = 0;
    for (const char *p = strchr(csv, '\n') + 1; *p; p = strchr(p, '\n') + 1) {
        const char *third = strchr(strchr(p, ',') + 1, ',') + 1;
        if (*third < '0' || *third > '9') /* the pair's row and its fixed part */
            continue;
        (*rows)++;
        const char *e = strchr(p, '\n');
        *chosen += e[-1] == '1';
    }
}

/* the file at path as text into buf (size n); its length */
static long slurp(const char *path, char *buf, size_t n)
{
    char *d;
    size_t len;
    floe_err err;
    if (floe_read_file(path, 1 << 26, &d, &len, &err) != 0)
        return -1;
    size_t m = len < n - 1 ? len : n - 1;
    memcpy(buf, d, m);
    buf[m] = '\0';
    free(d);
    return (long)len;
}

static void test_design_end_to_end(void **state)
{
    (void)state;
    const char *tmp = floe_test_tmpdir("design_cli");
    char dir[4096], ckpt[4300], mach[4300];
    snprintf(dir, sizeof dir, "%s", tmp);
    floe_test_tiny_teacher(ckpt, sizeof ckpt, dir);
    const char *src = getenv("FLOE_SOURCE_DIR");
    snprintf(mach, sizeof mach, "--machine %s/configs/small.csv --energy %s/configs/energy-small.csv", src, src);
    const char *floe = floe_test_exe();

    /* impossible: the error names the smallest latency there is */
    assert_int_equal(floe_test_run(out, sizeof out, "%s design --teacher %s %s --budget latency=0.001 -o %s/x", floe,
                                   ckpt, mach, dir),
                     1);
    const char *at = strstr(out, "budget latency_us <= 0.001 is impossible: the smallest achievable is ");
    assert_non_null(at);
    double smallest = atof(at + strlen("budget latency_us <= 0.001 is impossible: the smallest achievable is "));
    assert_true(smallest > 0);

    /* at exactly the smallest latency: every layer at its cheapest width, within the budget */
    assert_int_equal(
        floe_test_run(out, sizeof out,
                      "%s design --teacher %s %s --budget latency=%.9g -j 2 --qat-steps 2 --eval-windows 8 -o %s/d",
                      floe, ckpt, mach, smallest * (1 + 1e-9), dir),
        0);
    /* W2 is the cheapest width on this machine, and only all-W2 meets the smallest latency */
    assert_non_null(strstr(out, "chosen: --wbits-layer 0=2,1=2 --abits 8 --kvbits 8\n"));
    assert_null(strstr(out, "pairs (loss change")); /* one pair: nothing to compare */
    assert_non_null(strstr(out, "Spearman rank correlation, measured vs Fisher: "));
    assert_non_null(strstr(out, "chosen after 2 QAT steps"));
    assert_non_null(strstr(out, "deploy-check: "));
    const char *pred = strstr(out, "predicted: ");
    assert_non_null(pred);
    assert_true(atof(pred + strlen("predicted: ")) <= smallest * (1 + 5e-4)); /* printed to 4 digits */
    /* design.csv: a row per layer and width, one chosen per layer */
    char path[8500], csv[1 << 14];
    snprintf(path, sizeof path, "%s/d/design.csv", dir);
    assert_true(slurp(path, csv, sizeof csv) > 0);
    assert_non_null(strstr(csv, "abits,kvbits,layer,linear,wbits,measured_dloss,fisher_dloss,latency_us,energy_uj,"
                                "memory_bytes,cores,optimum,chosen\n"));
    assert_non_null(strstr(csv, "\n8,8,0,all,2,"));
    assert_non_null(strstr(csv, "\n8,8,pair,,,0,,,,,,1,1\n"));
    int rows, chosen;
    count_rows(csv, &rows, &chosen);
    assert_int_equal(rows, 2 * 3);
    assert_int_equal(chosen, 2);
    snprintf(path, sizeof path, "%s/d/front.csv", dir);
    assert_true(slurp(path, csv, sizeof csv) > 0);
    assert_non_null(strstr(
        csv,
        "abits,kvbits,budget_latency_us,pair_dloss,total_sensitivity,latency_us,energy_uj,memory_bytes,wbits_layer\n"));
    struct stat st;
    snprintf(path, sizeof path, "%s/d/front.png", dir);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/d/qat/qmodel.safetensors", dir);
    assert_int_equal(stat(path, &st), 0);

    /* a memory budget that every choice meets: the least sensitive widths, and nothing is measured
       twice (one base model and two widths per layer) */
    assert_int_equal(
        floe_test_run(out, sizeof out,
                      "%s design --teacher %s %s --budget memory=1e12 --no-deploy --eval-windows 4 -o %s/m", floe, ckpt,
                      mach, dir),
        0);
    assert_non_null(strstr(out, "chosen: --wbits-layer"));
    int measured = 0;
    for (const char *p = out; (p = strstr(p, " Fisher estimate\n")); p++)
        measured++;
    assert_int_equal(measured, 2 * 2);
    /* an energy budget without the energy table */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s design --teacher %s -m %s/configs/small.csv --budget energy=5 -o %s/y", floe,
                                   ckpt, src, dir),
                     1);
    assert_non_null(strstr(out, "an energy budget needs the machine's energy table (--energy)"));
    /* malformed budgets */
    assert_int_equal(
        floe_test_run(out, sizeof out, "%s design --teacher %s %s --budget speed=3 -o %s/y", floe, ckpt, mach, dir), 1);
    assert_non_null(strstr(out, "item 'speed=3': expected latency=US, energy=UJ, memory=BYTES or chips=N"));
    assert_int_equal(
        floe_test_run(out, sizeof out, "%s design --teacher %s %s --budget chips=1.5 -o %s/y", floe, ckpt, mach, dir),
        1);
    assert_non_null(strstr(out, "chips=1.5: need a whole number of chips"));
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s design --teacher %s %s --budget memory=1e9 --granularity head -o %s/y", floe,
                                   ckpt, mach, dir),
                     1);
    assert_non_null(strstr(out, "--granularity head: expected layer or linear"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s design --teacher %s %s --budget latency=3,latency=4 -o %s/y",
                                   floe, ckpt, mach, dir),
                     1);
    assert_non_null(strstr(out, "latency is given twice"));
}

/* Per linear: a sensitivity and a cost for each of the seven linears of each layer at each width, the
 * exact choice within a memory budget between all-W2 and all-W8, written as a --wbits-layer string
 * naming every layer, QAT of it verified on the chip at every step, and the deployment check;
 * the chosen model verifies bit-exactly. */
static void test_design_per_linear(void **state)
{
    (void)state;
    const char *tmp = floe_test_tmpdir("design_linear");
    char dir[4096], ckpt[4300], mach[4300];
    snprintf(dir, sizeof dir, "%s", tmp);
    floe_test_tiny_teacher(ckpt, sizeof ckpt, dir);
    const char *src = getenv("FLOE_SOURCE_DIR");
    snprintf(mach, sizeof mach, "--machine %s/configs/small.csv --energy %s/configs/energy-small.csv", src, src);
    const char *floe = floe_test_exe();
    /* tiny's weights: 39,040 bytes all W2 (with the W8 head), 107,008 all W8 */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s design --teacher %s %s --granularity linear --budget memory=60000 -j 2 "
                                   "--qat-steps 2 --eval-windows 2 -o %s/l",
                                   floe, ckpt, mach, dir),
                     0);
    int measured = 0; /* one base model, then each of 14 linears at two other widths */
    for (const char *p = out; (p = strstr(p, " Fisher estimate\n")); p++)
        measured++;
    assert_int_equal(measured, 14 * 2);
    assert_non_null(strstr(out, "sensitivity: layer 1's down_proj W2: loss "));
    assert_non_null(strstr(out, "cost: 2187 combinations of a layer's seven widths, each priced on its own mapping"));
    const char *ch = strstr(out, "chosen: --wbits-layer 0=");
    assert_non_null(ch);
    char spec[512];
    assert_int_equal(sscanf(ch, "chosen: --wbits-layer %511s", spec), 1);
    assert_non_null(strstr(spec, ",1="));
    const char *pred = strstr(out, "predicted: ");
    assert_non_null(pred);
    const char *bytes = strstr(pred, " uJ per decode token, ");
    assert_non_null(bytes);
    double mem = atof(bytes + strlen(" uJ per decode token, "));
    assert_true(mem > 39040 && mem <= 60000);
    assert_non_null(strstr(out, "chosen after 2 QAT steps"));
    /* each layer priced on its own mapping: the simulator's figure within 10% of the prediction */
    const char *dep = strstr(out, "deploy-check: ");
    assert_non_null(dep);
    double lat = atof(pred + strlen("predicted: ")), dlat = atof(dep + strlen("deploy-check: "));
    if (!(fabs(dlat - lat) <= 0.1 * lat))
        fail_msg("predicted %g us, deploy-check %g us", lat, dlat);
    char path[8500], csv[1 << 14];
    snprintf(path, sizeof path, "%s/l/design.csv", dir);
    assert_true(slurp(path, csv, sizeof csv) > 0);
    int rows, chosen;
    count_rows(csv, &rows, &chosen);
    assert_int_equal(rows, 2 * 7 * 3);
    assert_int_equal(chosen, 2 * 7);
    assert_non_null(strstr(csv, "\n8,8,1,down_proj,8,"));
    /* the choice, as printed, is the trained model's widths; it verifies bit-exactly */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s verify --qmodel %s/l/qat/qmodel.safetensors -m %s/configs/small.csv", floe, dir,
                                   src),
                     0);
    assert_non_null(strstr(out, "bit-identical"));
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s ptq --method rtn --wbits-layer %s --teacher %s -o %s/again.safetensors", floe,
                                   spec, ckpt, dir),
                     0);
}

/* Chips as a budget: on a machine of 32 KiB cores, tiny's layers at W4 or W8 take weight cores and
 * a second chip, so one chip leaves only all-W2 (the solver places every choice as the compiler's plan
 * does); on one of 28,000-byte cores every choice takes 3 chips or more, and 2 is refused naming
 * that, before any measurement. */
static void test_design_chips(void **state)
{
    (void)state;
    const char *tmp = floe_test_tmpdir("design_chips");
    char dir[4096], ckpt[4300];
    snprintf(dir, sizeof dir, "%s", tmp);
    floe_test_tiny_teacher(ckpt, sizeof ckpt, dir);
    const char *src = getenv("FLOE_SOURCE_DIR");
    const char *floe = floe_test_exe();
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "sed 's/^core_mem_bytes,65536,.*/core_mem_bytes,32768,/' %s/configs/small.csv > "
                                   "%s/m32k.csv && sed 's/^core_mem_bytes,65536,.*/core_mem_bytes,28000,/; "
                                   "s/^cards_per_server,2,.*/cards_per_server,4,/' %s/configs/small.csv > %s/m28k.csv",
                                   src, dir, src, dir),
                     0);
    assert_int_equal(
        floe_test_run(out, sizeof out,
                      "%s design --teacher %s -m %s/m32k.csv --budget chips=1 --eval-windows 2 -j 2 -o %s/c", floe,
                      ckpt, dir, dir),
        0);
    assert_non_null(strstr(out, "chosen: --wbits-layer 0=2,1=2 --abits 8 --kvbits 8\n"));
    assert_non_null(strstr(out, "chips: the fewest any choice takes: 1\n"));
    assert_non_null(strstr(out, ", 1 chip(s) planned"));
    assert_non_null(strstr(out, "on 1 chip(s)")); /* the deployment check agrees */
    /* per linear the same budget: the plan of whatever mix is chosen fits one chip */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s design --teacher %s -m %s/m32k.csv --budget chips=1 --granularity linear "
                                   "--eval-windows 2 -j 2 -o %s/cl",
                                   floe, ckpt, dir, dir),
                     0);
    assert_non_null(strstr(out, ", 1 chip(s) planned"));
    assert_non_null(strstr(out, "on 1 chip(s)"));
    /* without the budget the least sensitive choice takes 2 chips */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s design --teacher %s -m %s/m32k.csv --budget memory=1e9 --eval-windows 2 -j 2 "
                                   "--no-deploy -o %s/c2",
                                   floe, ckpt, dir, dir),
                     0);
    assert_non_null(strstr(out, ", 2 chip(s) planned"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s design --teacher %s -m %s/m28k.csv --budget chips=2 -o %s/c3",
                                   floe, ckpt, dir, dir),
                     1);
    assert_non_null(strstr(out, "budget chips <= 2 is impossible: the smallest achievable is 3\n"));
    assert_null(strstr(out, "sensitivity: all layers")); /* refused before any measurement */
}

/* Activation and cache widths as choices: every (abits, kvbits) pair measured and solved; a latency
 * budget that only A4 meets (on this machine 4-bit inputs are slightly faster) makes A4 the choice,
 * A8's pairs reported as having no choice within it; the front and design.csv give each pair; QAT
 * and the deployment run at the chosen pair. */
static void test_design_pairs(void **state)
{
    (void)state;
    const char *tmp = floe_test_tmpdir("design_pairs");
    char dir[4096], ckpt[4300], mach[4300];
    snprintf(dir, sizeof dir, "%s", tmp);
    floe_test_tiny_teacher(ckpt, sizeof ckpt, dir);
    const char *src = getenv("FLOE_SOURCE_DIR");
    snprintf(mach, sizeof mach, "--machine %s/configs/small.csv --energy %s/configs/energy-small.csv", src, src);
    const char *floe = floe_test_exe();
    const char *fast = "--eval-windows 1 --calib-batches 1 --batch 1 -j 2";
    /* the smallest latency at A8 and at A4 (all W2): the impossible budget names the least over pairs */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s design --teacher %s %s --budget latency=0.001 --abits choose --kvbits choose "
                                   "-o %s/x",
                                   floe, ckpt, mach, dir),
                     1);
    const char *at = strstr(out, "the smallest achievable is ");
    assert_non_null(at);
    const double least4 = atof(at + strlen("the smallest achievable is "));
    assert_int_equal(floe_test_run(out, sizeof out, "%s design --teacher %s %s --budget latency=0.001 -o %s/x", floe,
                                   ckpt, mach, dir),
                     1);
    at = strstr(out, "the smallest achievable is ");
    assert_non_null(at);
    const double least8 = atof(at + strlen("the smallest achievable is "));
    if (!(least4 < least8))
        fail_msg("A4's smallest latency %g is not below A8's %g on this machine", least4, least8);
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s design --teacher %s %s --budget latency=%.9g --abits choose --kvbits choose %s "
                                   "--qat-steps 1 -o %s/p",
                                   floe, ckpt, mach, (least4 + least8) / 2, fast, dir),
                     0);
    assert_non_null(strstr(out, "pairs (loss change against A8 KV8, the optimum's weights, total):\n"));
    assert_non_null(strstr(out, "  A8 KV8: +0.00000, no choice meets the budgets: budget latency_us"));
    assert_non_null(strstr(out, "  A8 KV4: "));
    assert_non_null(strstr(out, "(chosen)\n"));
    assert_non_null(strstr(out, "chosen: --wbits-layer 0=2,1=2 --abits 4 --kvbits "));
    int measured = 0; /* two widths of two layers at each of the four pairs */
    for (const char *p = out; (p = strstr(p, " Fisher estimate\n")); p++)
        measured++;
    assert_int_equal(measured, 4 * 2 * 2);
    const char *dep = strstr(out, "deploy-check: ");
    assert_non_null(dep);
    if (!(atof(dep + strlen("deploy-check: ")) < least8 * 1.02))
        fail_msg("deployed at %g us, A8's least is %g", atof(dep + strlen("deploy-check: ")), least8);
    char path[8500], csv[1 << 14];
    snprintf(path, sizeof path, "%s/p/design.csv", dir);
    assert_true(slurp(path, csv, sizeof csv) > 0);
    int rows, chosen;
    count_rows(csv, &rows, &chosen);
    assert_int_equal(rows, 4 * 2 * 3);
    assert_int_equal(chosen, 2);
    assert_non_null(strstr(csv, "\n8,8,pair,,,0,,,,,,0,0\n")); /* the reference; no choice at A8 */
    assert_non_null(strstr(csv, "\n4,8,pair,"));
    snprintf(path, sizeof path, "%s/p/front.csv", dir);
    assert_true(slurp(path, csv, sizeof csv) > 0);
    assert_non_null(strstr(csv, "\n4,4,"));
    assert_non_null(strstr(csv, "\n8,8,")); /* A8 reaches the front's larger budgets */
    /* the QAT model has the chosen pair */
    floe_qmodel m;
    floe_err err;
    snprintf(path, sizeof path, "%s/p/qat/qmodel.safetensors", dir);
    if (floe_qmodel_load(&m, path, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(m.q.abits, 4);
    const char *kv = strstr(out, "chosen: --wbits-layer 0=2,1=2 --abits 4 --kvbits ");
    assert_int_equal(m.q.kvbits, atoi(kv + strlen("chosen: --wbits-layer 0=2,1=2 --abits 4 --kvbits ")));
    floe_qmodel_free(&m);
    /* bad spellings, and the Fisher estimate has none of these widths */
    assert_int_equal(floe_test_run(out, sizeof out, "%s design --teacher %s %s --budget latency=200 --abits 6 -o %s/y",
                                   floe, ckpt, mach, dir),
                     1);
    assert_non_null(strstr(out, "--abits 6: expected 4, 8 or choose"));
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s design --teacher %s %s --budget latency=200 --kvbits choose --fisher -o %s/y",
                                   floe, ckpt, mach, dir),
                     1);
    assert_non_null(strstr(out, "--fisher cannot choose activation or cache widths"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_end_to_end),
        cmocka_unit_test(test_design_per_linear),
        cmocka_unit_test(test_design_chips),
        cmocka_unit_test(test_design_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
