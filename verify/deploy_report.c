/* The deployment check's report as text (verify/deploy_check.h): what `floe deploy-check` prints. */
#include <stdio.h>

#include "verify/deploy_check.h"

void floe_deploy_header_print(FILE *f, const floe_model_config *cf, const floe_qconfig *q, const floe_machine *mach,
                              const char *machine_name)
{
    char label[256];
    fprintf(f, "model        %s: d %d, %d layers, %d heads (%d KV), FFN %d, vocab %d; %s, LM head %d-bit\n", cf->name,
            cf->d_model, cf->n_layers, cf->n_heads, cf->n_kv_heads, cf->ffn_dim, cf->vocab_size,
            floe_qconfig_label(q, label, sizeof label), q->head_bits);
    uint64_t system = mach->chips_per_card * mach->cards_per_server * mach->servers_per_system;
    fprintf(f, "machine      %s: %llu x %llu cores of %llu bytes per chip, %llu chips in the system\n", machine_name,
            (unsigned long long)mach->cores_x, (unsigned long long)mach->cores_y,
            (unsigned long long)mach->core_mem_bytes, (unsigned long long)system);
}

static void print_by_kind(FILE *f, const floe_deploy_token_energy *t, const floe_energy_cost *c)
{
    floe_energy_breakdown e;
    floe_energy_of(&t->actions, c, 0, 0, 0, &e);
    double w4 = (double)t->actions.macs[FLOE_PREC_W4A8] * c->mac_pj[FLOE_PREC_W4A8] * 1e-12;
    fprintf(f,
            "by kind      decode token at position %d: MAC %.3g J (w4a8 %.3g), vector %.3g, afu %.3g, SRAM %.3g, frame "
            "buffer %.3g, NoC %.3g, links %.3g; static %.3g (the chips while they run it)\n",
            t->pos, e.mac_j, w4, e.vector_j, e.afu_j, e.sram_j, e.framebuffer_j, e.noc_j, e.link_j, t->static_j);
}

static void print_plan(FILE *f, const floe_deploy_report *r, const floe_model_config *cf, const floe_machine *mach)
{
    const floe_plan_summary *ps = &r->plan;
    if (ps->layer_halves)
        fprintf(
            f,
            "fits         yes: %d chip(s), %llu cores in use (%d layers, each over two chips: an attention half and an "
            "MLP half of %d cores in all, 2 main, %d attention, %d weight cores; the LM head on %d core(s)",
            ps->chips, (unsigned long long)ps->cores, cf->n_layers, ps->layer_cores, ps->layer_attn_cores,
            ps->layer_cores - 2 - ps->layer_attn_cores, ps->head_cores);
    else
        fprintf(
            f,
            "fits         yes: %d chip(s), %llu cores in use (%d layer group(s) of %d cores: 1 main, %d attention, %d "
            "weight cores; %d group(s) on chip 0; the LM head on %d core(s)",
            ps->chips, (unsigned long long)ps->cores, cf->n_layers, ps->layer_cores, ps->layer_attn_cores,
            ps->layer_cores - 1 - ps->layer_attn_cores, ps->layers_per_chip, ps->head_cores);
    if (ps->head_slices > 1)
        fprintf(f, " in %d vocabulary slices on chips of their own", ps->head_slices);
    fprintf(f, ")\n");
    fprintf(f, "memory/core  min %llu, mean %llu, max %llu of %llu bytes (%.1f%% at the fullest)\n",
            (unsigned long long)ps->mem_min, (unsigned long long)(ps->mem_total / ps->cores),
            (unsigned long long)ps->mem_max, (unsigned long long)mach->core_mem_bytes,
            100.0 * (double)ps->mem_max / (double)mach->core_mem_bytes);
    if (r->context_limit[0])
        fprintf(f, "unsupported  contexts beyond %d positions (the model's is %d): %s\n", r->max_context, cf->context,
                r->context_limit);
    else
        fprintf(f, "unsupported  none (the KV cache for the model's whole context of %d positions fits)\n",
                cf->context);
    fprintf(f, "kv cache     compiled for %d positions per user\n", r->kv_tokens);
    fprintf(f, "users        KV caches for %d user(s) of %d positions fit\n", r->max_users, r->kv_tokens);
}

static void print_measured(FILE *f, const floe_deploy_report *r, int n)
{
    if (r->composed)
        fprintf(
            f,
            "verified     bit-exact (%llu values: the same shape with 1 and with 2 layers, random weights, a %d-token "
            "prefill and %d decode steps equal to prefill, %d user(s) with their own KV caches); the %d-layer "
            "figures below are composed: x(%d) = x(1) + %d (x(2) - x(1))\n",
            (unsigned long long)r->compared, r->tokens, r->decode, r->checked_users, n, n, n - 1);
    else
        fprintf(
            f,
            "verified     bit-exact (%llu values against the reference integer forward: a %d-token prefill, then %d "
            "decode steps equal to prefill; %d user(s) with their own KV caches, in turn)\n",
            (unsigned long long)r->compared, r->tokens, r->decode, r->checked_users);
    fprintf(f,
            "latency      decode %.2f us per token (at position %d: %d cached keys per head%s); prefill %.2f us for %d "
            "tokens (%d token row(s) per weight read)\n",
            r->decode_s * 1e6, r->priced_pos, r->priced_pos + 1,
            r->priced_past ? ", priced past the checked steps" : "", r->prefill_s * 1e6, r->tokens, r->reuse_rows);
}

static void print_served(FILE *f, const floe_deploy_report *r, int want_users, double arrival_us)
{
    const floe_serving_result *sr = &r->serving;
    char arrive[64];
    if (arrival_us > 0)
        snprintf(arrive, sizeof arrive, "arriving %.2f us apart", arrival_us);
    else
        snprintf(arrive, sizeof arrive, "all arriving at once");
    int P = r->prompt, D = r->decode_steps, U = r->users;
    fprintf(f,
            "serving      %d user(s) (%s; KV caches of %llu bytes per user per layer; their mapping: %d chip(s), "
            "%llu cores, %d attention core(s) per layer group), each a %d-token prompt then %d decode steps "
            "(positions %d..%d), %s; simulated event by event over %d stages (%d layer groups, %d of the LM head, %d "
            "chip link(s)), each serving one token at a time\n",
            U,
            want_users > 0   ? "as asked"
            : want_users < 0 ? "the most whose KV caches fit"
                             : "the KV caches that fit, at most one per layer group",
            (unsigned long long)r->kv_bytes_per_layer, r->users_plan.chips, (unsigned long long)r->users_plan.cores,
            r->users_plan.layer_attn_cores, P, D, P, P + D - 1, arrive, r->stages, r->layer_groups, r->head_stages,
            r->links);
    fprintf(
        f,
        "throughput   %.1f tokens/s (%llu decoded tokens over the decode phase, %.2f us from the first prompt's end "
        "to the last token); at most %.1f by %d user(s) over one token's latency alone (%.2f us), %.1f by the "
        "slowest stage (%s, %.2f us per token)\n",
        sr->tokens_per_s, (unsigned long long)sr->tokens, (sr->decode_end_s - sr->decode_start_s) * 1e6,
        U / sr->token_latency_s, U, sr->token_latency_s * 1e6, 1 / sr->slowest_busy_s, r->slowest,
        sr->slowest_busy_s * 1e6);
    fprintf(f, "token gap    inter-token latency mean %.2f us, p99 %.2f us, max %.2f us (a token alone: %.2f us)\n",
            sr->itl_mean_s * 1e6, sr->itl_p99_s * 1e6, sr->itl_max_s * 1e6, sr->token_latency_s * 1e6);
    fprintf(f,
            "first token  time to first token mean %.2f us, max %.2f us (the %d-token prompt's prefill, queueing "
            "included)\n",
            sr->ttft_mean_s * 1e6, sr->ttft_max_s * 1e6, P);
    if (!r->priced_energy)
        return;
    fprintf(f,
            "energy       %.3g J per token decoded, one user (dynamic and links %.3g J, and the chips' static power "
            "while they work); %.3g J per token serving %d user(s) (dynamic, and every chip's static power, %.3g "
            "W in all, over the decode phase), %.3g W per card (%d card(s)); %.3g J for the prefill\n",
            r->decode_j, r->decode_j - r->decode_static_j, sr->energy_per_token_j, U, r->static_w, sr->power_per_card_w,
            r->cards, r->prefill_j);
    for (int i = 0; i < r->n_token; i++)
        print_by_kind(f, &r->token[i], &r->energy_cost);
}

void floe_deploy_report_print(FILE *f, const floe_deploy_report *r, const floe_model_config *cf,
                              const floe_machine *mach, const floe_deploy_check_opts *o)
{
    if (r->stage >= FLOE_DEPLOY_PLANNED && !r->fits) {
        fprintf(f, "fits         NO: %s\n", r->unfit);
        return;
    }
    if (r->stage >= FLOE_DEPLOY_PLANNED)
        print_plan(f, r, cf, mach);
    if (r->stage >= FLOE_DEPLOY_MEASURED)
        print_measured(f, r, cf->n_layers);
    if (r->stage >= FLOE_DEPLOY_SERVED)
        print_served(f, r, o->users, o->arrival_s * 1e6);
}
