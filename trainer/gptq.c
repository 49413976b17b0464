/* GPTQ (trainer/gptq.h). */
#include "trainer/gptq.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/blas.h"

/* LAPACK from OpenBLAS (Fortran symbols; the size_t is gfortran's hidden length of uplo). */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);

floe_gptq_cfg floe_gptq_defaults(void) { return (floe_gptq_cfg){0.01, 128, 0}; }

int floe_gptq_check(const floe_gptq_cfg *c, floe_err *err)
{
    if (!(c->damp > 0.0 && c->damp <= 1.0))
        return floe_err_set(err, "GPTQ damping %g: expected a fraction of the mean Hessian diagonal in (0, 1]",
                            c->damp);
    if (c->block < 1)
        return floe_err_set(err, "GPTQ block %d: expected at least 1 column", c->block);
    return 0;
}

void floe_gptq_hessian_add(double *H, const float *X, size_t rows, int in)
{
    enum { CHUNK = 256 };
    floe_blas_single_thread();
    double *d = malloc(sizeof(double) * CHUNK * (size_t)in);
    if (!d) { /* tiny fallback without the buffer: same sums, same order per entry */
        for (size_t r = 0; r < rows; r++)
            for (int i = 0; i < in; i++)
                for (int j = 0; j < in; j++)
                    H[(size_t)i * in + j] += (double)X[r * in + i] * (double)X[r * in + j];
        return;
    }
    for (size_t r0 = 0; r0 < rows; r0 += CHUNK) {
        int n = rows - r0 < CHUNK ? (int)(rows - r0) : CHUNK;
        for (size_t k = 0; k < (size_t)n * in; k++)
            d[k] = (double)X[r0 * in + k];
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, in, n, 1.0, d, in, d, in, 1.0, H, in);
    }
    free(d);
}

double floe_gptq_output_error(const float *W, const float *What, int out, int in, const double *H)
{
    double e = 0.0;
    double *d = malloc(sizeof(double) * (size_t)in), *hd = malloc(sizeof(double) * (size_t)in);
    if (!d || !hd) {
        free(d);
        free(hd);
        return NAN;
    }
    floe_blas_single_thread();
    for (int r = 0; r < out; r++) {
        for (int i = 0; i < in; i++)
            d[i] = (double)W[(size_t)r * in + i] - (double)What[(size_t)r * in + i];
        cblas_dsymv(CblasRowMajor, CblasUpper, in, 1.0, H, in, d, 1, 0.0, hd, 1);
        for (int i = 0; i < in; i++)
            e += d[i] * hd[i];
    }
    free(d);
    free(hd);
    return e;
}

/* The row-major upper factor U of inv(A) = U^T U, in place (A symmetric positive definite,
 * row-major = column-major). LAPACK's column-major lower factor is the row-major upper one. */
static int chol_inverse_upper(double *A, int n)
{
    int info = 0;
    dpotrf_("L", &n, A, &n, &info, 1);
    if (info != 0)
        return info;
    dpotri_("L", &n, A, &n, &info, 1);
    if (info != 0)
        return info;
    dpotrf_("L", &n, A, &n, &info, 1);
    return info;
}

typedef struct {
    int i;
    double d;
} col_key;

static int by_diag_desc(const void *a, const void *b)
{
    const col_key *x = a, *y = b;
    if (x->d != y->d)
        return x->d < y->d ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

int floe_gptq_layer(float *W, int out, int in, const double *H, floe_wquant *q, int fit, const floe_gptq_cfg *c,
                    floe_err *err)
{
    if (floe_gptq_check(c, err) != 0)
        return -1;
    if (q->out != out || q->in != in)
        return floe_err_set(err, "GPTQ: quantizer %d x %d for a %d x %d matrix", q->out, q->in, out, in);
    const int bs = c->block < in ? c->block : in;
    const size_t nn = (size_t)in * in;
    double *U = malloc(sizeof(double) * nn), *Wd = malloc(sizeof(double) * (size_t)out * in);
    double *E = malloc(sizeof(double) * (size_t)out * bs);
    float *fb = fit ? malloc(sizeof(float) * (size_t)out * in) : NULL;
    int *perm = malloc(sizeof(int) * (size_t)in);
    col_key *keys = malloc(sizeof(col_key) * (size_t)in);
    int rc = -1;
    if (!U || !Wd || !E || (fit && !fb) || !perm || !keys) {
        floe_err_set(err, "GPTQ: out of memory (%d x %d)", out, in);
        goto out;
    }
    floe_blas_single_thread();
    /* dead inputs, damping, order */
    double mean = 0.0;
    int *dead = perm; /* reuse as a flag array before the permutation is built */
    for (int i = 0; i < in; i++) {
        double h = H[(size_t)i * in + i];
        dead[i] = !(h > 0.0);
        mean += dead[i] ? 1.0 : h;
    }
    mean /= in;
    for (int r = 0; r < out; r++)
        for (int i = 0; i < in; i++)
            if (dead[i])
                W[(size_t)r * in + i] = 0.0f;
    for (int i = 0; i < in; i++) {
        keys[i].i = i;
        keys[i].d = dead[i] ? 1.0 : H[(size_t)i * in + i];
    }
    if (c->act_order)
        qsort(keys, (size_t)in, sizeof *keys, by_diag_desc);
    for (int i = 0; i < in; i++)
        perm[i] = keys[i].i;
    double lambda = c->damp * mean;
    for (int i = 0; i < in; i++)
        for (int j = 0; j < in; j++) {
            int a = perm[i], b = perm[j];
            double h = H[(size_t)a * in + b];
            if (a == b && !(h > 0.0))
                h = 1.0;
            else if (!(H[(size_t)a * in + a] > 0.0) || !(H[(size_t)b * in + b] > 0.0))
                h = 0.0;
            U[(size_t)i * in + j] = h + (i == j ? lambda : 0.0);
        }
    int info = chol_inverse_upper(U, in);
    if (info != 0 || !isfinite(lambda)) {
        floe_err_set(err, "GPTQ: the damped Hessian (%d x %d, damping %g of its mean diagonal) is not positive "
                          "definite (LAPACK info %d): raise the damping",
                     in, in, c->damp, info);
        goto out;
    }
    for (int r = 0; r < out; r++)
        for (int i = 0; i < in; i++)
            Wd[(size_t)r * in + i] = (double)W[(size_t)r * in + perm[i]];
    if (fit && c->act_order)
        floe_wquant_minmax(q, W);
    for (int i1 = 0; i1 < in; i1 += bs) {
        const int i2 = i1 + bs < in ? i1 + bs : in;
        for (int i = i1; i < i2; i++) {
            const int col = perm[i];
            if (fit && !c->act_order && col % q->group == 0) {
                int len = in - col < q->group ? in - col : q->group;
                for (int r = 0; r < out; r++)
                    for (int k = 0; k < len; k++)
                        fb[(size_t)r * in + col + k] = (float)Wd[(size_t)r * in + col + k];
                floe_wquant_minmax_cols(q, fb, in, col);
            }
            const double d = U[(size_t)i * in + i];
            const double *urow = U + (size_t)i * in;
#pragma omp parallel for schedule(static)
            for (int r = 0; r < out; r++) {
                double *w = Wd + (size_t)r * in;
                float wf = (float)w[i];
                double qv = (double)floe_wquant_dequant1(q, r, col, floe_wquant_code1(q, r, col, wf));
                double e = ((double)wf - qv) / d;
                w[i] = qv;
                E[(size_t)r * bs + (i - i1)] = e;
                for (int j = i + 1; j < i2; j++)
                    w[j] -= e * urow[j];
            }
        }
        if (i2 < in)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, in - i2, i2 - i1, -1.0, E, bs,
                        U + (size_t)i1 * in + i2, in, 1.0, Wd + i2, in);
    }
    for (int r = 0; r < out; r++)
        for (int i = 0; i < in; i++)
            W[(size_t)r * in + perm[i]] = (float)Wd[(size_t)r * in + i];
    rc = 0;
out:
    free(U);
    free(Wd);
    free(E);
    free(fb);
    free(perm);
    free(keys);
    return rc;
}
