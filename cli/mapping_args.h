/* The compiler's mapping options shared by `floe compile`, `floe verify` and `floe deploy-check`
 * (docs/compiler.md): how a KV head's cache is spread over attention cores, and the V cache's
 * transposition block. 0 leaves the choice to the compiler. */
#ifndef FLOE_CLI_MAPPING_ARGS_H
#define FLOE_CLI_MAPPING_ARGS_H

#include "cli/args.h"

typedef struct floe_mapping_args {
    long long attn_cores, v_block;
} floe_mapping_args;

#define FLOE_MAPPING_ARGS_INIT {0, 0}

/* The option table entries (2), to splice into a command's table. */
#define FLOE_MAPPING_OPTS(a)                                                                                     \
    {"attn-cores", FLOE_ARG_INT, &(a).attn_cores, "R", "attention cores per KV head, each holding a range of the " \
                                                       "KV cache's positions (default: as few as memory allows)", 1, 4096, 0}, \
        {"v-block", FLOE_ARG_INT, &(a).v_block, "B", "positions per transposed block of the V cache (default 64)", 1, 4096, 0}

#endif
