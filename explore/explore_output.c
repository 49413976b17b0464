/* The outputs of a sweep (explore/explore_output.h): the CSV, the front plots, the HTML report. */
#include "explore/explore_output.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/atomic_file.h"
#include "common/file_read.h"
#include "common/gnuplot.h"
#include "common/path.h"

/* A growing text buffer; on allocation failure it stops growing and says so (ok = 0). */
typedef struct {
    char *s;
    size_t len, cap;
    int ok;
} text;

static void add(text *t, const char *fmt, ...) FLOE_PRINTF(2, 3);
static void add(text *t, const char *fmt, ...)
{
    if (!t->ok)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            t->ok = 0;
            return;
        }
        if (t->s && t->len + (size_t)k < t->cap) {
            t->len += (size_t)k;
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap <= t->len + (size_t)k)
            cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->ok = 0;
            return;
        }
        t->s = s, t->cap = cap;
    }
}

static void add_csv_field(text *t, const char *v)
{
    if (!strpbrk(v, ",\"\n")) {
        add(t, "%s", v);
        return;
    }
    add(t, "\"");
    for (; *v; v++)
        if (*v == '"')
            add(t, "\"\"");
        else
            add(t, "%c", *v);
    add(t, "\"");
}

static void add_html(text *t, const char *v)
{
    for (; *v; v++)
        switch (*v) {
        case '<': add(t, "&lt;"); break;
        case '>': add(t, "&gt;"); break;
        case '&': add(t, "&amp;"); break;
        case '"': add(t, "&quot;"); break;
        default: add(t, "%c", *v);
        }
}

static void format_figure(char *buf, size_t n, const floe_explore_figures *f, const char *name)
{
    double v = floe_explore_figure(f, name);
    if (isnan(v))
        buf[0] = '\0';
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%.6g", v);
}

/* Every row's cells: point, the keys, the figures, tier, within, front, status. */
static void row_cells(const floe_sweep *s, const floe_explore_result *r, uint64_t p, void (*cell)(text *, const char *),
                      text *t, const char *sep)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)p);
    cell(t, buf);
    for (int a = 0; a < s->n_axes; a++) {
        const floe_sweep_axis *x = &s->axes[a];
        int v = floe_sweep_value_index(s, p, a);
        for (int k = 0; k < x->n_keys; k++) {
            add(t, "%s", sep);
            cell(t, x->values[v * x->n_keys + k]);
        }
    }
    for (int i = 0; floe_explore_figure_name(i); i++) {
        add(t, "%s", sep);
        format_figure(buf, sizeof buf, &r->figures, floe_explore_figure_name(i));
        cell(t, buf);
    }
    add(t, "%s", sep);
    cell(t, r->tier < 0 ? "" : floe_sweep_tier_name((floe_sweep_tier)r->tier));
    add(t, "%s", sep);
    cell(t, r->within ? "1" : "0");
    add(t, "%s", sep);
    cell(t, r->front ? "1" : "0");
    add(t, "%s", sep);
    cell(t, r->status ? r->status : "");
}

static void header_cells(const floe_sweep *s, void (*cell)(text *, const char *), text *t, const char *sep)
{
    cell(t, "point");
    for (int a = 0; a < s->n_axes; a++)
        for (int k = 0; k < s->axes[a].n_keys; k++) {
            add(t, "%s", sep);
            cell(t, s->axes[a].key[k]);
        }
    for (int i = 0; floe_explore_figure_name(i); i++) {
        add(t, "%s", sep);
        cell(t, floe_explore_figure_name(i));
    }
    const char *tail[] = {"tier", "within", "front", "status"};
    for (int i = 0; i < 4; i++) {
        add(t, "%s", sep);
        cell(t, tail[i]);
    }
}

static int write_csv(const floe_sweep *s, const floe_explore_result *res, uint64_t n, const char *path, floe_err *err)
{
    text t = {NULL, 0, 0, 1};
    header_cells(s, add_csv_field, &t, ",");
    add(&t, "\n");
    for (uint64_t p = 0; p < n; p++) {
        row_cells(s, &res[p], p, add_csv_field, &t, ",");
        add(&t, "\n");
    }
    int rc = t.ok ? floe_write_file_atomic(path, t.s, t.len, err) : floe_err_set(err, "%s: out of memory", path);
    free(t.s);
    return rc;
}

/* Sorts (x, y) pairs by x, then y. */
static int cmp_xy(const void *a, const void *b)
{
    const double *p = a, *q = b;
    if (p[0] != q[0])
        return p[0] < q[0] ? -1 : 1;
    return p[1] < q[1] ? -1 : p[1] > q[1];
}

/* One front plot: every point within the constraints, the points on the front over every objective,
 * and the front of these two figures alone as a staircase (with more than two objectives a point of
 * the whole front may look dominated in one projection). */
static int plot_pair(const floe_explore_result *res, uint64_t n, const char *x, const char *y, const char *dir,
                     char *png, size_t png_n, floe_err *err)
{
    char data[4300], name[160], qd[8700];
    snprintf(name, sizeof name, "front-%s-%s.png", x, y);
    if (floe_path_join(png, png_n, dir, name) != 0 || floe_path_join(data, sizeof data, dir, ".front-plot.dat") != 0)
        return floe_err_set(err, "%s: the output folder's path is too long", dir);
    double *xy = malloc((n ? n : 1) * 2 * sizeof *xy);
    if (!xy)
        return floe_err_set(err, "%s: out of memory", name);
    FILE *f = fopen(data, "w");
    if (!f) {
        free(xy);
        return floe_err_set(err, "%s: cannot write", data);
    }
    uint64_t within = 0;
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    const int mx = floe_explore_maximised(x), my = floe_explore_maximised(y);
    for (int block = 0; block < 2; block++) { /* 0: within; 1: the front */
        for (uint64_t p = 0; p < n; p++) {
            if (!res[p].within || (block == 1 && !res[p].front))
                continue;
            double vx = floe_explore_figure(&res[p].figures, x), vy = floe_explore_figure(&res[p].figures, y);
            fprintf(f, "%.9g %.9g\n", vx, vy);
            if (block == 0) /* minimised coordinates for the two-figure front */
                xy[2 * within] = mx ? -vx : vx, xy[2 * within + 1] = my ? -vy : vy, within++;
            lo[0] = fmin(lo[0], vx), hi[0] = fmax(hi[0], vx), lo[1] = fmin(lo[1], vy), hi[1] = fmax(hi[1], vy);
        }
        fprintf(f, "\n\n");
    }
    /* the two-figure front: sorted by x, each point whose y is below every earlier one's */
    qsort(xy, within, 2 * sizeof *xy, cmp_xy);
    double best = INFINITY;
    for (uint64_t i = 0; i < within; i++)
        if (xy[2 * i + 1] < best) {
            best = xy[2 * i + 1];
            fprintf(f, "%.9g %.9g\n", mx ? -xy[2 * i] : xy[2 * i], my ? -best : best);
        }
    free(xy);
    if (fclose(f) != 0) {
        unlink(data);
        return floe_err_set(err, "%s: write failed", data);
    }
    if (within == 0) {
        unlink(data);
        png[0] = '\0';
        return 0;
    }
    char xr[128], yr[128], script[30000];
    floe_gnuplot_range(xr, sizeof xr, "x", lo[0], hi[0]);
    floe_gnuplot_range(yr, sizeof yr, "y", lo[1], hi[1]);
    floe_gnuplot_quote(qd, sizeof qd, data);
    snprintf(script, sizeof script,
             "set grid\nset bmargin 6\nset key outside bottom center horizontal\nset xlabel '%s'\nset ylabel '%s'\n%s%s"
             "set title '%llu points within the constraints'\n"
             "plot %s index 2 using 1:2 with steps lw 1.5 lc rgb '#2c7fb8' title 'front of these two', "
             "%s index 0 using 1:2 with points pt 7 ps 0.6 lc rgb '#b0b0b0' title 'within', "
             "%s index 1 using 1:2 with points pt 7 ps 1.2 lc rgb '#c0392b' title 'front of every objective'\n",
             x, y, xr, yr, (unsigned long long)within, qd, qd, qd);
    int rc = floe_gnuplot_png(png, 800, 600, script, err);
    unlink(data);
    return rc;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void add_base64(text *t, const unsigned char *d, size_t n)
{
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        add(t, "%c%c%c%c", b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < n ? b64[v >> 6 & 63] : '=',
            i + 2 < n ? b64[v & 63] : '=');
    }
}

static void cell_td(text *t, const char *v)
{
    add(t, "<td>");
    add_html(t, v);
    add(t, "</td>");
}

static void cell_th(text *t, const char *v)
{
    add(t, "<th onclick=\"sortBy(this)\">");
    add_html(t, v);
    add(t, "</th>");
}

static int write_html(const floe_sweep *s, const floe_explore_result *res, uint64_t n, char pngs[][4300], int n_png,
                      const char *path, floe_err *err)
{
    text t = {NULL, 0, 0, 1};
    uint64_t within = 0, front = 0;
    for (uint64_t p = 0; p < n; p++)
        within += res[p].within, front += res[p].front;
    add(&t, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>floe explore: ");
    add_html(&t, s->path);
    add(&t, "</title>\n<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:12px}"
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{cursor:pointer;background:#eee}"
            "tr.front td{background:#fde2df}tr.out td{color:#999}img{max-width:48%%;margin:4px}</style>\n"
            "<script>function sortBy(h){var t=h.closest('table'),i=[].indexOf.call(h.parentNode.children,h),"
            "b=t.tBodies[0],r=[].slice.call(b.rows),d=h.dataset.d=h.dataset.d==='1'?'-1':'1';"
            "r.sort(function(x,y){var a=x.cells[i].textContent,c=y.cells[i].textContent,p=parseFloat(a),q="
            "parseFloat(c);if(!isNaN(p)&&!isNaN(q))return (p-q)*d;return a.localeCompare(c)*d;});"
            "r.forEach(function(x){b.appendChild(x)});}</script></head><body>\n<h1>floe explore: ");
    add_html(&t, s->path);
    add(&t,
        "</h1>\n<p>%llu points; %llu fit and hold every constraint; %llu on the Pareto front (highlighted). "
        "Base machine ",
        (unsigned long long)n, (unsigned long long)within, (unsigned long long)front);
    add_html(&t, s->machine_path);
    if (s->energy_path[0]) {
        add(&t, ", energy table ");
        add_html(&t, s->energy_path);
    }
    add(&t, ". Click a column to sort.</p>\n");
    for (int i = 0; i < n_png; i++) {
        char *d;
        size_t len;
        if (!pngs[i][0] || floe_read_file(pngs[i], 64u << 20, &d, &len, err) != 0)
            continue;
        add(&t, "<img alt=\"front\" src=\"data:image/png;base64,");
        add_base64(&t, (const unsigned char *)d, len);
        add(&t, "\">\n");
        free(d);
    }
    add(&t, "<table><thead><tr>");
    header_cells(s, cell_th, &t, "");
    add(&t, "</tr></thead><tbody>\n");
    for (uint64_t p = 0; p < n; p++) {
        add(&t, "<tr%s>", res[p].front ? " class=\"front\"" : res[p].within ? "" : " class=\"out\"");
        row_cells(s, &res[p], p, cell_td, &t, "");
        add(&t, "</tr>\n");
    }
    add(&t, "</tbody></table>\n</body></html>\n");
    int rc = t.ok ? floe_write_file_atomic(path, t.s, t.len, err) : floe_err_set(err, "%s: out of memory", path);
    free(t.s);
    return rc;
}

int floe_explore_write_outputs(const floe_sweep *s, const floe_explore_point *pts, const floe_explore_result *res,
                               uint64_t n, const char *dir, floe_err *err)
{
    (void)pts;
    char path[4300];
    if (floe_path_join(path, sizeof path, dir, "explore.csv") != 0)
        return floe_err_set(err, "%s: the output folder's path is too long", dir);
    if (write_csv(s, res, n, path, err) != 0)
        return -1;
    const char *obj[8];
    int k = floe_explore_objectives(s, res, n, obj), n_png = 0;
    char pngs[8][4300];
    for (int i = 1; i < k && n_png < 8; i++) /* the first objective against each other one */
        if (plot_pair(res, n, obj[0], obj[i], dir, pngs[n_png], sizeof pngs[n_png], err) != 0)
            return -1;
        else
            n_png++;
    if (floe_path_join(path, sizeof path, dir, "report.html") != 0)
        return floe_err_set(err, "%s: the output folder's path is too long", dir);
    return write_html(s, res, n, pngs, n_png, path, err);
}
