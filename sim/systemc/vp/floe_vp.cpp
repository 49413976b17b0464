// floe-vp: an example virtual platform (docs/systemc.md). A host, a PCIe-like interconnect and N
// accelerator cards in SystemC TLM-2.0; every card runs an LLM (prefill, then greedy decode steps)
// compiled from a random-weight model; the logits and cycle counts are checked bit for bit against
// the standalone simulator and the end-to-end time against simulator time + transfer time.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sim/systemc/vp/platform.h"

using namespace sc_core;

static void usage(FILE *f)
{
    std::fprintf(f,
                 "usage: floe-vp --machine CSV [options]\n\n"
                 "A SystemC TLM-2.0 virtual platform: a host drives N Floe accelerator cards over a PCIe-like\n"
                 "interconnect. Each card runs a random-weight LLM: a prefill of the prompt, then greedy decode\n"
                 "steps (each a run of the same program with one more token: docs/systemc.md). Results are\n"
                 "checked bit for bit against the standalone simulator.\n\n"
                 "options:\n"
                 "  -m, --machine CSV     machine description (required): clock, PCIe bandwidth and latency\n"
                 "  --energy CSV          energy table (default: energy-<machine>.csv beside it, if any)\n"
                 "  --model NAME          built-in model config with random weights (default tiny; S fits northpole)\n"
                 "  --qmodel FILE         a quantized model file instead (every card runs it, with its own prompt)\n"
                 "  --cards N             cards in the server, each with its own model and prompt (default 1;\n"
                 "                        at most the machine's cards_per_server)\n"
                 "  --tokens T            prompt length (default 8)\n"
                 "  --decode N            decode steps after the prefill (default 2)\n"
                 "  --quantum NS          TLM global quantum in ns (default 1000; 0 = synchronise every transaction)\n"
                 "  --at                  approximately timed (nb_transport, base protocol) instead of loosely timed\n"
                 "  --seed S              model and prompt seed; card i uses S + i (default 1)\n"
                 "  -h, --help            show this help\n");
}

static bool parse_ll(const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    long long x = v ? std::strtoll(v, &end, 10) : 0;
    if (!v || *end || end == v || x < lo || x > hi) {
        std::fprintf(stderr, "floe-vp: error: option %s: expected an integer in [%lld, %lld], got '%s'\n", opt, lo, hi,
                     v ? v : "(nothing)");
        return false;
    }
    *out = x;
    return true;
}

static std::string us(uint64_t ps)
{
    char b[48];
    std::snprintf(b, sizeof b, "%.6f us", (double)ps / 1e6);
    return b;
}

int sc_main(int argc, char **argv)
{
    const char *machine_path = nullptr, *energy_path = nullptr, *model = nullptr, *qmodel = nullptr;
    long long cards = 1, tokens = 8, decode = 2, quantum = 1000, seed = 1;
    bool at = false;
    for (int i = 1; i < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--at") {
            at = true;
            i--;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
        bool ok = true;
        if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        } else if (a == "-m" || a == "--machine") {
            machine_path = v;
        } else if (a == "--energy") {
            energy_path = v;
        } else if (a == "--model") {
            model = v;
        } else if (a == "--qmodel") {
            qmodel = v;
        } else if (a == "--cards") {
            ok = parse_ll("--cards", v, 1, 256, &cards);
        } else if (a == "--tokens") {
            ok = parse_ll("--tokens", v, 1, 1 << 20, &tokens);
        } else if (a == "--decode") {
            ok = parse_ll("--decode", v, 0, 1 << 20, &decode);
        } else if (a == "--quantum") {
            ok = parse_ll("--quantum", v, 0, 1000000000000ll, &quantum);
        } else if (a == "--seed") {
            ok = parse_ll("--seed", v, 0, 1ll << 62, &seed);
        } else {
            std::fprintf(stderr, "floe-vp: error: unknown option '%s' (see 'floe-vp --help')\n", a.c_str());
            return 2;
        }
        if (!ok)
            return 2;
        if (!v) {
            std::fprintf(stderr, "floe-vp: error: option %s needs a value\n", a.c_str());
            return 2;
        }
    }
    if (model && qmodel) {
        std::fprintf(stderr, "floe-vp: error: give --model NAME or --qmodel FILE, not both\n");
        return 2;
    }
    if (!model && !qmodel)
        model = "tiny";
    if (!machine_path) {
        std::fprintf(stderr, "floe-vp: error: missing --machine CSV (see 'floe-vp --help')\n");
        return 2;
    }
    floe_err err;
    floe_machine m;
    if (floe_machine_load(machine_path, &m, &err) != 0) {
        std::fprintf(stderr, "floe-vp: error: %s\n", err.msg);
        return 1;
    }
    if ((uint64_t)cards > m.cards_per_server) {
        std::fprintf(stderr,
                     "floe-vp: error: --cards %lld: %s describes %llu cards per server, and cards in other servers "
                     "would talk over Ethernet, which this platform does not model\n",
                     cards, machine_path, (unsigned long long)m.cards_per_server);
        return 1;
    }
    std::string default_energy;
    if (!energy_path) {
        std::string mp = machine_path;
        size_t slash = mp.rfind('/');
        size_t dir = slash == std::string::npos ? 0 : slash + 1;
        default_energy = mp.substr(0, dir) + "energy-" + mp.substr(dir);
        if (FILE *f = std::fopen(default_energy.c_str(), "r")) {
            std::fclose(f);
            energy_path = default_energy.c_str();
        }
    }
    floe_energy_table e;
    if (energy_path && floe_energy_table_load(energy_path, &e, &err) != 0) {
        std::fprintf(stderr, "floe-vp: error: %s\n", err.msg);
        return 1;
    }
    std::vector<floe_sc::LlmJob> jobs((size_t)cards);
    for (long long i = 0; i < cards; i++) {
        std::string why;
        int rc = qmodel ? floe_sc::make_llm_job_file(m, qmodel, (uint64_t)(seed + i), (int)tokens, (int)decode,
                                                     &jobs[(size_t)i], &why)
                        : floe_sc::make_llm_job(m, model, (uint64_t)(seed + i), (int)tokens, (int)decode,
                                                &jobs[(size_t)i], &why);
        if (rc != 0) {
            std::fprintf(stderr, "floe-vp: error: model %s for %s: %s\n", qmodel ? qmodel : model, machine_path,
                         why.c_str());
            return 1;
        }
    }
    tlm::tlm_global_quantum::instance().set(sc_time::from_value((uint64_t)quantum * 1000u));
    floe_sc::Platform vp("vp", m, energy_path ? &e : nullptr, jobs, at);
    auto t0 = std::chrono::steady_clock::now();
    sc_start();
    double host_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<floe_sc::CardResult> res = vp.results();

    std::printf("floe-vp: %lld card(s), machine %s (%.0f MHz), PCIe-like links %.3g GB/s, %llu ns; model %s, "
                "prompt %lld + %lld decode step(s); %s\n",
                cards, machine_path, (double)m.clock_hz / 1e6, (double)m.pcie_bytes_per_s / 1e9,
                (unsigned long long)m.pcie_latency_ns, qmodel ? qmodel : model, tokens, decode,
                (at ? std::string("approximately timed") : "loosely timed, quantum " + std::to_string(quantum) + " ns")
                    .c_str());
    int bad = 0;
    uint64_t system_ps = 0;
    for (size_t c = 0; c < res.size(); c++) {
        const floe_sc::CardResult &r = res[c];
        if (!r.ok) {
            std::printf("card %zu: error: %s\n", c, r.error.c_str());
            bad = 1;
            continue;
        }
        std::string gen;
        for (size_t k = 0; k < r.runs.size(); k++)
            gen += (k ? " " : "") + std::to_string(r.runs[k].next);
        uint64_t values = 0, energy_pj = 0;
        bool same = true;
        for (const floe_sc::RunRecord &rr : r.runs) {
            std::vector<int16_t> want;
            uint64_t cycles = 0;
            std::string why;
            uint64_t pj = 0;
            if (floe_sc::standalone_run(m, jobs[c], rr.tokens, &want, &cycles, &why, energy_path ? &e : nullptr, &pj) !=
                0) {
                std::printf("card %zu: standalone simulator failed: %s\n", c, why.c_str());
                same = false;
                break;
            }
            values += want.size();
            if (want != rr.logits || cycles != rr.cycles || pj != rr.energy_pj)
                same = false;
            energy_pj += rr.energy_pj;
        }
        bool adds_up = r.e2e_ps == r.sim_ps + r.transfer_ps;
        std::printf("card %zu: %zu run(s) (prefill + %zu decode), next tokens: %s\n", c, r.runs.size(),
                    r.runs.size() - 1, gen.c_str());
        std::printf("  end-to-end %s = simulator %s + transfer %s (%llu transactions, %llu bytes on its link)%s\n",
                    us(r.e2e_ps).c_str(), us(r.sim_ps).c_str(), us(r.transfer_ps).c_str(),
                    (unsigned long long)r.link_transactions, (unsigned long long)r.link_bytes,
                    adds_up ? "" : "  MISMATCH: the parts do not add up");
        if (energy_path)
            std::printf("  chip energy %.3f uJ over %zu run(s)\n", (double)energy_pj / 1e6, r.runs.size());
        std::printf("  vs standalone floe_sim: %s (%llu logits; cycles%s of every run: %s)\n",
                    same ? "bit-identical" : "DIFFERENT", (unsigned long long)values, energy_path ? " and energy" : "",
                    same ? "equal" : "see above");
        if (!same || !adds_up)
            bad = 1;
        system_ps = std::max(system_ps, r.e2e_ps);
    }
    std::printf("system: end-to-end %s (max over cards; SystemC time %s), host time %.3f s\n", us(system_ps).c_str(),
                us(sc_time_stamp().value()).c_str(), host_s);
    return bad;
}
