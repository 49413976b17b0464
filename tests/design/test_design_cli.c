/* `floe design` end to end on a tiny teacher trained here: the choice within the budget, QAT of it
 * verified on the chip, the deployment check, the CSVs and the front plot; an impossible budget and a
 * malformed one refused with the reason. */
#include "tests/test_util.h"

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
    assert_true(atof(pred + strlen("predicted: ")) <= smallest * (1 + 1e-6));
    /* design.csv: a row per layer and width, one chosen per layer */
    char path[8500], csv[1 << 14];
    snprintf(path, sizeof path, "%s/d/design.csv", dir);
    assert_true(slurp(path, csv, sizeof csv) > 0);
    assert_non_null(strstr(csv, "layer,wbits,measured_dloss,fisher_dloss,latency_us,energy_uj,memory_bytes,chosen\n"));
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
    assert_non_null(strstr(out, "item 'speed=3': expected latency=US, energy=UJ or memory=BYTES"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s design --teacher %s %s --budget latency=3,latency=4 -o %s/y",
                                   floe, ckpt, mach, dir),
                     1);
    assert_non_null(strstr(out, "latency is given twice"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
