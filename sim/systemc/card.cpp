#include "sim/systemc/card.h"
#include "sim/systemc/asan_fiber.h"

#include <cstring>

using namespace sc_core;

namespace floe_sc {

uint64_t ps_of_cycles(uint64_t cycles, uint64_t clock_hz)
{
    unsigned __int128 num = (unsigned __int128)cycles * 1000000000000ull;
    return (uint64_t)((num + clock_hz - 1) / clock_hz);
}

uint64_t pj_of_joules(double joules) { return (uint64_t)(joules * 1e12 + 0.5); }

static uint64_t ps_of_stream(uint64_t bytes, uint64_t bytes_per_s)
{
    unsigned __int128 num = (unsigned __int128)bytes * 1000000000000ull;
    return (uint64_t)((num + bytes_per_s - 1) / bytes_per_s);
}

uint64_t ps_of_request(uint64_t bytes, bool read, uint64_t bytes_per_s, uint64_t latency_ns)
{
    return latency_ns * 1000u + (read ? 0 : ps_of_stream(bytes, bytes_per_s));
}

uint64_t ps_of_response(uint64_t bytes, bool read, uint64_t bytes_per_s, uint64_t latency_ns)
{
    return read ? latency_ns * 1000u + ps_of_stream(bytes, bytes_per_s) : 0;
}

uint64_t ps_of_transfer(uint64_t bytes, bool read, uint64_t bytes_per_s, uint64_t latency_ns)
{
    return ps_of_request(bytes, read, bytes_per_s, latency_ns) + ps_of_response(bytes, read, bytes_per_s, latency_ns);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

Card::Card(sc_module_name name, const floe_machine &m, const floe_energy_table *e)
    : sc_module(name), regs("regs"), dma("dma"), irq("irq"), m_(m), have_energy_(e != nullptr)
{
    if (e)
        e_ = *e;
    else
        std::memset(&e_, 0, sizeof e_);
    fingerprint_ = floe_machine_fingerprint(&m_);
    regs.register_b_transport(this, &Card::b_transport);
    regs.register_transport_dbg(this, &Card::transport_dbg);
    dma.register_nb_transport_bw(this, &Card::dma_bw);
    asan_fiber_restore_main_stack_at_exit();
    SC_HAS_PROCESS(Card);
    SC_THREAD(worker);
    SC_METHOD(irq_update);
    sensitive << irq_ev_;
}

Card::~Card() { floe_program_free(prog_); }

void Card::irq_update() { irq.write((irq_status_ & irq_enable_ & 1u) != 0); }

void Card::reg_image(uint8_t *img) const
{
    std::memset(img, 0, FLOE_CARD_REG_SPACE);
    for (uint32_t off = 0; off < FLOE_CARD_ERR_MSG; off += 4)
        put32(img + off, reg_read(off));
    std::memcpy(img + FLOE_CARD_ERR_MSG, err_.c_str(), std::min<size_t>(err_.size(), FLOE_CARD_ERR_MSG_LEN - 1));
}

uint32_t Card::reg_read(uint32_t off) const
{
    switch (off) {
    case FLOE_CARD_ID: return FLOE_CARD_ID_VALUE;
    case FLOE_CARD_VERSION: return FLOE_CARD_VERSION_VALUE;
    case FLOE_CARD_STATUS: return state_ | (prog_ ? FLOE_CARD_STATUS_LOADED : 0u);
    case FLOE_CARD_IRQ_ENABLE: return irq_enable_;
    case FLOE_CARD_IRQ_STATUS: return irq_status_;
    case FLOE_CARD_PROG_ADDR_LO: return (uint32_t)prog_addr_;
    case FLOE_CARD_PROG_ADDR_HI: return (uint32_t)(prog_addr_ >> 32);
    case FLOE_CARD_PROG_LEN: return prog_len_;
    case FLOE_CARD_IO_ADDR_LO: return (uint32_t)io_addr_;
    case FLOE_CARD_IO_ADDR_HI: return (uint32_t)(io_addr_ >> 32);
    case FLOE_CARD_IO_COUNT: return io_count_;
    case FLOE_CARD_CYCLES_LO: return (uint32_t)cycles_;
    case FLOE_CARD_CYCLES_HI: return (uint32_t)(cycles_ >> 32);
    case FLOE_CARD_INSNS_LO: return (uint32_t)insns_;
    case FLOE_CARD_INSNS_HI: return (uint32_t)(insns_ >> 32);
    case FLOE_CARD_ENERGY_PJ_LO: return (uint32_t)energy_pj_;
    case FLOE_CARD_ENERGY_PJ_HI: return (uint32_t)(energy_pj_ >> 32);
    case FLOE_CARD_FP_LO: return (uint32_t)fingerprint_;
    case FLOE_CARD_FP_HI: return (uint32_t)(fingerprint_ >> 32);
    case FLOE_CARD_CLOCK_HZ: return (uint32_t)m_.clock_hz;
    case FLOE_CARD_OPTIONS: return options_;
    case FLOE_CARD_RUNS: return runs_;
    default: return 0; // CTRL reads as 0; holes read as 0
    }
}

// Returns a TLM response status.
int Card::reg_write(uint32_t off, uint32_t v, const sc_time &delay)
{
    switch (off) {
    case FLOE_CARD_CTRL:
        if (v & ~(FLOE_CARD_CTRL_LOAD | FLOE_CARD_CTRL_RUN | FLOE_CARD_CTRL_RESET))
            return tlm::TLM_GENERIC_ERROR_RESPONSE;
        if (state_ == FLOE_CARD_STATE_BUSY)
            return tlm::TLM_GENERIC_ERROR_RESPONSE;
        if (v & FLOE_CARD_CTRL_RESET) {
            floe_program_free(prog_);
            prog_ = nullptr;
            state_ = FLOE_CARD_STATE_IDLE;
            irq_status_ = 0;
            cycles_ = insns_ = energy_pj_ = 0;
            runs_ = 0;
            err_.clear();
            irq_ev_.notify(delay);
        }
        pending_ = v & (FLOE_CARD_CTRL_LOAD | FLOE_CARD_CTRL_RUN);
        if (pending_) {
            state_ = FLOE_CARD_STATE_BUSY;
            start_ev_.notify(delay); // the command reaches the card at the initiator's local time
        }
        return tlm::TLM_OK_RESPONSE;
    case FLOE_CARD_IRQ_ENABLE: irq_enable_ = v & 1u; irq_ev_.notify(delay); return tlm::TLM_OK_RESPONSE;
    case FLOE_CARD_IRQ_STATUS: irq_status_ &= ~(v & 1u); irq_ev_.notify(delay); return tlm::TLM_OK_RESPONSE;
    case FLOE_CARD_PROG_ADDR_LO: prog_addr_ = (prog_addr_ & ~0xFFFFFFFFull) | v; return tlm::TLM_OK_RESPONSE;
    case FLOE_CARD_PROG_ADDR_HI: prog_addr_ = (prog_addr_ & 0xFFFFFFFFull) | (uint64_t)v << 32; return tlm::TLM_OK_RESPONSE;
    case FLOE_CARD_PROG_LEN: prog_len_ = v; return tlm::TLM_OK_RESPONSE;
    case FLOE_CARD_IO_ADDR_LO: io_addr_ = (io_addr_ & ~0xFFFFFFFFull) | v; return tlm::TLM_OK_RESPONSE;
    case FLOE_CARD_IO_ADDR_HI: io_addr_ = (io_addr_ & 0xFFFFFFFFull) | (uint64_t)v << 32; return tlm::TLM_OK_RESPONSE;
    case FLOE_CARD_IO_COUNT: io_count_ = v; return tlm::TLM_OK_RESPONSE;
    case FLOE_CARD_OPTIONS: options_ = v & 1u; return tlm::TLM_OK_RESPONSE;
    default: return tlm::TLM_COMMAND_ERROR_RESPONSE; // read-only or unused
    }
}

void Card::b_transport(tlm::tlm_generic_payload &tr, sc_time &delay)
{
    uint64_t addr = tr.get_address();
    unsigned len = tr.get_data_length();
    uint8_t *data = tr.get_data_ptr();
    if (tr.get_byte_enable_ptr() || tr.get_streaming_width() < len) {
        tr.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
        return;
    }
    if (len == 0 || addr >= FLOE_CARD_REG_SPACE || len > FLOE_CARD_REG_SPACE - addr) {
        tr.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    if (tr.is_read()) {
        uint8_t img[FLOE_CARD_REG_SPACE];
        reg_image(img);
        std::memcpy(data, img + addr, len);
        tr.set_response_status(tlm::TLM_OK_RESPONSE);
    } else if (tr.is_write()) {
        if (addr % 4 || len % 4) {
            tr.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return;
        }
        for (unsigned i = 0; i < len; i += 4) {
            int st = reg_write((uint32_t)(addr + i), get32(data + i), delay);
            if (st != tlm::TLM_OK_RESPONSE) {
                tr.set_response_status((tlm::tlm_response_status)st);
                return;
            }
        }
        tr.set_response_status(tlm::TLM_OK_RESPONSE);
    } else {
        tr.set_response_status(tlm::TLM_OK_RESPONSE); // TLM_IGNORE_COMMAND
    }
}

unsigned int Card::transport_dbg(tlm::tlm_generic_payload &tr)
{
    uint64_t addr = tr.get_address();
    unsigned len = tr.get_data_length();
    if (!tr.is_read() || addr >= FLOE_CARD_REG_SPACE)
        return 0;
    len = (unsigned)std::min<uint64_t>(len, FLOE_CARD_REG_SPACE - addr);
    uint8_t img[FLOE_CARD_REG_SPACE];
    reg_image(img);
    std::memcpy(tr.get_data_ptr(), img + addr, len);
    return len;
}

int Card::dma_xfer(bool write, uint64_t addr, uint8_t *data, uint64_t len)
{
    if (len > 0xFFFFFFFFull) {
        fail("DMA of " + std::to_string(len) + " bytes is longer than one TLM transaction can carry");
        return -1;
    }
    tlm::tlm_generic_payload tr;
    if (at_mode_)
        qk_.sync(); // approximately timed: no local time offset
    sc_time delay = qk_.get_local_time();
    tr.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    tr.set_address(addr);
    tr.set_data_ptr(data);
    tr.set_data_length((unsigned)len);
    tr.set_streaming_width((unsigned)len);
    tr.set_byte_enable_ptr(nullptr);
    tr.set_dmi_allowed(false);
    tr.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    if (at_mode_) {
        at_.transport(*dma.operator->(), tr);
    } else {
        dma->b_transport(tr, delay);
        qk_.set(delay);
        if (qk_.need_sync())
            qk_.sync();
    }
    if (tr.is_response_error()) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "DMA %s of %llu bytes at host address 0x%llx failed: %s",
                      write ? "write" : "read", (unsigned long long)len, (unsigned long long)addr,
                      tr.get_response_string().c_str());
        fail(buf);
        return -1;
    }
    if (write)
        stats_.dma_bytes_out += len;
    else
        stats_.dma_bytes_in += len;
    return 0;
}

void Card::fail(const std::string &msg)
{
    if (err_.empty())
        err_ = msg;
}

int Card::do_load()
{
    floe_program_free(prog_);
    prog_ = nullptr;
    if (prog_len_ == 0) {
        fail("LOAD: PROG_LEN is 0");
        return -1;
    }
    std::vector<uint8_t> buf(prog_len_);
    if (dma_xfer(false, prog_addr_, buf.data(), buf.size()) != 0)
        return -1;
    floe_err err;
    if (floe_program_read(buf.data(), buf.size(), &fingerprint_, &prog_, &err) != 0) {
        fail(std::string("LOAD: ") + err.msg);
        return -1;
    }
    // Refuse now what the chip would refuse at run time (images that do not fit, cores off the grid).
    floe_sim *s = nullptr;
    int rc = floe_sim_new(&s, &m_, nullptr, &err);
    if (rc == 0)
        rc = floe_sim_load(s, prog_, &err);
    floe_sim_free(s);
    if (rc != 0) {
        fail(std::string("LOAD: ") + err.msg);
        floe_program_free(prog_);
        prog_ = nullptr;
        return -1;
    }
    stats_.loads++;
    return 0;
}

namespace {
struct IoDesc {
    uint32_t dir;
    unsigned x, y;
    uint64_t host_addr;
    uint32_t len, offset;
    std::string name;
};
}  // namespace

int Card::do_run()
{
    if (!prog_) {
        fail("RUN: no program loaded (write PROG_ADDR, PROG_LEN and CTRL.LOAD first)");
        return -1;
    }
    if (io_count_ > FLOE_CARD_IO_MAX) {
        fail("RUN: IO_COUNT " + std::to_string(io_count_) + " is more than " + std::to_string(FLOE_CARD_IO_MAX));
        return -1;
    }
    std::vector<uint8_t> table((size_t)io_count_ * FLOE_CARD_IO_DESC_BYTES);
    if (io_count_ && dma_xfer(false, io_addr_, table.data(), table.size()) != 0)
        return -1;
    std::vector<IoDesc> io;
    for (uint32_t i = 0; i < io_count_; i++) {
        const uint8_t *d = table.data() + (size_t)i * FLOE_CARD_IO_DESC_BYTES;
        IoDesc r;
        r.dir = get32(d + FLOE_CARD_IO_DIR);
        r.x = (unsigned)(d[FLOE_CARD_IO_X] | d[FLOE_CARD_IO_X + 1] << 8);
        r.y = (unsigned)(d[FLOE_CARD_IO_Y] | d[FLOE_CARD_IO_Y + 1] << 8);
        r.host_addr = get64(d + FLOE_CARD_IO_HOST_ADDR);
        r.len = get32(d + FLOE_CARD_IO_LEN);
        r.offset = get32(d + FLOE_CARD_IO_OFFSET);
        r.name.assign((const char *)d + FLOE_CARD_IO_NAME,
                      strnlen((const char *)d + FLOE_CARD_IO_NAME, FLOE_CARD_IO_NAME_LEN));
        const floe_symbol *sym = floe_program_symbol(prog_, r.x, r.y, r.name.c_str(), r.name.size());
        char where[120];
        std::snprintf(where, sizeof where, "RUN: I/O descriptor %u (region '%.63s' at %u,%u)", i, r.name.c_str(), r.x, r.y);
        if (r.dir > 1) {
            fail(std::string(where) + ": direction " + std::to_string(r.dir) + " is neither 0 (in) nor 1 (out)");
            return -1;
        }
        if (!sym || sym->kind != FLOE_SYM_REGION) {
            fail(std::string(where) + ": the program has no such region");
            return -1;
        }
        if (!floe_place_valid(r.x, r.y) || (r.x != FLOE_FB && (r.x >= m_.cores_x || r.y >= m_.cores_y))) {
            fail(std::string(where) + ": no such core on this chip");
            return -1;
        }
        if ((uint64_t)r.offset + r.len > sym->size) {
            fail(std::string(where) + ": bytes " + std::to_string(r.offset) + ".." +
                 std::to_string((uint64_t)r.offset + r.len) + " overflow the region's " + std::to_string(sym->size));
            return -1;
        }
        io.push_back(r);
    }
    floe_err err;
    floe_sim *s = nullptr;
    if (floe_sim_new(&s, &m_, have_energy_ ? &e_ : nullptr, &err) != 0 || floe_sim_load(s, prog_, &err) != 0) {
        floe_sim_free(s);
        fail(std::string("RUN: ") + err.msg);
        return -1;
    }
    int rc = 0;
    std::vector<uint8_t> buf;
    for (const IoDesc &r : io) {
        if (r.dir != 0 || rc != 0)
            continue;
        buf.resize(r.len);
        const floe_symbol *sym = floe_program_symbol(prog_, r.x, r.y, r.name.c_str(), r.name.size());
        if (dma_xfer(false, r.host_addr, buf.data(), r.len) != 0 ||
            floe_memory_write(floe_sim_memory(s, r.x, r.y), (uint64_t)sym->value + r.offset, buf.data(), r.len, &err) != 0)
            rc = -1;
    }
    if (rc == 0) {
        floe_sim_options so = {(int)(options_ & 1u), nullptr, 0, 0};
        if (floe_sim_run(s, &so, &err) != 0) {
            fail(std::string("RUN: ") + err.msg);
            rc = -1;
        }
    } else if (err_.empty()) {
        fail(std::string("RUN: ") + err.msg);
    }
    if (rc == 0) {
        const floe_sim_result *res = floe_sim_result_get(s);
        cycles_ = res->cycles;
        insns_ = res->instructions;
        energy_pj_ = res->have_energy ? pj_of_joules(res->energy.total_j) : 0;
        uint64_t ps = ps_of_cycles(res->cycles, m_.clock_hz);
        stats_.sim_ps += ps;
        stats_.last_cycles = res->cycles;
        qk_.inc(sc_time::from_value(ps)); // the chip computes for cycles / clock
        for (const IoDesc &r : io) {
            if (r.dir != 1)
                continue;
            const floe_symbol *sym = floe_program_symbol(prog_, r.x, r.y, r.name.c_str(), r.name.size());
            const floe_memory *mem = floe_sim_memory(s, r.x, r.y);
            if (floe_memory_check(mem, (uint64_t)sym->value + r.offset, r.len, "output", &err) != 0) {
                fail(std::string("RUN: region '") + r.name + "': " + err.msg);
                rc = -1;
                break;
            }
            buf.assign(mem->bytes + sym->value + r.offset, mem->bytes + sym->value + r.offset + r.len);
            if (dma_xfer(true, r.host_addr, buf.data(), r.len) != 0) {
                rc = -1;
                break;
            }
        }
    }
    floe_sim_free(s);
    if (rc == 0) {
        runs_++;
        stats_.runs++;
    }
    return rc;
}

void Card::worker()
{
    for (;;) {
        wait(start_ev_);
        qk_.reset();
        uint32_t cmd = pending_;
        pending_ = 0;
        err_.clear();
        int rc = 0;
        if (cmd & FLOE_CARD_CTRL_LOAD)
            rc = do_load();
        if (rc == 0 && (cmd & FLOE_CARD_CTRL_RUN))
            rc = do_run();
        qk_.sync(); // the card's local time becomes SystemC time before the interrupt is raised
        state_ = rc == 0 ? FLOE_CARD_STATE_DONE : FLOE_CARD_STATE_ERROR;
        irq_status_ |= 1u;
        irq_ev_.notify(SC_ZERO_TIME);
    }
}

}  // namespace floe_sc
