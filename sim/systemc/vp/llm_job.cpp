#include "sim/systemc/vp/llm_job.h"

#include <cstring>

#include "common/rng.h"
#include "compiler/compile.h"
#include "isa/container.h"
#include "isa/program.h"
#include "models/model_config.h"
#include "models/qmodel_io.h"
#include "sim/systemc/c_api.h"
#include "sim/sim.h"

namespace floe_sc {

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

int make_llm_job(const floe_machine &m, const char *config, uint64_t seed, int prompt_len, int decode_steps,
                 LlmJob *job, std::string *err)
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

} // namespace floe_sc
