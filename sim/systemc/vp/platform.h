// The system around the card (docs/systemc.md, "The system"): host memory, a host that drives the
// cards through the register map, a PCIe-like interconnect, and N cards. Used by floe-vp and the
// tests; each piece can also be used alone in another platform.
#ifndef FLOE_SIM_SYSTEMC_VP_PLATFORM_H
#define FLOE_SIM_SYSTEMC_VP_PLATFORM_H

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include <memory>
#include <string>
#include <vector>

#include "sim/systemc/card.h"
#include "sim/systemc/host_bus.h"
#include "sim/systemc/pcie.h"
#include "sim/systemc/vp/llm_job.h"

namespace floe_sc {

// The host: one thread per card, each running its card's LlmJob through a CardDriver.
class Host : public sc_core::sc_module {
  public:
    tlm_utils::simple_initiator_socket<Host> bus;
    sc_core::sc_vector<sc_core::sc_in<bool>> irq;
    Host(sc_core::sc_module_name name, HostMemory &mem, std::vector<uint64_t> card_bases,
         const std::vector<LlmJob> &jobs, bool at);
    std::vector<CardResult> results;

  private:
    void end_of_elaboration() override;
    void drive(size_t card);
    tlm::tlm_sync_enum bus_bw(tlm::tlm_generic_payload &tr, tlm::tlm_phase &ph, sc_core::sc_time &d)
    {
        return at_.nb_transport_bw(tr, ph, d);
    }
    bool at_mode_;
    AtTransport at_;
    HostMemory &mem_;
    std::vector<uint64_t> bases_;
    const std::vector<LlmJob> &jobs_;
};

// The whole virtual platform: host memory at 0, card i's registers at card_base(i). at: every
// initiator (host threads, card DMA) approximately timed instead of loosely timed. jobs must
// outlive the platform.
class Platform : public sc_core::sc_module {
  public:
    Platform(sc_core::sc_module_name name, const floe_machine &m, const floe_energy_table *e,
             const std::vector<LlmJob> &jobs, bool at = false);
    static uint64_t card_base(size_t i) { return 0x1000000000ull + 0x10000ull * i; }
    // After sc_start(): per-card results with the link figures filled in.
    std::vector<CardResult> results() const;

    HostMemory mem;
    Pcie pcie;
    std::vector<std::unique_ptr<Card>> cards;
    std::vector<std::unique_ptr<sc_core::sc_signal<bool>>> irqs;
    Host host;
};

} // namespace floe_sc

#endif
