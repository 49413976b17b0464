/* `floe design` end to end on a tiny teacher trained here: the choice within the budget, QAT of it
 * verified on the chip, the deployment check, the CSVs and the front plot; an impossible budget and a
 * malformed one refused with the reason. */
#include "tests/test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file_read.h"

static char out[1 << 16];

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
    assert_non_null(strstr(out, "chosen: --wbits-layer 0=2,1=2\n"));
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
    assert_non_null(
        strstr(csv, "layer,linear,wbits,measured_dloss,fisher_dloss,latency_us,energy_uj,memory_bytes,chosen\n"));
    assert_non_null(strstr(csv, "\n0,all,2,"));
    int rows = 0, chosen = 0;
    for (const char *p = strchr(csv, '\n') + 1; *p && strncmp(p, "fixed", 5) != 0; p = strchr(p, '\n') + 1) {
        rows++;
        const char *e = strchr(p, '\n');
        chosen += e[-1] == '1';
    }
    assert_int_equal(rows, 2 * 3);
    assert_int_equal(chosen, 2);
    snprintf(path, sizeof path, "%s/d/front.csv", dir);
    assert_true(slurp(path, csv, sizeof csv) > 0);
    assert_non_null(strstr(csv, "budget_latency_us,total_sensitivity,latency_us,energy_uj,memory_bytes,wbits_layer\n"));
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
    int rows = 0, chosen = 0;
    for (const char *p = strchr(csv, '\n') + 1; *p && strncmp(p, "fixed", 5) != 0; p = strchr(p, '\n') + 1) {
        rows++;
        const char *e = strchr(p, '\n');
        chosen += e[-1] == '1';
    }
    assert_int_equal(rows, 2 * 7 * 3);
    assert_int_equal(chosen, 2 * 7);
    assert_non_null(strstr(csv, "\n1,down_proj,8,"));
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
 * a second chip, so one chip leaves only all-W2 (the solver lowers the weight bytes until the
 * compiler's plan fits); on one of 28,000-byte cores even all-W2 takes 3 chips, and 2 is refused
 * naming that. */
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
    assert_non_null(strstr(out, "chosen: --wbits-layer 0=2,1=2\n"));
    assert_non_null(strstr(out, ", 1 chip(s) planned (the chips budget took "));
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
    assert_non_null(strstr(out, "budget chips <= 2 is impossible: the smallest achievable is 3 (every weight at W2)"));
    assert_null(strstr(out, "sensitivity: all layers")); /* refused before any measurement */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_end_to_end),
        cmocka_unit_test(test_design_per_linear),
        cmocka_unit_test(test_design_chips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
