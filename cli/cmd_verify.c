/* `floe verify`: the same tokens through the reference integer forward and through the compiled
 * program on the simulated chip; every layer's output and the logits compared bit for bit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/mapping_args.h"
#include "cli/qmodel_arg.h"
#include "verify/verify.h"

/* The differing tensor, chip vs reference, for a mismatch report. */
static void write_dump(const floe_verify_dump *d, const char *path)
{
    floe_err err;
    if (!d->chip)
        return;
    if (floe_verify_dump_write(d, path, &err) != 0)
        fprintf(stderr, "floe verify: could not write the dump: %s\n", err.msg);
    else
        fprintf(stderr, "floe verify: %s, chip vs reference: %s\n", d->what, path);
}

int floe_cmd_verify(int argc, char **argv)
{
    floe_qmodel_args qa = FLOE_QMODEL_ARGS_INIT;
    floe_mapping_args ma = FLOE_MAPPING_ARGS_INIT;
    const char *machine = NULL, *energy = NULL, *prompt = "The quick brown fox jumps over the lazy dog.";
    const char *dump = "verify-mismatch.csv";
    long long tokens = 16, users = 8, decode = 0, split_bytes = 0, kv_users = 1, chunk = 0;
    const floe_opt opts[] = {
        FLOE_QMODEL_OPTS(qa),
        {"machine", FLOE_ARG_STRING, &machine, "CSV", "the machine description (required)", 0, 0, 'm'},
        {"energy", FLOE_ARG_STRING, &energy, "CSV", "energy table (prices the run)", 0, 0, 0},
        {"prompt", FLOE_ARG_STRING, &prompt, "TEXT", "the tokens (bytes) to run (default: a pangram)", 0, 0, 0},
        {"tokens", FLOE_ARG_INT, &tokens, "T", "use the first T tokens of the prompt (default 16)", 1, 1 << 22, 0},
        {"users", FLOE_ARG_INT, &users, "N", "multi-chip: users pipelined back to back for the throughput (default 8)", 1, 1e6, 0},
        {"decode", FLOE_ARG_INT, &decode, "N", "then N decode steps against the KV cache, each checked against prefill (default 0)", 0, 1 << 20, 0},
        {"kv-users", FLOE_ARG_INT, &kv_users, "U", "with --decode: U users, each with its own KV cache, run in turn (default 1)", 1, 1 << 16, 0},
        {"dump", FLOE_ARG_STRING, &dump, "FILE", "on a mismatch, the differing tensor, chip vs reference, as CSV (default verify-mismatch.csv)", 0, 0, 0},
        {"core-weight-bytes", FLOE_ARG_INT, &split_bytes, "B", "split layers so no core holds more than B bytes of weights (default: only what does not fit)", 0, 1ll << 40, 0},
        FLOE_MAPPING_OPTS(ma),
        {"prefill-chunk", FLOE_ARG_INT, &chunk, "C", "prefill in programs of C rows, each checked (default: one program)", 1, 1 << 22, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {"verify", NULL,
                                "Check bit for bit that the compiled model on the simulated chip computes what the "
                                "quantized model defines.",
                                "A model with more layers than one chip has cores runs as a multi-chip pipeline over the\n"
                                "system's chip links (docs/compiler.md). Exit status 0: every value equal; 1: a mismatch\n"
                                "(named: layer, tensor, position, index, both values) or a failure to run.",
                                opts, 0, 0};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    floe_err err;
    floe_machine mach;
    floe_energy_table e;
    if ((rc = floe_cli_load_machine("verify", machine, energy, &mach, &e)) >= 0)
        return rc;
    floe_qmodel m;
    if ((rc = floe_qmodel_from_args("verify", &qa, &m)) >= 0)
        return rc;
    int T = (int)tokens;
    if ((size_t)T > strlen(prompt)) {
        floe_qmodel_free(&m);
        return floe_cmd_fail("verify", "--tokens %d: the prompt has only %zu bytes", T, strlen(prompt));
    }
    if ((size_t)(T + decode) > strlen(prompt)) {
        floe_qmodel_free(&m);
        return floe_cmd_fail("verify", "--tokens %d --decode %lld: the prompt has only %zu bytes", T, decode, strlen(prompt));
    }
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)(T + decode));
    for (int t = 0; t < T + decode; t++) /* byte tokens, folded into a smaller vocabulary if need be */
        tok[t] = (int32_t)((unsigned char)prompt[t] % (unsigned)m.cfg.vocab_size);
    rc = 0;
    if (decode > 0 || split_bytes > 0 || kv_users > 1 || ma.attn_cores || ma.v_block || ma.reuse_rows ||
        chunk) { /* prefill, decode */
        floe_verify_opts vo = {.tokens = T,
                               .decode = (int)decode,
                               .core_weight_bytes = (uint64_t)split_bytes,
                               .users = (int)kv_users,
                               .v_block = (int)ma.v_block,
                               .attn_ranges = (int)ma.attn_cores,
                               .reuse_rows = (int)ma.reuse_rows,
                               .prefill_chunk = (int)chunk};
        floe_verify_run_result vr;
        if (floe_verify_run(&m, &mach, energy ? &e : NULL, tok, &vo, &vr, &err) != 0) {
            rc = floe_cmd_fail("verify", "%s", err.msg);
        } else {
            if (vr.match)
                printf("verified: %llu values bit-identical (%d layers and the logits: a %d-token prefill, then %d decode "
                       "steps against the KV cache, each equal to prefill; %d user(s)) on %d chip(s) of %s\n",
                       (unsigned long long)vr.compared, m.cfg.n_layers, T, vr.decoded, vr.users, vr.chips, machine);
            else {
                rc = floe_cmd_fail("verify", "MISMATCH: %s", vr.mismatch);
                write_dump(&vr.dump, dump);
            }
            printf("mapping: %llu cores (%llu main cores, one per group; %llu attention cores, %llu weight cores); memory per core "
                   "min %llu, mean %llu, max %llu bytes\n",
                   (unsigned long long)vr.cores, (unsigned long long)vr.groups, (unsigned long long)vr.attn_cores,
                   (unsigned long long)vr.weight_cores,
                   (unsigned long long)vr.mem_min, (unsigned long long)(vr.mem_total / (vr.cores ? vr.cores : 1)),
                   (unsigned long long)vr.mem_max);
            printf("prefill: %.2f us for %d tokens (%d token row(s) per weight read)", vr.prefill.latency_s * 1e6, T,
                   vr.reuse_rows);
            if (energy)
                printf(", %.3g J", vr.prefill.energy_j);
            printf("\n");
            if (vr.decoded) {
                printf("decode: %.2f us per token (the last step, position %d)", vr.decode.latency_s * 1e6, T + vr.decoded - 1);
                if (energy)
                    printf(", %.3g J per token", vr.decode.energy_j);
                printf("; slowest pipeline stage %.2f us\n", vr.decode.interval_s * 1e6);
            }
            floe_verify_run_result_free(&vr);
        }
        free(tok);
        floe_qmodel_free(&m);
        return rc;
    }
    if ((uint64_t)m.cfg.n_layers + 1 > mach.cores_x * mach.cores_y) { /* more than one chip */
        floe_verify_system_result sr;
        if (floe_verify_pipeline(&m, &mach, energy ? &e : NULL, tok, T, (int)users, &sr, &err) != 0) {
            rc = floe_cmd_fail("verify", "%s", err.msg);
        } else {
            if (sr.match)
                printf("verified: %llu values bit-identical (every chip's hand-off and the logits, %d tokens) on %d chips "
                       "of %s\n", (unsigned long long)sr.compared, T, sr.chips, machine);
            else
                rc = floe_cmd_fail("verify", "MISMATCH: %s", sr.mismatch);
            printf("system: latency %.2f us for the %d-token prefill; %.1f users/s pipelined (one every %.2f us)",
                   sr.system.latency_s * 1e6, T, sr.system.users_per_s, sr.system.interval_s * 1e6);
            if (energy)
                printf(", %.3g J per user", sr.system.energy_per_user_j);
            printf("\n");
            floe_verify_system_result_free(&sr);
        }
        free(tok);
        floe_qmodel_free(&m);
        return rc;
    }
    floe_verify_result res;
    if (floe_verify_prefill(&m, &mach, energy ? &e : NULL, tok, T, &res, &err) != 0) {
        rc = floe_cmd_fail("verify", "%s", err.msg);
    } else {
        if (res.match)
            printf("verified: %llu values bit-identical (%d layers and the logits, %d tokens) on %s\n",
                   (unsigned long long)res.compared, m.cfg.n_layers, T, machine);
        else {
            rc = floe_cmd_fail("verify", "MISMATCH: %s", res.mismatch);
            write_dump(&res.dump, dump);
        }
        printf("chip: %llu cycles (%.2f us) on %zu cores", (unsigned long long)res.sim.cycles, res.sim.seconds * 1e6,
               res.compile.ncores);
        if (res.sim.have_energy)
            printf(", %.3g J", res.sim.energy.total_j);
        printf("; fullest core %llu bytes\n", (unsigned long long)res.compile.mem_max);
        floe_verify_result_free(&res);
    }
    free(tok);
    floe_qmodel_free(&m);
    return rc;
}
