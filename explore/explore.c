/* `floe explore` as a library (explore/explore.h): phases of pricing spread over worker processes
 * and MPI ranks, the journal that makes a sweep resumable, the front and its re-pricing. */
#include "explore/explore.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/path.h"
#include "explore/accuracy.h"
#include "explore/explore_output.h"
#include "explore/pareto.h"
#include "trainer/run_log.h"

/* ---- journal lines: digest,tier,figures...,"status" ------------------------------------------- */

static void csv_quote(char *out, size_t n, const char *s)
{
    size_t j = 0;
    if (n < 3)
        return;
    out[j++] = '"';
    for (; *s && j + 3 < n; s++) {
        if (*s == '"')
            out[j++] = '"';
        out[j++] = *s == '\n' ? ' ' : *s;
    }
    out[j++] = '"';
    out[j] = '\0';
}

static int format_line(char *out, size_t n, uint64_t digest, floe_sweep_tier tier, const floe_explore_figures *f,
                       const char *status)
{
    size_t len = (size_t)snprintf(out, n, "%016llx,%s", (unsigned long long)digest, floe_sweep_tier_name(tier));
    for (int i = 0; floe_explore_figure_name(i) && len < n; i++) {
        double v = floe_explore_figure(f, floe_explore_figure_name(i));
        len += isnan(v) ? (size_t)snprintf(out + len, n - len, ",") : (size_t)snprintf(out + len, n - len, ",%.17g", v);
    }
    char q[FLOE_ERR_MSG_MAX + 64];
    csv_quote(q, sizeof q, status);
    if (len < n)
        len += (size_t)snprintf(out + len, n - len, ",%s\n", q);
    return len < n ? 0 : -1;
}

/* Splits one CSV line into fields (quotes as RFC 4180); returns the count, or -1. */
static int split_csv(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max)
            return -1;
        if (*p == '"') {
            char *w = ++p;
            fields[n++] = w;
            for (;;) {
                if (!*p)
                    return -1;
                if (*p == '"' && p[1] == '"')
                    *w++ = '"', p += 2;
                else if (*p == '"') {
                    p++;
                    break;
                } else
                    *w++ = *p++;
            }
            *w = '\0';
            if (*p == ',') {
                p++;
                continue;
            }
            return *p ? -1 : n;
        }
        fields[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            return n;
        *c = '\0';
        p = c + 1;
    }
}

typedef struct {
    uint64_t digest;
    floe_sweep_tier tier;
    floe_explore_figures f;
    char *status;
} row;

static int parse_line(const char *text, row *r)
{
    char buf[FLOE_ERR_MSG_MAX * 2 + 1024], *fields[64], *end;
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof buf || text[n - 1] != '\n')
        return -1;
    memcpy(buf, text, n - 1);
    buf[n - 1] = '\0';
    int nf = split_csv(buf, fields, 64), nfig = 0;
    while (floe_explore_figure_name(nfig))
        nfig++;
    if (nf != nfig + 3 || strlen(fields[0]) != 16)
        return -1;
    r->digest = strtoull(fields[0], &end, 16);
    if (*end)
        return -1;
    if (strcmp(fields[1], "sim") == 0)
        r->tier = FLOE_TIER_SIM;
    else if (strcmp(fields[1], "analytic") == 0)
        r->tier = FLOE_TIER_ANALYTIC;
    else
        return -1;
    r->f = floe_explore_figures_none();
    for (int i = 0; i < nfig; i++) {
        double v = NAN;
        if (fields[2 + i][0]) {
            v = strtod(fields[2 + i], &end);
            if (*end)
                return -1;
        }
        floe_explore_figure_set(&r->f, floe_explore_figure_name(i), v);
    }
    r->status = strdup(fields[nf - 1]);
    return r->status ? 0 : -1;
}

/* ---- the state of a run: every point's rows by tier --------------------------------------------- */

typedef struct {
    const floe_sweep *s;
    const floe_explore_opts *o;
    uint64_t n;
    floe_explore_point *pts;
    char **make_error; /* the point could not be made: its error (owned), else NULL */
    row *best[2];      /* [tier][point]: its row, status NULL when none */
    char journal[4300];
    int journal_fd;
    uint64_t priced; /* pricing runs this time */
    uint64_t reused; /* points with figures from the journal at the start */
    double t0;
    floe_explore_accuracy acc; /* rank 0 */
} run;

/* Finds the point of a digest (the points' digests are distinct unless two points are the same). */
static void record(run *r, const row *x, int fresh)
{
    for (uint64_t p = 0; p < r->n; p++) {
        if (r->make_error[p] || r->pts[p].digest != x->digest)
            continue;
        row *slot = &r->best[x->tier][p];
        if (slot->status)
            free(slot->status);
        *slot = *x;
        slot->status = strdup(x->status);
        if (fresh)
            r->priced++;
    }
}

static void on_line(void *arg, const char *line)
{
    run *r = arg;
    row x;
    if (parse_line(line, &x) != 0)
        return; /* a torn or foreign line: that point is priced again */
    record(r, &x, 1);
    free(x.status);
    if (r->journal_fd >= 0) {
        size_t n = strlen(line);
        ssize_t w = write(r->journal_fd, line, n);
        (void)w; /* a lost journal line costs a re-pricing, not a result */
    }
}

static int journal_open(run *r, floe_err *err)
{
    if (floe_mkdir_p(r->o->out_dir, err) != 0)
        return -1;
    if (floe_path_join(r->journal, sizeof r->journal, r->o->out_dir, "points.journal") != 0)
        return floe_err_set(err, "%s: the output folder's path is too long", r->o->out_dir);
    FILE *f = fopen(r->journal, "r");
    if (f) {
        char line[FLOE_ERR_MSG_MAX * 2 + 1024];
        while (fgets(line, sizeof line, f)) {
            row x;
            if (parse_line(line, &x) == 0) {
                record(r, &x, 0);
                free(x.status);
            }
        }
        fclose(f);
    }
    r->journal_fd = open(r->journal, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (r->journal_fd < 0)
        return floe_err_set(err, "%s: %s", r->journal, strerror(errno));
    return 0;
}

/* ---- pricing in worker processes ---------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int fd;
    uint64_t point;
    char buf[FLOE_ERR_MSG_MAX * 2 + 1024];
    size_t len;
} worker;

static void child(const run *r, uint64_t p, floe_sweep_tier tier, int fd)
{
    floe_explore_figures f;
    char status[FLOE_ERR_MSG_MAX], line[FLOE_ERR_MSG_MAX * 2 + 1024];
    floe_explore_price(r->s, &r->pts[p], tier, &f, status, sizeof status);
    if (format_line(line, sizeof line, r->pts[p].digest, tier, &f, status) == 0) {
        size_t n = strlen(line), off = 0;
        while (off < n) {
            ssize_t w = write(fd, line + off, n - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    _exit(0);
}

/* A worker that ended without a whole line: its point failed (killed, crashed, out of memory). */
static void worker_failed(run *r, const worker *w, int status, floe_sweep_tier tier, void (*emit)(run *, const char *))
{
    char why[256], line[FLOE_ERR_MSG_MAX * 2 + 1024];
    if (WIFSIGNALED(status))
        snprintf(why, sizeof why, "the worker pricing it was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(why, sizeof why, "the worker pricing it exited with status %d and no result",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    floe_explore_figures f = floe_explore_figures_none();
    if (format_line(line, sizeof line, r->pts[w->point].digest, tier, &f, why) == 0)
        emit(r, line);
}

static void emit_local(run *r, const char *line) { on_line(r, line); }

static const floe_explore_transport *mpi_of(const run *r) { return r->o->mpi; }

static void emit_remote(run *r, const char *line)
{
    floe_err e;
    if (mpi_of(r)->send_row(mpi_of(r)->ctx, line, &e) != 0 && r->o->log)
        fprintf(r->o->log, "explore: rank %d: %s\n", mpi_of(r)->rank, e.msg);
}

static void progress(const run *r, const char *phase, uint64_t done, uint64_t total, double t_phase)
{
    if (!r->o->log)
        return;
    double el = floe_now_s() - t_phase, left = done ? el / (double)done * (double)(total - done) : NAN;
    if (isnan(left))
        fprintf(r->o->log, "explore: %s: %llu/%llu points\n", phase, (unsigned long long)done,
                (unsigned long long)total);
    else
        fprintf(r->o->log, "explore: %s: %llu/%llu points, %.1f s, about %.0f s left\n", phase,
                (unsigned long long)done, (unsigned long long)total, el, left);
    fflush(r->o->log);
}

/* Prices this process's share of todo[0..n) with the tier, `jobs` workers at a time; rank 0 also
 * takes the other ranks' lines until every rank is done. */
static int run_share(run *r, const uint64_t *todo, uint64_t n, floe_sweep_tier tier, floe_err *err)
{
    const floe_explore_transport *m = r->o->mpi;
    int rank = m ? m->rank : 0, size = m ? m->size : 1, jobs = r->o->jobs > 0 ? r->o->jobs : 1;
    void (*emit)(run *, const char *) = rank == 0 ? emit_local : emit_remote;
    worker *w = calloc((size_t)jobs, sizeof *w);
    if (!w)
        return floe_err_set(err, "out of memory");
    uint64_t next = (uint64_t)rank, running = 0, shown = 0;
    int ranks_done = 1; /* this one, once its share ends */
    double t0 = floe_now_s(), last = t0;
    uint64_t before = r->priced;
    int rc = 0;
    while (rc == 0) {
        while (running < (uint64_t)jobs && next < n) {
            int pfd[2];
            if (pipe(pfd) != 0) {
                rc = floe_err_set(err, "pipe: %s", strerror(errno));
                break;
            }
            fflush(NULL);
            pid_t pid = fork();
            if (pid < 0) {
                close(pfd[0]), close(pfd[1]);
                rc = floe_err_set(err, "fork: %s", strerror(errno));
                break;
            }
            if (pid == 0) {
                close(pfd[0]);
                child(r, todo[next], tier, pfd[1]);
            }
            close(pfd[1]);
            for (int i = 0; i < jobs; i++)
                if (w[i].pid == 0) {
                    w[i] = (worker){.pid = pid, .fd = pfd[0], .point = todo[next]};
                    break;
                }
            running++;
            next += (uint64_t)size;
        }
        if (rc != 0)
            break;
        if (running == 0 && next >= n && (rank != 0 || !m || ranks_done >= size))
            break;
        struct pollfd pf[64];
        int np = 0;
        for (int i = 0; i < jobs && np < 64; i++)
            if (w[i].pid)
                pf[np++] = (struct pollfd){.fd = w[i].fd, .events = POLLIN};
        int wait_ms = m && rank == 0 ? 20 : 1000;
        if (np && poll(pf, (nfds_t)np, wait_ms) < 0 && errno != EINTR) {
            rc = floe_err_set(err, "poll: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < jobs; i++) {
            if (!w[i].pid)
                continue;
            struct pollfd one = {.fd = w[i].fd, .events = POLLIN};
            if (poll(&one, 1, 0) <= 0)
                continue;
            ssize_t k = read(w[i].fd, w[i].buf + w[i].len, sizeof w[i].buf - 1 - w[i].len);
            if (k > 0) {
                w[i].len += (size_t)k;
                continue;
            }
            /* end of the worker's output */
            int st = 0;
            close(w[i].fd);
            waitpid(w[i].pid, &st, 0);
            w[i].buf[w[i].len] = '\0';
            row x;
            if (w[i].len && parse_line(w[i].buf, &x) == 0) {
                free(x.status);
                emit(r, w[i].buf);
            } else
                worker_failed(r, &w[i], st, tier, emit);
            w[i].pid = 0, w[i].len = 0;
            running--;
        }
        if (m && rank == 0 && m->receive(m->ctx, np ? 0 : wait_ms, on_line, r, &ranks_done, err) != 0)
            rc = -1;
        if (rank == 0 && r->o->log && floe_now_s() - last > 2.0) {
            last = floe_now_s();
            uint64_t all = r->priced - before;
            if (all != shown)
                progress(r, floe_sweep_tier_name(tier), all, n, t0), shown = all;
        }
    }
    if (rc != 0) /* stop what still runs: their points are priced again on the next run */
        for (int i = 0; i < jobs; i++)
            if (w[i].pid) {
                kill(w[i].pid, SIGKILL);
                waitpid(w[i].pid, NULL, 0);
                close(w[i].fd);
            }
    free(w);
    if (rc == 0 && m && rank != 0)
        rc = m->send_done(m->ctx, err);
    if (rc == 0 && rank == 0)
        progress(r, floe_sweep_tier_name(tier), r->priced - before, n, t0);
    return rc;
}

/* ---- phases ------------------------------------------------------------------------------------- */

/* The figures a point is reported with: the simulator's when it has them, else the analytical tier's. */
static const row *best_row(const run *r, uint64_t p)
{
    if (r->best[FLOE_TIER_SIM][p].status)
        return &r->best[FLOE_TIER_SIM][p];
    return r->best[FLOE_TIER_ANALYTIC][p].status ? &r->best[FLOE_TIER_ANALYTIC][p] : NULL;
}

/* Points that already have figures (from the journal, before anything is priced). */
static uint64_t priced_points(const run *r)
{
    uint64_t k = 0;
    for (uint64_t p = 0; p < r->n; p++)
        k += best_row(r, p) != NULL;
    return k;
}

/* Rank 0 names a phase's points; every rank receives the list ("tier n p0 p1 ..."); "end" ends. */
static int share_todo(run *r, floe_sweep_tier *tier, uint64_t **todo, uint64_t *n, int *end, floe_err *err)
{
    const floe_explore_transport *m = r->o->mpi;
    if (!m)
        return 0;
    char *buf = NULL;
    size_t len = 0;
    if (m->rank == 0) {
        size_t cap = 32 + 21 * (*n + 1);
        if (!(buf = malloc(cap)))
            return floe_err_set(err, "out of memory");
        len = (size_t)snprintf(buf, cap, "%s %d %llu", *end ? "end" : "todo", (int)*tier, (unsigned long long)*n);
        for (uint64_t i = 0; i < *n; i++)
            len += (size_t)snprintf(buf + len, cap - len, " %llu", (unsigned long long)(*todo)[i]);
        len++;
    }
    if (m->broadcast(m->ctx, &buf, &len, err) != 0) {
        free(buf);
        return -1;
    }
    if (m->rank != 0) {
        char word[8];
        int t, off = 0;
        unsigned long long cnt;
        if (len == 0 || buf[len - 1] != '\0' || sscanf(buf, "%7s %d %llu%n", word, &t, &cnt, &off) != 3 || cnt > r->n) {
            free(buf);
            return floe_err_set(err, "rank %d: a malformed phase message from rank 0", m->rank);
        }
        *end = strcmp(word, "end") == 0;
        *tier = (floe_sweep_tier)t;
        *n = cnt;
        *todo = calloc(cnt ? cnt : 1, sizeof **todo);
        const char *p = buf + off;
        for (uint64_t i = 0; *todo && i < cnt; i++) {
            int k = 0;
            unsigned long long v;
            if (sscanf(p, " %llu%n", &v, &k) != 1 || v >= r->n) {
                free(buf);
                return floe_err_set(err, "rank %d: a malformed phase message from rank 0", m->rank);
            }
            (*todo)[i] = v;
            p += k;
        }
        if (!*todo) {
            free(buf);
            return floe_err_set(err, "out of memory");
        }
    }
    free(buf);
    return 0;
}

/* Points of `tier` still to price: all of them (want NULL) or those flagged in want. */
static uint64_t *todo_of(const run *r, floe_sweep_tier tier, const unsigned char *want, uint64_t *n)
{
    uint64_t *t = malloc((r->n ? r->n : 1) * sizeof *t), k = 0;
    if (!t)
        return NULL;
    for (uint64_t p = 0; p < r->n; p++) {
        if (r->make_error[p] || (want && !want[p]) || r->best[tier][p].status)
            continue;
        int dup = 0; /* the same digest twice: priced once */
        for (uint64_t q = 0; q < k && !dup; q++)
            dup = r->pts[t[q]].digest == r->pts[p].digest;
        if (!dup)
            t[k++] = p;
    }
    *n = k;
    return t;
}

/* Fills the figure table the front and the outputs read. */
static void gather(const run *r, floe_explore_result *res)
{
    for (uint64_t p = 0; p < r->n; p++) {
        floe_explore_result *x = &res[p];
        free(x->status);
        x->status = NULL;
        x->figures = floe_explore_figures_none();
        x->tier = -1;
        if (r->make_error[p]) {
            x->status = strdup(r->make_error[p]);
            continue;
        }
        const row *b = best_row(r, p);
        if (!b) {
            x->status = strdup("not priced");
            continue;
        }
        x->figures = b->f;
        x->figures.ppl = floe_explore_accuracy_of(&r->acc, &r->pts[p]);
        x->tier = (int)b->tier;
        x->status = strdup(b->status);
    }
}

int floe_explore_run(const floe_sweep *s, const floe_explore_opts *o, floe_explore_summary *sum, floe_err *err)
{
    memset(sum, 0, sizeof *sum);
    run r = {.s = s, .o = o, .n = s->n_points, .journal_fd = -1, .t0 = floe_now_s()};
    const floe_explore_transport *m = o->mpi;
    int rank = m ? m->rank : 0, rc = -1;
    floe_explore_result *res = NULL;
    unsigned char *want = NULL;
    uint64_t *todo = NULL, n_todo = 0;
    r.pts = calloc(r.n, sizeof *r.pts);
    r.make_error = calloc(r.n, sizeof *r.make_error);
    r.best[0] = calloc(r.n, sizeof *r.best[0]);
    r.best[1] = calloc(r.n, sizeof *r.best[1]);
    res = calloc(r.n, sizeof *res);
    want = calloc(r.n, 1);
    if (!r.pts || !r.make_error || !r.best[0] || !r.best[1] || !res || !want) {
        floe_err_set(err, "%llu points: out of memory", (unsigned long long)r.n);
        goto out;
    }
    for (uint64_t p = 0; p < r.n; p++) {
        floe_err e;
        if (floe_explore_point_make(s, p, &r.pts[p], &e) != 0 && !(r.make_error[p] = strdup(e.msg))) {
            floe_err_set(err, "out of memory");
            goto out;
        }
    }
    if (rank == 0 && journal_open(&r, err) != 0)
        goto out;
    r.reused = rank == 0 ? priced_points(&r) : 0;
    if (rank == 0 && floe_explore_accuracy_run(s, o->out_dir, o->log, &r.acc, err) != 0)
        goto out;
    /* round 0: every point with the sweep's tier; then, from analytical figures, the front re-priced by
       the simulator until every point on it has the simulator's figures (a re-priced point may leave
       the front and let another in) */
    floe_sweep_tier tier = s->tier;
    int end = 0;
    for (uint64_t round = 0;; round++) {
        if (rank == 0) {
            free(todo);
            todo = NULL;
            n_todo = 0;
            if (round == 0)
                todo = todo_of(&r, tier, NULL, &n_todo);
            else if (s->tier == FLOE_TIER_SIM || s->reprice == FLOE_REPRICE_NONE || round > r.n)
                end = 1;
            else {
                gather(&r, res);
                floe_explore_select(s, res, r.n);
                for (uint64_t p = 0; p < r.n; p++)
                    want[p] = s->reprice == FLOE_REPRICE_ALL ? !r.make_error[p] : (unsigned char)res[p].front;
                tier = FLOE_TIER_SIM;
                todo = todo_of(&r, tier, want, &n_todo);
                end = todo && n_todo == 0;
            }
            if (!todo && !end) {
                floe_err_set(err, "out of memory");
                goto out;
            }
        }
        if (share_todo(&r, &tier, &todo, &n_todo, &end, err) != 0)
            goto out;
        if (end)
            break;
        if (rank == 0 && o->log && n_todo)
            fprintf(o->log, "explore: %s tier: %llu point(s) to price%s\n", floe_sweep_tier_name(tier),
                    (unsigned long long)n_todo, round ? " (the front, by the simulator)" : "");
        if (run_share(&r, todo, n_todo, tier, err) != 0)
            goto out;
    }
    if (rank == 0) {
        gather(&r, res);
        floe_explore_select(s, res, r.n);
        if (floe_explore_write_outputs(s, r.pts, res, r.n, o->out_dir, err) != 0)
            goto out;
        sum->points = r.n;
        sum->priced = r.priced;
        for (uint64_t p = 0; p < r.n; p++) {
            const floe_explore_result *x = &res[p];
            int ok = strcmp(x->status, "ok") == 0, unfit = strncmp(x->status, "does not fit", 12) == 0;
            sum->failed += !ok && !unfit;
            sum->unfit += unfit;
            sum->within += x->within;
            sum->front += x->front;
            sum->sim_priced += x->tier == FLOE_TIER_SIM;
        }
        sum->reused = r.reused;
    }
    sum->seconds = floe_now_s() - r.t0;
    rc = 0;
out:
    if (r.journal_fd >= 0)
        close(r.journal_fd);
    for (uint64_t p = 0; r.make_error && p < r.n; p++) {
        free(r.make_error[p]);
        if (r.best[0])
            free(r.best[0][p].status);
        if (r.best[1])
            free(r.best[1][p].status);
        if (res)
            free(res[p].status);
    }
    free(r.pts);
    free(r.make_error);
    free(r.best[0]);
    free(r.best[1]);
    free(res);
    free(want);
    free(todo);
    return rc;
}
