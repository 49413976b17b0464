#include "sim/systemc/vp/platform.h"

using namespace sc_core;

namespace floe_sc {

// ---- host --------------------------------------------------------------------------------------

Host::Host(sc_module_name name, HostMemory &mem, std::vector<uint64_t> card_bases, const std::vector<LlmJob> &jobs,
           bool at)
    : sc_module(name), bus("bus"), irq("irq", jobs.size()), results(jobs.size()), at_mode_(at), mem_(mem),
      bases_(std::move(card_bases)), jobs_(jobs)
{
    bus.register_nb_transport_bw(this, &Host::bus_bw);
}

void Host::end_of_elaboration()
{
    for (size_t i = 0; i < jobs_.size(); i++)
        sc_spawn(sc_bind(&Host::drive, this, i), sc_gen_unique_name("drive"));
}

void Host::drive(size_t card)
{
    const LlmJob &job = jobs_[card];
    CardResult &res = results[card];
    CardDriver drv(bus, bases_[card], irq[card], mem_, at_mode_ ? &at_ : nullptr);
    sc_time start = drv.now();
    if (drv.read32(FLOE_CARD_ID) != FLOE_CARD_ID_VALUE) {
        res.error = "no Floe card at this address";
        return;
    }
    if (drv.load(job.program, &res.error) != 0)
        return;
    uint64_t x_bytes = (uint64_t)job.tokens_total * job.d_model * sizeof(int16_t);
    uint64_t l_bytes = (uint64_t)job.tokens_total * job.vocab * sizeof(int16_t);
    uint64_t x_addr = mem_.alloc(x_bytes), l_addr = mem_.alloc(l_bytes);
    std::vector<CardDriver::Io> io = {
        {false, job.in_x, job.in_y, "x", x_addr, (uint32_t)x_bytes, 0},
        {true, job.out_x, job.out_y, "logits", l_addr, (uint32_t)l_bytes, 0},
    };
    std::vector<int32_t> tokens = job.prompt;
    for (int step = 0; step <= job.decode_steps; step++) {
        RunRecord rr;
        rr.tokens = tokens;
        std::vector<int16_t> x = embed_tokens(job, tokens); // the host's embedding lookup
        std::memcpy(mem_.ptr(x_addr), x.data(), x_bytes);
        if (drv.run(io, &rr.cycles, &res.error, &rr.energy_pj) != 0)
            return;
        rr.logits.resize((size_t)job.tokens_total * job.vocab);
        std::memcpy(rr.logits.data(), mem_.ptr(l_addr), l_bytes);
        rr.next = argmax_row(job, rr.logits, (int)tokens.size() - 1);
        tokens.push_back(rr.next);
        res.runs.push_back(std::move(rr));
    }
    drv.sync();
    res.e2e_ps = (drv.now() - start).value();
    res.ok = true;
}

// ---- platform ----------------------------------------------------------------------------------

static std::vector<uint64_t> bases(size_t n)
{
    std::vector<uint64_t> b;
    for (size_t i = 0; i < n; i++)
        b.push_back(Platform::card_base(i));
    return b;
}

Platform::Platform(sc_module_name name, const floe_machine &m, const floe_energy_table *e,
                   const std::vector<LlmJob> &jobs, bool at)
    : sc_module(name), mem("mem"), pcie("pcie", m.pcie_bytes_per_s, m.pcie_latency_ns),
      host("host", mem, bases(jobs.size()), jobs, at)
{
    pcie.downstream.bind(mem.socket);
    pcie.map_target(0, card_base(0), -1);
    host.bus.bind(pcie.upstream);
    pcie.map_initiator(-1);
    for (size_t i = 0; i < jobs.size(); i++) {
        cards.push_back(std::make_unique<Card>(sc_gen_unique_name("card"), m, e));
        irqs.push_back(std::make_unique<sc_signal<bool>>(sc_gen_unique_name("irq")));
        Card &c = *cards.back();
        c.set_at(at);
        pcie.downstream.bind(c.regs);
        pcie.map_target(card_base(i), 0x10000, (int)i);
        c.dma.bind(pcie.upstream);
        pcie.map_initiator((int)i);
        c.irq.bind(*irqs.back());
        host.irq[i].bind(*irqs.back());
    }
}

std::vector<CardResult> Platform::results() const
{
    std::vector<CardResult> r = host.results;
    for (size_t i = 0; i < r.size(); i++) {
        r[i].sim_ps = cards[i]->stats().sim_ps;
        if (i < pcie.links()) {
            r[i].transfer_ps = pcie.link((int)i).ps;
            r[i].link_bytes = pcie.link((int)i).bytes;
            r[i].link_transactions = pcie.link((int)i).transactions;
        }
    }
    return r;
}

} // namespace floe_sc
