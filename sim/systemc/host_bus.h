// The host side of the bus (docs/systemc.md, "The system"): host memory, and a card's driver as host
// software sees it. Components: they know the card's register map, not what runs on it.
#ifndef FLOE_SIM_SYSTEMC_HOST_BUS_H
#define FLOE_SIM_SYSTEMC_HOST_BUS_H

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include <string>
#include <vector>

#include "sim/systemc/at.h"
#include "sim/systemc/card_regs.h"

namespace floe_sc {

// Host DRAM: a TLM target that answers at once (the link in front of it carries the cost). It
// grows with alloc(); the host CPU touches it directly through ptr() (host software is not timed).
class HostMemory : public sc_core::sc_module {
  public:
    tlm_utils::simple_target_socket<HostMemory> socket;
    explicit HostMemory(sc_core::sc_module_name name);
    uint64_t alloc(uint64_t bytes); // 64-byte aligned
    uint8_t *ptr(uint64_t addr) { return bytes_.data() + addr; }

  private:
    void b_transport(tlm::tlm_generic_payload &tr, sc_core::sc_time &delay);
    unsigned int transport_dbg(tlm::tlm_generic_payload &tr);
    std::vector<uint8_t> bytes_;
};

// A card's driver, as host software sees it: register accesses through the host's bus socket
// (each with its own quantum keeper: one driver per host thread) and the card's interrupt.
class CardDriver {
  public:
    struct Io {
        bool out;         // false: host -> region before the run; true: region -> host after it
        unsigned x, y;    // core, or FLOE_FB, FLOE_FB
        std::string name; // region
        uint64_t host_addr;
        uint32_t len, offset;
    };
    // at: approximately timed transport through it (bus's nb_transport_bw must call at->nb_transport_bw);
    // nullptr: loosely timed.
    CardDriver(tlm::tlm_initiator_socket<> &bus, uint64_t base, sc_core::sc_in<bool> &irq, HostMemory &mem,
               AtTransport *at = nullptr);
    uint32_t read32(uint32_t off);
    void write32(uint32_t off, uint32_t v);
    std::string read_error(); // the error window
    void wait_irq();          // synchronises, waits for the line, acknowledges
    // Copies the container into host memory, has the card DMA and check it. 0, or -1 with *err.
    int load(const std::vector<uint8_t> &container, std::string *err);
    // Writes the I/O table into host memory and points IO_ADDR/IO_COUNT at it.
    void write_io_table(const std::vector<Io> &io);
    // Writes the I/O table, runs, waits. 0 (with *cycles and, if not NULL, *energy_pj: one burst
    // read of CYCLES, INSNS and ENERGY_PJ) or -1 with *err.
    int run(const std::vector<Io> &io, uint64_t *cycles, std::string *err, uint64_t *energy_pj = nullptr);
    sc_core::sc_time now() const { return sc_core::sc_time_stamp() + qk_.get_local_time(); }
    void sync() { qk_.sync(); }

  private:
    void access(bool write, uint32_t off, uint8_t *data, unsigned len);
    tlm::tlm_initiator_socket<> &bus_;
    uint64_t base_;
    sc_core::sc_in<bool> &irq_;
    HostMemory &mem_;
    AtTransport *at_;
    tlm_utils::tlm_quantumkeeper qk_;
    uint64_t io_table_ = 0, io_table_cap_ = 0;
};

} // namespace floe_sc

#endif
