#include "sim/serving.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "sim/event_queue.h"

enum { EV_READY, EV_DONE };

#define MAX_SECONDS 1e3          /* any one time; far above a stage's (microseconds to milliseconds) */
#define MAX_TOKENS (1u << 24)    /* decoded tokens: the inter-token samples are kept and sorted */
#define MAX_PASSES (1ull << 30)  /* tokens x stages: events */

/* A user's jobs are its C prefill chunks and its decode token (one at a time): C + 1 items, each
 * waiting at one stage at most, linked in that stage's line. Item i is user i / (C + 1)'s chunk
 * i % (C + 1) (C: the decode token). */
typedef struct user_state {
    int job;              /* 0: the prefill; j >= 1: decode step j - 1, at position P + j - 1 */
    int chunks_out;       /* prefill chunks that left the last stage */
    uint64_t arrive, first, last; /* ps: arrival, prefill end, the last token out */
} user_state;

typedef struct stage_state {
    int cur;        /* the item served, or -1 */
    int head, tail; /* waiting items, first come first served (-1: none) */
} stage_state;

typedef struct run {
    const floe_serving_pipeline *p;
    const floe_serving_load *l;
    int C;                        /* prefill chunks per prompt */
    uint64_t *pre_gap, *pre_busy; /* [S] ps: the whole prompt's */
    user_state *u;
    int *next; /* [U (C + 1)]: the next item waiting at the same stage, or -1 */
    stage_state *st;
    floe_event_queue q;
} run;

static int bad(double s) { return !(s >= 0 && s <= MAX_SECONDS); } /* also NaN */

static uint64_t ps(double s) { return (uint64_t)(s * 1e12 + 0.5); }

/* Linear in the position through (pos[0], a) and (pos[1], b); never below 0 nor above MAX_SECONDS (a time
 * or joules). */
static double at_pos(const floe_serving_pipeline *p, double a, double b, int pos)
{
    double v = p->pos[1] == p->pos[0] ? a : a + (b - a) * (double)(pos - p->pos[0]) / (double)(p->pos[1] - p->pos[0]);
    return v < 0 ? 0 : v > MAX_SECONDS ? MAX_SECONDS : v;
}

static uint64_t dec_gap(const floe_serving_pipeline *p, int s, int pos)
{
    return ps(at_pos(p, p->stage[s].decode[0].gap_s, p->stage[s].decode[1].gap_s, pos));
}

static uint64_t dec_busy(const floe_serving_pipeline *p, int s, int pos)
{
    return ps(at_pos(p, p->stage[s].decode[0].busy_s, p->stage[s].decode[1].busy_s, pos));
}

/* Chunk c's share of a whole prompt's time v: the shares add up to v exactly. */
static uint64_t share(uint64_t v, int c, int C) { return v / (unsigned)C + ((uint64_t)c < v % (unsigned)C ? 1 : 0); }

static int user_of(const run *R, int item) { return item / (R->C + 1); }
static int chunk_of(const run *R, int item) { return item % (R->C + 1); } /* C: the decode token */

/* Stage s's gap and busy time for an item (a decode token: its user's current step). */
static uint64_t gap_of(const run *R, int s, int item)
{
    int c = chunk_of(R, item), j = R->u[user_of(R, item)].job;
    return c < R->C ? share(R->pre_gap[s], c, R->C) : dec_gap(R->p, s, R->l->prompt + j - 1);
}

static uint64_t busy_of(const run *R, int s, int item)
{
    int c = chunk_of(R, item), j = R->u[user_of(R, item)].job;
    return c < R->C ? share(R->pre_busy[s], c, R->C) : dec_busy(R->p, s, R->l->prompt + j - 1);
}

static int ready(run *R, uint64_t t, int s, int item)
{
    return floe_eq_push_prio(&R->q, t, (uint32_t)user_of(R, item), EV_READY, (uint32_t)s, (uint64_t)item);
}

static int start(run *R, int s, int item, uint64_t t)
{
    R->st[s].cur = item;
    return floe_eq_push_prio(&R->q, t + busy_of(R, s, item), 0, EV_DONE, (uint32_t)s, (uint64_t)item);
}

static int check(const floe_serving_pipeline *p, const floe_serving_load *l, floe_err *err)
{
    if (!p || !l || p->stages < 1 || !p->stage)
        return floe_err_set(err, "serving: a pipeline needs at least one stage");
    if (l->users < 1 || l->prompt < 1 || l->decode_steps < 1)
        return floe_err_set(err, "serving: %d user(s), a %d-token prompt, %d decode step(s): each must be at least 1",
                            l->users, l->prompt, l->decode_steps);
    if ((uint64_t)l->users * (uint64_t)l->decode_steps > MAX_TOKENS ||
        (uint64_t)l->users * ((uint64_t)l->decode_steps + 1) * (uint64_t)p->stages > MAX_PASSES)
        return floe_err_set(err, "serving: %d user(s) x %d decode steps over %d stages: at most %u tokens and %llu "
                                 "token passes through a stage",
                            l->users, l->decode_steps, p->stages, MAX_TOKENS, (unsigned long long)MAX_PASSES);
    if (p->pos[0] < 0 || p->pos[1] < p->pos[0])
        return floe_err_set(err, "serving: decode times measured at positions %d and %d: they must be 0 <= first <= "
                                 "second",
                            p->pos[0], p->pos[1]);
    if (l->prompt > INT_MAX - l->decode_steps)
        return floe_err_set(err, "serving: a %d-token prompt and %d decode steps: positions out of range", l->prompt,
                            l->decode_steps);
    if (bad(l->arrival_s))
        return floe_err_set(err, "serving: the arrival interval %g s is negative or not a number of seconds up to %g",
                            l->arrival_s, MAX_SECONDS);
    for (int s = 0; s < p->stages; s++) {
        const floe_serving_stage *g = &p->stage[s];
        const floe_serving_time *t[3] = {&g->prefill, &g->decode[0], &g->decode[1]};
        static const char *what[3] = {"prefill", "decode (first position)", "decode (second position)"};
        for (int i = 0; i < 3; i++)
            if (bad(t[i]->gap_s) || bad(t[i]->busy_s))
                return floe_err_set(err, "serving: stage %d's %s time (gap %g s, busy %g s) is negative or not a number "
                                         "of seconds up to %g",
                                    s, what[i], t[i]->gap_s, t[i]->busy_s, MAX_SECONDS);
    }
    if (bad(p->decode_j[0]) || bad(p->decode_j[1]) || !(p->static_w >= 0 && p->static_w <= 1e9))
        return floe_err_set(err, "serving: energy per token (%g, %g J) and static power (%g W) must be non-negative "
                                 "numbers",
                            p->decode_j[0], p->decode_j[1], p->static_w);
    if (p->cards < 1)
        return floe_err_set(err, "serving: %d card(s): at least 1", p->cards);
    if (p->prefill_chunks < 0 || p->prefill_chunks > 65536 ||
        (uint64_t)l->users * ((uint64_t)p->prefill_chunks + 1) > (uint64_t)INT_MAX / 2)
        return floe_err_set(err,
                            "serving: a prompt in %d chunk(s) for %d user(s): 0..65536 chunks, and fewer jobs than "
                            "%d",
                            p->prefill_chunks, l->users, INT_MAX / 2);
    /* every schedule ends before the last arrival plus every gap and busy time one after the other (at
     * any moment some token is in a gap, in a stage, or waiting for a busy stage): keep that within
     * the picosecond clock */
    double bound = (double)(l->users - 1) * l->arrival_s;
    int last = l->prompt + l->decode_steps - 1;
    for (int s = 0; s < p->stages; s++) {
        const floe_serving_stage *g = &p->stage[s];
        double a = at_pos(p, g->decode[0].gap_s + g->decode[0].busy_s, g->decode[1].gap_s + g->decode[1].busy_s,
                          l->prompt),
               b = at_pos(p, g->decode[0].gap_s + g->decode[0].busy_s, g->decode[1].gap_s + g->decode[1].busy_s, last);
        bound += (double)l->users * (g->prefill.gap_s + g->prefill.busy_s + (double)l->decode_steps * (a > b ? a : b));
    }
    if (bound > 1e6)
        return floe_err_set(err, "serving: the load could take up to %g s: at most 1e6 s are simulated", bound);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int floe_serving_run(const floe_serving_pipeline *p, const floe_serving_load *l, floe_serving_result *res,
                     floe_err *err)
{
    memset(res, 0, sizeof *res);
    if (check(p, l, err) != 0)
        return -1;
    const int S = p->stages, U = l->users, D = l->decode_steps, P = l->prompt;
    const int C = p->prefill_chunks > 1 ? p->prefill_chunks : 1;
    const uint64_t n = (uint64_t)U * (uint64_t)D;
    run R = {p,
             l,
             C,
             calloc((size_t)S, sizeof(uint64_t)),
             calloc((size_t)S, sizeof(uint64_t)),
             calloc((size_t)U, sizeof(user_state)),
             malloc(sizeof(int) * (size_t)U * (size_t)(C + 1)),
             calloc((size_t)S, sizeof(stage_state)),
             {0}};
    uint64_t *itl = malloc(sizeof(uint64_t) * (size_t)n);
    floe_eq_init(&R.q);
    int rc = -1;
    if (!R.pre_gap || !R.pre_busy || !R.u || !R.next || !R.st || !itl) {
        floe_err_set(err, "serving: out of memory");
        goto out;
    }
    for (int s = 0; s < S; s++) {
        R.pre_gap[s] = ps(p->stage[s].prefill.gap_s);
        R.pre_busy[s] = ps(p->stage[s].prefill.busy_s);
        R.st[s] = (stage_state){-1, -1, -1};
    }
    uint64_t every = ps(l->arrival_s);
    for (int u = 0; u < U; u++) {
        R.u[u] = (user_state){0, 0, (uint64_t)u * every, 0, 0};
        if (ready(&R, R.u[u].arrive + gap_of(&R, 0, u * (C + 1)), 0, u * (C + 1)) != 0)
            goto oom;
    }
    uint64_t samples = 0;
    floe_event ev;
    while (floe_eq_pop(&R.q, &ev) == 0) {
        int s = (int)ev.target, it = (int)ev.arg, u = user_of(&R, it), c = chunk_of(&R, it);
        stage_state *st = &R.st[s];
        user_state *us = &R.u[u];
        if (ev.kind == EV_READY) {
            if (st->cur < 0) {
                if (start(&R, s, it, ev.time) != 0)
                    goto oom;
            } else { /* wait in line */
                R.next[it] = -1;
                if (st->tail >= 0)
                    R.next[st->tail] = it;
                else
                    st->head = it;
                st->tail = it;
            }
            continue;
        }
        /* EV_DONE: the job moves on */
        st->cur = -1;
        if (c < C && s == 0 && c + 1 < C && ready(&R, ev.time + gap_of(&R, 0, it + 1), 0, it + 1) != 0)
            goto oom; /* the prompt's next chunk follows this one into stage 0 */
        if (s + 1 < S) {
            if (ready(&R, ev.time + gap_of(&R, s + 1, it), s + 1, it) != 0)
                goto oom;
        } else if (c < C) { /* a prefill chunk done; the last one is the prompt's end, the first token */
            if (++us->chunks_out == C) {
                us->first = us->last = ev.time;
                us->job = 1;
                const int dt = u * (C + 1) + C;
                if (ready(&R, ev.time + gap_of(&R, 0, dt), 0, dt) != 0)
                    goto oom;
            }
        } else {
            itl[samples++] = ev.time - us->last;
            us->last = ev.time;
            if (++us->job <= D && ready(&R, ev.time + gap_of(&R, 0, it), 0, it) != 0)
                goto oom;
        }
        if (st->head >= 0) { /* the next in line */
            int w = st->head;
            st->head = R.next[w];
            if (st->head < 0)
                st->tail = -1;
            if (start(&R, s, w, ev.time) != 0)
                goto oom;
        }
    }
    /* the figures */
    uint64_t start_ps = UINT64_MAX, end_ps = 0, ttft_max = 0;
    double ttft_sum = 0, itl_sum = 0;
    for (int u = 0; u < U; u++) {
        const user_state *us = &R.u[u];
        start_ps = us->first < start_ps ? us->first : start_ps;
        end_ps = us->last > end_ps ? us->last : end_ps;
        ttft_max = us->first - us->arrive > ttft_max ? us->first - us->arrive : ttft_max;
        ttft_sum += (double)(us->first - us->arrive);
        itl_sum += (double)(us->last - us->first);
    }
    if (end_ps == start_ps) {
        floe_err_set(err, "serving: the decode steps take no time (every stage's decode time is 0)");
        goto out;
    }
    qsort(itl, (size_t)n, sizeof *itl, cmp_u64);
    uint64_t rank = (99 * n + 99) / 100; /* nearest rank: ceil(0.99 n) */
    res->tokens = n;
    res->itl_mean_s = itl_sum / (double)n * 1e-12;
    res->itl_p99_s = (double)itl[rank - 1] * 1e-12;
    res->itl_max_s = (double)itl[n - 1] * 1e-12;
    res->ttft_mean_s = ttft_sum / U * 1e-12;
    res->ttft_max_s = (double)ttft_max * 1e-12;
    res->decode_start_s = (double)start_ps * 1e-12;
    res->decode_end_s = (double)end_ps * 1e-12;
    res->makespan_s = res->decode_end_s;
    double window = (double)(end_ps - start_ps) * 1e-12;
    res->tokens_per_s = (double)n / window;
    /* one token alone, and the slowest stage, over the positions decoded */
    uint64_t alone = 0, worst = 0;
    for (int s = 0; s < S; s++) {
        uint64_t b = 0;
        for (int i = 0; i < D; i++) {
            uint64_t bi = dec_busy(p, s, P + i);
            b += bi;
            alone += bi + dec_gap(p, s, P + i);
        }
        if (s == 0 || b > worst) {
            worst = b;
            res->slowest_stage = s;
        }
    }
    res->token_latency_s = (double)alone / D * 1e-12;
    res->slowest_busy_s = (double)worst / D * 1e-12;
    double dyn = 0;
    for (int i = 0; i < D; i++)
        dyn += at_pos(p, p->decode_j[0], p->decode_j[1], P + i);
    dyn *= U;
    res->energy_per_token_j = (dyn + p->static_w * window) / (double)n;
    res->power_per_card_w = (dyn + p->static_w * window) / window / p->cards;
    rc = 0;
    goto out;
oom:
    floe_err_set(err, "serving: out of memory");
out:
    floe_eq_free(&R.q);
    free(R.pre_gap);
    free(R.pre_busy);
    free(R.u);
    free(R.next);
    free(R.st);
    free(itl);
    return rc;
}
