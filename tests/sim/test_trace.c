/* The trace is valid JSON in the Chrome trace-event format, with names escaped and limits honoured. */
#include "tests/test_util.h"

#include <cjson/cJSON.h>

#include "common/file_read.h"
#include "common/path.h"
#include "sim/trace.h"

static void test_valid_trace(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("sim_trace");
    char path[4200];
    floe_path_join(path, sizeof path, dir, "t.json");
    floe_trace t;
    floe_err err;
    assert_int_equal(floe_trace_open(&t, path, 400e6, 3, &err), 0);
    floe_trace_name(&t, 0, "core 0 (x=0, y=0)", 1, "vmm");
    floe_trace_span(&t, 0, 1, "vmm \"q_proj\"\n", "vmm", 400, 800);
    floe_trace_span(&t, 0, 2, "add", "vector", 1200, 4);
    floe_trace_span(&t, 1, 1, "c", "vmm", 0, 1);
    floe_trace_span(&t, 1, 1, "dropped", "vmm", 0, 1);
    assert_int_equal(floe_trace_close(&t, &err), 0);

    char *data;
    size_t len;
    assert_int_equal(floe_read_file(path, 1 << 20, &data, &len, &err), 0);
    cJSON *root = cJSON_Parse(data);
    assert_non_null(root);
    cJSON *ev = cJSON_GetObjectItem(root, "traceEvents");
    assert_true(cJSON_IsArray(ev));
    int spans = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, ev)
    {
        const char *ph = cJSON_GetObjectItem(e, "ph")->valuestring;
        if (strcmp(ph, "X") == 0) {
            if (spans == 0) {
                assert_string_equal(cJSON_GetObjectItem(e, "name")->valuestring, "vmm \"q_proj\"\n");
                assert_true(cJSON_GetObjectItem(e, "ts")->valuedouble == 1.0);  /* 400 cycles at 400 MHz */
                assert_true(cJSON_GetObjectItem(e, "dur")->valuedouble == 2.0);
            }
            spans++;
        }
    }
    assert_int_equal(spans, 3);
    cJSON *other = cJSON_GetObjectItem(root, "otherData");
    assert_int_equal(cJSON_GetObjectItem(other, "dropped_events")->valueint, 1);
    cJSON_Delete(root);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_valid_trace)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
