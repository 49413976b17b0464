/* Hostile sizes refused before allocation (docs/reliability.md): the `floe` binary, run under an
 * address-space limit (ulimit -v) far below what each file declares, refuses each with its own
 * error, never "out of memory" and never a crash:
 *   - a safetensors header declaring 10^12 elements (4 TB of data in a file of 100 bytes);
 *   - a tensor shape whose element count overflows 64 bits;
 *   - a quantized model whose floe.config declares 16M x 4096 embeddings (tests/models covers the
 *     loader itself; here the command);
 *   - a machine description (every value inside its documented range) whose core memories need
 *     256 TiB of host memory: the simulator states the bytes it would need;
 *   - a program container declaring a section of 2^60 bytes, and one declaring 2^32 - 1 sections.
 * Under AddressSanitizer (whose shadow memory needs terabytes of address space) the commands run
 * without the limit and the messages are still checked. */
#include "tests/limit_util.h"
#include "tests/models/st_test_util.h"

#include "common/path.h"
#include "isa/container.h"
#include "models/qmodel_io.h"

/* Address space of the floe process: the binary, its libraries and one OpenBLAS and OpenMP thread
 * (their thread counts are set to 1: a thread per core would not fit on a large host) fit; any of
 * the declared sizes would not. */
#define LIMIT_KB "400000"

static char out[1 << 16];

/* Runs `floe ARGS` under the limit; fails unless it exits 1 with `want` in its output and says
 * nothing of memory exhaustion. */
static void expect_refused(const char *args, const char *want)
{
    char cmd[8192];
    /* a hang fails in two minutes (exit 124), not at ctest's timeout */
    snprintf(cmd, sizeof cmd, "%sOPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 exec timeout 120 %s %s",
             FLOE_TEST_ASAN ? "" : "ulimit -v " LIMIT_KB "; ", floe_test_exe(), args);
    int rc = floe_test_run(out, sizeof out, "sh -c \"%s\"", cmd);
    if (rc != 1 || !strstr(out, want) || strstr(out, "out of memory") || strstr(out, "out of host memory"))
        fail_msg("floe %s: exit %d, expected 1 and '%s'; output:\n%s", args, rc, want, out);
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* A safetensors file of one tensor with this header's JSON and `data` bytes of zeros after it. */
static void write_st(const char *path, const char *json, size_t data)
{
    size_t n = strlen(json), total = 8 + n + data;
    unsigned char *b = calloc(total, 1);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, json, n);
    write_bytes(path, b, total);
    free(b);
}

static void test_safetensors_sizes(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("hostile_st");
    char path[4300], args[8800];
    floe_path_join(path, sizeof path, dir, "tera.safetensors");
    write_st(path, "{\"t\":{\"dtype\":\"F32\",\"shape\":[1000000,1000000],\"data_offsets\":[0,4000000000000]}}", 16);
    snprintf(args, sizeof args, "model inspect %s", path);
    expect_refused(args, "truncated: tensor 't' data_offsets [0, 4000000000000] run past the end of the data "
                         "(16 bytes after the header)");
    floe_path_join(path, sizeof path, dir, "overflow.safetensors");
    write_st(path, "{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}", 0);
    snprintf(args, sizeof args, "model inspect %s", path);
    expect_refused(args, "tensor 't': shape product overflows");
}

static void test_quantized_model_config(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("hostile_qmodel");
    char path[4300], bad[4300], args[8800];
    floe_path_join(path, sizeof path, dir, "mini.safetensors");
    floe_path_join(bad, sizeof bad, dir, "huge.safetensors");
    floe_model_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "mini");
    c.vocab_size = 8, c.d_model = 8, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 2, c.head_dim = 4;
    c.ffn_dim = 8, c.context = 4, c.rope_theta = 10000.0, c.rms_eps = 1e-5, c.tied_embeddings = 1;
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel m;
    floe_err err;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 3, &err), 0);
    assert_int_equal(floe_qmodel_save(&m, path, NULL, 0, &err), 0);
    floe_qmodel_free(&m);
    c.vocab_size = 1 << 24, c.d_model = 4096, c.head_dim = 2048; /* 128 GiB of embedding codes */
    char *js = floe_model_config_to_json(&c);
    assert_non_null(js);
    st_copy_with_meta(path, bad, "floe.config", js);
    free(js);
    snprintf(args, sizeof args, "forward --qmodel %s --prompt Hi -o %s/out.safetensors", bad, dir);
    expect_refused(args, "tensor 'model.embed_tokens.weight' is I16 with 2 dimension(s) [8, 8]; expected I16 "
                         "[16777216, 4096]");
}

static void test_machine_too_big(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("hostile_machine");
    char src[4096], csv[4300], prog[4300], args[8800];
    const char *root = getenv("FLOE_SOURCE_DIR");
    assert_non_null(root);
    floe_path_join(csv, sizeof csv, dir, "huge.csv");
    floe_path_join(prog, sizeof prog, dir, "p.flp");
    snprintf(src, sizeof src, "%s/configs/northpole.csv", root);
    /* northpole.csv with a 256 x 256 grid of 4 GiB cores: each value inside its documented range */
    int rc = floe_test_run(out, sizeof out,
                           "sed -e 's/^cores_x,[0-9]*/cores_x,256/' -e 's/^cores_y,[0-9]*/cores_y,256/' "
                           "-e 's/^core_mem_bytes,[0-9]*/core_mem_bytes,4294967296/' '%s' > '%s' && "
                           "printf '.core 0, 0\\n    halt\\n' > '%s/p.s' && %s asm '%s/p.s' -o '%s' --machine '%s'",
                           src, csv, dir, floe_test_exe(), dir, prog, csv);
    if (rc != 0)
        fail_msg("preparing the machine and program: %s", out);
    snprintf(args, sizeof args, "sim %s --machine %s", prog, csv);
    expect_refused(args, "simulator: the machine's memories need 3166");
    expect_refused(args, " bytes (3.17e+05 GB) of host address space (65536 cores x 4294967296 bytes");
}

/* floe compile of granite-8b's random weights on one chip: refused from the config, before 8 GB of
 * weights are built (it took 8.2 GB and 2.5 minutes to refuse). */
static void test_compile_too_big_for_a_chip(void **state)
{
    (void)state;
    const char *root = getenv("FLOE_SOURCE_DIR");
    assert_non_null(root);
    const char *dir = floe_test_tmpdir("hostile_compile");
    char args[8800];
    snprintf(args, sizeof args, "compile --model granite-8b --machine %s/configs/northpole.csv -o %s/g.flp", root, dir);
    expect_refused(args, "the model needs 6565 cores in this mapping (40 layers and the LM head");
}

static void test_container_sections(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("hostile_container");
    char prog[4300], bad[4300], args[8800];
    floe_path_join(prog, sizeof prog, dir, "p.flp");
    floe_path_join(bad, sizeof bad, dir, "bad.flp");
    const char *root = getenv("FLOE_SOURCE_DIR");
    assert_non_null(root);
    if (floe_test_run(out, sizeof out,
                      "printf '.core 0, 0\\n    halt\\n' > '%s/p.s' && %s asm '%s/p.s' -o '%s' "
                      "--machine '%s/configs/small.csv'",
                      dir, floe_test_exe(), dir, prog, root) != 0)
        fail_msg("assembling: %s", out);
    FILE *f = fopen(prog, "rb");
    assert_non_null(f);
    unsigned char b[4096];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    assert_true(n >= 64 && n < sizeof b);
    /* section 0 declares 2^60 bytes; the checksums made right, so the size itself is what is refused */
    unsigned char h[4096];
    memcpy(h, b, n);
    for (int i = 0; i < 8; i++)
        h[32 + 16 + i] = (unsigned char)((1ull << 60) >> (8 * i));
    uint32_t nsec = (uint32_t)(h[12] | h[13] << 8 | h[14] << 16 | (uint32_t)h[15] << 24);
    uint32_t crc = floe_crc32(h + 32, (size_t)nsec * 32);
    for (int i = 0; i < 4; i++)
        h[24 + i] = (unsigned char)(crc >> (8 * i));
    crc = floe_crc32(h, 28);
    for (int i = 0; i < 4; i++)
        h[28 + i] = (unsigned char)(crc >> (8 * i));
    write_bytes(bad, h, n);
    snprintf(args, sizeof args, "sim %s --machine %s/configs/small.csv", bad, root);
    expect_refused(args, "section 0: bytes");
    expect_refused(args, "lie outside the payload area");
    /* 2^32 - 1 section entries */
    memcpy(h, b, n);
    h[12] = h[13] = h[14] = h[15] = 0xff;
    crc = floe_crc32(h, 28);
    for (int i = 0; i < 4; i++)
        h[28 + i] = (unsigned char)(crc >> (8 * i));
    write_bytes(bad, h, n);
    expect_refused(args, "truncated: 4294967295 section entries do not fit");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors_sizes),  cmocka_unit_test(test_quantized_model_config),
        cmocka_unit_test(test_machine_too_big),    cmocka_unit_test(test_compile_too_big_for_a_chip),
        cmocka_unit_test(test_container_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
