/* Trained-equals-deployed, bit for bit: random quantized models at several precision mixes are
 * compiled for the small and northpole machines, run on the simulator, and every layer's output and
 * the logits equal the reference integer forward. A corrupted program or weight is caught. */
#include "tests/integration/machine_util.h"

#include <math.h>

#include "common/rng.h"
#include "models/qref.h"
#include "verify/qat_verify.h"
#include "verify/verify.h"

static floe_model_config small_model(void)
{
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    return c;
}

static void test_bit_exact_on_both_machines(void **state)
{
    (void)state;
    const char *machines[2] = {"small", "northpole"};
    /* the last two: mixed precision, layer 0 at 8 bits and the others at 2; then per linear, every
       pair of widths inside a layer (gate and up of the fused SwiGLU at 2 and 8, q at 8 beside k at 2) */
    const floe_qconfig mixes[6] = {
        {4, 8, 8, 8, 0, 0, {0}, {{0}}}, {8, 8, 8, 8, 0, 0, {0}, {{0}}},
        {2, 8, 8, 8, 0, 0, {0}, {{0}}}, {4, 4, 4, 4, 0, 0, {0}, {{0}}},
        {2, 8, 8, 8, 0, 0, {8}, {{0}}}, {4, 8, 8, 8, 0, 0, {0}, {{8, 2, 4, 8, 2, 8, 2}, {2, 4, 8, 2, 8, 2, 8}}}};
    floe_model_config c = small_model();
    int32_t tok[8];
    floe_rng r;
    floe_rng_seed(&r, 77);
    for (int t = 0; t < 8; t++)
        tok[t] = (int32_t)floe_rng_below(&r, (uint64_t)c.vocab_size);
    for (int mi = 0; mi < 2; mi++) {
        floe_machine mach;
        floe_energy_table e;
        load_config(machines[mi], &mach, &e);
        for (int qi = 0; qi < 6; qi++) {
            floe_qmodel m;
            floe_err err;
            assert_int_equal(floe_qmodel_random(&m, &c, &mixes[qi], 100 + (uint64_t)qi, &err), 0);
            floe_verify_result res;
            if (floe_verify_prefill(&m, &mach, &e, tok, 8, &res, &err) != 0)
                fail_msg("%s W%dA%dKV%d: %s", machines[mi], mixes[qi].wbits, mixes[qi].abits, mixes[qi].kvbits, err.msg);
            if (!res.match)
                fail_msg("%s W%dA%dKV%d: %s", machines[mi], mixes[qi].wbits, mixes[qi].abits, mixes[qi].kvbits,
                         res.mismatch);
            assert_true(res.compared == (uint64_t)8 * (c.d_model * c.n_layers + c.vocab_size));
            print_message("%-9s W%dA%dKV%d: %llu values equal; %llu cycles (%.2f us), %.3g J, fullest core %llu bytes\n",
                          machines[mi], mixes[qi].wbits, mixes[qi].abits, mixes[qi].kvbits,
                          (unsigned long long)res.compared, (unsigned long long)res.sim.cycles, res.sim.seconds * 1e6,
                          res.sim.energy.total_j, (unsigned long long)res.compile.mem_max);
            floe_verify_result_free(&res);
            floe_qmodel_free(&m);
        }
    }
}

/* Granite's multipliers and llama3 RoPE are constants and tables of the quantized model
 * (docs/quantized-model.md): the compiler deploys them as it does a Llama's, so the chip equals the
 * reference forward on both Hugging Face fixtures' configs (tests/fixtures/hf) with random weights,
 * prefill and decode. */
static void test_granite_and_llama3(void **state)
{
    (void)state;
    const char *src = getenv("FLOE_SOURCE_DIR");
    const char *names[2] = {"granite-tiny", "llama-tiny"};
    const floe_qconfig mixes[2] = {{8, 8, 8, 8, 0, 0, {0}, {{0}}}, {4, 8, 8, 8, 0, 0, {0}, {{0}}}};
    int32_t tok[24];
    for (int t = 0; t < 24; t++)
        tok[t] = (int32_t)(t * 29 % 701);
    for (int mi = 0; mi < 2; mi++) {
        floe_machine mach;
        floe_energy_table e;
        load_config(mi ? "northpole" : "small", &mach, &e);
        for (int i = 0; i < 4; i++) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/tests/fixtures/hf/%s", src ? src : ".", names[i / 2]);
            floe_model_config c;
            floe_qmodel m;
            floe_err err;
            assert_int_equal(floe_model_config_load(dir, &c, &err), 0);
            assert_int_equal(floe_qmodel_random(&m, &c, &mixes[i % 2], 7 + (uint64_t)i, &err), 0);
            floe_verify_run_result res;
            floe_verify_opts o = {.tokens = 21, .decode = 3};
            if (floe_verify_run(&m, &mach, &e, tok, &o, &res, &err) != 0)
                fail_msg("%s: %s", names[i / 2], err.msg);
            if (!res.match)
                fail_msg("%s W%d: %s", names[i / 2], mixes[i % 2].wbits, res.mismatch);
            print_message("%-12s W%dA8 on %s: %llu values equal\n", names[i / 2], mixes[i % 2].wbits,
                          mi ? "northpole" : "small", (unsigned long long)res.compared);
            floe_verify_run_result_free(&res);
            floe_qmodel_free(&m);
        }
    }
}

/* An LM head cut into vocabulary slices on one chip (the whole head's logits do not fit one core:
 * vocabulary 49,084 at 8 tokens on the NorthPole core; 49,083 still fits): each slice's main core
 * holds its rows' logits, and floe_verify_program (the per-step check of QAT) compares every slice.
 * It compared the last slice's core with all the rows, so SmolLM2-135M's shape "differed" on the
 * chip until 2026-12-06. */
static void test_head_slices_on_one_chip(void **state)
{
    (void)state;
    floe_machine mach;
    floe_energy_table e;
    load_config("northpole", &mach, &e);
    floe_model_config c = small_model();
    c.vocab_size = 49084;
    c.n_layers = 1;
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel m;
    floe_err err;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 5, &err), 0);
    int32_t tok[8];
    for (int t = 0; t < 8; t++)
        tok[t] = (int32_t)(t * 6007 % c.vocab_size);
    floe_verify_result res = {0};
    if (floe_verify_prefill(&m, &mach, &e, tok, 8, &res, &err) != 0)
        fail_msg("%s", err.msg);
    int slices = 0;
    for (size_t i = 0; i < res.compile.ncores; i++)
        slices += res.compile.cores[i].is_main && res.compile.cores[i].layer < 0;
    assert_int_equal(slices, 2);
    if (!res.match)
        fail_msg("%s", res.mismatch);
    assert_true(res.compared >= (uint64_t)8 * c.vocab_size);
    floe_verify_result_free(&res);
    floe_qmodel_free(&m);
}

/* QAT's per-step check (floe_qat_verify_chip) on a model that needs several chips: it runs the
 * multi-chip pipeline's check (it refused such a model until 2026-12-06); a training forward whose
 * logits differ from the reference's is still caught first. */
static void test_qat_check_over_chips(void **state)
{
    (void)state;
    floe_machine mach;
    floe_energy_table e;
    load_config("small", &mach, &e);
    mach.core_mem_bytes = 32768; /* the tiny model at W8 over 7 cores: 2 of the server's chips */
    floe_model_config c = small_model();
    floe_qconfig q = floe_qconfig_default();
    q.wbits = 8;
    floe_qmodel m;
    floe_err err;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 11, &err), 0);
    floe_compile_opts co = {.tokens = 8};
    assert_int_equal(floe_compile_check_one_chip(&c, &q, &mach, &co, &err), -1); /* needs several chips */
    int32_t tok[8];
    for (int t = 0; t < 8; t++)
        tok[t] = (int32_t)(t * 37 % c.vocab_size);
    int16_t *logits = malloc(sizeof(int16_t) * 8 * (size_t)c.vocab_size);
    assert_non_null(logits);
    assert_int_equal(floe_qref_forward(&m, tok, 8, logits, NULL, NULL, &err), 0);
    floe_qat_chip chip = {&mach, &e, NULL};
    floe_qat_verify_stats st = {0};
    if (floe_qat_verify_chip(&chip, &m, tok, 8, logits, &st, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(st.compared > (uint64_t)8 * c.vocab_size);
    assert_true(st.cycles > 0 && st.latency_s_per_token > 0 && st.energy_j_per_token > 0);
    print_message("over chips: %llu values, %.2f us per token\n", (unsigned long long)st.compared,
                  st.latency_s_per_token * 1e6);
    logits[5 * c.vocab_size + 3] ^= 1;
    assert_int_equal(floe_qat_verify_chip(&chip, &m, tok, 8, logits, &st, &err), -1);
    assert_non_null(strstr(err.msg, "logits [position 5, token 3]: training forward"));
    free(logits);
    floe_qmodel_free(&m);
}

static void test_corruption_is_caught(void **state)
{
    (void)state;
    floe_machine mach;
    floe_energy_table e;
    load_config("small", &mach, &e);
    floe_model_config c = small_model();
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel m;
    floe_err err;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 9, &err), 0);
    int32_t tok[4] = {1, 2, 3, 4};
    floe_compile_opts o = {.tokens = 4};
    floe_program *p;
    floe_compile_report rep;
    assert_int_equal(floe_compile_prefill(&m, &mach, &o, &p, &rep, &err), 0);
    floe_verify_result res = {0};
    assert_int_equal(floe_verify_program(&m, &mach, &e, tok, 4, p, &rep, &res, &err), 0);
    assert_true(res.match);
    /* one weight byte of layer 1's down projection, as deployed, flips */
    const floe_symbol *wd = floe_program_symbol(p, rep.cores[1].x, rep.cores[1].y, "wdown", 5);
    assert_non_null(wd);
    int hit = 0;
    for (size_t i = 0; i < p->nimages && !hit; i++) {
        floe_image *im = &p->images[i];
        if (im->x == wd->x && im->y == wd->y && im->addr <= wd->value && wd->value < im->addr + im->len) {
            im->bytes[wd->value - im->addr + 3] ^= 0x11;
            hit = 1;
        }
    }
    assert_true(hit);
    assert_int_equal(floe_verify_program(&m, &mach, &e, tok, 4, p, &rep, &res, &err), 0);
    assert_false(res.match);
    print_message("corrupted weight: %s\n", res.mismatch);
    assert_non_null(strstr(res.mismatch, "layer 1 output"));
    floe_program_free(p);
    /* a corrupted program: one instruction of layer 0 changed (a rotation reads the sine table as its
     * cosines; narrowing a requant instead would leave bytes unwritten, which the strict run stops at) */
    floe_compile_report_free(&rep);
    if (floe_compile_prefill(&m, &mach, &o, &p, &rep, &err) != 0)
        fail_msg("%s", err.msg);
    floe_core_code *cc = floe_program_core(p, 0, 0, 0);
    int changed = 0;
    for (size_t i = cc->n; i-- > 0 && !changed;) /* the last rotation: position T-1 (at position 0 a single
                                                   score makes q irrelevant) */
        if (cc->insns[i].op == FLOE_OP_ROPE) {
            cc->insns[i].f[2] = cc->insns[i].f[3];
            changed = 1;
        }
    assert_true(changed);
    assert_int_equal(floe_verify_program(&m, &mach, &e, tok, 4, p, &rep, &res, &err), 0);
    assert_false(res.match);
    print_message("corrupted program: %s\n", res.mismatch);
    assert_non_null(strstr(res.mismatch, "layer 0 output"));
    /* the dump holds the whole differing tensor, chip and reference side by side */
    assert_non_null(res.dump.chip);
    assert_non_null(strstr(res.dump.what, "layer 0 output"));
    char dpath[4300];
    snprintf(dpath, sizeof dpath, "%s/mismatch.csv", floe_test_tmpdir("verify_dump"));
    assert_int_equal(floe_verify_dump_write(&res.dump, dpath, &err), 0);
    FILE *df = fopen(dpath, "r");
    assert_non_null(df);
    char line[256];
    int differing = 0, lines = 0;
    while (fgets(line, sizeof line, df))
        if (line[0] != '#' && line[0] != 'p') {
            lines++;
            differing += line[strlen(line) - 2] == '1';
        }
    fclose(df);
    assert_int_equal(lines, 4 * c.d_model);
    assert_true(differing > 0);
    floe_verify_dump_free(&res.dump);
    floe_program_free(p);
    floe_compile_report_free(&rep);
    floe_qmodel_free(&m);
}

static void test_model_that_does_not_fit(void **state)
{
    (void)state;
    floe_machine mach;
    floe_energy_table e;
    load_config("small", &mach, &e);
    floe_model_config c = small_model();
    floe_err err;
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel m;
    c.n_layers = 4; /* 4 layers and the head at one core each: 5 cores, the chip has 4 */
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 1, &err), 0);
    int32_t tok[2] = {1, 2};
    floe_verify_result res;
    assert_int_equal(floe_verify_prefill(&m, &mach, &e, tok, 2, &res, &err), -1);
    assert_non_null(strstr(err.msg, "needs 5 cores"));
    floe_qmodel_free(&m);
    /* a layer of S split over 64 KiB cores needs more cores than the chip has */
    assert_int_equal(floe_model_config_builtin("S", &c, &err), 0);
    c.n_layers = 2;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 1, &err), 0);
    assert_int_equal(floe_verify_prefill(&m, &mach, &e, tok, 2, &res, &err), -1);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "layer 0 needs 9 cores"));
    assert_non_null(strstr(err.msg, "a chip has 4 cores: 5 short"));
    /* a main core whose activations and KV cache alone overflow: the bytes, exactly */
    floe_compile_opts o = {.tokens = 64, .kv_tokens = 128};
    floe_program *p;
    floe_compile_report rep;
    assert_int_equal(floe_compile_prefill(&m, &mach, &o, &p, &rep, &err), -1);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "layer 0 needs"));
    assert_non_null(strstr(err.msg, "KV cache (128 positions, 1 user(s))"));
    assert_non_null(strstr(err.msg, "bytes short"));
    floe_qmodel_free(&m);
}

/* Layers split over several cores (output-channel slices; the down projection's input chunks
 * reduced along chains of neighbours with psend/precv), then decode steps against the KV cache in
 * core memory: every layer output and the logits equal the reference, decode equal to prefill;
 * two users, each with its own KV cache, prefilled and decoded in turn on the same chips. */
static void test_split_layers_and_decode(void **state)
{
    (void)state;
    const floe_qconfig mixes[4] = {{4, 8, 8, 8, 0, 0, {0}, {{0}}},
                                   {8, 8, 8, 8, 0, 0, {0}, {{0}}},
                                   {2, 8, 8, 4, 0, 0, {0}, {{0}}},
                                   {4, 4, 4, 4, 0, 0, {0}, {{0}}}};
    int32_t tok[12];
    floe_rng r;
    floe_rng_seed(&r, 5);
    for (int mi = 0; mi < 2; mi++) {
        floe_machine mach;
        floe_energy_table e;
        load_config(mi ? "northpole" : "small", &mach, &e);
        floe_model_config c = small_model(); /* small: layer groups of 3 cores on 2 chips of 4 cores */
        for (int t = 0; t < 12; t++)
            tok[t] = (int32_t)floe_rng_below(&r, (uint64_t)c.vocab_size);
        for (int qi = 0; qi < 4; qi++) {
            floe_qmodel m;
            floe_err err;
            assert_int_equal(floe_qmodel_random(&m, &c, &mixes[qi], 200 + (uint64_t)qi, &err), 0);
            floe_verify_opts vo = {.tokens = 8, .decode = 3,
                                   .core_weight_bytes = mi ? 2500u * (unsigned)mixes[qi].wbits / 4 + 1000 : mixes[qi].wbits == 8 ? 48000u : mixes[qi].wbits == 2 ? 16000u : 26000u,
                                   .users = 2};
            floe_verify_run_result res;
            if (floe_verify_run(&m, &mach, &e, tok, &vo, &res, &err) != 0)
                fail_msg("W%dA%dKV%d: %s", mixes[qi].wbits, mixes[qi].abits, mixes[qi].kvbits, err.msg);
            if (!res.match)
                fail_msg("W%dA%dKV%d: %s", mixes[qi].wbits, mixes[qi].abits, mixes[qi].kvbits, res.mismatch);
            assert_int_equal(res.decoded, 3);
            assert_true(res.weight_cores > 0);
            assert_true(mi ? res.attn_cores == 2 * 2 : res.attn_cores == 0); /* northpole: one per KV head */
            assert_int_equal(res.chips, mi ? 1 : 2);
            assert_true(res.compared == (uint64_t)2 * 11 * (c.d_model * c.n_layers + c.vocab_size)); /* 2 users */
            assert_true(res.decode.latency_s > 0 && res.decode.latency_s < res.prefill.latency_s);
            print_message("%-9s W%dA%dKV%d split: %llu cores (%llu weight cores); prefill %.2f us, decode %.2f us/token, "
                          "%.3g J/token\n",
                          mi ? "northpole" : "small", mixes[qi].wbits, mixes[qi].abits, mixes[qi].kvbits,
                          (unsigned long long)res.cores, (unsigned long long)res.weight_cores, res.prefill.latency_s * 1e6,
                          res.decode.latency_s * 1e6, res.decode.energy_j);
            floe_verify_run_result_free(&res);
            floe_qmodel_free(&m);
        }
    }
}

/* The split program really uses the partial-sum network, and a corrupted weight on a weight core
 * is caught. */
static void test_split_corruption_is_caught(void **state)
{
    (void)state;
    floe_machine mach;
    floe_energy_table e;
    load_config("northpole", &mach, &e);
    floe_model_config c = small_model();
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel m;
    floe_err err;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 19, &err), 0);
    int32_t tok[4] = {7, 1, 8, 2};
    floe_compile_opts o = {.tokens = 4, .core_weight_bytes = 3000};
    floe_program *p;
    floe_compile_report rep;
    if (floe_compile_prefill(&m, &mach, &o, &p, &rep, &err) != 0)
        fail_msg("%s", err.msg);
    size_t psend = 0, precv = 0;
    for (size_t i = 0; i < p->ncores; i++)
        for (size_t j = 0; j < p->cores[i].n; j++) {
            psend += p->cores[i].insns[j].op == FLOE_OP_PSEND;
            precv += p->cores[i].insns[j].op == FLOE_OP_PRECV;
        }
    assert_true(psend > 0 && psend == precv);
    floe_verify_result res = {0};
    assert_int_equal(floe_verify_program(&m, &mach, &e, tok, 4, p, &rep, &res, &err), 0);
    if (!res.match)
        fail_msg("%s", res.mismatch);
    /* a byte of the first weight core of layer 1 flips */
    const floe_core_use *w = NULL;
    for (size_t i = 0; i < rep.ncores && !w; i++)
        if (!rep.cores[i].is_main && !rep.cores[i].kv_bytes && rep.cores[i].layer == 1)
            w = &rep.cores[i];
    assert_non_null(w);
    int hit = 0;
    for (size_t i = 0; i < p->nimages && !hit; i++) {
        floe_image *im = &p->images[i];
        if (im->x == w->x && im->y == w->y && im->len > 8) {
            im->bytes[5] ^= 0x11;
            hit = 1;
        }
    }
    assert_true(hit);
    assert_int_equal(floe_verify_program(&m, &mach, &e, tok, 4, p, &rep, &res, &err), 0);
    assert_false(res.match);
    print_message("corrupted weight on a weight core: %s\n", res.mismatch);
    assert_non_null(strstr(res.mismatch, "layer 1 output"));
    floe_verify_dump_free(&res.dump);
    floe_program_free(p);
    floe_compile_report_free(&rep);
    floe_qmodel_free(&m);
}

/* Per-token activation scaling (docs/numerics.md §10) on the chip: rmsnormt, vrequantt and requantk
 * compute the reference's integers bit for bit, whole layers on one core (prefill) and split layers
 * (weight cores, fused SwiGLU, attention cores on northpole) with decode steps against the KV cache,
 * at W4A8KV8 and W4A4KV4 on both machines. The same program checked against the model read as
 * per-tensor differs: the row shifts are really applied. */
static void test_per_token_on_chip(void **state)
{
    (void)state;
    const floe_qconfig mixes[2] = {{4, 8, 8, 8, FLOE_ACT_PER_TOKEN, 4, {0}, {{0}}},
                                   {4, 4, 4, 8, FLOE_ACT_PER_TOKEN, 4, {0}, {{0}}}};
    int32_t tok[12];
    floe_rng r;
    floe_rng_seed(&r, 61);
    for (int mi = 0; mi < 2; mi++) {
        floe_machine mach;
        floe_energy_table e;
        load_config(mi ? "northpole" : "small", &mach, &e);
        floe_model_config c = small_model();
        for (int t = 0; t < 12; t++)
            tok[t] = (int32_t)floe_rng_below(&r, (uint64_t)c.vocab_size);
        for (int qi = 0; qi < 2; qi++) {
            floe_qmodel m;
            floe_err err;
            assert_int_equal(floe_qmodel_random(&m, &c, &mixes[qi], 300 + (uint64_t)qi, &err), 0);
            /* whole layers, prefill: the per-token instructions are there and agree */
            floe_compile_opts o = {.tokens = 8};
            floe_program *p;
            floe_compile_report rep;
            if (floe_compile_prefill(&m, &mach, &o, &p, &rep, &err) != 0)
                fail_msg("%s", err.msg);
            size_t nt = 0, nv = 0, nk = 0, nplain = 0;
            for (size_t i = 0; i < p->ncores; i++)
                for (size_t j = 0; j < p->cores[i].n; j++) {
                    int op = p->cores[i].insns[j].op;
                    nt += op == FLOE_OP_RMSNORMT, nv += op == FLOE_OP_VREQUANTT, nk += op == FLOE_OP_REQUANTK;
                    nplain += op == FLOE_OP_RMSNORM;
                }
            assert_int_equal(nt, 8 * (2 * (size_t)c.n_layers + 1));
            assert_int_equal(nv, 8 * 2 * (size_t)c.n_layers);
            assert_true(nk > 0);
            assert_int_equal(nplain, 0);
            floe_verify_result res = {0};
            assert_int_equal(floe_verify_program(&m, &mach, &e, tok, 8, p, &rep, &res, &err), 0);
            if (!res.match)
                fail_msg("W%dA%dKV%d per token: %s", mixes[qi].wbits, mixes[qi].abits, mixes[qi].kvbits, res.mismatch);
            print_message("%-9s W%dA%dKV%d per token: %llu values equal; %llu cycles, %.3g J\n", mi ? "northpole" : "small",
                          mixes[qi].wbits, mixes[qi].abits, mixes[qi].kvbits, (unsigned long long)res.compared,
                          (unsigned long long)res.sim.cycles, res.sim.energy.total_j);
            m.q.act_scaling = FLOE_ACT_PER_TENSOR, m.q.act_kmax = 0; /* the reference without the shifts */
            assert_int_equal(floe_verify_program(&m, &mach, &e, tok, 8, p, &rep, &res, &err), 0);
            assert_false(res.match);
            m.q = mixes[qi];
            floe_verify_dump_free(&res.dump);
            floe_program_free(p);
            floe_compile_report_free(&rep);
            /* split layers, then decode steps; two users */
            floe_verify_opts vo = {.tokens = 8, .decode = 3, .core_weight_bytes = mi ? 2500u + 1000 : 26000u,
                                   .users = 2};
            floe_verify_run_result rr;
            if (floe_verify_run(&m, &mach, &e, tok, &vo, &rr, &err) != 0)
                fail_msg("W%dA%dKV%d per token: %s", mixes[qi].wbits, mixes[qi].abits, mixes[qi].kvbits, err.msg);
            if (!rr.match)
                fail_msg("W%dA%dKV%d per token, split: %s", mixes[qi].wbits, mixes[qi].abits, mixes[qi].kvbits,
                         rr.mismatch);
            assert_int_equal(rr.decoded, 3);
            assert_true(rr.weight_cores > 0);
            assert_true(mi ? rr.attn_cores == 2 * 2 : rr.attn_cores == 0);
            assert_true(rr.compared == (uint64_t)2 * 11 * (c.d_model * c.n_layers + c.vocab_size));
            floe_verify_run_result_free(&rr);
            floe_qmodel_free(&m);
        }
    }
}

static void test_multi_chip_pipeline(void **state)
{
    (void)state;
    floe_machine mach;
    floe_energy_table e;
    load_config("small", &mach, &e); /* 4 cores per chip, 2 chips (one per card) in one server */
    floe_model_config c = small_model();
    c.n_layers = 5;                   /* 5 layers + the head = 6 cores: chips 0 (4 cores) and 1 (2 cores) */
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel m;
    floe_err err;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 31, &err), 0);
    int32_t tok[8] = {5, 6, 7, 8, 9, 10, 11, 12};
    floe_verify_system_result res;
    if (floe_verify_pipeline(&m, &mach, &e, tok, 8, 4, &res, &err) != 0)
        fail_msg("%s", err.msg);
    if (!res.match)
        fail_msg("%s", res.mismatch);
    assert_int_equal(res.chips, 2);
    assert_true(res.compared == (uint64_t)8 * (c.d_model + c.vocab_size)); /* the hand-off and the logits */
    /* the hand-off crosses PCIe: latency + bytes / bandwidth, exactly */
    uint64_t bytes = 2ull * 8 * c.d_model;
    uint64_t want_ps = mach.pcie_latency_ns * 1000 + bytes * 1000000000000ull / mach.pcie_bytes_per_s;
    assert_int_equal(res.system.transfer_ps[1], want_ps);
    double stage_s[2] = {(double)res.system.stage_cycles[0] / (double)mach.clock_hz,
                         (double)res.system.stage_cycles[1] / (double)mach.clock_hz};
    double latency = stage_s[0] + stage_s[1] + (double)want_ps * 1e-12;
    assert_true(fabs(res.system.latency_s - latency) < 1e-11);
    /* back-to-back users: the slower stage sets the pace */
    double slow = stage_s[0] > stage_s[1] ? stage_s[0] : stage_s[1];
    assert_true(fabs(res.system.interval_s - slow) < 1e-9);
    print_message("2-chip pipeline: %llu values equal; latency %.2f us, one user every %.2f us, %.3g J per user\n",
                  (unsigned long long)res.compared, res.system.latency_s * 1e6, res.system.interval_s * 1e6,
                  res.system.energy_per_user_j);
    floe_verify_system_result_free(&res);
    /* three chips' worth is refused with the numbers */
    floe_qmodel_free(&m);
    c.n_layers = 8;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 31, &err), 0);
    assert_int_equal(floe_verify_pipeline(&m, &mach, &e, tok, 8, 1, &res, &err), -1);
    assert_non_null(strstr(err.msg, "needs 3 chips"));
    floe_qmodel_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bit_exact_on_both_machines), cmocka_unit_test(test_granite_and_llama3),
        cmocka_unit_test(test_head_slices_on_one_chip),    cmocka_unit_test(test_qat_check_over_chips),
        cmocka_unit_test(test_corruption_is_caught),       cmocka_unit_test(test_model_that_does_not_fit),
        cmocka_unit_test(test_split_layers_and_decode),    cmocka_unit_test(test_split_corruption_is_caught),
        cmocka_unit_test(test_per_token_on_chip),          cmocka_unit_test(test_multi_chip_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
