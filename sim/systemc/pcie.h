// A PCIe-like interconnect in TLM-2.0 (docs/systemc.md, "The system"): a router with address
// decoding between the host's root port and several cards, each on its own link.
//
//   upstream    multi target socket: initiators bind here (the host's CPU port, every card's dma)
//   downstream  multi initiator socket: bind it to targets in the order they are mapped
//               (map_card / map_host_memory)
//
// Every transaction that crosses a card's link is charged on that link: pcie_latency_ns once for
// a write (posted), twice for a read (request, then completion), plus its bytes at pcie_bytes_per_s
// (machine description), added to the transaction's delay (loosely timed). Links are independent,
// as a card's own lanes are; the root complex is not a bottleneck. A transaction that touches no
// card link (host to host memory) costs nothing.
//
// Approximately timed initiators are routed too (nb_transport_fw/bw, base protocol): the request
// leg (latency, plus a write's bytes) is added to BEGIN_REQ's delay, the response leg (a read's
// latency and bytes; nothing for a write) to BEGIN_RESP's, so both styles cost the same.
#ifndef FLOE_SIM_SYSTEMC_PCIE_H
#define FLOE_SIM_SYSTEMC_PCIE_H

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>

#include <map>
#include <vector>

namespace floe_sc {

class Pcie : public sc_core::sc_module {
public:
    tlm_utils::multi_passthrough_target_socket<Pcie> upstream;
    tlm_utils::multi_passthrough_initiator_socket<Pcie> downstream;

    Pcie(sc_core::sc_module_name name, uint64_t bytes_per_s, uint64_t latency_ns);

    // Address map. Each call corresponds to the next downstream binding. `link` is the card link a
    // target sits behind (-1: the host side).
    void map_target(uint64_t base, uint64_t size, int link);
    // Each upstream binding, in order: the link its initiator sits behind (-1: the host).
    void map_initiator(int link);

    struct LinkStats {
        uint64_t transactions = 0, bytes = 0;
        uint64_t ps = 0; // transfer time charged on the link
    };
    const LinkStats &link(int i) const { return links_.at((size_t)i); }
    size_t links() const { return links_.size(); }
    // Transactions that came in approximately timed (nb_transport_fw BEGIN_REQ) / loosely timed.
    uint64_t at_transactions() const { return at_count_; }
    uint64_t lt_transactions() const { return lt_count_; }

private:
    void b_transport(int id, tlm::tlm_generic_payload &tr, sc_core::sc_time &delay);
    unsigned int transport_dbg(int id, tlm::tlm_generic_payload &tr);
    tlm::tlm_sync_enum nb_transport_fw(int id, tlm::tlm_generic_payload &tr, tlm::tlm_phase &ph, sc_core::sc_time &d);
    tlm::tlm_sync_enum nb_transport_bw(int id, tlm::tlm_generic_payload &tr, tlm::tlm_phase &ph, sc_core::sc_time &d);
    uint64_t charge(int init, int target, const tlm::tlm_generic_payload &tr, bool request);
    int decode(uint64_t addr, uint64_t len) const;
    void grow(int link);

    struct Range {
        uint64_t base, size;
        int link;
    };
    struct Route {
        int init, target;
        uint64_t addr;
    };
    std::map<tlm::tlm_generic_payload *, Route> routes_; // AT transactions in flight
    std::vector<Range> targets_;
    std::vector<int> initiators_;
    std::vector<LinkStats> links_;
    uint64_t bytes_per_s_, latency_ns_;
    uint64_t at_count_ = 0, lt_count_ = 0;
};

}  // namespace floe_sc

#endif
