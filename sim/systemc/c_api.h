// The C parts of Floe that the SystemC model calls (each header declares C linkage for C++ itself),
// and the conversions between the simulator's units and SystemC's.
#ifndef FLOE_SIM_SYSTEMC_C_API_H
#define FLOE_SIM_SYSTEMC_C_API_H

#include "common/error.h"
#include "isa/container.h"
#include "isa/energy_table.h"
#include "isa/machine.h"
#include "isa/program.h"
#include "sim/memory.h"
#include "sim/sim.h"

#include <cstdint>

namespace floe_sc {

// Exact conversions to SystemC time (its default resolution, 1 ps), rounded up.
uint64_t ps_of_cycles(uint64_t cycles, uint64_t clock_hz);
// A run's energy as the card reports it (ENERGY_PJ): picojoules, rounded to nearest.
uint64_t pj_of_joules(double joules);
// A PCIe-like transfer: latency (once for a posted write, twice for a read's request and
// completion) plus bytes at the link's bandwidth.
uint64_t ps_of_transfer(uint64_t bytes, bool read, uint64_t bytes_per_s, uint64_t latency_ns);
// The same split into its two legs for approximately timed transport: the request leg (a write's
// data travels with it) and the response leg (a read's data travels with it). They add up to
// ps_of_transfer exactly.
uint64_t ps_of_request(uint64_t bytes, bool read, uint64_t bytes_per_s, uint64_t latency_ns);
uint64_t ps_of_response(uint64_t bytes, bool read, uint64_t bytes_per_s, uint64_t latency_ns);

}  // namespace floe_sc

#endif
