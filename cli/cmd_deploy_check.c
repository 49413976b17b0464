/* `floe deploy-check`: does a quantized model fit a machine, on how many chips, with how much memory
 * per core, and what does a token cost there? Unfit models get the exact statement of what overflows,
 * where and by how much. The cost comes from running the compiled model on the simulator (verified
 * bit for bit on the way). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/qmodel_arg.h"
#include "trainer/verify.h"

int floe_cmd_deploy_check(int argc, char **argv)
{
    floe_qmodel_args qa = FLOE_QMODEL_ARGS_INIT;
    const char *machine = NULL, *energy = NULL;
    long long tokens = 16;
    const floe_opt opts[] = {
        FLOE_QMODEL_OPTS(qa),
        {"machine", FLOE_ARG_STRING, &machine, "CSV", "the machine description (required)", 0, 0, 'm'},
        {"energy", FLOE_ARG_STRING, &energy, "CSV", "energy table (prices a token)", 0, 0, 0},
        {"tokens", FLOE_ARG_INT, &tokens, "T", "prefill length the cost is measured on (default 16)", 1, 1 << 22, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {"deploy-check", NULL,
                                "Report whether a quantized model fits a machine, what it needs, and what a token costs.",
                                "Exit status 0 when it fits (and verifies), 1 when it does not (with the reason).", opts,
                                0, 0};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (!machine) {
        fprintf(stderr, "floe deploy-check: error: --machine is required (see 'floe deploy-check --help')\n");
        return 2;
    }
    floe_err err;
    floe_machine mach;
    floe_energy_table e;
    if (floe_machine_load(machine, &mach, &err) != 0 || (energy && floe_energy_table_load(energy, &e, &err) != 0))
        return floe_cmd_fail("deploy-check", "%s", err.msg);
    floe_qmodel m;
    if ((rc = floe_qmodel_from_args("deploy-check", &qa, &m)) >= 0)
        return rc;
    const floe_model_config *c = &m.cfg;
    printf("model        %s: d %d, %d layers, %d heads (%d KV), FFN %d, vocab %d; W%dA%dKV%d, LM head %d-bit\n", c->name,
           c->d_model, c->n_layers, c->n_heads, c->n_kv_heads, c->ffn_dim, c->vocab_size, m.q.wbits, m.q.abits,
           m.q.kvbits, m.q.head_bits);
    printf("machine      %s: %llu x %llu cores of %llu bytes per chip, %llu chips in the system\n", machine,
           (unsigned long long)mach.cores_x, (unsigned long long)mach.cores_y, (unsigned long long)mach.core_mem_bytes,
           (unsigned long long)(mach.chips_per_card * mach.cards_per_server * mach.servers_per_system));
    int T = (int)tokens < c->context ? (int)tokens : c->context;
    floe_compile_opts o = {T, 0, 0, 0, 0};
    floe_chip_program *chips;
    int n;
    if (floe_compile_pipeline(&m, &mach, &o, &chips, &n, &err) != 0) {
        printf("fits         NO: %s\n", err.msg);
        floe_qmodel_free(&m);
        return 1;
    }
    uint64_t mn = UINT64_MAX, mx = 0, total = 0, cores = 0;
    for (int k = 0; k < n; k++) {
        const floe_compile_report *r = &chips[k].report;
        mn = r->mem_min < mn ? r->mem_min : mn;
        mx = r->mem_max > mx ? r->mem_max : mx;
        total += r->mem_total;
        cores += r->ncores;
    }
    floe_chip_programs_free(chips, n);
    printf("fits         yes: %d chip(s), %llu cores in use\n", n, (unsigned long long)cores);
    printf("memory/core  min %llu, mean %llu, max %llu of %llu bytes (%.1f%% at the fullest)\n", (unsigned long long)mn,
           (unsigned long long)(total / cores), (unsigned long long)mx, (unsigned long long)mach.core_mem_bytes,
           100.0 * (double)mx / (double)mach.core_mem_bytes);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)T);
    for (int t = 0; t < T; t++)
        tok[t] = (int32_t)((t * 7 + 65) % c->vocab_size);
    floe_verify_system_result sr;
    rc = 0;
    if (floe_verify_pipeline(&m, &mach, energy ? &e : NULL, tok, T, 8, &sr, &err) != 0) {
        rc = floe_cmd_fail("deploy-check", "%s", err.msg);
    } else {
        printf("verified     %s (%llu values against the reference integer forward)\n",
               sr.match ? "bit-exact" : "MISMATCH", (unsigned long long)sr.compared);
        printf("latency      %.2f us for a %d-token prefill (%.2f us per token)\n", sr.system.latency_s * 1e6, T,
               sr.system.latency_s * 1e6 / T);
        printf("throughput   %.1f tokens/s with users pipelined over the chips (%.1f users/s)\n",
               sr.system.users_per_s * T, sr.system.users_per_s);
        if (energy)
            printf("energy       %.3g J per token (chips' dynamic and static energy, chip links)\n",
                   sr.system.energy_per_user_j / T);
        if (!sr.match)
            rc = floe_cmd_fail("deploy-check", "%s", sr.mismatch);
        floe_verify_system_result_free(&sr);
    }
    free(tok);
    floe_qmodel_free(&m);
    return rc;
}
