#include "sim/systemc/pcie.h"

#include "sim/systemc/c_api.h"

using namespace sc_core;

namespace floe_sc {

Pcie::Pcie(sc_module_name name, uint64_t bytes_per_s, uint64_t latency_ns)
    : sc_module(name), upstream("upstream"), downstream("downstream"), bytes_per_s_(bytes_per_s), latency_ns_(latency_ns)
{
    upstream.register_b_transport(this, &Pcie::b_transport);
    upstream.register_transport_dbg(this, &Pcie::transport_dbg);
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
    // The links crossed: the initiator's and the target's (distinct; host-side ones are free).
    int crossed[2] = {initiators_[(size_t)id], targets_[(size_t)t].link};
    if (crossed[1] == crossed[0])
        crossed[1] = -1;
    uint64_t bytes = tr.get_data_length();
    for (int l : crossed) {
        if (l < 0)
            continue;
        uint64_t ps = ps_of_transfer(bytes, tr.is_read(), bytes_per_s_, latency_ns_);
        LinkStats &s = links_[(size_t)l];
        s.transactions++;
        s.bytes += bytes;
        s.ps += ps;
        delay += sc_time::from_value(ps);
    }
    tr.set_address(addr - targets_[(size_t)t].base);
    downstream[t]->b_transport(tr, delay);
    tr.set_address(addr);
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
