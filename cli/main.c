/* `floe`: git-style entry point. Dispatches `floe <command> [options]` to the command table in
 * cli/commands.def. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

#define FLOE_COMMAND(ident, name, summary) {name, summary, floe_cmd_##ident},
const floe_command floe_commands[] = {
#include "cli/commands.def"
    {NULL, NULL, NULL},
};
#undef FLOE_COMMAND

void floe_print_usage(FILE *out)
{
    fprintf(out, "usage: floe <command> [options]\n"
                 "       floe <command> --help\n"
                 "       floe --version\n\n"
                 "Floe trains quantized LLMs and checks every step bit-exactly on a simulated\n"
                 "NorthPole-like integer accelerator, priced in cycles, latency and energy.\n\n"
                 "commands:\n");
    for (const floe_command *c = floe_commands; c->name; c++)
        fprintf(out, "  %-14s %s\n", c->name, c->summary);
}

const floe_command *floe_find_command(const char *name)
{
    for (const floe_command *c = floe_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        floe_print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        floe_print_usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("floe %s\n", FLOE_VERSION);
        return 0;
    }
    if (cmd[0] == '-') {
        fprintf(stderr, "floe: error: unknown option '%s' (see 'floe --help')\n", cmd);
        return 2;
    }
    const floe_command *c = floe_find_command(cmd);
    if (!c) {
        fprintf(stderr, "floe: error: '%s' is not a floe command (see 'floe --help')\n", cmd);
        return 2;
    }
    return c->run(argc - 1, argv + 1);
}
