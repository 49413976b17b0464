/* The analytical cost tier against the simulator (docs/explore.md, "Validation"): over a documented set
 * of points (model shapes, machines and their variations, precisions, context lengths, users), each
 * priced by floe_cost_estimate and by floe_deploy_check (random weights, plan and simulation). Prints
 * per point both tiers' decode latency per token, tokens/s with users and energy per token with the
 * relative error, then the error statistics per figure and the points per second of each tier.
 *
 *   build/bench/bench_cost_model            every point
 *   build/bench/bench_cost_model --quick    the points of the small machine and config S only */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "explore/cost_model.h"
#include "verify/deploy_check.h"

typedef struct point {
    const char *model, *machine; /* built-in config; configs/<machine>.csv with energy-<machine>.csv */
    int wbits, kv_tokens, users;
    uint64_t core_weight_bytes;
    int cores;                            /* 0: as the file; else cores_x = cores_y */
    uint64_t core_mem, sram_bw, clock_hz; /* 0: as the file */
    int big;                              /* 1: the check composes from 1- and 2-layer runs (full_chips 1) */
    int per_token;                        /* 1: per-token activation scaling (K 4) */
} point;

static const point points[] = {
    {"tiny", "small", 4, 16, 1, 0, 0, 0, 0, 0, 0, 0},
    {"tiny", "small", 4, 16, 2, 26000, 0, 0, 0, 0, 0, 0},
    {"tiny", "small", 2, 32, 1, 26000, 0, 0, 0, 0, 0, 0},
    {"tiny", "small", 4, 64, 1, 0, 0, 0, 0, 0, 0, 0},
    {"tiny", "small", 4, 32, 1, 0, 0, 0, 32, 0, 0, 0},
    {"tiny", "small", 4, 16, 2, 26000, 0, 0, 0, 0, 0, 1},
    {"S", "northpole", 4, 128, 1, 0, 0, 0, 0, 0, 0, 0},
    {"S", "northpole", 2, 128, 1, 0, 0, 0, 0, 0, 0, 0},
    {"S", "northpole", 4, 100, 1, 0, 0, 0, 0, 0, 0, 0},
    {"S", "northpole", 4, 128, 1, 16384, 0, 0, 0, 0, 0, 0},
    {"S", "northpole", 4, 128, 4, 16384, 0, 0, 0, 0, 0, 0},
    {"S", "northpole", 2, 96, 8, 16384, 0, 0, 0, 0, 0, 0},
    {"S", "northpole", 4, 128, 1, 0, 0, 0, 64, 0, 0, 0},
    {"S", "northpole", 4, 128, 1, 16384, 0, 0, 256, 0, 0, 0},
    {"S", "northpole", 4, 128, 1, 0, 0, 0, 0, 800000000, 0, 0},
    {"S", "northpole", 4, 128, 1, 0, 0, 524288, 0, 0, 0, 0},
    {"S", "northpole", 4, 128, 1, 16384, 8, 0, 0, 0, 0, 0},
    {"S", "northpole", 4, 128, 1, 0, 0, 0, 0, 0, 0, 1},
    {"S", "northpole", 4, 128, 4, 16384, 0, 0, 0, 0, 0, 1},
    {"M", "northpole", 4, 256, 1, 0, 0, 0, 0, 0, 0, 0},
    {"M", "northpole", 4, 200, 4, 65536, 0, 0, 0, 0, 0, 0},
    {"M", "northpole", 2, 256, 2, 0, 0, 0, 0, 0, 0, 0},
    {"northpole-3b", "northpole", 4, 2048, 8, 0, 0, 0, 0, 0, 1, 0},
    {"northpole-3b", "northpole", 2, 2048, 8, 0, 0, 0, 0, 0, 1, 0},
    {"northpole-3b", "northpole", 4, 1024, 4, 0, 0, 0, 256, 0, 1, 0},
    {"northpole-3b", "northpole", 4, 1024, 4, 0, 0, 0, 0, 0, 1, 1},
};
#define N_POINTS ((int)(sizeof points / sizeof points[0]))

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int load(const point *p, floe_machine *m, floe_energy_table *e, floe_err *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/configs/%s.csv", FLOE_SOURCE_DIR, p->machine);
    if (floe_machine_load(path, m, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/configs/energy-%s.csv", FLOE_SOURCE_DIR, p->machine);
    if (floe_energy_table_load(path, e, err) != 0)
        return -1;
    if (p->cores)
        m->cores_x = m->cores_y = (uint64_t)p->cores;
    if (p->core_mem)
        m->core_mem_bytes = p->core_mem;
    if (p->sram_bw)
        m->sram_bytes_per_cycle = p->sram_bw;
    if (p->clock_hz)
        m->clock_hz = p->clock_hz;
    return floe_machine_validate(m, err);
}

typedef struct stat {
    double sum_abs, max_abs, sum;
    int n;
} stat;

static void add(stat *s, double model, double sim)
{
    double e = (model - sim) / sim;
    s->sum += e;
    s->sum_abs += fabs(e);
    s->max_abs = fabs(e) > s->max_abs ? fabs(e) : s->max_abs;
    s->n++;
}

static void print_stat(const char *what, const stat *s)
{
    if (s->n)
        printf("%-26s mean |error| %5.1f%%  max |error| %5.1f%%  mean error %+5.1f%%  (%d points)\n", what,
               100 * s->sum_abs / s->n, 100 * s->max_abs, 100 * s->sum / s->n, s->n);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    stat lat = {0}, tps = {0}, stage = {0}, en = {0}, pre = {0};
    double t_model = 0, t_sim = 0;
    int n_model = 0, n_sim = 0;
    printf("%-13s %-9s %-3s %5s %3s %6s %-22s | %10s %10s %6s | %10s %10s %6s | %10s %10s %6s | %s\n", "model",
           "machine", "w", "kv", "U", "cwb", "variation", "decode us", "sim", "err", "tok/s", "sim", "err", "J/token",
           "sim", "err", "prefill err | model ms | sim s");
    for (int i = 0; i < N_POINTS; i++) {
        const point *p = &points[i];
        if (quick && (p->big || strcmp(p->model, "M") == 0))
            continue;
        floe_machine m;
        floe_energy_table e;
        floe_err err;
        floe_model_config cf;
        if (load(p, &m, &e, &err) != 0 || floe_model_config_builtin(p->model, &cf, &err) != 0) {
            fprintf(stderr, "point %d: %s\n", i, err.msg);
            return 1;
        }
        floe_qconfig q = floe_qconfig_default();
        q.wbits = p->wbits;
        if (p->per_token) {
            q.act_scaling = FLOE_ACT_PER_TOKEN;
            q.act_kmax = 4;
        }
        int T = p->kv_tokens / 2 < 16 ? p->kv_tokens / 2 : 16; /* the check needs T + 2 positions */
        floe_cost_opts co = {
            .kv_tokens = p->kv_tokens, .users = p->users, .core_weight_bytes = p->core_weight_bytes, .tokens = T};
        floe_cost_result cr;
        double t0 = now();
        int reps = 0;
        do { /* repeat: one estimate takes well under the clock's resolution for small shapes */
            if (floe_cost_estimate(&cf, &q, &m, &e, &co, &cr, &err) != 0) {
                fprintf(stderr, "point %d: model: %s\n", i, err.msg);
                return 1;
            }
            reps++;
        } while (now() - t0 < 0.05);
        double dt_model = (now() - t0) / reps;
        t_model += dt_model;
        n_model++;
        floe_deploy_check_opts dop = floe_deploy_check_defaults();
        dop.tokens = T;
        dop.kv_tokens = p->kv_tokens;
        dop.users = p->users;
        dop.core_weight_bytes = p->core_weight_bytes;
        dop.full_chips = p->big ? 1 : 128;
        floe_deploy_report rep;
        t0 = now();
        if (floe_deploy_check(&cf, &q, &m, &e, &dop, &rep, &err) != 0) {
            fprintf(stderr, "point %d: simulator: %s\n", i, err.msg);
            return 1;
        }
        double dt_sim = now() - t0;
        t_sim += dt_sim;
        n_sim++;
        char var[64] = "";
        if (p->cores)
            snprintf(var + strlen(var), sizeof var - strlen(var), "%dx%d cores ", p->cores, p->cores);
        if (p->core_mem)
            snprintf(var + strlen(var), sizeof var - strlen(var), "%lluKiB/core ",
                     (unsigned long long)p->core_mem / 1024);
        if (p->sram_bw)
            snprintf(var + strlen(var), sizeof var - strlen(var), "sram %lluB/c ", (unsigned long long)p->sram_bw);
        if (p->clock_hz)
            snprintf(var + strlen(var), sizeof var - strlen(var), "%lluMHz ",
                     (unsigned long long)p->clock_hz / 1000000);
        if (p->per_token)
            snprintf(var + strlen(var), sizeof var - strlen(var), "per token");
        if (!rep.fits || !cr.fits) {
            printf("%-13s %-9s W%d %5d %3d %6llu %-22s | fits: model %d, plan %d\n", p->model, p->machine, p->wbits,
                   p->kv_tokens, p->users, (unsigned long long)p->core_weight_bytes, var, cr.fits, rep.fits);
            continue;
        }
        printf("%-13s %-9s W%d %5d %3d %6llu %-22s | %10.2f %10.2f %+5.1f%% | %10.0f %10.0f %+5.1f%% | %10.3g "
               "%10.3g %+5.1f%% | %+6.1f%%      | %8.3f | %5.2f\n",
               p->model, p->machine, p->wbits, p->kv_tokens, rep.users, (unsigned long long)p->core_weight_bytes, var,
               cr.decode_s * 1e6, rep.decode_s * 1e6, 100 * (cr.decode_s / rep.decode_s - 1), cr.tokens_per_s,
               rep.serving.tokens_per_s, 100 * (cr.tokens_per_s / rep.serving.tokens_per_s - 1), cr.energy_j_per_token,
               rep.decode_j, 100 * (cr.energy_j_per_token / rep.decode_j - 1),
               100 * (cr.prefill_s_per_token / (rep.prefill_s / rep.tokens) - 1), 1e3 * dt_model, dt_sim);
        add(&lat, cr.decode_s, rep.decode_s);
        add(&tps, cr.tokens_per_s, rep.serving.tokens_per_s);
        add(&stage, cr.slowest_stage_s, rep.serving.slowest_busy_s);
        add(&en, cr.energy_j_per_token, rep.decode_j);
        add(&pre, cr.prefill_s_per_token, rep.prefill_s / rep.tokens);
    }
    printf("\n");
    print_stat("decode latency per token", &lat);
    print_stat("energy per token", &en);
    print_stat("tokens/s (served)", &tps);
    print_stat("slowest stage per token", &stage);
    print_stat("prefill per token", &pre);
    printf("\npoints per second: analytical %.0f (%.3f ms a point), simulator %.3f (%.2f s a point)\n",
           n_model / t_model, 1e3 * t_model / n_model, n_sim / t_sim, t_sim / n_sim);
    return 0;
}
