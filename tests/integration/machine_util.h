/* The integration tests' machines: load_config (tests/sim/sim_test_util.h) reads configs/NAME.csv and
 * its energy table; load_small_six makes a machine whose chips are small enough that a tiny model's
 * layers go over two chips and its LM head over several. */
#ifndef FLOE_TESTS_INTEGRATION_MACHINE_UTIL_H
#define FLOE_TESTS_INTEGRATION_MACHINE_UTIL_H

#include "tests/sim/sim_test_util.h"

/* configs/small.csv with chips of 3 x 2 cores, 4 cards per server and 2 servers. */
static inline void load_small_six(floe_machine *m, floe_energy_table *e)
{
    load_config("small", m, e);
    m->cores_x = 3;
    m->cores_y = 2;
    m->cards_per_server = 4;
    m->servers_per_system = 2;
}

#endif
