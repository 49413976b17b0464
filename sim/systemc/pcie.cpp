#include "sim/systemc/pcie.h"

#include "sim/systemc/c_api.h"

using namespace sc_core;

namespace floe_sc {

Pcie::Pcie(sc_module_name name, uint64_t bytes_per_s, uint64_t latency_ns)
    : sc_module(name), upstream("upstream"), downstream("downstream"), bytes_per_s_(bytes_per_s), latency_ns_(latency_ns)
{
    upstream.register_b_transport(this, &Pcie::b_transport);
    upstream.register_transport_dbg(this, &Pcie::transport_dbg);
    upstream.register_nb_transport_fw(this, &Pcie::nb_transport_fw);
    downstream.register_nb_transport_bw(this, &Pcie::nb_transport_bw);
}

void Pcie::grow(int link)
{
    if (link >= 0 && (size_t)link >= links_.size())
        links_.resize((size_t)link + 1);
}

void Pcie::map_target(uint64_t base, uint64_t size, int link)
{
    targets_.push_back({base, size, link});
    grow(link);
}

void Pcie::map_initiator(int link)
{
    initiators_.push_back(link);
    grow(link);
}

int Pcie::decode(uint64_t addr, uint64_t len) const
{
    for (size_t i = 0; i < targets_.size(); i++)
        if (addr >= targets_[i].base && addr - targets_[i].base < targets_[i].size &&
            len <= targets_[i].size - (addr - targets_[i].base))
            return (int)i;
    return -1;
}

void Pcie::b_transport(int id, tlm::tlm_generic_payload &tr, sc_time &delay)
{
    uint64_t addr = tr.get_address();
    int t = decode(addr, tr.get_data_length());
    if (t < 0 || (size_t)id >= initiators_.size()) {
        tr.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    lt_count_++;
    // Both legs at once (loosely timed): the links crossed are the initiator's and the target's.
    delay += sc_time::from_value(charge(id, t, tr, true) + charge(id, t, tr, false));
    tr.set_address(addr - targets_[(size_t)t].base);
    downstream[t]->b_transport(tr, delay);
    tr.set_address(addr);
}

// Charges one leg (request or response) of tr on the links it crosses (the initiator's and the
// target's, when distinct; host-side ones are free); returns the picoseconds.
uint64_t Pcie::charge(int init, int target, const tlm::tlm_generic_payload &tr, bool request)
{
    int crossed[2] = {initiators_[(size_t)init], targets_[(size_t)target].link};
    if (crossed[1] == crossed[0])
        crossed[1] = -1;
    uint64_t bytes = tr.get_data_length(), total = 0;
    for (int l : crossed) {
        if (l < 0)
            continue;
        uint64_t ps = request ? ps_of_request(bytes, tr.is_read(), bytes_per_s_, latency_ns_)
                              : ps_of_response(bytes, tr.is_read(), bytes_per_s_, latency_ns_);
        LinkStats &s = links_[(size_t)l];
        if (request) {
            s.transactions++;
            s.bytes += bytes;
        }
        s.ps += ps;
        total += ps;
    }
    return total;
}

tlm::tlm_sync_enum Pcie::nb_transport_fw(int id, tlm::tlm_generic_payload &tr, tlm::tlm_phase &ph, sc_time &d)
{
    if (ph == tlm::BEGIN_REQ) {
        uint64_t addr = tr.get_address();
        int t = decode(addr, tr.get_data_length());
        if (t < 0 || (size_t)id >= initiators_.size()) {
            tr.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return tlm::TLM_COMPLETED;
        }
        routes_[&tr] = {id, t, addr};
        at_count_++;
        d += sc_time::from_value(charge(id, t, tr, true));
        tr.set_address(addr - targets_[(size_t)t].base);
        tlm::tlm_sync_enum st = downstream[t]->nb_transport_fw(tr, ph, d);
        if (st == tlm::TLM_COMPLETED || (st == tlm::TLM_UPDATED && ph == tlm::BEGIN_RESP)) {
            d += sc_time::from_value(charge(id, t, tr, false));
            tr.set_address(addr);
            if (st == tlm::TLM_COMPLETED)
                routes_.erase(&tr);
        }
        return st;
    }
    auto it = routes_.find(&tr);
    if (it == routes_.end()) {
        SC_REPORT_ERROR("floe/pcie", "a phase for no transaction in flight");
        return tlm::TLM_COMPLETED;
    }
    int t = it->second.target;
    if (ph == tlm::END_RESP)
        routes_.erase(it);
    return downstream[t]->nb_transport_fw(tr, ph, d);
}

tlm::tlm_sync_enum Pcie::nb_transport_bw(int id, tlm::tlm_generic_payload &tr, tlm::tlm_phase &ph, sc_time &d)
{
    (void)id;
    auto it = routes_.find(&tr);
    if (it == routes_.end()) {
        SC_REPORT_ERROR("floe/pcie", "a response to no transaction in flight");
        return tlm::TLM_COMPLETED;
    }
    Route r = it->second;
    if (ph == tlm::BEGIN_RESP) {
        d += sc_time::from_value(charge(r.init, r.target, tr, false));
        tr.set_address(r.addr);
    }
    tlm::tlm_sync_enum st = upstream[r.init]->nb_transport_bw(tr, ph, d);
    if (st == tlm::TLM_COMPLETED)
        routes_.erase(&tr);
    return st;
}

unsigned int Pcie::transport_dbg(int id, tlm::tlm_generic_payload &tr)
{
    (void)id;
    uint64_t addr = tr.get_address();
    int t = decode(addr, tr.get_data_length());
    if (t < 0)
        return 0;
    tr.set_address(addr - targets_[(size_t)t].base);
    unsigned n = downstream[t]->transport_dbg(tr);
    tr.set_address(addr);
    return n;
}

}  // namespace floe_sc
