#include "sim/systemc/at.h"

using namespace sc_core;

namespace floe_sc {

void AtTransport::transport(tlm::tlm_fw_transport_if<> &fw, tlm::tlm_generic_payload &tr)
{
    sc_event done;
    pending_[&tr] = &done;
    tlm::tlm_phase phase = tlm::BEGIN_REQ;
    sc_time delay = SC_ZERO_TIME;
    tlm::tlm_sync_enum st = fw.nb_transport_fw(tr, phase, delay);
    if (st == tlm::TLM_COMPLETED) { // the target finished at once; delay is the completion
        pending_.erase(&tr);
        wait(delay);
        return;
    }
    if (st == tlm::TLM_UPDATED && phase == tlm::BEGIN_RESP) { // response on the return path
        pending_.erase(&tr);
        wait(delay);
        phase = tlm::END_RESP;
        delay = SC_ZERO_TIME;
        fw.nb_transport_fw(tr, phase, delay);
        return;
    }
    // TLM_ACCEPTED, or END_REQ on the return path: the response comes on the backward path.
    wait(done);
}

tlm::tlm_sync_enum AtTransport::nb_transport_bw(tlm::tlm_generic_payload &tr, tlm::tlm_phase &phase, sc_time &delay)
{
    if (phase == tlm::BEGIN_RESP) {
        auto it = pending_.find(&tr);
        if (it == pending_.end()) {
            SC_REPORT_ERROR("floe/at", "a response to no transaction in flight");
            return tlm::TLM_COMPLETED;
        }
        it->second->notify(delay);
        pending_.erase(it);
        phase = tlm::END_RESP; // the initiator completes the transaction here
        return tlm::TLM_COMPLETED;
    }
    return tlm::TLM_ACCEPTED; // END_REQ: nothing to do; the response will follow
}

}  // namespace floe_sc
