// The SystemC model against the standalone simulator (docs/systemc.md, "Tests"). One scenario per
// process (SystemC elaborates once per process); ctest runs each:
//
//   test_systemc platform CARDS QUANTUM_NS lt|at
//       N cards (loosely or approximately timed) on the PCIe-like interconnect, each running its own random tiny model (prefill +
//       2 decode steps) on configs/small.csv: logits and cycle counts bit-identical to floe_sim run
//       directly; every card's end-to-end time = its simulator time + its link's transfer time,
//       and the transfer time equals the PCIe model applied to the driver's transactions by hand;
//       the system time is the slowest card; a decode step's logits equal a prefill of t + 1 tokens.
//   test_systemc registers
//       the register map and its error paths: identification, read-only registers, unaligned and
//       out-of-range accesses, RUN before LOAD, a corrupted program, a program for another machine,
//       an I/O descriptor naming no region, RESET, the interrupt line with IRQ_ENABLE off (polling),
//       frame-buffer regions as inputs and outputs, and regions the chip cannot hold.
//   test_systemc qmodel PATH
//       saves a random tiny quantized model to PATH; a job from the file equals one from memory.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sim/systemc/vp/platform.h"

#include "isa/asm.h"
#include "models/qmodel_io.h"

using namespace sc_core;

static int failures = 0;
#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            std::fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                            \
            std::fprintf(stderr, __VA_ARGS__);                                                                         \
            std::fprintf(stderr, "\n");                                                                                \
            failures++;                                                                                                \
        }                                                                                                              \
    } while (0)

static floe_machine small_machine()
{
    const char *src = std::getenv("FLOE_SOURCE_DIR");
    std::string path = std::string(src ? src : ".") + "/configs/small.csv";
    floe_machine m;
    floe_err err;
    if (floe_machine_load(path.c_str(), &m, &err) != 0) {
        std::fprintf(stderr, "%s\n", err.msg);
        std::exit(1);
    }
    return m;
}

static floe_energy_table small_energy()
{
    const char *src = std::getenv("FLOE_SOURCE_DIR");
    std::string path = std::string(src ? src : ".") + "/configs/energy-small.csv";
    floe_energy_table e;
    floe_err err;
    if (floe_energy_table_load(path.c_str(), &e, &err) != 0) {
        std::fprintf(stderr, "%s\n", err.msg);
        std::exit(1);
    }
    return e;
}

static floe_sc::LlmJob tiny_job(const floe_machine &m, uint64_t seed, int prompt, int decode)
{
    floe_sc::LlmJob job;
    std::string why;
    if (floe_sc::make_llm_job(m, "tiny", seed, prompt, decode, &job, &why) != 0) {
        std::fprintf(stderr, "tiny model: %s\n", why.c_str());
        std::exit(1);
    }
    return job;
}

// ---- platform ----------------------------------------------------------------------------------

static int test_platform(int ncards, long long quantum_ns, bool at)
{
    floe_machine m = small_machine();
    const int prompt = 6, decode = 2;
    std::vector<floe_sc::LlmJob> jobs;
    for (int i = 0; i < ncards; i++)
        jobs.push_back(tiny_job(m, 40 + (uint64_t)i, prompt, decode));
    tlm::tlm_global_quantum::instance().set(sc_time::from_value((uint64_t)quantum_ns * 1000u));
    floe_energy_table energy = small_energy();
    floe_sc::Platform vp("vp", m, &energy, jobs, at);
    sc_start();
    std::vector<floe_sc::CardResult> res = vp.results();
    CHECK(res.size() == (size_t)ncards, "%zu results", res.size());
    uint64_t styled = at ? vp.pcie.at_transactions() : vp.pcie.lt_transactions();
    uint64_t other = at ? vp.pcie.lt_transactions() : vp.pcie.at_transactions();
    CHECK(styled == (10 + 10 * (uint64_t)(decode + 1)) * (uint64_t)ncards && other == 0, "%llu transactions in the chosen style, %llu in the other",
          (unsigned long long)styled, (unsigned long long)other);

    // The PCIe model by hand: 1 GB/s and 1000 ns on configs/small.csv.
    CHECK(m.pcie_bytes_per_s == 1000000000ull && m.pcie_latency_ns == 1000, "small.csv's PCIe figures changed");
    CHECK(floe_sc::ps_of_transfer(4, false, 1000000000ull, 1000) == 1004000, "a 4-byte posted write");
    CHECK(floe_sc::ps_of_transfer(4, true, 1000000000ull, 1000) == 2004000, "a 4-byte read (request + completion)");
    CHECK(floe_sc::ps_of_transfer(3, false, 3000000000ull, 0) == 1000, "3 bytes at 3 GB/s");
    CHECK(floe_sc::ps_of_transfer(1, false, 3000000000ull, 0) == 334, "rounded up to the next picosecond");
    CHECK(floe_sc::ps_of_cycles(3, 100000000ull) == 30000, "3 cycles at 100 MHz");
    for (uint64_t b : {0ull, 1ull, 4ull, 97ull, 1000001ull})
        for (bool rd : {false, true})
            CHECK(floe_sc::ps_of_request(b, rd, 3000000000ull, 700) + floe_sc::ps_of_response(b, rd, 3000000000ull, 700) ==
                      floe_sc::ps_of_transfer(b, rd, 3000000000ull, 700),
                  "the AT legs of %llu bytes add up to the LT transfer", (unsigned long long)b);

    uint64_t system_ps = 0;
    for (int c = 0; c < ncards; c++) {
        const floe_sc::CardResult &r = res[(size_t)c];
        const floe_sc::LlmJob &job = jobs[(size_t)c];
        CHECK(r.ok, "card %d: %s", c, r.error.c_str());
        if (!r.ok)
            continue;
        CHECK(r.runs.size() == (size_t)decode + 1, "card %d: %zu runs", c, r.runs.size());
        uint64_t sim_ps = 0;
        for (size_t k = 0; k < r.runs.size(); k++) {
            const floe_sc::RunRecord &rr = r.runs[k];
            CHECK(rr.tokens.size() == (size_t)prompt + k, "card %d run %zu: %zu tokens", c, k, rr.tokens.size());
            std::vector<int16_t> want;
            uint64_t cycles = 0;
            std::string why;
            uint64_t pj = 0;
            CHECK(floe_sc::standalone_run(m, job, rr.tokens, &want, &cycles, &why, &energy, &pj) == 0, "standalone: %s",
                  why.c_str());
            CHECK(pj == rr.energy_pj && pj > 0, "card %d run %zu: ENERGY_PJ %llu, standalone %llu", c, k,
                  (unsigned long long)rr.energy_pj, (unsigned long long)pj);
            CHECK(want == rr.logits, "card %d run %zu: logits differ from the standalone simulator", c, k);
            CHECK(cycles == rr.cycles, "card %d run %zu: %llu cycles, standalone %llu", c, k, (unsigned long long)rr.cycles,
                  (unsigned long long)cycles);
            sim_ps += floe_sc::ps_of_cycles(cycles, m.clock_hz);
            if (k > 0)
                CHECK(rr.tokens.back() == r.runs[k - 1].next, "card %d run %zu: the decoded token was not fed back", c, k);
        }
        CHECK(r.sim_ps == sim_ps, "card %d: simulator time %llu ps, expected %llu", c, (unsigned long long)r.sim_ps,
              (unsigned long long)sim_ps);

        // The driver's transactions (platform.cpp) priced by hand.
        auto w = [&](uint64_t b) { return floe_sc::ps_of_transfer(b, false, m.pcie_bytes_per_s, m.pcie_latency_ns); };
        auto rd = [&](uint64_t b) { return floe_sc::ps_of_transfer(b, true, m.pcie_bytes_per_s, m.pcie_latency_ns); };
        uint64_t xb = (uint64_t)job.tokens_total * job.d_model * 2, lb = (uint64_t)job.tokens_total * job.vocab * 2;
        uint64_t load = rd(4) + 6 * w(4) + rd(job.program.size()) + w(4) + rd(4);
        uint64_t run = 4 * w(4) + rd(2 * FLOE_CARD_IO_DESC_BYTES) + rd(xb) + w(lb) + w(4) + rd(4) + rd(24);
        uint64_t transfer = load + (uint64_t)(decode + 1) * run;
        CHECK(r.transfer_ps == transfer, "card %d: transfer %llu ps, the PCIe model says %llu", c,
              (unsigned long long)r.transfer_ps, (unsigned long long)transfer);
        CHECK(r.link_transactions == 10 + 10 * (uint64_t)(decode + 1), "card %d: %llu transactions", c,
              (unsigned long long)r.link_transactions);
        CHECK(r.e2e_ps == r.sim_ps + r.transfer_ps, "card %d: end-to-end %llu ps != simulator %llu + transfer %llu", c,
              (unsigned long long)r.e2e_ps, (unsigned long long)r.sim_ps, (unsigned long long)r.transfer_ps);
        system_ps = std::max(system_ps, r.e2e_ps);

        // The decode choice: the last step's logits up to its position equal a prefill of exactly
        // that many tokens (a program compiled for t + 1 tokens).
        const floe_sc::RunRecord &last = r.runs.back();
        floe_sc::LlmJob exact = tiny_job(m, 40 + (uint64_t)c, (int)last.tokens.size(), 0);
        std::vector<int16_t> want;
        uint64_t cycles;
        std::string why;
        CHECK(floe_sc::standalone_run(m, exact, last.tokens, &want, &cycles, &why) == 0, "%s", why.c_str());
        CHECK(std::equal(want.begin(), want.end(), last.logits.begin()),
              "card %d: decode logits differ from a prefill of %zu tokens", c, last.tokens.size());
        std::printf("card %d: %zu runs bit-identical to floe_sim; end-to-end %llu ps = simulator %llu + transfer %llu\n",
                    c, r.runs.size(), (unsigned long long)r.e2e_ps, (unsigned long long)r.sim_ps,
                    (unsigned long long)r.transfer_ps);
    }
    CHECK(sc_time_stamp().value() == system_ps, "system time %llu ps, slowest card %llu ps",
          (unsigned long long)sc_time_stamp().value(), (unsigned long long)system_ps);
    if (ncards > 1)
        CHECK(res[0].runs[0].logits != res[1].runs[0].logits, "cards 0 and 1 should run different models");
    return failures ? 1 : 0;
}

// ---- registers ---------------------------------------------------------------------------------

struct RegTester : sc_module {
    tlm_utils::simple_initiator_socket<RegTester> bus;
    sc_in<bool> irq;
    floe_sc::HostMemory &mem;
    const floe_machine &m;
    bool done = false; // the thread got to the end (it did not hang on an interrupt)
    RegTester(sc_module_name n, floe_sc::HostMemory &mm, const floe_machine &mach)
        : sc_module(n), bus("bus"), irq("irq"), mem(mm), m(mach)
    {
        SC_HAS_PROCESS(RegTester);
        SC_THREAD(run);
    }

    tlm::tlm_response_status raw(bool write, uint64_t off, uint8_t *data, unsigned len)
    {
        tlm::tlm_generic_payload tr;
        sc_time delay = SC_ZERO_TIME;
        tr.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
        tr.set_address(floe_sc::Platform::card_base(0) + off);
        tr.set_data_ptr(data);
        tr.set_data_length(len);
        tr.set_streaming_width(len);
        bus->b_transport(tr, delay);
        wait(delay);
        return tr.get_response_status();
    }

    void run()
    {
        floe_sc::CardDriver drv(bus, floe_sc::Platform::card_base(0), irq, mem);
        CHECK(drv.read32(FLOE_CARD_ID) == FLOE_CARD_ID_VALUE, "ID");
        CHECK(drv.read32(FLOE_CARD_VERSION) == FLOE_CARD_VERSION_VALUE, "VERSION");
        uint64_t fp = floe_machine_fingerprint(&m);
        CHECK(drv.read32(FLOE_CARD_FP_LO) == (uint32_t)fp && drv.read32(FLOE_CARD_FP_HI) == (uint32_t)(fp >> 32),
              "fingerprint");
        CHECK(drv.read32(FLOE_CARD_CLOCK_HZ) == m.clock_hz, "clock");
        CHECK(drv.read32(FLOE_CARD_STATUS) == FLOE_CARD_STATE_IDLE, "idle after reset");
        uint8_t b[8] = {1, 0, 0, 0, 0, 0, 0, 0};
        CHECK(raw(true, FLOE_CARD_STATUS, b, 4) == tlm::TLM_COMMAND_ERROR_RESPONSE, "STATUS is read-only");
        CHECK(raw(true, FLOE_CARD_PROG_LEN + 1, b, 4) == tlm::TLM_ADDRESS_ERROR_RESPONSE, "unaligned write");
        CHECK(raw(false, FLOE_CARD_REG_SPACE - 2, b, 4) == tlm::TLM_ADDRESS_ERROR_RESPONSE, "read past the registers");
        b[0] = 0x80;
        CHECK(raw(true, FLOE_CARD_CTRL, b, 4) == tlm::TLM_GENERIC_ERROR_RESPONSE, "unknown CTRL bit");
        CHECK(raw(false, FLOE_CARD_PROG_ADDR_LO, b, 8) == tlm::TLM_OK_RESPONSE, "an 8-byte burst read");

        drv.write32(FLOE_CARD_IRQ_ENABLE, 1);
        CHECK(drv.read32(FLOE_CARD_IRQ_ENABLE) == 1, "IRQ_ENABLE reads back");
        std::string err;
        uint64_t cycles = 0;
        CHECK(drv.run({}, &cycles, &err) != 0 && err.find("no program loaded") != std::string::npos,
              "RUN before LOAD: '%s'", err.c_str());
        CHECK((drv.read32(FLOE_CARD_STATUS) & FLOE_CARD_STATE_MASK) == FLOE_CARD_STATE_ERROR, "ERROR state");

        floe_sc::LlmJob job = tiny_job(m, 7, 4, 0);
        std::vector<uint8_t> bad = job.program;
        bad[bad.size() / 2] ^= 0x40;
        err.clear();
        CHECK(drv.load(bad, &err) != 0 && err.find("LOAD:") == 0, "a corrupted container: '%s'", err.c_str());
        CHECK(!(drv.read32(FLOE_CARD_STATUS) & FLOE_CARD_STATUS_LOADED), "nothing loaded after a bad container");

        floe_machine other = m;
        other.clock_hz *= 2;
        floe_sc::LlmJob foreign = tiny_job(other, 7, 4, 0);
        err.clear();
        CHECK(drv.load(foreign.program, &err) != 0 && err.find("machine") != std::string::npos,
              "a program for another machine: '%s'", err.c_str());

        err.clear();
        CHECK(drv.load(job.program, &err) == 0, "load: %s", err.c_str());
        CHECK(drv.read32(FLOE_CARD_STATUS) == (FLOE_CARD_STATE_DONE | FLOE_CARD_STATUS_LOADED), "loaded");
        uint64_t xb = (uint64_t)job.tokens_total * job.d_model * 2, lb = (uint64_t)job.tokens_total * job.vocab * 2;
        uint64_t xa = mem.alloc(xb), la = mem.alloc(lb);
        std::vector<int16_t> x = floe_sc::embed_tokens(job, job.prompt);
        std::memcpy(mem.ptr(xa), x.data(), xb);
        std::vector<floe_sc::CardDriver::Io> io = {{false, job.in_x, job.in_y, "x", xa, (uint32_t)xb, 0},
                                                   {true, job.out_x, job.out_y, "nosuch", la, (uint32_t)lb, 0}};
        err.clear();
        CHECK(drv.run(io, &cycles, &err) != 0 && err.find("no such region") != std::string::npos,
              "a descriptor naming no region: '%s'", err.c_str());
        io[1].name = "logits";
        io[1].offset = 2;
        err.clear();
        CHECK(drv.run(io, &cycles, &err) != 0 && err.find("overflow") != std::string::npos,
              "a descriptor past its region: '%s'", err.c_str());
        io[1].offset = 0;

        // Polling: with IRQ_ENABLE off the line stays low; IRQ_STATUS and STATUS tell completion.
        drv.write32(FLOE_CARD_IRQ_ENABLE, 0);
        drv.write_io_table(io);
        drv.write32(FLOE_CARD_CTRL, FLOE_CARD_CTRL_RUN);
        CHECK((drv.read32(FLOE_CARD_STATUS) & FLOE_CARD_STATE_MASK) == FLOE_CARD_STATE_BUSY, "BUSY");
        uint8_t c[4] = {FLOE_CARD_CTRL_RUN, 0, 0, 0};
        CHECK(raw(true, FLOE_CARD_CTRL, c, 4) == tlm::TLM_GENERIC_ERROR_RESPONSE, "CTRL while BUSY");
        while (!(drv.read32(FLOE_CARD_IRQ_STATUS) & 1u))
            drv.sync();
        CHECK(!irq.read(), "the line stays low with IRQ_ENABLE off");
        CHECK((drv.read32(FLOE_CARD_STATUS) & FLOE_CARD_STATE_MASK) == FLOE_CARD_STATE_DONE, "DONE after polling");
        std::vector<int16_t> want, got(lb / 2);
        uint64_t want_cycles = 0;
        CHECK(floe_sc::standalone_run(m, job, job.prompt, &want, &want_cycles, &err) == 0, "%s", err.c_str());
        std::memcpy(got.data(), mem.ptr(la), lb);
        CHECK(got == want, "polled run's logits");
        CHECK(drv.read32(FLOE_CARD_CYCLES_LO) == (uint32_t)want_cycles, "CYCLES_LO");
        CHECK(drv.read32(FLOE_CARD_RUNS) == 1, "RUNS");
        drv.write32(FLOE_CARD_IRQ_STATUS, 1);
        CHECK(drv.read32(FLOE_CARD_IRQ_STATUS) == 0, "IRQ_STATUS is write-1-to-clear");

        drv.write32(FLOE_CARD_CTRL, FLOE_CARD_CTRL_RESET);
        CHECK(drv.read32(FLOE_CARD_STATUS) == FLOE_CARD_STATE_IDLE, "RESET drops the program");
        CHECK(drv.read32(FLOE_CARD_RUNS) == 0 && drv.read32(FLOE_CARD_CYCLES_LO) == 0, "RESET clears the counters");

        // The card's frame buffer: descriptors at (0xFFFF, 0xFFFF) fill and drain frame-buffer
        // regions; the program moves 64 bytes from FB region "in" through a core to "out" (strict:
        // a byte the DMA did not write would be an error).
        static const char fb_asm[] = ".framebuffer\n.region in, 0x0, 64\n.region out, 0x1000, 64\n.core 0, 0\n"
                                     ".region buf, 0x0, 64\n fbld.t0 buf, in, 64\n fbst.t0 out, buf, 64\n halt.t0\n";
        floe_program *fbp = nullptr;
        floe_err ferr;
        uint64_t fp2 = floe_machine_fingerprint(&m);
        CHECK(floe_asm(fb_asm, sizeof fb_asm - 1, "fb.s", &fp2, &fbp, &ferr) == 0, "%s", ferr.msg);
        uint8_t *cbuf = nullptr;
        size_t clen = 0;
        CHECK(fbp && floe_program_write(fbp, &cbuf, &clen, &ferr) == 0, "%s", ferr.msg);
        floe_program_free(fbp);
        std::vector<uint8_t> fbc(cbuf, cbuf + clen);
        std::free(cbuf);
        drv.write32(FLOE_CARD_IRQ_ENABLE, 1);
        err.clear();
        CHECK(drv.load(fbc, &err) == 0, "frame-buffer program: %s", err.c_str());
        uint64_t ia = mem.alloc(64), oa = mem.alloc(64);
        for (int i = 0; i < 64; i++)
            mem.ptr(ia)[i] = (uint8_t)(i * 37 + 11);
        std::vector<floe_sc::CardDriver::Io> fbio = {{false, FLOE_FB, FLOE_FB, "in", ia, 64, 0},
                                                     {true, FLOE_FB, FLOE_FB, "out", oa, 64, 0}};
        CHECK(drv.run(fbio, &cycles, &err) == 0, "frame-buffer run: %s", err.c_str());
        CHECK(std::memcmp(mem.ptr(ia), mem.ptr(oa), 64) == 0, "frame buffer in -> core -> frame buffer out");
        CHECK(cycles > 0, "frame-buffer run cycles");

        // Regions the chip cannot hold: past a core's memory, or on a core the grid does not have
        // (the container allows both; the card must refuse, not read out of bounds).
        static const char odd_asm[] = ".core 0, 0\n.region big, 0xFFF0, 64\n halt.t0\n.core 1, 5\n.region off, 0, 16\n";
        fbp = nullptr;
        CHECK(floe_asm(odd_asm, sizeof odd_asm - 1, "odd.s", &fp2, &fbp, &ferr) == 0, "%s", ferr.msg);
        cbuf = nullptr;
        CHECK(fbp && floe_program_write(fbp, &cbuf, &clen, &ferr) == 0, "%s", ferr.msg);
        floe_program_free(fbp);
        std::vector<uint8_t> oddc(cbuf, cbuf + clen);
        std::free(cbuf);
        err.clear();
        CHECK(drv.load(oddc, &err) == 0, "odd program: %s", err.c_str());
        std::vector<floe_sc::CardDriver::Io> big = {{true, 0, 0, "big", oa, 64, 0}};
        err.clear();
        CHECK(drv.run(big, &cycles, &err) != 0 && err.find("past the end") != std::string::npos,
              "an output region past the core's memory: '%s'", err.c_str());
        std::vector<floe_sc::CardDriver::Io> off = {{false, 1, 5, "off", ia, 16, 0}};
        err.clear();
        CHECK(drv.run(off, &cycles, &err) != 0 && err.find("no such core") != std::string::npos,
              "a region on a core off the grid: '%s'", err.c_str());
        done = true;
        std::printf("registers: checked\n");
    }
};

struct RegTop : sc_module {
    floe_sc::HostMemory mem;
    floe_sc::Pcie pcie;
    floe_sc::Card card;
    sc_signal<bool> irq;
    RegTester tester;
    RegTop(sc_module_name n, const floe_machine &m)
        : sc_module(n), mem("mem"), pcie("pcie", m.pcie_bytes_per_s, m.pcie_latency_ns), card("card", m, nullptr),
          irq("irq"), tester("tester", mem, m)
    {
        pcie.downstream.bind(mem.socket);
        pcie.map_target(0, floe_sc::Platform::card_base(0), -1);
        pcie.downstream.bind(card.regs);
        pcie.map_target(floe_sc::Platform::card_base(0), 0x10000, 0);
        tester.bus.bind(pcie.upstream);
        pcie.map_initiator(-1);
        card.dma.bind(pcie.upstream);
        pcie.map_initiator(0);
        card.irq.bind(irq);
        tester.irq.bind(irq);
    }
};

// ---- a quantized-model file ----------------------------------------------------------------------

// Saves a random tiny model to PATH (for the floe-vp --qmodel test that follows) and checks that a
// job made from the file is the job made from the model in memory: same program, same prompt.
static int test_qmodel(const char *path)
{
    floe_machine m = small_machine();
    floe_model_config cfg;
    floe_qmodel qm;
    floe_err err;
    floe_qconfig q = floe_qconfig_default();
    CHECK(floe_model_config_builtin("tiny", &cfg, &err) == 0, "%s", err.msg);
    CHECK(floe_qmodel_random(&qm, &cfg, &q, 21, &err) == 0, "%s", err.msg);
    CHECK(floe_qmodel_save(&qm, path, nullptr, 0, &err) == 0, "%s", err.msg);
    floe_sc::LlmJob mem_job, file_job;
    std::string why;
    CHECK(floe_sc::make_llm_job_from(m, qm, 3, 5, 1, &mem_job, &why) == 0, "%s", why.c_str());
    CHECK(floe_sc::make_llm_job_file(m, path, 3, 5, 1, &file_job, &why) == 0, "%s", why.c_str());
    CHECK(mem_job.program == file_job.program && mem_job.prompt == file_job.prompt && mem_job.embed == file_job.embed,
          "the file's job differs from the model's");
    CHECK(floe_sc::make_llm_job_file(m, "no/such/file.safetensors", 3, 5, 1, &file_job, &why) != 0 &&
              why.find("no/such/file") != std::string::npos,
          "a missing file: '%s'", why.c_str());
    floe_qmodel_free(&qm);
    if (!failures)
        std::printf("qmodel: %s gives the same program and prompt as the model in memory\n", path);
    return failures ? 1 : 0;
}

static int test_registers()
{
    floe_machine m = small_machine();
    RegTop top("top", m);
    sc_start();
    CHECK(top.tester.done, "the register checks stopped half-way (waiting for an interrupt that never came?)");
    return failures ? 1 : 0;
}

int sc_main(int argc, char **argv)
{
    std::string what = argc > 1 ? argv[1] : "";
    int rc = 2;
    if (what == "platform" && argc == 5 && (std::string(argv[4]) == "lt" || std::string(argv[4]) == "at"))
        rc = test_platform(std::atoi(argv[2]), std::atoll(argv[3]), std::string(argv[4]) == "at");
    else if (what == "registers")
        rc = test_registers();
    else if (what == "qmodel" && argc == 3)
        rc = test_qmodel(argv[2]);
    else
        std::fprintf(stderr, "usage: test_systemc platform CARDS QUANTUM_NS lt|at | registers | qmodel PATH\n");
    if (failures)
        std::fprintf(stderr, "%d check(s) failed\n", failures);
    return rc;
}
