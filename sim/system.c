#include "sim/system.h"

#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

int floe_links_init(floe_links *l, const floe_machine *m, floe_err *err)
{
    memset(l, 0, sizeof *l);
    l->m = m;
    l->chips = m->chips_per_card * m->cards_per_server * m->servers_per_system;
    uint64_t cards = m->cards_per_server * m->servers_per_system;
    l->pcie_out = calloc(cards, sizeof(uint64_t));
    l->pcie_in = calloc(cards, sizeof(uint64_t));
    l->eth_out = calloc(cards, sizeof(uint64_t));
    l->eth_in = calloc(cards, sizeof(uint64_t));
    if (!l->pcie_out || !l->pcie_in || !l->eth_out || !l->eth_in) {
        floe_links_free(l);
        return floe_err_set(err, "system: out of memory");
    }
    return 0;
}

void floe_links_free(floe_links *l)
{
    free(l->pcie_out);
    free(l->pcie_in);
    free(l->eth_out);
    free(l->eth_in);
    memset(l, 0, sizeof *l);
}

static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* ceil(bytes / bytes_per_s) in picoseconds */
static uint64_t wire_ps(uint64_t bytes, uint64_t bytes_per_s)
{
    __extension__ unsigned __int128 n = (unsigned __int128)bytes * 1000000000000ull;
    return (uint64_t)((n + bytes_per_s - 1) / bytes_per_s);
}

uint64_t floe_links_wire_ps(const floe_machine *m, uint64_t a, uint64_t b, uint64_t bytes, uint64_t *latency_ps)
{
    int same_server = a / m->chips_per_card / m->cards_per_server == b / m->chips_per_card / m->cards_per_server;
    if (latency_ps)
        *latency_ps = a == b ? 0 : (same_server ? m->pcie_latency_ns : m->eth_latency_ns) * 1000;
    return a == b ? 0 : wire_ps(bytes, same_server ? m->pcie_bytes_per_s : m->eth_bytes_per_s);
}

uint64_t floe_links_transfer(floe_links *l, uint64_t a, uint64_t b, uint64_t bytes, uint64_t t_ps)
{
    const floe_machine *m = l->m;
    uint64_t ca = a / m->chips_per_card, cb = b / m->chips_per_card;
    if (a == b)
        return t_ps;
    int same_server = ca / m->cards_per_server == cb / m->cards_per_server;
    uint64_t *out = same_server ? l->pcie_out : l->eth_out, *in = same_server ? l->pcie_in : l->eth_in;
    uint64_t lat, busy = floe_links_wire_ps(m, a, b, bytes, &lat);
    uint64_t start = max64(t_ps, max64(out[ca], in[cb]));
    out[ca] = start + busy;
    in[cb] = start + busy;
    if (same_server)
        l->pcie_bytes += bytes;
    else
        l->eth_bytes += bytes;
    return start + lat + busy;
}

void floe_system_result_free(floe_system_result *res)
{
    free(res->stage_cycles);
    free(res->transfer_ps);
    memset(res, 0, sizeof *res);
}

/* One stage on a fresh chip: *buf (its input) is replaced by its output region's bytes. */
static int run_stage(const floe_machine *m, const floe_energy_table *e, const floe_stage *st, uint8_t **buf,
                     size_t *buf_len, floe_system_result *res, double *chip_j, floe_err *err)
{
    const floe_symbol *xs = floe_program_symbol(st->prog, st->in_x, st->in_y, "x", 1);
    const floe_symbol *os = floe_program_symbol(st->prog, st->out_x, st->out_y, st->out_region, strlen(st->out_region));
    if (!xs || !os)
        return floe_err_set(err, "no input region 'x' or output region '%s'", st->out_region);
    floe_sim *sim;
    if (floe_sim_new(&sim, m, e, err) != 0)
        return -1;
    floe_sim_options so = {1, NULL, 0, 0};
    int rc = -1;
    if (floe_sim_load(sim, st->prog, err) == 0 &&
        floe_memory_write(floe_sim_memory(sim, st->in_x, st->in_y), xs->value, *buf, *buf_len, err) == 0 &&
        floe_sim_run(sim, &so, err) == 0) {
        const floe_sim_result *R = floe_sim_result_get(sim);
        uint8_t *nb = realloc(*buf, os->size ? os->size : 1);
        if (!nb) {
            floe_err_set(err, "out of memory");
        } else {
            *buf = nb;
            *buf_len = os->size;
            memcpy(nb, floe_sim_memory(sim, st->out_x, st->out_y)->bytes + os->value, os->size);
            floe_actions_add(&res->actions, &R->actions);
            if (R->have_energy)
                *chip_j += R->energy.total_j;
            res->stage_cycles[res->stages_run++] = R->cycles;
            rc = 0;
        }
    }
    floe_sim_free(sim);
    return rc;
}

int floe_system_pipeline(const floe_machine *m, const floe_energy_table *e, const floe_stage *stages, int n_stages,
                         const void *input, size_t in_bytes, void *output, size_t out_bytes, int users,
                         floe_system_result *res, floe_err *err)
{
    return floe_system_pipeline_cb(m, e, stages, n_stages, input, in_bytes, output, out_bytes, users, NULL, NULL, res,
                                   err);
}

int floe_system_pipeline_cb(const floe_machine *m, const floe_energy_table *e, const floe_stage *stages, int n_stages,
                            const void *input, size_t in_bytes, void *output, size_t out_bytes, int users,
                            floe_stage_fn on_stage, void *ctx, floe_system_result *res, floe_err *err)
{
    memset(res, 0, sizeof *res);
    floe_links links;
    if (floe_links_init(&links, m, err) != 0)
        return -1;
    if ((uint64_t)n_stages > links.chips) {
        floe_links_free(&links);
        return floe_err_set(err, "system: %d pipeline stages need %d chips; the system has %llu", n_stages, n_stages,
                            (unsigned long long)links.chips);
    }
    res->stages = n_stages;
    res->stage_cycles = calloc((size_t)n_stages, sizeof(uint64_t));
    res->transfer_ps = calloc((size_t)n_stages, sizeof(uint64_t));
    uint8_t *buf = malloc(in_bytes ? in_bytes : 1);
    size_t buf_len = in_bytes;
    int rc = -1;
    if (!res->stage_cycles || !res->transfer_ps || !buf) {
        floe_err_set(err, "system: out of memory");
        goto out;
    }
    memcpy(buf, input, in_bytes);
    floe_energy_cost cost;
    if (e)
        floe_energy_costs(e, &cost);
    double chip_j = 0;
    /* the functional pass: each stage on its chip, its output handed to the next stage's input */
    for (int s = 0; s < n_stages; s++) {
        if (run_stage(m, e, &stages[s], &buf, &buf_len, res, &chip_j, err) != 0) {
            floe_err_prefix(err, "stage %d (chip %d)", s, s);
            goto out;
        }
        if (on_stage)
            on_stage(ctx, s, buf, buf_len);
    }
    if (buf_len < out_bytes) {
        floe_err_set(err, "system: the last stage's output holds %zu bytes, %zu requested", buf_len, out_bytes);
        goto out;
    }
    memcpy(output, buf, out_bytes);
    /* the timing pass: users enter back to back; a stage starts when its input has arrived and its
     * chip has finished the previous user */
    uint64_t *chip_free = calloc((size_t)n_stages, sizeof(uint64_t));
    if (!chip_free) {
        floe_err_set(err, "system: out of memory");
        goto out;
    }
    uint64_t ps_per_cycle_num = 1000000000000ull, clock = m->clock_hz;
    uint64_t first_done = 0, last_done = 0;
    for (int u = 0; u < users; u++) {
        uint64_t t = 0;
        for (int s = 0; s < n_stages; s++) {
            if (s > 0) {
                const floe_stage *prev = &stages[s - 1];
                const floe_symbol *os =
                    floe_program_symbol(prev->prog, prev->out_x, prev->out_y, prev->out_region, strlen(prev->out_region));
                uint64_t arrive = floe_links_transfer(&links, (uint64_t)(s - 1), (uint64_t)s, os->size, t);
                if (u == 0)
                    res->transfer_ps[s] = arrive - t;
                t = arrive;
            }
            uint64_t start = max64(t, chip_free[s]);
            uint64_t dur = (res->stage_cycles[s] * ps_per_cycle_num + clock - 1) / clock;
            chip_free[s] = start + dur;
            t = start + dur;
        }
        if (u == 0)
            first_done = t;
        last_done = t;
    }
    free(chip_free);
    res->latency_s = (double)first_done * 1e-12;
    res->interval_s = users > 1 ? (double)(last_done - first_done) * 1e-12 / (users - 1) : res->latency_s;
    res->users_per_s = res->interval_s > 0 ? 1.0 / res->interval_s : 0.0;
    res->actions.pcie_bytes = links.pcie_bytes / (uint64_t)(users > 0 ? users : 1);
    res->actions.eth_bytes = links.eth_bytes / (uint64_t)(users > 0 ? users : 1);
    res->energy_per_user_j = chip_j + (e ? ((double)res->actions.pcie_bytes * cost.pcie_pj_per_byte +
                                            (double)res->actions.eth_bytes * cost.eth_pj_per_byte) * 1e-12
                                         : 0.0);
    rc = 0;
out:
    free(buf);
    floe_links_free(&links);
    if (rc != 0)
        floe_system_result_free(res);
    return rc;
}
