// Approximately timed transport for an initiator (docs/systemc.md, "Timing"): one transaction at a
// time per calling thread through the TLM-2.0 base protocol (BEGIN_REQ, [END_REQ], BEGIN_RESP,
// END_RESP), the calling thread waiting until the response phase arrives. Several threads may
// share one socket: each waits on its own transaction.
#ifndef FLOE_SIM_SYSTEMC_AT_H
#define FLOE_SIM_SYSTEMC_AT_H

#include <systemc>
#include <tlm>

#include <map>

namespace floe_sc {

class AtTransport {
public:
    // Sends tr with nb_transport_fw and returns when it has completed (SystemC time is then the
    // completion time). The caller must be synchronised (no local time offset).
    void transport(tlm::tlm_fw_transport_if<> &fw, tlm::tlm_generic_payload &tr);
    // The socket's nb_transport_bw: register a method that calls this.
    tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload &tr, tlm::tlm_phase &phase, sc_core::sc_time &delay);

private:
    std::map<tlm::tlm_generic_payload *, sc_core::sc_event *> pending_;
};

}  // namespace floe_sc

#endif
