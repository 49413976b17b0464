// The LLM jobs of the example virtual platform (docs/systemc.md, "floe-vp"): a quantized model compiled
// for a card, the host's share of the work around it (the embedding lookup, the greedy choice), and the
// standalone simulator run it is compared with. Application code: it needs the compiler and the models.
#ifndef FLOE_SIM_SYSTEMC_VP_LLM_JOB_H
#define FLOE_SIM_SYSTEMC_VP_LLM_JOB_H

#include <cstdint>
#include <string>
#include <vector>

#include "isa/energy_table.h"
#include "isa/machine.h"
#include "models/qmodel.h"

namespace floe_sc {

// One user's LLM on one card: a compiled prefill program and what the host needs around it (the
// embedding table: the host does the lookup, docs/compiler.md). Decode step k (1..decode_steps)
// runs the same program again with the token chosen at step k - 1 appended: the program computes
// a prefill of tokens_total positions, positions not reached yet hold token 0, and by causality the
// logits at position t are those of a prefill of t + 1 tokens.
struct LlmJob {
    std::vector<uint8_t> program; // container bytes
    unsigned in_x = 0, in_y = 0, out_x = 0, out_y = 0;
    int d_model = 0, vocab = 0, tokens_total = 0;
    std::vector<int16_t> embed; // [vocab][d_model]
    std::vector<int32_t> prompt;
    int decode_steps = 0;
};

// A quantized model (docs/quantized-model.md, derived) compiled for m, with a prompt of prompt_len
// tokens drawn from seed. 0, or -1 with *err.
int make_llm_job_from(const floe_machine &m, const floe_qmodel &qm, uint64_t seed, int prompt_len, int decode_steps,
                      LlmJob *job, std::string *err);
// The same for a random-weight model of a built-in config (weights from seed too).
int make_llm_job(const floe_machine &m, const char *config, uint64_t seed, int prompt_len, int decode_steps,
                 LlmJob *job, std::string *err);
// The same for a quantized-model file (floe_qmodel_load: a trained model).
int make_llm_job_file(const floe_machine &m, const char *path, uint64_t seed, int prompt_len, int decode_steps,
                      LlmJob *job, std::string *err);
// The int16 embeddings [tokens_total][d] of tokens[0..n) padded with token 0.
std::vector<int16_t> embed_tokens(const LlmJob &job, const std::vector<int32_t> &tokens);
// Greedy choice: the index of the largest logit in row `pos` (lowest index on ties).
int32_t argmax_row(const LlmJob &job, const std::vector<int16_t> &logits, int pos);

struct RunRecord {
    std::vector<int32_t> tokens; // tokens given (before padding)
    std::vector<int16_t> logits; // [tokens_total][vocab]
    uint64_t cycles = 0;
    uint64_t energy_pj = 0; // ENERGY_PJ (0 without an energy table)
    int32_t next = 0;       // argmax at the last given position
};

struct CardResult {
    bool ok = false;
    std::string error;
    std::vector<RunRecord> runs; // prefill, then each decode step
    uint64_t e2e_ps = 0;         // the host's view: first register access to the last one
    uint64_t sim_ps = 0;         // chip time (the card's RUNs)
    uint64_t transfer_ps = 0;    // the card's link
    uint64_t link_bytes = 0, link_transactions = 0;
};

// The standalone path for comparison: the same program and inputs on floe_sim directly.
// With e, *energy_pj (if not NULL) gets the run's energy as the card would report it.
int standalone_run(const floe_machine &m, const LlmJob &job, const std::vector<int32_t> &tokens,
                   std::vector<int16_t> *logits, uint64_t *cycles, std::string *err,
                   const floe_energy_table *e = nullptr, uint64_t *energy_pj = nullptr);

} // namespace floe_sc

#endif
