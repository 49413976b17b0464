#include "trainer/weight_analysis.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic_file.h"
#include "common/gnuplot.h"

/* LAPACK (OpenBLAS exports the Fortran symbols; Debian ships no LAPACKE with it by default). The
 * trailing size_t is gfortran's hidden length of the character argument. */
extern void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s, double *u,
                    const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork, int *iwork,
                    int *info, size_t jobz_len);
extern void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau, double *work, const int *lwork,
                    int *info);

/* QR of the column-major k x r matrix x (k >= r, leading dimension ld): its R factor (upper
 * triangular) is left in the top r rows. */
static int qr_in_place(double *x, int k, int r, int ld, floe_err *err)
{
    double *tau = malloc((size_t)r * sizeof *tau), wq = 0.0, *work = NULL;
    int lwork = -1, info = 0, rc = -1;
    if (!tau) {
        floe_err_set(err, "out of memory (QR of %d x %d)", k, r);
        goto out;
    }
    dgeqrf_(&k, &r, x, &ld, tau, &wq, &lwork, &info);
    if (info != 0) {
        floe_err_set(err, "LAPACK dgeqrf workspace query failed (info %d)", info);
        goto out;
    }
    lwork = (int)wq + 1;
    work = malloc((size_t)lwork * sizeof *work);
    if (!work) {
        floe_err_set(err, "out of memory (QR of %d x %d)", k, r);
        goto out;
    }
    dgeqrf_(&k, &r, x, &ld, tau, work, &lwork, &info);
    if (info != 0) {
        floe_err_set(err, "LAPACK dgeqrf failed (info %d)", info);
        goto out;
    }
    rc = 0;
out:
    free(tau);
    free(work);
    return rc;
}

const char *floe_wa_side_name(floe_wa_side side)
{
    return side == FLOE_WA_OUTPUT ? "output" : "input";
}

int floe_wa_side_parse(const char *s, floe_wa_side *side)
{
    if (strcmp(s, "input") == 0)
        *side = FLOE_WA_INPUT;
    else if (strcmp(s, "output") == 0)
        *side = FLOE_WA_OUTPUT;
    else
        return -1;
    return 0;
}

/* Sum of the singular values of the n x n column-major matrix m (destroyed). */
static int nuclear_norm(double *m, int n, double *out, floe_err *err)
{
    double *s = malloc((size_t)n * sizeof *s);
    int *iwork = malloc((size_t)8 * (size_t)n * sizeof *iwork);
    double *work = NULL, wq = 0.0;
    int lwork = -1, info = 0, one = 1, rc = -1;
    double dummy = 0.0;
    if (!s || !iwork) {
        floe_err_set(err, "out of memory (SVD of %d x %d)", n, n);
        goto out;
    }
    dgesdd_("N", &n, &n, m, &n, s, &dummy, &one, &dummy, &one, &wq, &lwork, iwork, &info, 1);
    if (info != 0) {
        floe_err_set(err, "LAPACK dgesdd workspace query failed (info %d)", info);
        goto out;
    }
    lwork = (int)wq + 1;
    work = malloc((size_t)lwork * sizeof *work);
    if (!work) {
        floe_err_set(err, "out of memory (SVD of %d x %d)", n, n);
        goto out;
    }
    dgesdd_("N", &n, &n, m, &n, s, &dummy, &one, &dummy, &one, work, &lwork, iwork, &info, 1);
    if (info != 0) {
        floe_err_set(err, "LAPACK dgesdd failed (info %d%s)", info, info > 0 ? ": did not converge" : "");
        goto out;
    }
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += s[i];
    *out = sum;
    rc = 0;
out:
    free(s);
    free(iwork);
    free(work);
    return rc;
}

static double rel(double x, double norm)
{
    if (norm > 0.0)
        return x / norm;
    return x == 0.0 ? 0.0 : INFINITY;
}

/* The nuclear norm of M = X Y^T where X, Y are k x r (k > r), without forming the k x k M: with
 * X = Q_x R_x and Y = Q_y R_y (thin QR), M = Q_x (R_x R_y^T) Q_y^T and Q_x, Q_y have orthonormal
 * columns, so M has the singular values of the r x r matrix R_x R_y^T. x and y are column-major
 * with leading dimension ld (destroyed). */
static int nuclear_norm_tall(double *x, double *y, int k, int r, int ld, double *out, floe_err *err)
{
    if (qr_in_place(x, k, r, ld, err) != 0 || qr_in_place(y, k, r, ld, err) != 0)
        return -1;
    double *p = malloc((size_t)r * (size_t)r * sizeof *p);
    if (!p)
        return floe_err_set(err, "out of memory (%d x %d)", r, r);
    /* P = R_x R_y^T, column-major: P[i][j] = sum_{t >= max(i, j)} Rx[i][t] Ry[j][t] */
    for (int j = 0; j < r; j++)
        for (int i = 0; i < r; i++) {
            double acc = 0.0;
            for (int t = i > j ? i : j; t < r; t++)
                acc += x[(size_t)t * ld + i] * y[(size_t)t * ld + j];
            p[(size_t)j * r + i] = acc;
        }
    int rc = nuclear_norm(p, r, out, err);
    free(p);
    return rc;
}

int floe_wa_distances(const float *a, const float *b, size_t rows, size_t cols, floe_wa_side side, floe_wa_dist *d,
                      floe_err *err)
{
    size_t k = side == FLOE_WA_INPUT ? cols : rows; /* M is k x k */
    size_t r = rows < cols ? rows : cols;           /* M's rank is at most r */
    if (rows == 0 || cols == 0 || r > (size_t)1 << 15)
        return floe_err_set(err, "matrix [%zu, %zu]: unsupported size for the Procrustes SVD", rows, cols);
    size_t n = rows * cols;
    double *ad = malloc(n * sizeof *ad), *bd = malloc(n * sizeof *bd), *m = NULL;
    int rc = -1;
    if (!ad || !bd) {
        floe_err_set(err, "matrix [%zu, %zu]: out of memory", rows, cols);
        goto out;
    }
    double na = 0.0, nb = 0.0, diff = 0.0;
    for (size_t i = 0; i < n; i++) {
        ad[i] = a[i];
        bd[i] = b[i];
        na += ad[i] * ad[i];
        nb += bd[i] * bd[i];
        diff += (ad[i] - bd[i]) * (ad[i] - bd[i]);
    }
    double nuc;
    if (k > r) {
        /* M = A^T B (input side, cols > rows): X = A^T, Y = B^T, which are the row-major buffers read
         * column-major. M = B A^T (output side, rows > cols): X = A, Y = B (same nuclear norm as
         * X Y^T), transposed into column-major. */
        if (side == FLOE_WA_OUTPUT) {
            double *at = malloc(n * sizeof *at), *bt = malloc(n * sizeof *bt);
            if (!at || !bt) {
                free(at);
                free(bt);
                floe_err_set(err, "matrix [%zu, %zu]: out of memory", rows, cols);
                goto out;
            }
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++) {
                    at[j * rows + i] = ad[i * cols + j];
                    bt[j * rows + i] = bd[i * cols + j];
                }
            free(ad);
            free(bd);
            ad = at;
            bd = bt;
        }
        rc = nuclear_norm_tall(ad, bd, (int)k, (int)r, (int)k, &nuc, err);
    } else {
        m = malloc(k * k * sizeof *m);
        if (!m) {
            floe_err_set(err, "matrix [%zu, %zu]: out of memory", rows, cols);
            goto out;
        }
        /* M = A^T B (input side) or B A^T (output side); dgesdd reads it column-major, i.e. as
         * M^T, which has the same singular values. */
        if (side == FLOE_WA_INPUT)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)cols, (int)cols, (int)rows, 1.0, ad, (int)cols,
                        bd, (int)cols, 0.0, m, (int)cols);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)rows, (int)cols, 1.0, bd, (int)cols,
                        ad, (int)cols, 0.0, m, (int)rows);
        rc = nuclear_norm(m, (int)k, &nuc, err);
    }
    if (rc != 0) {
        floe_err_prefix(err, "matrix [%zu, %zu]", rows, cols);
        goto out;
    }
    rc = -1;
    double frob = sqrt(diff), p2 = na + nb - 2.0 * nuc;
    double proc = p2 > 0.0 ? sqrt(p2) : 0.0;
    if (proc > frob)
        proc = frob; /* R = I is a candidate: only rounding can put the residual above ||A - B|| */
    d->teacher_norm = sqrt(na);
    d->student_norm = sqrt(nb);
    d->frobenius = frob;
    d->frobenius_rel = rel(frob, d->teacher_norm);
    d->procrustes = proc;
    d->procrustes_rel = rel(proc, d->teacher_norm);
    rc = 0;
out:
    free(ad);
    free(bd);
    free(m);
    return rc;
}

size_t floe_wa_row_count(const floe_model_config *cfg)
{
    return (size_t)cfg->n_layers * 7 + 1;
}

/* the 7 linear layers of a block: teacher kind, the gain folded into it, the student tensor */
static const floe_param_kind kinds[7] = {FLOE_P_Q, FLOE_P_K, FLOE_P_V, FLOE_P_O, FLOE_P_GATE, FLOE_P_UP, FLOE_P_DOWN};
static const char *const kind_names[7] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

static int gain_of(floe_param_kind k)
{
    switch (k) {
    case FLOE_P_Q:
    case FLOE_P_K:
    case FLOE_P_V:
        return FLOE_P_ATTN_NORM;
    case FLOE_P_GATE:
    case FLOE_P_UP:
        return FLOE_P_MLP_NORM;
    default:
        return -1;
    }
}

static const floe_qlinear *student_linear(const floe_qmodel *s, int j, int layer)
{
    const floe_qlayer *L = &s->layers[layer];
    const floe_qlinear *l[7] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
    return l[j];
}

typedef struct {
    const floe_param *w, *g; /* teacher matrix, gain (NULL: none) */
    const floe_qlinear *s;
} wa_job;

int floe_wa_model(const floe_model_config *tcfg, const floe_param_table *t, const float *params,
                  const floe_qmodel *student, floe_wa_side side, floe_wa_row *rows,
                  void (*progress)(void *ctx, size_t done, size_t total), void *ctx, floe_err *err)
{
    if (student->cfg.n_layers != tcfg->n_layers)
        return floe_err_set(err, "the teacher has %d layers, the student %d", tcfg->n_layers,
                            student->cfg.n_layers);
    size_t total = floe_wa_row_count(tcfg);
    wa_job *jobs = calloc(total, sizeof *jobs);
    if (!jobs)
        return floe_err_set(err, "out of memory");
    int rc = -1;
    size_t maxn = 0;
    for (size_t r = 0; r < total; r++) {
        int head = r + 1 == total, layer = head ? -1 : (int)(r / 7), j = (int)(r % 7);
        wa_job *jb = &jobs[r];
        floe_wa_row *row = &rows[r];
        memset(row, 0, sizeof *row);
        row->layer = layer;
        if (head) {
            jb->w = floe_param_get(t, FLOE_P_LM_HEAD, -1);
            if (!jb->w)
                jb->w = floe_param_get(t, FLOE_P_EMBED, -1); /* tied */
            jb->g = floe_param_get(t, FLOE_P_FINAL_NORM, -1);
            jb->s = &student->head;
            row->tensor = "lm_head";
        } else {
            jb->w = floe_param_get(t, kinds[j], layer);
            int g = gain_of(kinds[j]);
            jb->g = g >= 0 ? floe_param_get(t, (floe_param_kind)g, layer) : NULL;
            jb->s = student_linear(student, j, layer);
            row->tensor = kind_names[j];
        }
        if (!jb->w || jb->w->ndim != 2) {
            floe_err_set(err, "the teacher has no %s for layer %d", row->tensor, layer);
            goto out;
        }
        snprintf(row->name, sizeof row->name, "%s", head ? "lm_head.weight" : jb->w->name);
        row->rows = jb->w->shape[0];
        row->cols = jb->w->shape[1];
        if ((size_t)jb->s->out != row->rows || (size_t)jb->s->in != row->cols) {
            floe_err_set(err, "%s%s: shapes differ: teacher [%zu, %zu], student [%d, %d]", row->name,
                         head && !floe_param_get(t, FLOE_P_LM_HEAD, -1) ? " (tied: model.embed_tokens.weight)" : "",
                         row->rows, row->cols, jb->s->out, jb->s->in);
            goto out;
        }
        if (jb->g && jb->g->numel != row->cols) {
            floe_err_set(err, "%s: %zu gains for %zu input columns", jb->g->name, jb->g->numel, row->cols);
            goto out;
        }
        if (row->rows * row->cols > maxn)
            maxn = row->rows * row->cols;
    }
    float *a = malloc(maxn * sizeof *a), *b = malloc(maxn * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        floe_err_set(err, "out of memory");
        goto out;
    }
    for (size_t r = 0; r < total; r++) {
        const wa_job *jb = &jobs[r];
        floe_wa_row *row = &rows[r];
        const float *w = params + jb->w->offset, *g = jb->g ? params + jb->g->offset : NULL;
        for (size_t n = 0; n < row->rows; n++) {
            float step = jb->s->s_w[n];
            for (size_t i = 0; i < row->cols; i++) {
                size_t x = n * row->cols + i;
                a[x] = g ? w[x] * g[i] : w[x]; /* the fold the quantized model was made from */
                b[x] = (float)jb->s->w[x] * step;
            }
        }
        if (floe_wa_distances(a, b, row->rows, row->cols, side, &row->d, err) != 0) {
            floe_err_prefix(err, "%s", row->name);
            free(a);
            free(b);
            goto out;
        }
        if (progress)
            progress(ctx, r + 1, total);
    }
    free(a);
    free(b);
    rc = 0;
out:
    free(jobs);
    return rc;
}

int floe_wa_write_csv(const char *path, const floe_wa_row *rows, size_t n, floe_err *err)
{
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    fputs(FLOE_WA_CSV_HEADER, af.fp);
    for (size_t r = 0; r < n; r++) {
        const floe_wa_row *w = &rows[r];
        fprintf(af.fp, "%d,%s,%zu,%zu,%.9g,%.9g,%.9g,%.9g,%.9g\n", w->layer, w->tensor, w->rows, w->cols,
                w->d.teacher_norm, w->d.frobenius, w->d.frobenius_rel, w->d.procrustes, w->d.procrustes_rel);
    }
    if (ferror(af.fp)) {
        floe_afile_abort(&af);
        return floe_err_set(err, "%s: write failed", path);
    }
    return floe_afile_commit(&af, err);
}

/* appends printf output to a growing buffer */
typedef struct {
    char *s;
    size_t n, cap;
    int failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) FLOE_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    while (!b->failed) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->failed = 1;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? 2 * b->cap : 1 << 14) + (size_t)k;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
}

int floe_wa_plot(const char *png, const floe_wa_row *rows, size_t n, int n_layers, floe_wa_side side,
                 floe_err *err)
{
    if (n != (size_t)n_layers * 7 + 1)
        return floe_err_set(err, "%s: %zu rows for %d layers", png, n, n_layers);
    sbuf s = {0};
    /* $d: layer, then frobenius_rel of the 7 kinds, then procrustes_rel of the 7 kinds */
    sb_printf(&s, "$d << EOD\n");
    for (int l = 0; l < n_layers; l++) {
        sb_printf(&s, "%d", l);
        for (int j = 0; j < 7; j++)
            sb_printf(&s, " %.9g", rows[(size_t)l * 7 + (size_t)j].d.frobenius_rel);
        for (int j = 0; j < 7; j++)
            sb_printf(&s, " %.9g", rows[(size_t)l * 7 + (size_t)j].d.procrustes_rel);
        sb_printf(&s, "\n");
    }
    const floe_wa_dist *h = &rows[n - 1].d;
    double top = 0.0; /* the y axis starts at 0; all zero (a student equal to its teacher) gets [0:1], not [0:0] */
    for (size_t i = 0; i < n; i++)
        top = fmax(top, fmax(rows[i].d.frobenius_rel, rows[i].d.procrustes_rel));
    sb_printf(&s, "EOD\n$h << EOD\n%d %.9g %.9g\nEOD\n", n_layers, h->frobenius_rel, h->procrustes_rel);
    sb_printf(&s,
              "set multiplot layout 1,2 title 'weight-rotation analysis (floe analyze): teacher vs student, relative "
              "to ||teacher||_F'\n"
              "set grid\nset key outside right top font ',8'\nset xlabel 'layer'\nset xrange [-0.5:%d.5]\n"
              "set xtics %s\nset xtics add ('head' %d)\nset yrange [0:%s]\n",
              n_layers, n_layers <= 16 ? "1" : "autofreq", n_layers, top > 0.0 ? "*" : "1");
    static const char *const colors[7] = {"#4477aa", "#66ccee", "#228833", "#ccbb44", "#ee6677", "#aa3377", "#555555"};
    for (int panel = 0; panel < 2; panel++) {
        if (panel == 0)
            sb_printf(&s, "set title 'Frobenius ||A - B|| / ||A||'\nset ylabel 'relative distance'\n");
        else
            sb_printf(&s, "set title 'Orthogonal Procrustes min_R ||%s - B|| / ||A|| (%s-space rotation)'\n",
                      side == FLOE_WA_INPUT ? "A R" : "R A", floe_wa_side_name(side));
        sb_printf(&s, "plot ");
        for (int j = 0; j < 7; j++)
            sb_printf(&s, "$d using 1:%d with linespoints pt 7 ps 0.8 lw 2 lc rgb '%s' title '%s', ",
                      2 + 7 * panel + j, colors[j], kind_names[j]);
        sb_printf(&s, "$h using 1:%d with points pt 5 ps 1.5 lc rgb '#000000' title 'lm_head'\n", 2 + panel);
    }
    sb_printf(&s, "unset multiplot\n");
    if (s.failed) {
        free(s.s);
        return floe_err_set(err, "%s: out of memory", png);
    }
    int rc = floe_gnuplot_png(png, 1400, 560, s.s, err);
    free(s.s);
    return rc;
}
