/* The compiler's mapping options shared by `floe compile`, `floe verify` and `floe deploy-check`
 * (docs/compiler.md): how a KV head's cache is spread over attention cores, the V cache's
 * transposition block, and the token rows a prefill reads each slice's weights for. 0 leaves the
 * choice to the compiler. */
#ifndef FLOE_CLI_MAPPING_ARGS_H
#define FLOE_CLI_MAPPING_ARGS_H

#include "cli/args.h"

typedef struct floe_mapping_args {
    long long attn_cores, v_block, reuse_rows;
} floe_mapping_args;

#define FLOE_MAPPING_ARGS_INIT {0, 0, 0}

/* The option table entries (3), to splice into a command's table. */
#define FLOE_MAPPING_OPTS(a)                                                                                     \
    {"attn-cores", FLOE_ARG_INT, &(a).attn_cores, "R", "attention cores per KV head, each holding a range of the " \
                                                       "KV cache's positions (default: as few as memory allows)", 1, 4096, 0}, \
        {"v-block", FLOE_ARG_INT, &(a).v_block, "B", "positions per transposed block of the V cache (default 64)", 1, 4096, 0}, \
        {"reuse-rows", FLOE_ARG_INT, &(a).reuse_rows, "N", "token rows of a prefill per read of a slice's weights (vmmr; " \
                                                            "1: none; default: as many as the vmm rate can use)", 1, 255, 0}

#endif
