#include "sim/systemc/platform.h"

#include <cstring>

#include "common/rng.h"
#include "models/qmodel_io.h"

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
{
}

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

// ---- jobs --------------------------------------------------------------------------------------

int make_llm_job_from(const floe_machine &m, const floe_qmodel &qm, uint64_t seed, int prompt_len, int decode_steps,
                      LlmJob *job, std::string *err)
{
    floe_err e;
    const floe_model_config &cfg = qm.cfg;
    int total = prompt_len + decode_steps;
    if (prompt_len < 1 || decode_steps < 0 || total > cfg.context) {
        *err = "prompt of " + std::to_string(prompt_len) + " tokens and " + std::to_string(decode_steps) +
               " decode steps do not fit the context of " + std::to_string(cfg.context);
        return -1;
    }
    floe_compile_opts o{};
    o.tokens = total;
    floe_program *p = nullptr;
    floe_compile_report rep;
    int rc = floe_compile_prefill(&qm, &m, &o, &p, &rep, &e);
    uint8_t *buf = nullptr;
    size_t len = 0;
    if (rc == 0) {
        rc = floe_program_write(p, &buf, &len, &e);
        job->in_x = rep.in_x;
        job->in_y = rep.in_y;
        job->out_x = rep.out_x;
        job->out_y = rep.out_y;
        floe_compile_report_free(&rep);
        floe_program_free(p);
    }
    if (rc != 0) {
        *err = e.msg;
        return -1;
    }
    job->program.assign(buf, buf + len);
    free(buf);
    job->d_model = cfg.d_model;
    job->vocab = cfg.vocab_size;
    job->tokens_total = total;
    job->embed.assign(qm.embed, qm.embed + (size_t)cfg.vocab_size * cfg.d_model);
    job->decode_steps = decode_steps;
    floe_rng r;
    floe_rng_seed(&r, seed ^ 0x5eed);
    job->prompt.clear();
    for (int t = 0; t < prompt_len; t++)
        job->prompt.push_back((int32_t)floe_rng_below(&r, (uint64_t)cfg.vocab_size));
    return 0;
}

int make_llm_job(const floe_machine &m, const char *config, uint64_t seed, int prompt_len, int decode_steps, LlmJob *job,
                 std::string *err)
{
    floe_err e;
    floe_model_config cfg;
    if (floe_model_config_builtin(config, &cfg, &e) != 0) {
        *err = e.msg;
        return -1;
    }
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel qm;
    if (floe_qmodel_random(&qm, &cfg, &q, seed, &e) != 0) {
        *err = e.msg;
        return -1;
    }
    int rc = make_llm_job_from(m, qm, seed, prompt_len, decode_steps, job, err);
    floe_qmodel_free(&qm);
    return rc;
}

int make_llm_job_file(const floe_machine &m, const char *path, uint64_t seed, int prompt_len, int decode_steps,
                      LlmJob *job, std::string *err)
{
    floe_err e;
    floe_qmodel qm;
    if (floe_qmodel_load(&qm, path, &e) != 0) {
        *err = e.msg;
        return -1;
    }
    int rc = make_llm_job_from(m, qm, seed, prompt_len, decode_steps, job, err);
    floe_qmodel_free(&qm);
    return rc;
}

std::vector<int16_t> embed_tokens(const LlmJob &job, const std::vector<int32_t> &tokens)
{
    std::vector<int16_t> x((size_t)job.tokens_total * job.d_model);
    for (int t = 0; t < job.tokens_total; t++) {
        int32_t tok = t < (int)tokens.size() ? tokens[(size_t)t] : 0;
        std::memcpy(&x[(size_t)t * job.d_model], &job.embed[(size_t)tok * job.d_model], sizeof(int16_t) * job.d_model);
    }
    return x;
}

int32_t argmax_row(const LlmJob &job, const std::vector<int16_t> &logits, int pos)
{
    const int16_t *row = &logits[(size_t)pos * job.vocab];
    int32_t best = 0;
    for (int i = 1; i < job.vocab; i++)
        if (row[i] > row[best])
            best = i;
    return best;
}

int standalone_run(const floe_machine &m, const LlmJob &job, const std::vector<int32_t> &tokens,
                   std::vector<int16_t> *logits, uint64_t *cycles, std::string *err, const floe_energy_table *en,
                   uint64_t *energy_pj)
{
    floe_err e;
    uint64_t fp = floe_machine_fingerprint(&m);
    floe_program *p = nullptr;
    floe_sim *s = nullptr;
    int rc = -1;
    if (floe_program_read(job.program.data(), job.program.size(), &fp, &p, &e) == 0 &&
        floe_sim_new(&s, &m, en, &e) == 0 && floe_sim_load(s, p, &e) == 0) {
        const floe_symbol *xs = floe_program_symbol(p, job.in_x, job.in_y, "x", 1);
        const floe_symbol *ls = floe_program_symbol(p, job.out_x, job.out_y, "logits", 6);
        std::vector<int16_t> x = embed_tokens(job, tokens);
        floe_sim_options so = {1, nullptr, 0, 0};
        if (!xs || !ls) {
            floe_err_set(&e, "the program has no region 'x' or 'logits'");
        } else if (floe_memory_write(floe_sim_memory(s, job.in_x, job.in_y), xs->value, x.data(),
                                     x.size() * sizeof(int16_t), &e) == 0 &&
                   floe_sim_run(s, &so, &e) == 0) {
            logits->resize((size_t)job.tokens_total * job.vocab);
            std::memcpy(logits->data(), floe_sim_memory(s, job.out_x, job.out_y)->bytes + ls->value,
                        logits->size() * sizeof(int16_t));
            const floe_sim_result *res = floe_sim_result_get(s);
            *cycles = res->cycles;
            if (energy_pj)
                *energy_pj = res->have_energy ? pj_of_joules(res->energy.total_j) : 0;
            rc = 0;
        }
    }
    if (rc != 0)
        *err = e.msg;
    floe_sim_free(s);
    floe_program_free(p);
    return rc;
}

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

Platform::Platform(sc_module_name name, const floe_machine &m, const floe_energy_table *e, const std::vector<LlmJob> &jobs,
                   bool at)
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

}  // namespace floe_sc
