// Floe's accelerator as a SystemC module (docs/systemc.md): one chip on a card, with its frame
// buffer, behind a TLM-2.0 register interface. The chip itself is the C simulator (sim/sim.h):
// the module only moves bytes and turns the simulator's cycle count into SystemC time.
//
//   regs  tlm target socket (b_transport; nb_transport through simple_target_socket's adapter):
//         the register map of card_regs.h
//   dma   tlm initiator socket: the card reads the program, the I/O table and inputs from host
//         memory and writes outputs there: loosely timed (b_transport, honouring the global
//         quantum) by default, approximately timed (nb_transport, base protocol) after set_at(true)
//   irq   sc_out<bool>: high while IRQ_STATUS bit 0 and IRQ_ENABLE bit 0 are both set
#ifndef FLOE_SIM_SYSTEMC_CARD_H
#define FLOE_SIM_SYSTEMC_CARD_H

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include <string>
#include <vector>

#include "sim/systemc/at.h"
#include "sim/systemc/c_api.h"
#include "sim/systemc/card_regs.h"

namespace floe_sc {

class Card : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<Card> regs;
    tlm_utils::simple_initiator_socket<Card> dma;
    sc_core::sc_out<bool> irq;

    // m (copied) is the chip; e (may be NULL, copied) prices runs in joules.
    Card(sc_core::sc_module_name name, const floe_machine &m, const floe_energy_table *e);
    ~Card() override;
    Card(const Card &) = delete;
    Card &operator=(const Card &) = delete;

    // DMA style: false (default) loosely timed, true approximately timed. Before sc_start.
    void set_at(bool at) { at_mode_ = at; }

    // Statistics for reports and tests.
    struct Stats {
        uint64_t loads = 0, runs = 0;
        uint64_t last_cycles = 0;
        uint64_t sim_ps = 0;         // chip time of every RUN
        uint64_t dma_bytes_in = 0;   // host -> card
        uint64_t dma_bytes_out = 0;  // card -> host
    };
    const Stats &stats() const { return stats_; }
    const floe_machine &machine() const { return m_; }

private:
    void b_transport(tlm::tlm_generic_payload &tr, sc_core::sc_time &delay);
    unsigned int transport_dbg(tlm::tlm_generic_payload &tr);
    void worker();
    tlm::tlm_sync_enum dma_bw(tlm::tlm_generic_payload &tr, tlm::tlm_phase &ph, sc_core::sc_time &d)
    {
        return at_.nb_transport_bw(tr, ph, d);
    }
    void irq_update();
    uint32_t reg_read(uint32_t off) const;
    void reg_image(uint8_t *img) const;
    int reg_write(uint32_t off, uint32_t v, const sc_core::sc_time &delay);
    // DMA through the initiator socket; returns 0 or -1 with the error set.
    int dma_xfer(bool write, uint64_t addr, uint8_t *data, uint64_t len);
    int do_load();
    int do_run();
    void fail(const std::string &msg);

    floe_machine m_;
    floe_energy_table e_;
    bool have_energy_;
    uint64_t fingerprint_;
    floe_program *prog_ = nullptr;
    tlm_utils::tlm_quantumkeeper qk_;
    bool at_mode_ = false;
    AtTransport at_;

    // registers
    uint32_t state_ = FLOE_CARD_STATE_IDLE;
    uint32_t irq_enable_ = 0, irq_status_ = 0;
    uint64_t prog_addr_ = 0, io_addr_ = 0;
    uint32_t prog_len_ = 0, io_count_ = 0, options_ = 0, runs_ = 0;
    uint64_t cycles_ = 0, insns_ = 0, energy_pj_ = 0;
    std::string err_;
    uint32_t pending_ = 0;  // CTRL bits the worker has yet to act on
    sc_core::sc_event start_ev_, irq_ev_;
    Stats stats_;
};

}  // namespace floe_sc

#endif
