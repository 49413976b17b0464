// The system around the card (docs/systemc.md, "The system"): host memory, a host that drives the
// cards through the register map, a PCIe-like interconnect, and N cards. Used by floe-vp and the
// tests; each piece can also be used alone in another platform.
#ifndef FLOE_SIM_SYSTEMC_PLATFORM_H
#define FLOE_SIM_SYSTEMC_PLATFORM_H

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include <memory>
#include <string>
#include <vector>

#include "sim/systemc/card.h"
#include "sim/systemc/pcie.h"

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
        bool out;          // false: host -> region before the run; true: region -> host after it
        unsigned x, y;     // core, or FLOE_FB, FLOE_FB
        std::string name;  // region
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

// One user's LLM on one card: a compiled prefill program and what the host needs around it (the
// embedding table: the host does the lookup, docs/compiler.md). Decode step k (1..decode_steps)
// runs the same program again with the token chosen at step k - 1 appended: the program computes
// a prefill of tokens_total positions, positions not reached yet hold token 0, and by causality the
// logits at position t are those of a prefill of t + 1 tokens.
struct LlmJob {
    std::vector<uint8_t> program; // container bytes
    unsigned in_x = 0, in_y = 0, out_x = 0, out_y = 0;
    int d_model = 0, vocab = 0, tokens_total = 0;
    std::vector<int16_t> embed;   // [vocab][d_model]
    std::vector<int32_t> prompt;
    int decode_steps = 0;
};

// A quantized model (docs/quantized-model.md, derived) compiled for m, with a prompt of prompt_len
// tokens drawn from seed. 0, or -1 with *err.
int make_llm_job_from(const floe_machine &m, const floe_qmodel &qm, uint64_t seed, int prompt_len, int decode_steps,
                      LlmJob *job, std::string *err);
// The same for a random-weight model of a built-in config (weights from seed too).
int make_llm_job(const floe_machine &m, const char *config, uint64_t seed, int prompt_len, int decode_steps, LlmJob *job,
                 std::string *err);
// The same for a quantized-model file (floe_qmodel_load: a trained model).
int make_llm_job_file(const floe_machine &m, const char *path, uint64_t seed, int prompt_len, int decode_steps,
                      LlmJob *job, std::string *err);
// The int16 embeddings [tokens_total][d] of tokens[0..n) padded with token 0.
std::vector<int16_t> embed_tokens(const LlmJob &job, const std::vector<int32_t> &tokens);
// Greedy choice: the index of the largest logit in row `pos` (lowest index on ties).
int32_t argmax_row(const LlmJob &job, const std::vector<int16_t> &logits, int pos);

struct RunRecord {
    std::vector<int32_t> tokens;  // tokens given (before padding)
    std::vector<int16_t> logits;  // [tokens_total][vocab]
    uint64_t cycles = 0;
    uint64_t energy_pj = 0;       // ENERGY_PJ (0 without an energy table)
    int32_t next = 0;             // argmax at the last given position
};

struct CardResult {
    bool ok = false;
    std::string error;
    std::vector<RunRecord> runs;  // prefill, then each decode step
    uint64_t e2e_ps = 0;          // the host's view: first register access to the last one
    uint64_t sim_ps = 0;          // chip time (the card's RUNs)
    uint64_t transfer_ps = 0;     // the card's link
    uint64_t link_bytes = 0, link_transactions = 0;
};

// The standalone path for comparison: the same program and inputs on floe_sim directly.
// With e, *energy_pj (if not NULL) gets the run's energy as the card would report it.
int standalone_run(const floe_machine &m, const LlmJob &job, const std::vector<int32_t> &tokens,
                   std::vector<int16_t> *logits, uint64_t *cycles, std::string *err,
                   const floe_energy_table *e = nullptr, uint64_t *energy_pj = nullptr);

// The host: one thread per card, each running its card's LlmJob through a CardDriver.
class Host : public sc_core::sc_module {
public:
    tlm_utils::simple_initiator_socket<Host> bus;
    sc_core::sc_vector<sc_core::sc_in<bool>> irq;
    Host(sc_core::sc_module_name name, HostMemory &mem, std::vector<uint64_t> card_bases, const std::vector<LlmJob> &jobs,
         bool at);
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
    Platform(sc_core::sc_module_name name, const floe_machine &m, const floe_energy_table *e, const std::vector<LlmJob> &jobs,
             bool at = false);
    static uint64_t card_base(size_t i) { return 0x1000000000ull + 0x10000ull * i; }
    // After sc_start(): per-card results with the link figures filled in.
    std::vector<CardResult> results() const;

    HostMemory mem;
    Pcie pcie;
    std::vector<std::unique_ptr<Card>> cards;
    std::vector<std::unique_ptr<sc_core::sc_signal<bool>>> irqs;
    Host host;
};

}  // namespace floe_sc

#endif
