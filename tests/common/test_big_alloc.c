/* common/big_alloc.h: zeroed like calloc, overflow refused, and a large buffer's inside marked for
 * huge pages (where the kernel has transparent huge pages in a mode that honours the hint). */
#include "tests/test_util.h"

#include "common/big_alloc.h"

/* Whether the mapping holding address p is eligible for transparent huge pages, from
 * /proc/self/smaps ("THPeligible: 1"); -1 where that cannot be read. */
static int thp_eligible(const void *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int in = 0, res = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) /* a mapping's first line */
            in = (unsigned long)p >= lo && (unsigned long)p < hi;
        else if (in && strncmp(line, "THPeligible:", 12) == 0) {
            res = atoi(line + 12);
            break;
        }
    }
    fclose(f);
    return res;
}

/* The kernel's transparent huge page mode: "madvise", "always", "never" or "" where unknown. */
static const char *thp_mode(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return "";
    char s[128] = {0};
    const char *m = !fgets(s, sizeof s, f)   ? ""
                    : strstr(s, "[madvise]") ? "madvise"
                    : strstr(s, "[always]")  ? "always"
                    : strstr(s, "[never]")   ? "never"
                                             : "";
    fclose(f);
    return m;
}

static void test_zeroed_and_hinted(void **state)
{
    (void)state;
    const size_t n = (size_t)12 << 20; /* 48 MiB of floats */
    float *p = floe_big_calloc(n, sizeof(float));
    assert_non_null(p);
    for (size_t i = 0; i < n; i += 4093)
        assert_true(p[i] == 0.0f);
    p[n / 2] = 1.0f; /* touched: the mapping exists */
    const char *mode = thp_mode();
    if (strcmp(mode, "madvise") == 0 || strcmp(mode, "always") == 0) {
        int e = thp_eligible(p + n / 2);
        if (e >= 0)
            assert_int_equal(e, 1);
    }
    if (strcmp(mode, "madvise") == 0) { /* without the hint a buffer is not eligible: the check can tell */
        float *plain = calloc(n, sizeof(float));
        assert_non_null(plain);
        plain[n / 2] = 1.0f;
        int e = thp_eligible(plain + n / 2);
        if (e >= 0)
            assert_int_equal(e, 0);
        free(plain);
    }
    free(p);
}

static void test_small_and_overflow(void **state)
{
    (void)state;
    int *q = floe_big_calloc(10, sizeof(int));
    assert_non_null(q);
    for (int i = 0; i < 10; i++)
        assert_int_equal(q[i], 0);
    free(q);
    assert_null(floe_big_calloc(SIZE_MAX / 2, 4)); /* n * size overflows: refused, as calloc does */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_zeroed_and_hinted),
                                       cmocka_unit_test(test_small_and_overflow)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
