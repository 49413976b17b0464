#include "trainer/log_plot.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file_read.h"
#include "common/gnuplot.h"

int floe_train_log_is_header(const char *h)
{
    size_t n = strlen(FLOE_TRAIN_LOG_HEADER) - 1; /* without the newline: CRLF or EOF also do */
    return strncmp(h, FLOE_TRAIN_LOG_HEADER, n) == 0 && (h[n] == '\n' || h[n] == '\r' || h[n] == '\0');
}

/* The smallest and largest value of a series; lo > hi while it has none. */
static void span_add(double span[2], double v)
{
    span[0] = v < span[0] ? v : span[0];
    span[1] = v > span[1] ? v : span[1];
}

/* appends printf output to a growing buffer */
typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static int sb_printf(sbuf *b, const char *fmt, ...) FLOE_PRINTF(2, 3);
static int sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0)
            return -1;
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return 0;
        }
        size_t cap = (b->cap ? 2 * b->cap : 1 << 16) + (size_t)k;
        char *p = realloc(b->s, cap);
        if (!p)
            return -1;
        b->s = p;
        b->cap = cap;
    }
}

int floe_plot_train_log(const char *csv, const char *png, floe_err *err)
{
    char *data;
    size_t len;
    if (floe_read_file(csv, (size_t)1 << 30, &data, &len, err) != 0)
        return -1;
    sbuf tr = {0}, va = {0};
    int rc = -1, line_no = 0, rows = 0, vals = 0;
    enum { AVG = 50 };
    double ring[AVG], ring_sum = 0.0; /* moving average of the last AVG training losses */
    double xs[2] = {INFINITY, -INFINITY}, ys[2] = {INFINITY, -INFINITY}; /* steps; every loss plotted */
    char *save = NULL;
    /* the data go inline as gnuplot datablocks: the CSV's empty val_loss fields need no filtering */
    if (sb_printf(&tr, "$train << EOD\n") || sb_printf(&va, "$val << EOD\n"))
        goto oom;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        if (line_no == 1)
            continue; /* header, checked by the caller */
        char *f[8], *p = line;
        int nf = 0;
        for (; nf < 8; nf++) {
            f[nf] = p;
            char *c = strchr(p, ',');
            if (!c) {
                nf++;
                break;
            }
            *c = '\0';
            p = c + 1;
        }
        char *end;
        long step = strtol(f[0], &end, 10);
        if (nf != 8 || end == f[0] || *end) {
            floe_err_set(err, "%s:%d: expected 8 fields starting with an integer step", csv, line_no);
            goto out;
        }
        double loss = strtod(f[2], &end);
        if (end == f[2]) {
            floe_err_set(err, "%s:%d: field 'loss': not a number: '%s'", csv, line_no, f[2]);
            goto out;
        }
        if (rows >= AVG)
            ring_sum -= ring[rows % AVG];
        ring[rows % AVG] = loss;
        ring_sum += loss;
        rows++;
        span_add(xs, (double)step);
        span_add(ys, loss);
        if (sb_printf(&tr, "%ld %.6g %.6g\n", step, loss, ring_sum / (rows < AVG ? rows : AVG)))
            goto oom;
        if (f[3][0]) {
            double v = strtod(f[3], &end);
            if (end == f[3] || *end) {
                floe_err_set(err, "%s:%d: field 'val_loss': not a number: '%s'", csv, line_no, f[3]);
                goto out;
            }
            if (sb_printf(&va, "%ld %.6g\n", step, v))
                goto oom;
            span_add(ys, v);
            vals++;
        }
    }
    if (rows == 0) {
        floe_err_set(err, "%s: no steps logged", csv);
        goto out;
    }
    if (sb_printf(&tr, "EOD\n") || sb_printf(&va, "%sEOD\n", vals ? "" : "NaN NaN\n"))
        goto oom;
    /* a single step or a constant loss: explicit ranges instead of gnuplot's warnings */
    char xr[96], yr[96];
    floe_gnuplot_range(xr, sizeof xr, "x", xs[0], xs[1]);
    floe_gnuplot_range(yr, sizeof yr, "y", ys[0], ys[1]);
    sbuf s = {0};
    if (sb_printf(&s, "%s%s%s%s", tr.s, va.s, xr, yr) ||
        sb_printf(&s, "set title 'training loss (floe train)'\nset xlabel 'step'\nset ylabel 'loss (nats per token)'\n"
                      "set grid\nset key top right\n"
                      "plot $train using 1:2 with lines lc rgb '#bbccee' title 'train (per step)', "
                      "$train using 1:3 with lines lw 2 lc rgb '#4477aa' title 'train (mean of the last 50 steps)', "
                      "$val using 1:2 with linespoints pt 7 ps 1 lw 2 lc rgb '#ee6677' title 'validation'\n")) {
        free(s.s);
        goto oom;
    }
    rc = floe_gnuplot_png(png, 900, 600, s.s, err);
    free(s.s);
    goto out;
oom:
    floe_err_set(err, "%s: out of memory", csv);
out:
    free(tr.s);
    free(va.s);
    free(data);
    return rc;
}

/* Field i (1-based) of a CSV row as a number; 0 when the row has no such field or it is empty. */
static int csv_number(const char *row, int i, double *v)
{
    const char *p = row;
    for (int k = 1; p && k < i; k++) {
        p = strchr(p, ',');
        p = p ? p + 1 : NULL;
    }
    if (!p)
        return 0;
    char *end;
    *v = strtod(p, &end);
    return end != p;
}

int floe_plot_qat_log(const char *csv, const char *png, floe_err *err)
{
    char q[4400];
    if (floe_gnuplot_quote(q, sizeof q, csv) != 0)
        return floe_err_set(err, "%s: path too long", csv);
    FILE *f = fopen(csv, "r");
    char head[512] = "";
    if (!f)
        return floe_err_set(err, "%s: cannot open", csv);
    int ok = fgets(head, sizeof head, f) != NULL && strncmp(head, "step,tokens,loss,kl,ce,val_loss,val_ppl", 39) == 0;
    int verified = 0, evaluated = 0; /* any row with field 12 (verified) = 1, with field 7 (val_ppl) set */
    /* the spans of what is plotted: step; KL; validation ppl; latency and energy of verified steps */
    double xs[2] = {INFINITY, -INFINITY}, kl[2] = {INFINITY, -INFINITY}, ppl[2] = {INFINITY, -INFINITY};
    double lat[2] = {INFINITY, -INFINITY}, en[2] = {INFINITY, -INFINITY};
    char row[1024];
    while (ok && fgets(row, sizeof row, f)) {
        char *p = row;
        for (int i = 1; p && i < 12; i++) {
            if (i == 7 && p[0] != ',')
                evaluated = 1;
            p = strchr(p, ',');
            p = p ? p + 1 : NULL;
        }
        verified |= p && p[0] == '1';
        double v;
        if (csv_number(row, 1, &v))
            span_add(xs, v);
        if (csv_number(row, 4, &v))
            span_add(kl, v);
        if (csv_number(row, 7, &v))
            span_add(ppl, v);
        if (p && p[0] == '1' && csv_number(row, 14, &v))
            span_add(lat, v);
        if (p && p[0] == '1' && csv_number(row, 15, &v))
            span_add(en, v);
    }
    fclose(f);
    if (!ok)
        return floe_err_set(err, "%s: not a QAT log (floe qat's qat.csv)", csv);
    sbuf s = {0};
    char val[4600] = "", ver[4600] = "";
    if (evaluated)
        snprintf(val, sizeof val, ", %s every ::1 using 1:7 axes x1y2 with linespoints pt 5 lc rgb '#ee6677' "
                                  "title 'validation ppl'", q);
    if (verified)
        snprintf(ver, sizeof ver, ", %s every ::1 using 1:($12 == 1 ? $4 : 1/0) with points pt 7 ps 0.5 "
                                  "lc rgb '#228833' title 'verified on the chip (bit-exact)'", q);
    /* Explicit ranges where a series is constant (one step, a KL that does not move, one validation),
     * and no y2 axis without data on it: gnuplot would print a warning for each. */
    char xr[96], klr[96], pplr[96];
    floe_gnuplot_range(xr, sizeof xr, "x", xs[0], xs[1]);
    floe_gnuplot_range(klr, sizeof klr, "y", kl[0], kl[1]);
    floe_gnuplot_range(pplr, sizeof pplr, "y2", ppl[0], ppl[1]);
    /* columns: 1 step, 4 kl, 7 val_ppl, 12 verified, 14 latency_us_per_token, 15 energy_uj_per_token */
    if (sb_printf(&s,
                  "set datafile separator ','\nset multiplot layout %d,1 title 'SiLQ QAT (floe qat)'\n"
                  "set grid\nset xlabel 'step'\nset ylabel 'KL(teacher || student), nats'\nset logscale y\n%s%s%s"
                  "%sset ytics nomirror\nset key top right\n"
                  "plot %s every ::1 using 1:4 with lines lc rgb '#4477aa' title 'KL per step'%s%s\n",
                  verified ? 2 : 1, xr, klr, pplr, evaluated ? "set y2label 'validation perplexity'\nset y2tics\n" : "",
                  q, ver, val) ||
        (verified &&
         sb_printf(&s,
                   "unset logscale y\nset yrange [0:%s]\nset y2range [0:%s]\nset ylabel 'us per token'\n"
                   "set y2label 'uJ per token'\nset y2tics\n"
                   "plot %s every ::1 using 1:($12 == 1 ? $14 : 1/0) with linespoints pt 7 ps 0.5 lc rgb '#4477aa' "
                   "title 'chip latency per token', "
                   "%s every ::1 using 1:($12 == 1 ? $15 : 1/0) axes x1y2 with linespoints pt 7 ps 0.5 lc rgb "
                   "'#ccbb44' title 'chip energy per token'\n",
                   lat[1] > 0 ? "*" : "1", en[1] > 0 ? "*" : "1", q, q)) ||
        sb_printf(&s, "unset multiplot\n")) {
        free(s.s);
        return floe_err_set(err, "%s: out of memory", csv);
    }
    int rc = floe_gnuplot_png(png, 900, verified ? 800 : 500, s.s, err);
    free(s.s);
    return rc;
}
