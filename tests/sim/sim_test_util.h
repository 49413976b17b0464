/* Helpers for the simulator tests: machines from configs/, programs from assembly text. */
#ifndef FLOE_TESTS_SIM_TEST_UTIL_H
#define FLOE_TESTS_SIM_TEST_UTIL_H

#include "tests/test_util.h"

#include "isa/asm.h"
#include "isa/machine.h"
#include "sim/sim.h"

static inline void load_config(const char *name, floe_machine *m, floe_energy_table *e)
{
    char path[4200];
    floe_err err;
    snprintf(path, sizeof path, "%s/configs/%s.csv", getenv("FLOE_SOURCE_DIR"), name);
    if (floe_machine_load(path, m, &err) != 0)
        fail_msg("%s", err.msg);
    if (e) {
        snprintf(path, sizeof path, "%s/configs/energy-%s.csv", getenv("FLOE_SOURCE_DIR"), name);
        if (floe_energy_table_load(path, e, &err) != 0)
            fail_msg("%s", err.msg);
    }
}

/* Assembles `text` for machine m (its fingerprint), or fails the test. */
static inline floe_program *assemble(const floe_machine *m, const char *text)
{
    uint64_t fp = floe_machine_fingerprint(m);
    floe_program *p;
    floe_err err;
    if (floe_asm(text, strlen(text), "test.s", &fp, &p, &err) != 0)
        fail_msg("%s", err.msg);
    return p;
}

/* Assembles, loads and runs on a fresh simulator of `config`. Returns the run's status; err gets the
 * message. The caller frees *sim and *prog. */
static inline int sim_text(const char *config, const char *text, const floe_sim_options *o, floe_sim **sim,
                           floe_program **prog, floe_err *err)
{
    floe_machine m;
    floe_energy_table e;
    load_config(config, &m, &e);
    *prog = assemble(&m, text);
    assert_int_equal(floe_sim_new(sim, &m, &e, err), 0);
    if (floe_sim_load(*sim, *prog, err) != 0)
        return -1;
    return floe_sim_run(*sim, o, err);
}

#endif
