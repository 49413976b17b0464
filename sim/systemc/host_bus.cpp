#include "sim/systemc/host_bus.h"

#include <cstring>

using namespace sc_core;

namespace floe_sc {

// ---- host memory -------------------------------------------------------------------------------

HostMemory::HostMemory(sc_module_name name) : sc_module(name), socket("socket")
{
    socket.register_b_transport(this, &HostMemory::b_transport);
    socket.register_transport_dbg(this, &HostMemory::transport_dbg);
}

uint64_t HostMemory::alloc(uint64_t bytes)
{
    uint64_t addr = (bytes_.size() + 63) & ~(uint64_t)63;
    bytes_.resize(addr + bytes);
    return addr;
}

void HostMemory::b_transport(tlm::tlm_generic_payload &tr, sc_time &delay)
{
    (void)delay;
    if (transport_dbg(tr) != tr.get_data_length() || tr.get_byte_enable_ptr()) {
        tr.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    tr.set_response_status(tlm::TLM_OK_RESPONSE);
}

unsigned int HostMemory::transport_dbg(tlm::tlm_generic_payload &tr)
{
    uint64_t addr = tr.get_address(), len = tr.get_data_length();
    if (addr > bytes_.size() || len > bytes_.size() - addr)
        return 0;
    if (tr.is_read())
        std::memcpy(tr.get_data_ptr(), bytes_.data() + addr, len);
    else if (tr.is_write())
        std::memcpy(bytes_.data() + addr, tr.get_data_ptr(), len);
    return (unsigned)len;
}

// ---- driver ------------------------------------------------------------------------------------

CardDriver::CardDriver(tlm::tlm_initiator_socket<> &bus, uint64_t base, sc_in<bool> &irq, HostMemory &mem,
                       AtTransport *at)
    : bus_(bus), base_(base), irq_(irq), mem_(mem), at_(at)
{}

void CardDriver::access(bool write, uint32_t off, uint8_t *data, unsigned len)
{
    tlm::tlm_generic_payload tr;
    if (at_)
        qk_.sync(); // approximately timed: no local time offset
    sc_time delay = qk_.get_local_time();
    tr.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    tr.set_address(base_ + off);
    tr.set_data_ptr(data);
    tr.set_data_length(len);
    tr.set_streaming_width(len);
    tr.set_byte_enable_ptr(nullptr);
    tr.set_dmi_allowed(false);
    tr.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    if (at_) {
        at_->transport(*bus_.operator->(), tr);
    } else {
        bus_->b_transport(tr, delay);
        qk_.set(delay);
        if (qk_.need_sync())
            qk_.sync();
    }
    if (tr.is_response_error()) {
        char msg[160];
        std::snprintf(msg, sizeof msg, "card register %s at 0x%x: %s", write ? "write" : "read", off,
                      tr.get_response_string().c_str());
        SC_REPORT_ERROR("floe/driver", msg);
    }
}

uint32_t CardDriver::read32(uint32_t off)
{
    uint8_t b[4];
    access(false, off, b, 4);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

void CardDriver::write32(uint32_t off, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    access(true, off, b, 4);
}

std::string CardDriver::read_error()
{
    std::vector<uint8_t> w(FLOE_CARD_ERR_MSG_LEN);
    access(false, FLOE_CARD_ERR_MSG, w.data(), FLOE_CARD_ERR_MSG_LEN);
    w.back() = 0;
    return std::string((const char *)w.data());
}

void CardDriver::wait_irq()
{
    qk_.sync();
    if (!irq_.read())
        wait(irq_.posedge_event());
    write32(FLOE_CARD_IRQ_STATUS, 1);
}

int CardDriver::load(const std::vector<uint8_t> &container, std::string *err)
{
    uint64_t addr = mem_.alloc(container.size());
    std::memcpy(mem_.ptr(addr), container.data(), container.size());
    write32(FLOE_CARD_IRQ_ENABLE, 1);
    write32(FLOE_CARD_OPTIONS, 1); // strict: an uninitialised read on the chip is a compiler bug
    write32(FLOE_CARD_PROG_ADDR_LO, (uint32_t)addr);
    write32(FLOE_CARD_PROG_ADDR_HI, (uint32_t)(addr >> 32));
    write32(FLOE_CARD_PROG_LEN, (uint32_t)container.size());
    write32(FLOE_CARD_CTRL, FLOE_CARD_CTRL_LOAD);
    wait_irq();
    if ((read32(FLOE_CARD_STATUS) & FLOE_CARD_STATE_MASK) != FLOE_CARD_STATE_DONE) {
        *err = read_error();
        return -1;
    }
    return 0;
}

void CardDriver::write_io_table(const std::vector<Io> &io)
{
    uint64_t need = io.size() * FLOE_CARD_IO_DESC_BYTES;
    if (need > io_table_cap_) {
        io_table_ = mem_.alloc(need);
        io_table_cap_ = need;
    }
    uint8_t *t = mem_.ptr(io_table_);
    if (need) // an empty table may sit in an empty host memory (no bytes at all)
        std::memset(t, 0, need);
    for (size_t i = 0; i < io.size(); i++) {
        uint8_t *d = t + i * FLOE_CARD_IO_DESC_BYTES;
        const Io &r = io[i];
        uint32_t dir = r.out ? 1 : 0;
        std::memcpy(d + FLOE_CARD_IO_DIR, &dir, 4); // host and card are both little-endian here
        d[FLOE_CARD_IO_X] = (uint8_t)r.x;
        d[FLOE_CARD_IO_X + 1] = (uint8_t)(r.x >> 8);
        d[FLOE_CARD_IO_Y] = (uint8_t)r.y;
        d[FLOE_CARD_IO_Y + 1] = (uint8_t)(r.y >> 8);
        for (int b = 0; b < 8; b++)
            d[FLOE_CARD_IO_HOST_ADDR + b] = (uint8_t)(r.host_addr >> (8 * b));
        for (int b = 0; b < 4; b++) {
            d[FLOE_CARD_IO_LEN + b] = (uint8_t)(r.len >> (8 * b));
            d[FLOE_CARD_IO_OFFSET + b] = (uint8_t)(r.offset >> (8 * b));
        }
        std::memcpy(d + FLOE_CARD_IO_NAME, r.name.c_str(), std::min<size_t>(r.name.size(), FLOE_CARD_IO_NAME_LEN));
    }
    write32(FLOE_CARD_IO_ADDR_LO, (uint32_t)io_table_);
    write32(FLOE_CARD_IO_ADDR_HI, (uint32_t)(io_table_ >> 32));
    write32(FLOE_CARD_IO_COUNT, (uint32_t)io.size());
}

int CardDriver::run(const std::vector<Io> &io, uint64_t *cycles, std::string *err, uint64_t *energy_pj)
{
    write_io_table(io);
    write32(FLOE_CARD_CTRL, FLOE_CARD_CTRL_RUN);
    wait_irq();
    if ((read32(FLOE_CARD_STATUS) & FLOE_CARD_STATE_MASK) != FLOE_CARD_STATE_DONE) {
        *err = read_error();
        return -1;
    }
    uint8_t c[24]; // CYCLES, INSNS, ENERGY_PJ
    access(false, FLOE_CARD_CYCLES_LO, c, 24);
    uint64_t v[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++)
        for (int b = 7; b >= 0; b--)
            v[i] = v[i] << 8 | c[8 * i + b];
    *cycles = v[0];
    if (energy_pj)
        *energy_pj = v[2];
    return 0;
}

} // namespace floe_sc
