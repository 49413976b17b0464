/* The weight-rotation analysis (trainer/weight_analysis.h): Frobenius and orthogonal Procrustes
 * distances on matrices with known answers, their ordering as a property, and `floe analyze` on a
 * tiny teacher checkpoint and a quantized model made from it by round-to-nearest. */
#include "tests/test_util.h"

#include <math.h>

#include "common/rng.h"
#include "models/qmodel_io.h"
#include "models/safetensors.h"
#include "trainer/weight_analysis.h"

static double gauss(floe_rng *r)
{
    double u1 = ((double)(floe_rng_u64(r) >> 11) + 0.5) / 9007199254740992.0;
    double u2 = (double)(floe_rng_u64(r) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void fill_gauss(floe_rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)gauss(r);
}

/* A random orthogonal n x n matrix (Gram-Schmidt, twice, on a Gaussian matrix), row-major. */
static void random_orthogonal(floe_rng *r, double *q, int n)
{
    for (int i = 0; i < n * n; i++)
        q[i] = gauss(r);
    for (int i = 0; i < n; i++) {
        for (int pass = 0; pass < 2; pass++)
            for (int j = 0; j < i; j++) {
                double dot = 0.0;
                for (int k = 0; k < n; k++)
                    dot += q[i * n + k] * q[j * n + k];
                for (int k = 0; k < n; k++)
                    q[i * n + k] -= dot * q[j * n + k];
            }
        double nn = 0.0;
        for (int k = 0; k < n; k++)
            nn += q[i * n + k] * q[i * n + k];
        for (int k = 0; k < n; k++)
            q[i * n + k] /= sqrt(nn);
    }
}

/* c = a [m x k] b [k x n], row-major; either operand double or float via the flags */
static void matmul_fd(const float *a, const double *b, float *c, int m, int k, int n)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int t = 0; t < k; t++)
                s += (double)a[i * k + t] * b[t * n + j];
            c[i * n + j] = (float)s;
        }
}

static void matmul_df(const double *a, const float *b, float *c, int m, int k, int n)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int t = 0; t < k; t++)
                s += a[i * k + t] * (double)b[t * n + j];
            c[i * n + j] = (float)s;
        }
}

static double frob(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s);
}

/* B = A R (input side) and B = R A (output side) for a random orthogonal R: Procrustes ~ 0 on the
 * rotation's own side, Frobenius large; a rectangular input-side rotation is not an output-side one.
 * Wide and tall shapes, so both the direct SVD of M and the QR-reduced one are exercised. */
static void check_rotation(int M, int N)
{
    floe_rng r;
    floe_rng_seed(&r, 7 + (uint64_t)M);
    float *a = malloc(sizeof(float) * M * N), *b = malloc(sizeof(float) * M * N);
    double *qi = malloc(sizeof(double) * N * N), *qo = malloc(sizeof(double) * M * M);
    fill_gauss(&r, a, (size_t)M * N);
    random_orthogonal(&r, qi, N);
    random_orthogonal(&r, qo, M);
    floe_wa_dist d;
    floe_err err;

    matmul_fd(a, qi, b, M, N, N); /* B = A R */
    assert_int_equal(floe_wa_distances(a, b, (size_t)M, (size_t)N, FLOE_WA_INPUT, &d, &err), 0);
    assert_true(d.procrustes_rel < 1e-3);
    assert_true(d.frobenius_rel > 1.0); /* ~ sqrt(2) for a random rotation */
    assert_true(fabs(d.frobenius - frob(a, b, (size_t)M * N)) < 1e-6 * d.frobenius);
    assert_true(fabs(d.teacher_norm - d.student_norm) < 1e-5 * d.teacher_norm);
    /* the same pair seen from the output side is not a rotation */
    assert_int_equal(floe_wa_distances(a, b, (size_t)M, (size_t)N, FLOE_WA_OUTPUT, &d, &err), 0);
    assert_true(d.procrustes_rel > 0.3);

    matmul_df(qo, a, b, M, M, N); /* B = R A */
    assert_int_equal(floe_wa_distances(a, b, (size_t)M, (size_t)N, FLOE_WA_OUTPUT, &d, &err), 0);
    assert_true(d.procrustes_rel < 1e-3);
    assert_true(d.frobenius_rel > 1.0);
    assert_int_equal(floe_wa_distances(a, b, (size_t)M, (size_t)N, FLOE_WA_INPUT, &d, &err), 0);
    assert_true(d.procrustes_rel > 0.3);
    free(a);
    free(b);
    free(qi);
    free(qo);
}

static void test_rotation_is_free(void **state)
{
    (void)state;
    check_rotation(24, 40); /* input side reduced by QR, output side direct */
    check_rotation(40, 24); /* the other way round */
    check_rotation(30, 30);
}

/* The QR-reduced route (k > rank bound) agrees with the direct SVD of M: zero rows (input side) or
 * zero columns (output side) change neither the distances nor M's singular values, and padding a
 * 9 x 31 pair to 31 x 31 sends the same problem down the direct route. */
static void test_reduction_agrees(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 21);
    enum { M = 9, N = 31 };
    static float a[M * N], b[M * N], pa[N * N], pb[N * N], ta[N * M], tb[N * M];
    fill_gauss(&r, a, M * N);
    for (int i = 0; i < M * N; i++)
        b[i] = a[i] + 0.3f * (float)gauss(&r);
    memcpy(pa, a, sizeof a); /* rows M..N-1 stay zero */
    memcpy(pb, b, sizeof b);
    floe_wa_dist d1, d2;
    assert_int_equal(floe_wa_distances(a, b, M, N, FLOE_WA_INPUT, &d1, NULL), 0);   /* QR route, k 31 > 9 */
    assert_int_equal(floe_wa_distances(pa, pb, N, N, FLOE_WA_INPUT, &d2, NULL), 0); /* direct route */
    assert_true(fabs(d1.procrustes - d2.procrustes) < 1e-9 * d1.frobenius);
    assert_true(fabs(d1.frobenius - d2.frobenius) < 1e-12 * d1.frobenius);
    assert_true(d1.procrustes < 0.9 * d1.frobenius);
    /* output side of the transposed (tall 31 x 9) pair, and of it padded with zero columns */
    memset(pa, 0, sizeof pa);
    memset(pb, 0, sizeof pb);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            ta[j * M + i] = pa[j * N + i] = a[i * N + j];
            tb[j * M + i] = pb[j * N + i] = b[i * N + j];
        }
    assert_int_equal(floe_wa_distances(ta, tb, N, M, FLOE_WA_OUTPUT, &d1, NULL), 0);
    assert_int_equal(floe_wa_distances(pa, pb, N, N, FLOE_WA_OUTPUT, &d2, NULL), 0);
    assert_true(fabs(d1.procrustes - d2.procrustes) < 1e-9 * d1.frobenius);
    assert_true(d1.procrustes < 0.9 * d1.frobenius);
}

static void test_identical(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 3);
    float a[12 * 5];
    fill_gauss(&r, a, 12 * 5);
    floe_wa_dist d;
    for (int side = 0; side < 2; side++) {
        assert_int_equal(floe_wa_distances(a, a, 12, 5, (floe_wa_side)side, &d, NULL), 0);
        assert_true(d.frobenius == 0.0);
        assert_true(d.frobenius_rel == 0.0);
        assert_true(d.procrustes_rel < 1e-6);
    }
    float z[4] = {0};
    assert_int_equal(floe_wa_distances(z, z, 2, 2, FLOE_WA_INPUT, &d, NULL), 0);
    assert_true(d.frobenius == 0.0 && d.procrustes == 0.0 && d.frobenius_rel == 0.0);
}

/* Worked by hand (docs/trainer.md): A = I, B = 2 R(30 degrees): the best rotation is R itself and
 * leaves the scale, ||I - 2I|| = sqrt(2); Frobenius ||I - 2R||^2 = 2 + 8 - 4 tr R = 10 - 4 sqrt(3).
 * A = diag(3, 1), B = diag(1, 3): 20 - 6 (r11 + r22) is least at R = I, so both are 2 sqrt(2).
 * A reflection is orthogonal too: A = I, B = diag(1, -1) gives Procrustes 0, Frobenius 2. */
static void test_two_by_two(void **state)
{
    (void)state;
    double c = sqrt(3.0) / 2.0, s = 0.5;
    float eye[4] = {1, 0, 0, 1};
    float b1[4] = {(float)(2 * c), (float)(-2 * s), (float)(2 * s), (float)(2 * c)};
    floe_wa_dist d;
    for (int side = 0; side < 2; side++) {
        assert_int_equal(floe_wa_distances(eye, b1, 2, 2, (floe_wa_side)side, &d, NULL), 0);
        assert_true(fabs(d.procrustes - sqrt(2.0)) < 1e-6);
        assert_true(fabs(d.frobenius - sqrt(10.0 - 4.0 * sqrt(3.0))) < 1e-6);
        assert_true(fabs(d.teacher_norm - sqrt(2.0)) < 1e-12);
        assert_true(fabs(d.procrustes_rel - 1.0) < 1e-6);
    }
    float a2[4] = {3, 0, 0, 1}, b2[4] = {1, 0, 0, 3};
    assert_int_equal(floe_wa_distances(a2, b2, 2, 2, FLOE_WA_INPUT, &d, NULL), 0);
    assert_true(fabs(d.procrustes - 2.0 * sqrt(2.0)) < 1e-6);
    assert_true(fabs(d.frobenius - 2.0 * sqrt(2.0)) < 1e-12);
    float b3[4] = {1, 0, 0, -1};
    assert_int_equal(floe_wa_distances(eye, b3, 2, 2, FLOE_WA_OUTPUT, &d, NULL), 0);
    assert_true(d.procrustes < 1e-6);
    assert_true(fabs(d.frobenius - 2.0) < 1e-12);
}

/* Property: 0 <= Procrustes <= Frobenius, and Procrustes is at most ||A Q - B|| for any orthogonal Q
 * (it is the minimum), on random shapes, random pairs, both sides. */
static void test_procrustes_bounds(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 11);
    for (int it = 0; it < 40; it++) {
        int m = 1 + (int)floe_rng_below(&r, 20), n = 1 + (int)floe_rng_below(&r, 20);
        float *a = malloc(sizeof(float) * m * n), *b = malloc(sizeof(float) * m * n), *aq = malloc(sizeof(float) * m * n);
        double *q = malloc(sizeof(double) * n * n);
        fill_gauss(&r, a, (size_t)m * n);
        /* a student near the teacher (like a quantized one) or anywhere */
        for (int i = 0; i < m * n; i++)
            b[i] = it % 2 ? a[i] + 0.1f * (float)gauss(&r) : (float)gauss(&r);
        floe_wa_dist d;
        for (int side = 0; side < 2; side++) {
            assert_int_equal(floe_wa_distances(a, b, (size_t)m, (size_t)n, (floe_wa_side)side, &d, NULL), 0);
            assert_true(d.procrustes >= 0.0);
            assert_true(d.procrustes <= d.frobenius);
        }
        assert_int_equal(floe_wa_distances(a, b, (size_t)m, (size_t)n, FLOE_WA_INPUT, &d, NULL), 0);
        random_orthogonal(&r, q, n);
        matmul_fd(a, q, aq, m, n, n);
        assert_true(d.procrustes <= frob(aq, b, (size_t)m * n) + 1e-5);
        free(a);
        free(b);
        free(aq);
        free(q);
    }
}

/* --- the command ----------------------------------------------------------------------------------- */

static char out[1 << 16];

/* A teacher checkpoint of cfg with random gains (so folding matters), saved to path. */
static void save_teacher(const floe_model_config *cfg, const char *path, float **params_out, floe_param_table *t)
{
    floe_err err;
    assert_int_equal(floe_param_table_init(t, cfg, &err), 0);
    float *p = malloc(sizeof(float) * t->total);
    floe_param_init(t, p, 5);
    floe_rng r;
    floe_rng_seed(&r, 9);
    for (size_t i = 0; i < t->count; i++)
        if (t->params[i].ndim == 1)
            for (size_t j = 0; j < t->params[i].numel; j++)
                p[t->params[i].offset + j] = 0.5f + (float)floe_rng_below(&r, 1000) / 1000.0f;
    assert_int_equal(floe_st_save_params(path, cfg, t, p, NULL, 0, &err), 0);
    *params_out = p;
}

/* Round-to-nearest with per-row absmax steps of the gain-folded teacher. */
static void rtn_linear(floe_qlinear *l, const float *w, const float *g)
{
    int qmax = (1 << (l->bits - 1)) - 1;
    for (int n = 0; n < l->out; n++) {
        double amax = 0.0;
        for (int i = 0; i < l->in; i++) {
            double v = fabs((double)w[(size_t)n * l->in + i] * (g ? g[i] : 1.0f));
            amax = v > amax ? v : amax;
        }
        float s = (float)(amax > 0.0 ? amax / qmax : 1.0);
        l->s_w[n] = s;
        for (int i = 0; i < l->in; i++) {
            float v = w[(size_t)n * l->in + i] * (g ? g[i] : 1.0f);
            long c = lround(v / s);
            l->w[(size_t)n * l->in + i] = (int8_t)(c > qmax ? qmax : c < -qmax - 1 ? -qmax - 1 : c);
        }
    }
}

static void save_student(const floe_model_config *cfg, const floe_param_table *t, const float *p, int bits,
                         const char *path)
{
    floe_err err;
    floe_qconfig qc = floe_qconfig_default();
    qc.wbits = bits;
    qc.head_bits = 8;
    floe_qmodel q;
    assert_int_equal(floe_qmodel_alloc(&q, cfg, &qc, &err), 0);
    for (int l = 0; l < cfg->n_layers; l++) {
        floe_qlayer *L = &q.layers[l];
        const float *g1 = p + floe_param_get(t, FLOE_P_ATTN_NORM, l)->offset;
        const float *g2 = p + floe_param_get(t, FLOE_P_MLP_NORM, l)->offset;
        rtn_linear(&L->q, p + floe_param_get(t, FLOE_P_Q, l)->offset, g1);
        rtn_linear(&L->k, p + floe_param_get(t, FLOE_P_K, l)->offset, g1);
        rtn_linear(&L->v, p + floe_param_get(t, FLOE_P_V, l)->offset, g1);
        rtn_linear(&L->o, p + floe_param_get(t, FLOE_P_O, l)->offset, NULL);
        rtn_linear(&L->gate, p + floe_param_get(t, FLOE_P_GATE, l)->offset, g2);
        rtn_linear(&L->up, p + floe_param_get(t, FLOE_P_UP, l)->offset, g2);
        rtn_linear(&L->down, p + floe_param_get(t, FLOE_P_DOWN, l)->offset, NULL);
    }
    rtn_linear(&q.head, p + floe_param_get(t, FLOE_P_EMBED, -1)->offset,
               p + floe_param_get(t, FLOE_P_FINAL_NORM, -1)->offset);
    assert_int_equal(floe_qmodel_derive(&q, &err), 0);
    assert_int_equal(floe_qmodel_save(&q, path, NULL, 0, &err), 0);
    floe_qmodel_free(&q);
}

static void test_cli(void **state)
{
    (void)state;
    const char *floe = floe_test_exe();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", floe_test_tmpdir("analyze_cli"));
    floe_model_config cfg;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &cfg, &err), 0);
    char tpath[4200], s8[4200], s4[4200], csv[4200];
    snprintf(tpath, sizeof tpath, "%s/teacher.safetensors", dir);
    snprintf(s8, sizeof s8, "%s/w8.safetensors", dir);
    snprintf(s4, sizeof s4, "%s/w4.safetensors", dir);
    float *p;
    floe_param_table t;
    save_teacher(&cfg, tpath, &p, &t);
    save_student(&cfg, &t, p, 8, s8);
    save_student(&cfg, &t, p, 4, s4);

    assert_int_equal(floe_test_run(out, sizeof out, "%s analyze --teacher %s --student %s -o %s/a8", floe, tpath, s8, dir),
                     0);
    assert_non_null(strstr(out, "down_proj"));
    assert_non_null(strstr(out, "head"));
    assert_int_equal(floe_test_run(out, sizeof out, "test -s %s/a8/analyze.png", dir), 0);
    snprintf(csv, sizeof csv, "%s/a8/analyze.csv", dir);
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, FLOE_WA_CSV_HEADER);
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        int layer;
        char tensor[32];
        size_t nr, nc;
        double tn, fr, frr, pr, prr;
        assert_int_equal(sscanf(line, "%d,%31[^,],%zu,%zu,%lf,%lf,%lf,%lf,%lf", &layer, tensor, &nr, &nc, &tn, &fr, &frr,
                                &pr, &prr),
                         9);
        assert_true(tn > 0.0 && pr <= fr && pr >= 0.0);
        assert_true(fabs(frr - fr / tn) < 1e-6 * (frr + 1e-30));
        /* 8-bit RTN of the folded weights is within ~1% of them; an unfolded comparison would be ~30% off */
        assert_true(frr < 0.02);
        assert_true(frr > 0.0);
        if (rows == 1) {
            assert_int_equal(layer, 0);
            assert_string_equal(tensor, "k_proj");
            assert_true(nr == 32 && nc == 64);
        }
        if (rows == 14) {
            assert_int_equal(layer, -1);
            assert_string_equal(tensor, "lm_head");
            assert_true(nr == 256 && nc == 64);
        }
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 2 * 7 + 1);

    /* 4-bit weights move further than 8-bit; output-side rotation also works; CSV only */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s analyze -t %s -s %s -o %s/a4 --side output --no-plot && test ! -e %s/a4/analyze.png",
                                   floe, tpath, s4, dir, dir),
                     0);
    assert_non_null(strstr(out, "output space"));
    assert_int_equal(floe_test_run(out, sizeof out, "sed -n 2p %s/a4/analyze.csv", dir), 0);
    double fr4 = 0.0;
    assert_int_equal(sscanf(out, "0,q_proj,64,64,%*f,%*f,%lf", &fr4), 1);
    assert_true(fr4 > 0.05 && fr4 < 0.3);

    /* errors: a shape mismatch names the tensor and both shapes; missing files; bad options */
    floe_model_config other = cfg;
    other.ffn_dim = 180;
    char opath[4200];
    snprintf(opath, sizeof opath, "%s/other.safetensors", dir);
    float *p2;
    floe_param_table t2;
    save_teacher(&other, opath, &p2, &t2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s analyze --teacher %s --student %s -o %s/bad", floe, opath, s8, dir),
                     1);
    assert_non_null(strstr(out, "model.layers.0.mlp.gate_proj.weight: shapes differ: teacher [180, 64], student [172, 64]"));
    assert_int_equal(floe_test_run(out, sizeof out, "test ! -e %s/bad/analyze.csv", dir), 0);
    other = cfg;
    other.n_layers = 3;
    floe_param_table_free(&t2);
    free(p2);
    save_teacher(&other, opath, &p2, &t2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s analyze --teacher %s --student %s", floe, opath, s8), 1);
    assert_non_null(strstr(out, "the teacher has 3 layers, the student 2"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s analyze --teacher %s/none.safetensors --student %s", floe, dir, s8),
                     1);
    assert_non_null(strstr(out, "none.safetensors"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s analyze --teacher %s --student %s/nope.safetensors", floe, tpath,
                                   dir),
                     1);
    assert_non_null(strstr(out, "nope.safetensors"));
    /* the teacher given as student: not a quantized model */
    assert_int_equal(floe_test_run(out, sizeof out, "%s analyze --teacher %s --student %s", floe, tpath, tpath), 1);
    assert_non_null(strstr(out, "student: "));
    assert_int_equal(floe_test_run(out, sizeof out, "%s analyze --student %s", floe, s8), 1);
    assert_non_null(strstr(out, "--teacher"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s analyze -t %s -s %s --side sideways", floe, tpath, s8), 2);
    floe_param_table_free(&t2);
    free(p2);
    floe_param_table_free(&t);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotation_is_free), cmocka_unit_test(test_reduction_agrees), cmocka_unit_test(test_identical),
        cmocka_unit_test(test_two_by_two),       cmocka_unit_test(test_procrustes_bounds),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
